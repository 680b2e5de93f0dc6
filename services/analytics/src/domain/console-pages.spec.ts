import { analytics } from '@tern/contracts';
import { deadLettersPage, layout, tracePage } from './console-pages';

const letter = analytics.DeadLetter.fromPartial({
  topic: 'sms.send-events.dlq',
  partition: 2,
  offset: '17',
  reason: 'UNKNOWN_KEY',
  error: 'no key <script>alert(1)</script>',
  sourceTopic: 'sms.send-events',
});

describe('console pages', () => {
  it('escape what they show', () => {
    const html = deadLettersPage(
      { topic: '', reason: '', letters: [letter] },
      { id: 'op', role: 'operator' },
    );
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('no key &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(layout('T', { id: '<b>', role: 'viewer' }, '/', '')).toContain('&lt;b&gt; (viewer)');
  });

  it('offer replay to an operator only, and never for a dead letter already replayed', () => {
    const asOperator = deadLettersPage(
      { topic: '', reason: '', letters: [letter] },
      { id: 'op', role: 'operator' },
    );
    expect(asOperator).toContain('action="/dead-letters/replay"');
    expect(asOperator).toContain('value="sms.send-events.dlq/2/17"');
    const asViewer = deadLettersPage(
      { topic: '', reason: '', letters: [letter] },
      { id: 'v', role: 'viewer' },
    );
    expect(asViewer).not.toContain('/dead-letters/replay');
    expect(asViewer).toContain('id="read-only"');
    const replayed = { ...letter, replayedAt: new Date(0) };
    const again = deadLettersPage(
      { topic: '', reason: '', letters: [replayed] },
      { id: 'op', role: 'operator' },
    );
    expect(again).not.toContain('type="checkbox"');
  });

  it('show a routing decision under the ROUTED step of its attempt', () => {
    const html = tracePage('m-1', undefined, {
      messageId: 'm-1',
      events: [
        {
          kind: 'status',
          status: 'ACCEPTED',
          attempt: 0,
          channelId: '',
          reasonCode: '',
          detail: {},
          at: 1000,
        },
        {
          kind: 'status',
          status: 'ROUTED',
          attempt: 1,
          channelId: 'direct',
          reasonCode: '',
          detail: {},
          at: 2000,
        },
        {
          kind: 'routing',
          status: '',
          attempt: 1,
          channelId: 'direct',
          reasonCode: '',
          detail: { reason: 'best score', candidates: [{ channelId: 'direct', score: 2 }] },
          at: 2100,
        },
        {
          kind: 'callback',
          status: 'ROUTED',
          attempt: 1,
          channelId: 'direct',
          reasonCode: '',
          detail: { result: 'failed', tries: 1, httpStatus: 503 },
          at: 2200,
        },
      ],
      attempts: [],
    });
    const routed = html.slice(html.indexOf('data-status="ROUTED"'));
    expect(routed).toContain('<div class="why" data-attempt="1">direct: best score; score 2.000');
    expect(html).toContain('No attempt has ended yet.');
    // A callback's try is a step of its own, not a status of the message.
    const callback = html.slice(html.indexOf('<tr data-callback="ROUTED">'));
    expect(callback).toContain('callback of ROUTED');
    expect(callback).toContain('result: failed, tries: 1, httpStatus: 503');
  });
});
