// Fault drills over the whole platform (see support/fault-drill.ts). CI runs a few of a couple of thousand
// OTPs each; `./tern drill <fault>...` runs any of them (TERN_DRILLS, TERN_DRILL_MESSAGES) at full size.
// Runs side by side with other suites: CI's drills here crash the run's own processes or restart a Redis of
// the drill's own, and what they assert (nothing lost, twice or shown wrongly) must hold however busy the
// machine is.
import {
  ALL_FAULTS,
  drillTimeoutMs,
  faultName,
  parseFault,
  reportDrills,
  runDrill,
  type DrillResult,
} from '../support/fault-drill';

const CI_DRILLS = ['kill:router', 'kill:smpp-connector', 'kill:dlr', 'redis-restart'];
const chosen = process.env['TERN_DRILLS'] ?? CI_DRILLS.join(',');
const faults =
  chosen === 'all'
    ? ALL_FAULTS
    : chosen
        .split(',')
        .filter((f) => f.trim() !== '')
        .map((f) => parseFault(f.trim()));
const messages = Number(process.env['TERN_DRILL_MESSAGES'] ?? 2000);
const perSecond = Number(process.env['TERN_DRILL_RATE'] ?? 100);
const results: DrillResult[] = [];

afterAll(() => {
  if (results.length > 0) reportDrills(process.env['TERN_DRILL_SUITE'] ?? 'fault-drills', results, messages);
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
    expect(result.deliveredTwice).toBeLessThanOrEqual(result.inDoubt);
  });

  it('dead-letters no valid record', () => {
    expect(result.dlqReasons).toEqual({});
  });
});
