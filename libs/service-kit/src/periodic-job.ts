import type { Logger } from '@tern/telemetry';

/**
 * Work run every `intervalMs` in the background (polling schedules in Redis, recomputing weights). One run at
 * a time: a run slower than the interval is neither overlapped nor queued behind. A failed run is logged and
 * the next one tries again. stop() waits for the run in progress, so the job's clients can close after it.
 */
export class PeriodicJob {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(
    private readonly name: string,
    intervalMs: number,
    private readonly job: () => Promise<unknown>,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
  }

  /** Runs the job now unless a run is in progress; resolves when that run ends (never rejects). */
  runOnce(): Promise<void> {
    this.running ??= this.job()
      .then(() => undefined)
      .catch((err: unknown) => this.log.warn({ err, job: this.name }, `${this.name} failed`))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
