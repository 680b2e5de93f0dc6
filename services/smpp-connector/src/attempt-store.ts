import { randomUUID } from 'node:crypto';
import { encodeMessage, events } from '@tern/contracts';
import { TransientError } from '@tern/kafka';
import type { Redis } from 'ioredis';

/**
 * What earlier runs left for an attempt: nothing; a claim whose run is still alive (submitting it now);
 * a claim whose run died between submit_sm and recording the answer (in doubt); or the recorded outcome.
 */
export type Claim =
  | { state: 'new' }
  | { state: 'in-flight' }
  | { state: 'in-doubt' }
  | { state: 'done'; result: events.SubmitResult };

const SUBMITTING = 'submitting|';

/**
 * Idempotency of attempts towards carriers, shared by every connector instance: (message id, attempt) is
 * claimed, in the name of this process, right before its first submit_sm is written (not while it waits
 * for a bind) and holds the outcome afterwards. A redelivered dispatch (crash, rebalance, a router that
 * published it twice) finds the outcome and publishes it again instead of submitting; one that finds a
 * claim of a live process waits for that outcome; only a claim whose process is gone is in doubt, and is
 * never submitted again. Each process says it is alive with a key it refreshes (`heartbeat`), which
 * expires `aliveTtlMs` after a crash.
 */
export class AttemptStore {
  readonly owner = randomUUID();
  /** Claims this process holds for a run in progress (claimed, outcome not stored yet). */
  private readonly running = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly aliveTtlMs = 10_000,
  ) {}

  private key(messageId: string, attempt: number): string {
    return `tern:smpp:attempt:${messageId}:${attempt}`;
  }

  /** Keeps this process's claims owned; call well within `aliveTtlMs`. */
  async heartbeat(): Promise<void> {
    await this.unavailableAsTransient(() => this.redis.set(aliveKey(this.owner), '1', 'PX', this.aliveTtlMs));
  }

  /** What an earlier run left for this attempt, without claiming it. */
  async peek(messageId: string, attempt: number): Promise<Claim> {
    return this.unavailableAsTransient(async () => {
      const value = await this.redis.getBuffer(this.key(messageId, attempt));
      if (!value) return { state: 'new' };
      const text = value.subarray(0, SUBMITTING.length).toString();
      if (text !== SUBMITTING) return { state: 'done', result: events.SubmitResult.decode(value) };
      const owner = value.subarray(SUBMITTING.length).toString();
      // Our own claim is in flight only while its run is; a run of ours that gave up left it in doubt.
      const alive =
        owner === this.owner
          ? this.running.has(this.key(messageId, attempt))
          : (await this.redis.exists(aliveKey(owner))) === 1;
      return { state: alive ? 'in-flight' : 'in-doubt' };
    });
  }

  /**
   * Claims the attempt right before its first submit_sm; false when another run holds or finished it.
   * The run then owns it until `finish` or `abandon`. The claim, and the outcome after it, live `keepMs`
   * (`attemptKeepMs`): while a copy of the dispatch can come.
   */
  async claim(messageId: string, attempt: number, keepMs: number): Promise<boolean> {
    const key = this.key(messageId, attempt);
    const claimed = await this.unavailableAsTransient(
      async () => (await this.redis.set(key, SUBMITTING + this.owner, 'PX', keepMs, 'NX')) === 'OK',
    );
    if (claimed) this.running.add(key);
    return claimed;
  }

  /** Stores the attempt's outcome, to live `keepMs`; the run's claim is done. */
  async finish(result: events.SubmitResult, keepMs: number): Promise<void> {
    const key = this.key(result.messageId, result.attempt);
    const bytes = encodeMessage(events.SubmitResult, result);
    await this.unavailableAsTransient(() => this.redis.set(key, bytes, 'PX', keepMs));
    this.running.delete(key);
  }

  /** The run ends without storing an outcome (stopping): its claim is left in doubt. */
  abandon(messageId: string, attempt: number): void {
    this.running.delete(this.key(messageId, attempt));
  }

  private async unavailableAsTransient<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new TransientError(`attempt store unavailable: ${(error as Error).message}`, { cause: error });
    }
  }
}

const aliveKey = (owner: string) => `tern:smpp:connector-alive:${owner}`;
