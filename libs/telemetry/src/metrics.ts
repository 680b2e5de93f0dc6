import { collectDefaultMetrics, Registry } from 'prom-client';

/** The process-wide Prometheus registry every Tern metric registers in; served on /metrics. */
export const metricsRegistry = new Registry();
let defaultsCollected = false;

export function collectProcessMetrics(service: string): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  metricsRegistry.setDefaultLabels({ service });
  // The event loop's lag sampled every 100 ms, not prom-client's 10: each sample wakes the loop, and 100 a
  // second cost an idle service about 3% of a core on this project's 2-core machines.
  collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: 100 });
}
