import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TrafficClass } from '@tern/contracts';
import { metricsRegistry } from '@tern/telemetry';
import { Gauge } from 'prom-client';

/**
 * How one process keeps bulk work (marketing) from slowing its priority work (OTP, transactional). Separate
 * intakes keep an OTP out of a marketing backlog's queue, but not off a busy event loop or a saturated
 * machine: there, every round trip of an OTP waits behind the backlog's callbacks. So while priority work is
 * about, bulk work is paced to what keeps the event loop prompt.
 */
export interface BulkPaceSettings {
  /**
   * Event-loop delay (ms beyond the timer's own interval, p99 over a window) above which bulk work slows while
   * priority work is about. 0: bulk work is never paced.
   */
  yieldDelayMs: number;
  /** Bulk items a second the process lets through however busy it is, so a campaign never stops. */
  minRatePerSecond: number;
}

/** What one window of the pacer saw. */
export interface PaceWindow {
  /** The event loop's delay, ms beyond the timer's interval (p99). */
  delayMs: number;
  /** Whether priority work came in lately. */
  priorityActive: boolean;
  /** Bulk items let through a second in the window. */
  admittedPerSecond: number;
}

/** Each congested window halves what bulk work got; each calm one gives it a tenth more. */
const DECREASE = 0.5;
const INCREASE = 1.1;
/** A pace this far above what bulk work takes holds nothing back, and is lifted. */
const LIFT_ABOVE_DEMAND = 4;

/**
 * The bulk pace after a window, in items a second (Infinity: unpaced): multiplicative decrease from what bulk
 * work actually got while priority work meets a slow event loop, growth while it does not, lifted once far
 * above what bulk work asks. Never below the floor.
 */
export function nextBulkRate(rate: number, window: PaceWindow, settings: BulkPaceSettings): number {
  const floor = settings.minRatePerSecond;
  if (window.priorityActive && window.delayMs > settings.yieldDelayMs) {
    return Math.max(floor, Math.min(rate, window.admittedPerSecond) * DECREASE);
  }
  if (rate === Infinity) return Infinity;
  const next = rate * INCREASE + floor;
  return next > LIFT_ABOVE_DEMAND * Math.max(window.admittedPerSecond, floor) ? Infinity : next;
}

/** The window over which the event loop's delay is judged and the pace set. */
const WINDOW_MS = 500;
/** How often the loop's delay is sampled. */
const SAMPLE_EVERY_MS = 5;
/** Priority work counts as about for this long after the last of it (OTPs a few seconds apart). */
const PRIORITY_MEMORY_MS = 5_000;
/** The most a paced bucket holds: a pause in bulk work does not buy a burst later. */
const BURST_SECONDS = 0.05;

const paceGauge = new Gauge({
  name: 'tern_bulk_pace_per_second',
  help: 'Bulk (marketing) items this process lets through a second while priority work is about; +Inf: unpaced',
  registers: [metricsRegistry],
});
const delayGauge = new Gauge({
  name: 'tern_event_loop_delay_seconds',
  help: "The event loop's delay beyond its timer's interval, p99 over the bulk pacer's last window with priority work about",
  registers: [metricsRegistry],
});

/**
 * The process's bulk pacer (one per process: the event loop is the process's): priority work says it came
 * (`priorityWork`), bulk work waits its turn (`admit`) in arrival order, at the pace `nextBulkRate` sets every
 * half second from the event loop's delay.
 */
export class BulkPacer {
  private rate = Infinity;
  private tokens = 0;
  private filledAt = performance.now();
  private admittedInWindow = 0;
  private lastPriorityAt = -Infinity;
  private readonly waiting: { weight: number; go: () => void }[] = [];
  private wake: NodeJS.Timeout | undefined;
  private readonly window: NodeJS.Timeout | undefined;
  private readonly delay: ReturnType<typeof monitorEventLoopDelay> | undefined;

