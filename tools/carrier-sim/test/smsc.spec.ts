import { mkdtempSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandId, EsmClass, Status, encodePdu, type Pdu, type SmppSession } from '@tern/smpp';
import { concatenationUdh, decodeGsm7, encodeGsm7 } from '@tern/sms-domain';
import { waitFor } from '@tern/testing';
import { CarrierSimulator, parseScenario } from '../src';
import { bind, collectReceipts, connect, sms } from './smpp-client';

// A small world for protocol tests: every channel delivers everything quickly, except where a test needs
// a limit (TPS, window) or a timeline (outage). Time scale 1: simulated time is real time.
const scenario = parseScenario(`
name: protocol-test
countries:
  - code: SG
    dialCode: '65'
    carriers:
      - { id: sg-a, name: A, mccMnc: '52501', prefixes: ['6590'] }
channels:
  - { id: fast, tier: direct, port: 0, systemId: fast, password: pw, maxBinds: 2, tps: 1000, window: 100,
      messageIdFormat: decimal, receiptIdFormat: hex, pricePerSegment: 0.01, countries: [SG],
      default: { deliveryRate: 1, latency: { p50: 200ms, p95: 300ms } } }
  - { id: throttled, tier: direct, port: 0, systemId: thr, password: pw, tps: 20, window: 1000, submitDelayMs: 0,
      pricePerSegment: 0.01, countries: [SG], default: { deliveryRate: 1, latency: { p50: 1s, p95: 2s } } }
  - { id: windowed, tier: direct, port: 0, systemId: win, password: pw, tps: 1000, window: 5, submitDelayMs: 300,
      pricePerSegment: 0.01, countries: [SG], default: { deliveryRate: 1, latency: { p50: 1s, p95: 2s } } }
  - { id: slow, tier: direct, port: 0, systemId: slow, password: pw, tps: 100000, window: 100000, submitDelayMs: 1000,
      pricePerSegment: 0.01, countries: [SG], default: { deliveryRate: 1, latency: { p50: 1s, p95: 2s } } }
`);

// The timeline runs from the simulator's start, so the outage test has a simulator of its own.
const outageScenario = parseScenario(`
name: outage-test
countries:
  - { code: SG, dialCode: '65', carriers: [{ id: sg-a, name: A, mccMnc: '52501', prefixes: ['6590'] }] }
channels:
  - { id: flaky, tier: direct, port: 0, systemId: flaky, password: pw, tps: 1000, pricePerSegment: 0.01, countries: [SG],
      default: { deliveryRate: 1, latency: { p50: 1s, p95: 2s } } }
timeline:
  - { event: outage, channel: flaky, from: 800ms, until: 2s }
`);

