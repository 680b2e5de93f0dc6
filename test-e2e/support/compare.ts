// The routing suites' shape: the same scenario and traffic twice, smart routing and the baseline, one table.
import type { Scenario } from '@tern/carrier-sim';
import { PlatformRun, type PlatformRunOptions, type Strategy } from './platform-run';
import { latencyBreakdown, perCountry, reportTable, tally, type Tally } from './tally';

export interface Comparison {
  tern: Tally;
  baseline: Tally;
  /** Both runs, stopped: their OTPs, the simulator's ground truth and their ClickHouse databases remain. */
  runs: Record<Strategy, PlatformRun>;
}

export async function compareWithBaseline(options: {
  suite: string;
  heading: string;
  scenario: Scenario;
  traffic: (run: PlatformRun) => Promise<void>;
  run?: Omit<PlatformRunOptions, 'scenario' | 'strategy'>;
}): Promise<Comparison> {
  const runs = {} as Record<Strategy, PlatformRun>;
  // Smart first: nothing the baseline taught its analytics can reach the smart run.
  for (const strategy of ['smart', 'cheapest'] as const) {
    const run = await PlatformRun.start({ ...options.run, scenario: options.scenario, strategy });
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
  const refusals = Object.entries(runs).flatMap(([strategy, run]) =>
    run.refused.length === 0
      ? []
      : [`${strategy}: ${run.refused.length} OTPs refused by the API (first: ${run.refused[0]})`],
  );
  const breakdown = [runs.smart, runs.cheapest].flatMap((run) => [latencyBreakdown(run), perCountry(run)]);
  reportTable(options.suite, options.heading, [baseline, tern], [...breakdown, ...refusals]);
  return { tern, baseline, runs };
}
