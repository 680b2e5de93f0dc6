import type { TokenBuckets } from '@tern/redis';
import { metricsRegistry } from '@tern/telemetry';
import { Gauge, Histogram } from 'prom-client';
import type { TrafficClass } from '@tern/contracts';
import type { RateLimit } from './domain/traffic';

/**
 * passedAt: go ahead, let through by the limits at that time (ms); expired: its deadline came first; closed:
 * the router is stopping (leave it uncommitted).
 */
export type GateOutcome = { passedAt: number } | 'expired' | 'closed';

interface Waiter {
  deadline: number;
  since: number;
  resolve: (outcome: GateOutcome) => void;
}

interface Line {
  limits: RateLimit[];
  trafficClass: TrafficClass;
  waiters: Waiter[];
}

const waiting = new Gauge({
  name: 'tern_router_waiting',
  help: 'Messages waiting for a country or channel rate limit, per class',
  labelNames: ['class'],
  registers: [metricsRegistry],
});
const waited = new Histogram({
  name: 'tern_router_throttle_wait_seconds',
  help: 'Time a message waited for its rate limits before dispatch, per class',
  labelNames: ['class'],
  buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120, 600],
  registers: [metricsRegistry],
});

const MAX_GRANT = 500;
const MIN_PAUSE_MS = 5;
const MAX_PAUSE_MS = 1000;

/**
 * Lets a message through when its rate limits (shared by every instance, in Redis) have a token for it;
 * until then it waits, in order, in a line per class and set of limits. Only the head of each line asks
 * Redis, for as many tokens as the line holds, so 10,000 waiting messages cost one call per refill, not
 * 10,000. A waiter whose deadline (its validity) passes leaves the line unserved.
 */
export class TrafficGate {
  private readonly lines = new Map<string, Line>();
  private closed = false;

  constructor(private readonly buckets: TokenBuckets) {
    waiting.reset();
  }

  pass(limits: RateLimit[], trafficClass: TrafficClass, deadline: number): Promise<GateOutcome> {
    if (this.closed) return Promise.resolve('closed');
    const lineKey = `${trafficClass}|${limits.map((l) => `${l.key}@${l.perSecond}/${l.burst}`).join('|')}`;
    let line = this.lines.get(lineKey);
    const start = !line;
    if (!line) {
      line = { limits, trafficClass, waiters: [] };
      this.lines.set(lineKey, line);
    }
    const since = Date.now();
    const passed = new Promise<GateOutcome>((resolve) => line.waiters.push({ deadline, since, resolve }));
    waiting.inc({ class: trafficClass });
    if (start) void this.serve(lineKey, line);
    return passed;
  }

  /** Sends every waiter away unserved: their records stay uncommitted for whoever consumes them next. */
  close(): void {
    this.closed = true;
    for (const line of this.lines.values()) {
      for (const w of line.waiters.splice(0)) {
        waiting.dec({ class: line.trafficClass });
        w.resolve('closed');
      }
    }
  }

  private async serve(lineKey: string, line: Line): Promise<void> {
    const labels = { class: line.trafficClass };
    try {
      while (line.waiters.length > 0) {
        const now = Date.now();
        line.waiters = line.waiters.filter((w) => {
          if (w.deadline > now) return true;
          waiting.dec(labels);
          w.resolve('expired');
          return false;
        });
        if (line.waiters.length === 0) break;
        let pauseMs: number;
        try {
          const grant = await this.buckets.take(
            line.limits.map((l) => ({
              key: l.key,
              perSecond: l.perSecond,
              burst: l.burst,
              reserve: l.reserve,
            })),
            Math.min(line.waiters.length, MAX_GRANT),
          );
          const through = line.waiters.splice(0, grant.granted);
          const now = Date.now();
          for (const w of through) {
            waiting.dec(labels);
            waited.observe(labels, (now - w.since) / 1000);
            // The grant's own time: the limits' promise holds for it, not for when this process got to it.
            w.resolve({ passedAt: grant.at });
          }
          pauseMs = line.waiters.length === 0 ? 0 : grant.retryAfterMs;
        } catch {
          // Redis unreachable: the messages keep waiting (their Kafka offsets stay uncommitted) and we ask again.
          pauseMs = MAX_PAUSE_MS;
        }
        if (pauseMs > 0) await sleep(Math.min(MAX_PAUSE_MS, Math.max(MIN_PAUSE_MS, pauseMs)));
      }
    } finally {
      // The loop ends only with an empty line, checked with no await after it: nobody is left behind.
      this.lines.delete(lineKey);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