  /** The pacer of a service configured with `bulkPaceSettings`. */
  static configured(config: { bulkYieldDelayMs: number; bulkMinRate: number }): BulkPacer {
    return new BulkPacer({ yieldDelayMs: config.bulkYieldDelayMs, minRatePerSecond: config.bulkMinRate });
  }

  constructor(private readonly settings: BulkPaceSettings) {
    paceGauge.set(Infinity);
    if (settings.yieldDelayMs <= 0) return;
    // Sampled only while priority work is about (`priorityWork`), the only time the pace reads it: a sample
    // every 5 ms is a wake-up of the event loop, and on its own cost an idle process 2-3% of a core.
    this.delay = monitorEventLoopDelay({ resolution: SAMPLE_EVERY_MS });
    this.window = setInterval(() => this.endWindow(), WINDOW_MS).unref();
  }

  /** Bulk items a second let through now; Infinity: unpaced. */
  pace(): number {
    return this.rate;
  }

  /** Priority work came in: bulk work yields to it for the next few seconds. */
  priorityWork(): void {
    this.lastPriorityAt = performance.now();
    this.delay?.enable();
  }

  /** Before a record of a traffic class is handled: priority work says it came, bulk work waits its turn. */
  async turn(trafficClass: TrafficClass): Promise<void> {
    if (trafficClass === 'bulk') await this.admit(1);
    else this.priorityWork();
  }

  /** Resolves when `weight` bulk items may start (at once while unpaced). */
  admit(weight: number): Promise<void> {
    if (this.rate === Infinity && this.waiting.length === 0) {
      this.admittedInWindow += weight;
      return Promise.resolve();
    }
    return new Promise((go) => {
      this.waiting.push({ weight, go });
      this.release();
    });
  }

  /** Stops sampling and lets every waiting item go. */
  close(): void {
    clearInterval(this.window);
    clearTimeout(this.wake);
    this.delay?.disable();
    this.rate = Infinity;
    this.release();
  }

  private endWindow(): void {
    const delay = this.delay!;
    const sampled = delay.count > 0;
    const delayMs = sampled ? Math.max(0, delay.percentile(99) / 1e6 - SAMPLE_EVERY_MS) : 0;
    delay.reset();
    const priorityActive = performance.now() - this.lastPriorityAt < PRIORITY_MEMORY_MS;
    if (!priorityActive) delay.disable();
    const window: PaceWindow = {
      delayMs,
      priorityActive,
      admittedPerSecond: (this.admittedInWindow * 1000) / WINDOW_MS,
    };
    this.admittedInWindow = 0;
    this.rate = nextBulkRate(this.rate, window, this.settings);
    paceGauge.set(this.rate);
    if (sampled) delayGauge.set(delayMs / 1000);
    this.release();
  }

  /** Lets waiting items go, in order, as the pace's bucket fills; a batch larger than it goes on credit. */
  private release(): void {
    clearTimeout(this.wake);
    this.wake = undefined;
    if (this.rate === Infinity) {
      for (const item of this.waiting.splice(0)) this.let(item);
      return;
    }
    const now = performance.now();
    const burst = Math.max(1, this.rate * BURST_SECONDS);
    this.tokens = Math.min(burst, this.tokens + ((now - this.filledAt) / 1000) * this.rate);
    this.filledAt = now;
    while (this.waiting.length > 0 && this.tokens >= Math.min(this.waiting[0]!.weight, burst)) {
      const item = this.waiting.shift()!;
      this.tokens -= item.weight;
      this.let(item);
    }
    if (this.waiting.length === 0) return;
    const needed = Math.min(this.waiting[0]!.weight, burst) - this.tokens;
    this.wake = setTimeout(() => this.release(), Math.max(1, (needed / this.rate) * 1000));
  }

  private let(item: { weight: number; go: () => void }): void {
    this.admittedInWindow += item.weight;
    item.go();
  }
}
