// A fault drill suite (support/fault-drill.ts): each fault run once on a platform of its own, under
// TERN_DRILL_MESSAGES OTPs (default 2000) at TERN_DRILL_RATE a second (default 100), then asserted and put in
// one table, `.local/e2e/drills-<suite>.md`. CI runs one file per drill so that they spread over the jest
// workers; `./tern drill` runs any of them in one (fault-drills.e2e-spec.ts).
import {
  drillTimeoutMs,
  faultName,
  reportDrills,
  runDrill,
  type DrillResult,
  type Fault,
} from './fault-drill';

export function describeDrills(suite: string, faults: readonly Fault[]): void {
  const messages = Number(process.env['TERN_DRILL_MESSAGES'] ?? 2000);
  const perSecond = Number(process.env['TERN_DRILL_RATE'] ?? 100);
  const results: DrillResult[] = [];

  afterAll(() => {
    if (results.length > 0) reportDrills(suite, results, messages);
  });

  describe.each(faults.map((fault) => [faultName(fault), fault] as const))('drill %s', (_name, fault) => {
    let result: DrillResult;
    beforeAll(async () => {
      result = await runDrill({ fault, messages, perSecond });
      results.push(result);
    }, drillTimeoutMs({ messages, perSecond }));

    it('accepts all the traffic and delivers it (the drill measured something)', () => {
      expect({ accepted: result.messages, refused: result.refused }).toEqual({
        accepted: messages,
        refused: 0,
      });
      // Two channels of 97% and 92% with failover between them: nearly every OTP reaches its handset (while
      // one channel is out, a failure on the other has nowhere to go).
      expect(result.delivered).toBeGreaterThan(result.messages * 0.9);
    });

    it('loses nothing: every accepted message reaches a final status', () => {
      // The examples say which messages and why, when any is lost.
      expect({ lost: result.lost, examples: result.lost ? result.examples : [] }).toEqual({
        lost: 0,
        examples: [],
      });
    });

    it('shows every status as the handsets saw it', () => {
      expect(result.wrongStatus).toBe(0);
    });

    it('delivers nothing twice, except attempts reported in doubt', () => {
      // Message by message: a count against the attempts in doubt would let one delivered twice for
      // another reason pass beside a hundred in doubt. The examples name it.
      expect({
        twiceNotInDoubt: result.twiceNotInDoubt,
        examples: result.twiceNotInDoubt ? result.examples : [],
      }).toEqual({ twiceNotInDoubt: 0, examples: [] });
    });

    it('dead-letters no valid record', () => {
      expect(result.dlqReasons).toEqual({});
    });
  });
}