describe('carrier simulator SMSCs over TCP', () => {
  const logPath = join(mkdtempSync(join(tmpdir(), 'carrier-sim-')), 'truth.jsonl');
  const sim = new CarrierSimulator({ scenario, timeScale: 1, seed: 3, httpPort: 0, logPath });
  const sessions: SmppSession[] = [];
  const open = async (channel: string) => {
    const s = await connect(sim.ports()[channel] ?? 0);
    sessions.push(s);
    return s;
  };
  const truth = (channel: string) => sim.truth.channel(channel);

  beforeAll(() => sim.start());
  afterAll(async () => {
    sessions.forEach((s) => s.destroy());
    await sim.stop();
  });

  it('refuses wrong credentials, a bind too many, and submissions before a bind', async () => {
    const s = await open('fast');
    expect(await bind(s, 'transceiver', 'fast', 'wrong')).toBe(Status.ESME_RINVPASWD);
    expect(await bind(s, 'transceiver', 'nobody', 'pw')).toBe(Status.ESME_RINVSYSID);
    expect((await s.request('submit_sm', sms())).status).toBe(Status.ESME_RINVBNDSTS);
    expect(await bind(s, 'transmitter', 'fast', 'pw')).toBe(Status.ESME_ROK);
    expect(await bind(s, 'transmitter', 'fast', 'pw')).toBe(Status.ESME_RALYBND);
    const second = await open('fast');
    expect(await bind(second, 'receiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
    const third = await open('fast');
    expect(await bind(third, 'receiver', 'fast', 'pw')).toBe(Status.ESME_RBINDFAIL); // maxBinds: 2
    // A receiver-only bind may not submit; data_sm and submit_multi are refused cleanly.
    expect((await second.request('submit_sm', sms())).status).toBe(Status.ESME_RINVBNDSTS);
    expect((await s.request('data_sm', { raw: Buffer.alloc(0) })).status).toBe(Status.ESME_RINVCMDID);
    expect((await s.request('submit_multi', { raw: Buffer.alloc(0) })).status).toBe(Status.ESME_RINVCMDID);
    await Promise.all([s.unbind(), second.unbind(), third.unbind()]);
    expect(s.isClosed && second.isClosed).toBe(true);
  });

  it('throttles above the channel TPS with ESME_RTHROTTLED', async () => {
    const s = await open('throttled');
    expect(await bind(s, 'transmitter', 'thr', 'pw')).toBe(Status.ESME_ROK);
    const burstStarted = Date.now();
    const burst = await Promise.all(Array.from({ length: 60 }, () => s.request('submit_sm', sms())));
    const burstSeconds = (Date.now() - burstStarted) / 1000;
    // One second of tokens, and those that refilled while the 60 requests arrived (on a loaded machine, over
    // 100 ms), plus the one that may have been refilling when they began.
    const accepted60 = burst.filter((r) => r.status === Status.ESME_ROK).length;
    expect(accepted60).toBeGreaterThanOrEqual(20);
    expect(accepted60).toBeLessThanOrEqual(20 + Math.floor(20 * burstSeconds) + 1);
    expect(burst.filter((r) => r.status === Status.ESME_RTHROTTLED)).toHaveLength(60 - accepted60);
    // Then a steady 50/s offered for 2 s is cut to the 20/s configured: at most 20 a second of the time the
    // offer really took (longer than 2 s on a loaded machine, which refills the bucket for longer), plus the
    // token that may have been refilling when it began.
    let accepted = 0;
    const started = Date.now();
    for (let i = 0; i < 100; i++) {
      if ((await s.request('submit_sm', sms())).status === Status.ESME_ROK) accepted++;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (Date.now() - started) / 1000;
    expect(accepted).toBeGreaterThanOrEqual(36);
    expect(accepted).toBeLessThanOrEqual(Math.floor(20 * seconds) + 1);
    await s.unbind();
  });

  it('answers ESME_RMSGQFUL when a bind has its window full', async () => {
    const s = await open('windowed');
    expect(await bind(s, 'transmitter', 'win', 'pw')).toBe(Status.ESME_ROK);
    const answers = await Promise.all(Array.from({ length: 10 }, () => s.request('submit_sm', sms())));
    expect(answers.filter((r) => r.status === Status.ESME_ROK)).toHaveLength(5);
    expect(answers.filter((r) => r.status === Status.ESME_RMSGQFUL)).toHaveLength(5);
    await s.unbind();
  });

  it('sends receipts with the standard text and TLVs, in another id base than submit_sm_resp', async () => {
    const s = await open('fast');
    const receipts = collectReceipts(s);
    expect(await bind(s, 'transceiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
    const resp = await s.request('submit_sm', sms());
    expect(resp.status).toBe(Status.ESME_ROK);
    expect(resp.body.messageId).toMatch(/^\d+$/); // decimal in the response...
    await waitFor('the receipt', () => receipts.length === 1);
    const hex = BigInt(resp.body.messageId).toString(16).toUpperCase();
    expect(receipts[0]).toMatchObject({
      text: { id: hex, stat: 'DELIVRD', err: '000', submitted: 1, delivered: 1, text: 'Your code is 123456' },
      tlvId: hex,
      tlvState: 2,
    }); // ...hex in the receipt
    expect([...(receipts[0]?.networkError ?? [])]).toEqual([3, 0, 0]);
    await s.unbind();
  });

  it('counts a concatenated message once, when all its parts arrived', async () => {
    const s = await open('fast');
    const receipts = collectReceipts(s);
    expect(await bind(s, 'transceiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
    const before = { ...truth('fast').messages };
    const parts = [1, 2, 3].map((i) =>
      Buffer.concat([concatenationUdh(0x42, 3, i), encodeGsm7(`part ${i} `.repeat(15))]),
    );
    const first = await s.request('submit_sm', sms({ esmClass: EsmClass.UDHI, shortMessage: parts[0] }));
    expect(first.status).toBe(Status.ESME_ROK);
    await new Promise((r) => setTimeout(r, 100));
    expect(truth('fast').messages.DELIVRD).toBe(before.DELIVRD); // not before the last part
    for (const part of parts.slice(1))
      expect(
        (await s.request('submit_sm', sms({ esmClass: EsmClass.UDHI, shortMessage: part }))).status,
      ).toBe(Status.ESME_ROK);
    await waitFor('a receipt per part', () => receipts.length === 3);
    expect(truth('fast').messages.DELIVRD).toBe(before.DELIVRD + 1);
    expect(new Set(receipts.map((r) => r.text.id)).size).toBe(3);
    await s.unbind();
  });

  it('spreads receipts over every bind that can receive them', async () => {
    const trx = await open('fast');
    const rx = await open('fast');
    const onTrx = collectReceipts(trx);
    const onRx = collectReceipts(rx);
    expect(await bind(trx, 'transceiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
    expect(await bind(rx, 'receiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
    for (let i = 0; i < 10; i++)
      expect((await trx.request('submit_sm', sms({ destinationAddr: `659000010${i}` }))).status).toBe(
        Status.ESME_ROK,
      );
    await waitFor('ten receipts', () => onTrx.length + onRx.length === 10);
    expect(onTrx.length).toBeGreaterThanOrEqual(3);
    expect(onRx.length).toBeGreaterThanOrEqual(3);
    await Promise.all([trx.unbind(), rx.unbind()]);
  });

  it('queues receipts while no receiver is bound and sends them on the next bind', async () => {
    const tx = await open('fast');
    expect(await bind(tx, 'transmitter', 'fast', 'pw')).toBe(Status.ESME_ROK);
    const resp = await tx.request('submit_sm', sms({ destinationAddr: '6590000077' }));
    await tx.unbind();
    await waitFor('the receipt to be queued', () => truth('fast').receiptsQueuedNow === 1, 5000);
    const rx = await open('fast');
    const receipts = collectReceipts(rx);
    expect(await bind(rx, 'receiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
    await waitFor('the queued receipt', () => receipts.length === 1);
    expect(receipts[0]?.text.id).toBe(BigInt(resp.body.messageId).toString(16).toUpperCase());
    expect(truth('fast').receiptsQueuedNow).toBe(0);
    await rx.unbind();
  });

  it("holds receipts at a run's end: the one sent is counted once answered, later ones stay queued", async () => {
    // The hold is for good: a simulator of its own.
    const held = new CarrierSimulator({ scenario, timeScale: 1, seed: 5 });
    await held.start();
    try {
      const trx = await connect(held.ports()['fast'] ?? 0);
      sessions.push(trx);
      let asked = 0;
      let answered = 0;
      trx.on('request', (pdu: Pdu) => {
        if (pdu.command !== 'deliver_sm') return;
        asked++;
        // A slow ESME: the hold waits for this answer.
        setTimeout(() => {
          trx.respond(pdu, Status.ESME_ROK, { messageId: '' });
          answered++;
        }, 500);
      });
      expect(await bind(trx, 'transceiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
      await trx.request('submit_sm', sms({ destinationAddr: '6590000081' }));
      await waitFor('the first receipt to be sent', () => asked === 1, 5000);
      await held.holdReceipts();
      expect(answered).toBe(1);
      const fast = held.truth.channel('fast');
      expect(fast.receiptsSent).toBe(1);
      expect(fast.receiptsSentByStat.DELIVRD).toBe(1);

      await trx.request('submit_sm', sms({ destinationAddr: '6590000082' }));
      await waitFor('the second receipt to come due', () => fast.receiptsQueuedNow === 1, 5000);
      await new Promise((r) => setTimeout(r, 500));
      expect(asked).toBe(1);
      expect(fast.receiptsSent).toBe(1);
      expect(fast.messages.DELIVRD).toBe(2);
    } finally {
      await held.stop();
    }
  });

  it('drops binds and refuses new ones during an outage, then recovers', async () => {
    const outage = new CarrierSimulator({ scenario: outageScenario, timeScale: 1, seed: 1 });
    await outage.start();
    try {
      const port = outage.ports()['flaky'] ?? 0;
      const s = await connect(port);
      expect(await bind(s, 'transceiver', 'flaky', 'pw')).toBe(Status.ESME_ROK);
      await waitFor('the outage to drop the bind', () => s.isClosed, 5000);
      expect(outage.clock.now()).toBeGreaterThanOrEqual(800);
      const during = await connect(port);
      expect(await bind(during, 'transceiver', 'flaky', 'pw')).toBe(Status.ESME_RBINDFAIL);
      during.destroy();
      await waitFor('the end of the outage', () => outage.clock.now() >= 2000, 5000);
      const after = await connect(port);
      expect(await bind(after, 'transceiver', 'flaky', 'pw')).toBe(Status.ESME_ROK);
      expect((await after.request('submit_sm', sms())).status).toBe(Status.ESME_ROK);
      expect(outage.truth.channel('flaky').bindsRefused['ESME_RBINDFAIL']).toBe(1);
      await after.unbind();
    } finally {
      await outage.stop();
    }
  });

  it('counts the same content to the same number within 10 simulated minutes as a duplicate, and only that', async () => {
    // 10 simulated minutes in 5 s of real time (the 2,000 submissions below take well under a second,
    // even on a loaded machine); a quiet network (no timeline) without limits to meet.
    const scaled = new CarrierSimulator({
      scenario: {
        ...outageScenario,
        timeline: [],
        channels: outageScenario.channels.map((c) => ({ ...c, tps: 100_000, window: 1000 })),
      },
      timeScale: 120,
      seed: 1,
    });
    await scaled.start();
    try {
      const s = await connect(scaled.ports()['flaky'] ?? 0);
      // A transmitter: the receipts (due within milliseconds at this scale) are not this test's.
      expect(await bind(s, 'transmitter', 'flaky', 'pw')).toBe(Status.ESME_ROK);
      const submit = async (to: string, text: string) =>
        expect(
          (await s.request('submit_sm', sms({ destinationAddr: to, shortMessage: Buffer.from(text) })))
            .status,
        ).toBe(Status.ESME_ROK);
      const duplicates = () => scaled.truth.channel('flaky').duplicates;
      await submit('6590555001', 'Your code is 111111');
      await submit('6590555001', 'Your code is 111111');
      expect(duplicates()).toBe(1);
      // Other content, or another number: not a duplicate.
      await submit('6590555001', 'Your code is 222222');
      await submit('6590555002', 'Your code is 111111');
      expect(duplicates()).toBe(1);
      // Thousands of other messages in between change nothing, and the window still holds.
      for (let i = 0; i < 2000; i += 100)
        await Promise.all(
          Array.from({ length: 100 }, (_, k) => submit(`65905${String(60000 + i + k)}`, 'x')),
        );
      expect(scaled.clock.now()).toBeLessThan(10 * 60_000);
      await submit('6590555002', 'Your code is 111111');
      expect(duplicates()).toBe(2);
      // After the window: the same message again is a new one.
      const at = scaled.clock.now();
      await waitFor('ten simulated minutes', () => scaled.clock.now() - at > 10 * 60_000, 10_000);
      await submit('6590555001', 'Your code is 111111');
      expect(duplicates()).toBe(2);
      await s.unbind();
    } finally {
      await scaled.stop();
    }
  });

  it('answers enquire_link, nacks garbage without losing the session, and ends only a session whose framing is lost', async () => {
    const good = await open('fast');
    expect(await bind(good, 'transmitter', 'fast', 'pw')).toBe(Status.ESME_ROK);
    expect((await good.request('enquire_link', {})).status).toBe(Status.ESME_ROK);

    // A raw socket: an unknown command, then an impossible command_length.
    const raw = tcpConnect({ host: '127.0.0.1', port: sim.ports()['fast'] ?? 0 });
    const received: Buffer[] = [];
    raw.on('data', (d: Buffer) => received.push(d));
    await new Promise((r) => raw.once('connect', r));
    raw.write(Buffer.from('000000100000007700000000000000aa', 'hex'));
    raw.write(encodePdu({ command: 'enquire_link', status: 0, sequence: 0xab, body: {} }));
    await waitFor('generic_nack and enquire_link_resp', () => Buffer.concat(received).length >= 32);
    const replies = Buffer.concat(received);
    expect(replies.readUInt32BE(4)).toBe(CommandId.generic_nack);
    expect(replies.readUInt32BE(8)).toBe(Status.ESME_RINVCMDID);
    expect(replies.readUInt32BE(12)).toBe(0xaa);
    expect(replies.readUInt32BE(20)).toBe(CommandId.enquire_link_resp); // the session still works
    raw.write(Buffer.from('7fffffff00000004', 'hex'));
    await new Promise((r) => raw.once('close', r));

    // The other session never noticed.
    expect((await good.request('submit_sm', sms())).status).toBe(Status.ESME_ROK);
    await good.unbind();
  });

  it('stops reading a session with too many unanswered requests instead of buffering them', async () => {
    const s = await open('slow');
    expect(await bind(s, 'transmitter', 'slow', 'pw')).toBe(Status.ESME_ROK);
    const before = truth('slow').partsAccepted;
    const answers = Array.from({ length: 1500 }, () => s.request('submit_sm', sms()));
    // Everything is on the wire, but the SMSC holds each submit 1 s and reads at most 512 ahead.
    await new Promise((r) => setTimeout(r, 600));
    const taken = truth('slow').partsAccepted - before;
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThanOrEqual(512);
    const statuses = await Promise.all(
      answers.map((a) =>
        a.then(
          (r) => r.status,
          () => -1,
        ),
      ),
    );
    expect(statuses.every((st) => st === Status.ESME_ROK)).toBe(true); // nothing lost, only paced
    await s.unbind();
  });

  it('delivers a handset reply (POST /mo) to a receiver bind as a mobile-originated deliver_sm', async () => {
    const rx = await open('fast');
    const seen: { esmClass: number; from: string; text: string }[] = [];
    rx.on('request', (pdu) => {
      if (pdu.command !== 'deliver_sm') return;
      // Receipts queued by earlier tests arrive here too: keep only mobile-originated messages.
      if (!(pdu.body.esmClass & EsmClass.DELIVERY_RECEIPT)) {
        seen.push({
          esmClass: pdu.body.esmClass,
          from: pdu.body.sourceAddr,
          text: decodeGsm7(pdu.body.shortMessage),
        });
      }
      rx.respond(pdu, Status.ESME_ROK, { messageId: '' });
    });
    expect(await bind(rx, 'receiver', 'fast', 'pw')).toBe(Status.ESME_ROK);
    const post = (body: unknown) =>
      fetch(`http://127.0.0.1:${String(sim.httpPort)}/mo`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post({ channel: 'fast', from: '6590000009' })).status).toBe(400);
    expect((await post({ channel: 'fast', from: '6590000009', to: 'TernTest', text: 'STOP' })).status).toBe(
      202,
    );
    await waitFor('the reply', () => seen.length === 1);
    expect(seen[0]).toEqual({ esmClass: 0, from: '6590000009', text: 'STOP' });
    await rx.unbind();
  });

  it('serves its ground truth over HTTP and as JSONL, without message text', async () => {
    const res = await fetch(`http://127.0.0.1:${String(sim.httpPort)}/stats`);
    const stats = (await res.json()) as { channels: Record<string, { partsAccepted: number }> };
    expect(stats.channels['fast']?.partsAccepted).toBe(truth('fast').partsAccepted);
    const log = readFileSync(logPath, 'utf8');
    const events = log
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; channel: string; status?: string });
    expect(
      events.filter((e) => e.event === 'submit' && e.channel === 'fast' && e.status === 'ESME_ROK'),
    ).toHaveLength(truth('fast').partsAccepted);
    expect(events.some((e) => e.event === 'bind' && e.status === 'ESME_RINVPASWD')).toBe(true);
    expect(log).not.toContain('code is'); // message text (an OTP here) never reaches the log
  });

  it('streams each truth event with its real time to GET /events clients, from when they connect', async () => {
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${String(sim.httpPort)}/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const s = await open('fast');
    const receipts = collectReceipts(s);
    await bind(s, 'transceiver', 'fast', 'pw');
    const before = Date.now();
    const submitted = await s.request(
      'submit_sm',
      sms({ destinationAddr: '6590777001', shortMessage: Buffer.from('Streamed') }),
    );
    expect(submitted.status).toBe(Status.ESME_ROK);
    await waitFor('the receipt', () => receipts.length === 1);
    const lines: { at: number; event: string; messageId?: string; destination?: string; outcome?: string }[] =
      [];
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes('"event":"receipt"')) break;
    }
    controller.abort();
    for (const line of text.trim().split('\n')) lines.push(JSON.parse(line) as (typeof lines)[number]);
    // Only what happened after the client connected: the earlier tests' events are not replayed.
    expect(lines.map((e) => e.event)).toEqual(['bind', 'submit', 'message', 'receipt']);
    const [, submit, , receipt] = lines;
    expect(submit).toMatchObject({ destination: '6590777001', messageId: submitted.body.messageId });
    expect(receipt).toMatchObject({ outcome: 'sent', destination: '6590777001' });
    expect(submit!.at).toBeGreaterThanOrEqual(before);
    expect(receipt!.at).toBeGreaterThanOrEqual(submit!.at);
    expect(text).not.toContain('Streamed');
  });
});
