import { metricsRegistry } from '@tern/telemetry';
import { Gauge } from 'prom-client';
import type { BreakerState } from './domain/circuit-breaker';
import type { RouteBook } from './domain/route-book';

const LEVEL: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Each breaker of the book as `tern_router_breaker_state`, read at scrape time. */
export function exposeBreakers(book: RouteBook): void {
  new Gauge({
    name: 'tern_router_breaker_state',
    help: 'Each channel breaker (mcc_mnc empty) and channel-to-carrier breaker: 0 closed, 1 half-open (probes only), 2 open',
    labelNames: ['channel', 'mcc_mnc'],
    registers: [metricsRegistry],
    collect() {
      this.reset();
      for (const [key, state] of Object.entries(book.breakerStates(Date.now()))) {
        const [channel = key, mccMnc = ''] = key.split('/');
        this.set({ channel, mcc_mnc: mccMnc }, LEVEL[state]);
      }
    },
  });
}
