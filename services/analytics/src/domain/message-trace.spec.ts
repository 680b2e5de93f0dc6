import { decisionOf, explainDecision, traceQuery } from './message-trace';

describe('traceQuery', () => {
  it('tells a message id, a recipient and a client reference apart', () => {
    expect(traceQuery(' 01A23087-1385-7245-A007-BE4F3DAA0157 ')).toEqual({
      messageId: '01a23087-1385-7245-a007-be4f3daa0157',
    });
    expect(traceQuery('+65 9123-4567')).toEqual({ recipient: '+6591234567' });
    expect(traceQuery('6591234567')).toEqual({ recipient: '+6591234567' });
    expect(traceQuery('order-42')).toEqual({ clientReference: 'order-42' });
    // Short digit strings are references (an order number), not phone numbers.
    expect(traceQuery('12345')).toEqual({ clientReference: '12345' });
    expect(traceQuery('   ')).toBeUndefined();
  });
});

describe('explainDecision', () => {
  const decision = decisionOf({
    reason: 'thompson sample among 3 candidates',
    candidates: [
      {
        channelId: 'cheap',
        score: 1.2,
        deliveryProbability: 0.7,
        expectedLatencyMs: 15000,
        pricePerSegment: 0.01,
      },
      {
        channelId: 'direct',
        score: 2.4,
        deliveryProbability: 0.95,
        expectedLatencyMs: 3000,
        pricePerSegment: 0.045,
      },
      { channelId: 'down', excludedBecause: 'breaker open' },
    ],
  });

  it('says why the channel won: its score against the runner-up, and what was left out', () => {
    expect(explainDecision('direct', decision)).toBe(
      'direct: thompson sample among 3 candidates; score 2.400 (delivery 95.0%, 3.0 s expected, 0.045 per segment) ' +
        'against cheap at 1.200; left out: down (breaker open)',
    );
  });

  it('names a lone eligible channel as such, and reads missing fields as their defaults', () => {
    const lone = decisionOf({ candidates: [{ channelId: 'only', score: 1 }] });
    expect(lone.reason).toBe('');
    expect(explainDecision('only', lone)).toBe(
      'only: chosen by the router; score 1.000 (delivery 0.0%, 0.0 s expected, 0 per segment), the only eligible channel',
    );
    expect(decisionOf({}).candidates).toEqual([]);
  });

  it('ends with what risk noted on approving the message, as the trace keeps it', () => {
    const noted = decisionOf({
      candidates: [{ channelId: 'only', score: 1 }],
      riskNotes: ['monitor: would be refused as pumping (0 of 40 OTPs to +2349099… within 600 s were used)'],
    });
    expect(explainDecision('only', noted)).toMatch(
      /the only eligible channel; risk: monitor: would be refused as pumping \(0 of 40 OTPs to \+2349099… within 600 s were used\)$/,
    );
  });
});
