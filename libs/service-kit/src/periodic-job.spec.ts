import { createLogger } from '@tern/telemetry';
import { PeriodicJob } from './periodic-job';

const log = createLogger({ service: 'test', level: 'fatal' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PeriodicJob', () => {
  it('never overlaps a slow run, keeps going after a failure, and stop() waits for the run in hand', async () => {
    let concurrent = 0;
    let most = 0;
    let runs = 0;
    let finished = 0;
    const job = new PeriodicJob(
      'slow job',
      5,
      async () => {
        runs++;
        most = Math.max(most, ++concurrent);
        await sleep(30);
        concurrent--;
        finished++;
        if (runs === 1) throw new Error('first run fails');
      },
      log,
    );
    // Runs counted, not a fixed wait: on a busy machine (CI's test workers) 120 ms held only one run.
    const deadline = Date.now() + 10_000;
    while (runs < 3 && Date.now() < deadline) await sleep(5);
    await job.stop();
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(most).toBe(1);
    expect(finished).toBe(runs); // the last run ended before stop() returned
    const after = runs;
    await sleep(30);
    expect(runs).toBe(after);
  });
});
