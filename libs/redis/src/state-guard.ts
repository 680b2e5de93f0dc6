import type { Redis } from 'ioredis';

interface GuardLog {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Written once into a Redis that keeps Tern's state; its absence later means the state is gone. */
const MARKER = 'tern:state:since';

/**
 * Redis holds state that must survive (idempotency keys, receipt correlation, attempt claims, schedules):
 * it must persist it and never evict it (docs/operations.md, "Redis"). The guard says so loudly when it
 * does not: at start, when the server's settings allow losing keys (no AOF or snapshots, an eviction
 * policy other than noeviction), and while running, when the marker it wrote is gone (a restart without
 * persistence, a flush, an eviction): then every idempotency key and receipt correlation before that
 * moment is lost too, and an operator must know.
 */
export class RedisStateGuard {
  private timer: NodeJS.Timeout | undefined;
  private lostAt: string | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly log: GuardLog,
    private readonly intervalMs = 5000,
  ) {}

  /** Never fails: with Redis away at start, the checks run once it is back. */
  async start(): Promise<void> {
    await this.checkSettings();
    await this.redis.set(MARKER, new Date().toISOString(), 'NX').catch(() => undefined);
    this.timer = setInterval(() => void this.checkMarker(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** For the health endpoint: when the state was last found lost, if ever since start. */
  detail(): { stateLostAt?: string } {
    return this.lostAt ? { stateLostAt: this.lostAt } : {};
  }

  private async checkSettings(): Promise<void> {
    let settings: Record<string, string>;
    try {
      const reply = (await this.redis.config('GET', '*')) as string[];
      settings = {};
      for (let i = 0; i + 1 < reply.length; i += 2) settings[reply[i]!] = reply[i + 1]!;
    } catch (error) {
      // Managed Redis often forbids CONFIG: the marker still catches a loss.
      this.log.warn({ err: error }, 'cannot read Redis settings to check that it keeps Tern state');
      return;
    }
    const problems = settingProblems(settings);
    if (problems.length > 0) {
      this.log.error(
        { problems },
        'Redis may lose Tern state (idempotency, receipt correlation, attempt claims): see docs/operations.md',
      );
    }
    const advice = settingAdvice(settings);
    if (advice.length > 0) this.log.warn({ advice }, 'Redis could hold Tern state in less memory');
  }

  private async checkMarker(): Promise<void> {
    try {
      if ((await this.redis.exists(MARKER)) === 1) return;
      this.lostAt = new Date().toISOString();
      this.log.error(
        { lostAt: this.lostAt },
        'Redis lost Tern state: idempotency keys, receipt correlation and attempt claims from before now are gone',
      );
      await this.redis.set(MARKER, this.lostAt, 'NX');
    } catch {
      // Redis away: the consumers wait it out; the check runs again once it is back.
    }
  }
}

/** What in a Redis server's settings lets it lose keys; empty when it keeps them. Pure, for tests. */
export function settingProblems(settings: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  const policy = settings['maxmemory-policy'];
  if (policy !== undefined && policy !== 'noeviction') {
    problems.push(`maxmemory-policy is ${policy}: keys are evicted under memory pressure (use noeviction)`);
  }
  const aof = settings['appendonly'] === 'yes';
  const snapshots = (settings['save'] ?? '').trim() !== '';
  if (!aof && !snapshots) problems.push('neither appendonly nor save is set: a restart loses every key');
  return problems;
}

/** A longer value makes a hash a hash table, not a listpack; Tern's hashes hold values up to ~600 B. */
const LISTPACK_VALUE_FOR_TERN = 1024;

/** Settings that cost memory without losing anything; empty when none. Pure, for tests. */
export function settingAdvice(settings: Readonly<Record<string, string>>): string[] {
  // Redis 6 names it after ziplists; Redis 7 answers to both names.
  const listpackValue = settings['hash-max-listpack-value'] ?? settings['hash-max-ziplist-value'];
  if (listpackValue === undefined || Number(listpackValue) >= LISTPACK_VALUE_FOR_TERN) return [];
  return [
    `hash-max-listpack-value is ${listpackValue}: status views and receipt attempts are kept as hash tables, ` +
      `in up to 1.7 times the memory (use ${LISTPACK_VALUE_FOR_TERN}; docs/operations.md)`,
  ];
}
