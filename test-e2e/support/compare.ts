// The routing suites' shape: the same scenario and traffic twice, smart routing and the baseline, one table
// with the oracle's row (what perfect knowledge would have done with the smart run's OTPs) and Tern's regret.
import { appendFileSync } from 'node:fs';
import type { Scenario } from '@tern/carrier-sim';
import { runSeed, type Margin } from '@tern/testing';
import { PlatformRun, type PlatformRunOptions, type Strategy } from './platform-run';
import { oracleTally, regretLine } from './oracle';
import { deliveredTwice, latencyBreakdown, perCountry, reportTable, tally, type Tally } from './tally';

export interface Comparison {
  tern: Tally;
  baseline: Tally;
  oracle: Tally;
  /** Both runs, stopped: their OTPs, the simulator's ground truth and their ClickHouse databases remain. */
  runs: Record<Strategy, PlatformRun>;
  /** Each run's OTPs that reached their handsets twice, each with how (`deliveredTwice`). */
  deliveredTwice: Record<Strategy, string[]>;
}

export async function compareWithBaseline(options: {
  suite: string;
  heading: string;
  scenario: Scenario;
  /** Sends the run's traffic. */
  drive: (run: PlatformRun) => Promise<void>;
  /** Waits for the run's last OTPs to be delivered or given up (PlatformRun.settle). */
  settle: (run: PlatformRun) => Promise<void>;
  run?: Omit<PlatformRunOptions, 'scenario' | 'strategy'>;
  /** The suite's targets with their margins (see @tern/testing stats), printed with the table. */
  margins?: (tern: Tally, baseline: Tally) => Margin[];
  /** Lines of the suite's own about both runs (what a check measured), printed after the margins. */
  notes?: (runs: Record<Strategy, PlatformRun>) => string[];
}): Promise<Comparison> {
  // On the same carriers' seed, and not while the smart run drives: side by side, two platforms on two cores
  // add about half a second of queueing to every OTP (measured on latam-fintech: API to carrier 504 ms, not
  // 38 ms), which the latency targets would count. Each run has its own topics, Redis database, ClickHouse
  // database and simulator, so nothing the first learns reaches the second. Both platforms start before the
  // smart run drives, and the baseline's then waits idle, its world quiet, until its turn: its start (some
  // 7 CPU-s of services starting) falls where the suite is starting anyway, not in the middle of the drive
  // of a suite beside it. The baseline drives once the smart run's traffic is sent, while it settles: a run
  // waits for its last failovers' receipts (a real-time one up to a minute), with little left for its
  // platform to do. Its latencies are the carriers' (when each OTP reached them): the baseline beside it
  // delays only what the platform still moves then, its stragglers' retries (and in mideast-peak the
  // backlog the carriers' caps hold, which drains at the caps' pace).
  const seed = options.run?.seed ?? runSeed();
  const start = (strategy: Strategy) =>
    PlatformRun.start({
      ...options.run,
      scenario: options.scenario,
      strategy,
      seed,
      redisSlot: strategy === 'cheapest' ? 1 : 0,
    });
  /** Drives the run; then settles and stops it in the background (`settled`). */
  const driven = async (run: PlatformRun): Promise<{ settled: Promise<void> }> => {
    try {
      run.begin();
      await options.drive(run);
    } catch (error) {
      await run.stop();
      throw error;
    }
    return { settled: options.settle(run).finally(() => run.stop()) };
  };
  const [smartStart, baselineStart] = await Promise.allSettled([start('smart'), start('cheapest')]);
  if (smartStart.status === 'rejected' || baselineStart.status === 'rejected') {
    for (const started of [smartStart, baselineStart])
      if (started.status === 'fulfilled') await started.value.stop();
    throw smartStart.status === 'rejected'
      ? smartStart.reason
      : (baselineStart as PromiseRejectedResult).reason;
  }
  const smart = smartStart.value;
  const cheapest = baselineStart.value;
  // The smart run's failure is held until the baseline is done too, so neither platform is left running.
  const smartDriven = await driven(smart).catch(async (error: unknown) => {
    await cheapest.stop();
    throw error;
  });
  const smartSettled = outcome(smartDriven.settled);
  const baselineRun = outcome(
    (async () => {
      const { settled } = await driven(cheapest);
      trafficSent(options.suite);
      await settled;
    })(),
  );
  const [smartDone, baselineDone] = await Promise.all([smartSettled, baselineRun]);
  if ('error' in smartDone) throw smartDone.error;
  if ('error' in baselineDone) throw baselineDone.error;
  const runs: Record<Strategy, PlatformRun> = { smart, cheapest };
  const tern = tally('Tern (smart routing)', runs.smart);
  const baseline = tally('baseline (cheapest, no failover)', runs.cheapest);
  const oracle = oracleTally(runs.smart);
  const refusals = Object.entries(runs).flatMap(([strategy, run]) =>
    run.refused.length === 0
      ? []
      : [`${strategy}: ${run.refused.length} OTPs refused by the API (first: ${run.refused[0]})`],
  );
  const breakdown = [runs.smart, runs.cheapest].flatMap((run) => [latencyBreakdown(run), perCountry(run)]);
  const replay = `carriers' seed ${seed} (TERN_E2E_SEED=${seed} replays their draws)`;
  const margins = (options.margins?.(tern, baseline) ?? []).map((m) => m.line);
  const notes = options.notes?.(runs) ?? [];
  const twice = { smart: await deliveredTwice(runs.smart), cheapest: await deliveredTwice(runs.cheapest) };
  reportTable(
    options.suite,
    options.heading,
    [baseline, tern, oracle],
    [
      replay,
      regretLine(tern, oracle),
      ...margins,
      ...notes,
      ...breakdown,
      ...refusals,
      ...twice.smart,
      ...twice.cheapest,
    ],
  );
  return { tern, baseline, oracle, runs, deliveredTwice: twice };
}

/**
 * Both runs' traffic is sent: what is left is waiting for the carriers' receipts. When the test runner asks
 * (TERN_E2E_SENT_FILE, scripts/test-all.sh), the suite says so with a line in that file, and the runner starts
 * the next suites beside its settling: the suite ran alone while it sent.
 */
function trafficSent(suite: string): void {
  const file = process.env['TERN_E2E_SENT_FILE'];
  if (file) appendFileSync(file, `${suite}\n`);
}

/** A promise's outcome, never rejecting: its value or its error. */
function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}
