// The routing suites' shape: the same scenario and traffic twice, smart routing and the baseline, one table
// with the oracle's row (what perfect knowledge would have done with the smart run's OTPs) and Tern's regret.
import type { Scenario } from '@tern/carrier-sim';
import { runSeed, type Margin } from '@tern/testing';
import { PlatformRun, type PlatformRunOptions, type Strategy } from './platform-run';
import { oracleTally, regretLine } from './oracle';
import { latencyBreakdown, perCountry, reportTable, tally, type Tally } from './tally';

export interface Comparison {
  tern: Tally;
  baseline: Tally;
  oracle: Tally;
  /** Both runs, stopped: their OTPs, the simulator's ground truth and their ClickHouse databases remain. */
  runs: Record<Strategy, PlatformRun>;
}

export async function compareWithBaseline(options: {
  suite: string;
  heading: string;
  scenario: Scenario;
  traffic: (run: PlatformRun) => Promise<void>;
  run?: Omit<PlatformRunOptions, 'scenario' | 'strategy'>;
  /**
   * The baseline's own time scale (default: the run's). Its OTPs take the default route's tens of seconds,
   * so its world can run faster than the smart run's while the platform's own time stays a small share
   * of its latencies (printed; see platformShare).
   */
  baselineTimeScale?: number;
  /** The suite's targets with their margins (see @tern/testing stats), printed with the table. */
  margins?: (tern: Tally, baseline: Tally) => Margin[];
  /** Lines of the suite's own about both runs (what a check measured), printed after the margins. */
  notes?: (runs: Record<Strategy, PlatformRun>) => string[];
}): Promise<Comparison> {
  // One after the other, on the same carriers' seed: side by side, two platforms on two cores add about
  // half a second of queueing to every OTP (measured on latam-fintech: API to carrier 504 ms, not 38 ms),
  // which the latency targets would count. Each run has its own topics, Redis state, ClickHouse database
  // and simulator, so nothing the first learns reaches the second.
  const seed = options.run?.seed ?? runSeed();
  const runs = {} as Record<Strategy, PlatformRun>;
  for (const strategy of ['smart', 'cheapest'] as const) {
    const timeScale = strategy === 'cheapest' ? options.baselineTimeScale : undefined;
    const run = await PlatformRun.start({
      ...options.run,
      ...(timeScale === undefined ? {} : { timeScale }),
      scenario: options.scenario,
      strategy,
      seed,
    });
    try {
      run.begin();
      await options.traffic(run);
    } finally {
      await run.stop();
    }
    runs[strategy] = run;
  }
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
  reportTable(
    options.suite,
    options.heading,
    [baseline, tern, oracle],
    [replay, regretLine(tern, oracle), ...margins, ...notes, ...breakdown, ...refusals],
  );
  return { tern, baseline, oracle, runs };
}
