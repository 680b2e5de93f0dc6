/**
 * Thrown by a handler for a record that can never be processed (invalid content, unknown tenant...):
 * the record goes to the topic's DLQ at once with `reason` (a stable code) and the partition moves on.
 */
export class PoisonMessageError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'PoisonMessageError';
  }
}

/**
 * Thrown by a handler when a dependency is unavailable (database down, broker unreachable): the record is
 * retried with backoff and never sent to the DLQ, because it is not the record's fault.
 */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** Socket and resolver errors: the other end is away or the path to it is broken. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Error names of clients whose failures say the server is away or busy, never that the record is wrong. */
const UNAVAILABLE_NAMES = new Set([
  // ioredis: the connection dropped or could not be made within the command's retries.
  'MaxRetriesPerRequestError',
  // kafkajs: a broker away, a request timed out, a leader moving.
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTimeout',
]);

/** Messages without a code or a name of their own that say a connection is gone. */
const UNAVAILABLE_MESSAGES = [
  /^Connection is closed\.?$/, // ioredis, a command on a connection that ended
  /^Stream isn't writeable/, // ioredis with its offline queue off
  /^fetch failed$/, // Node's fetch, cause carries the socket error
  /^socket hang up$/,
  /^Timeout error\.?$/, // @clickhouse/client's request timeout
  // Redis replies while it cannot serve: loading its data after a restart, a replica, a failover, or full
  // (OOM under maxmemory with noeviction: it takes writes again once memory is freed or added).
  /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|OOM) /,
];

/**
 * Whether an error says a dependency (Redis, Kafka, ClickHouse, an HTTP service) is unavailable rather than
 * that the record is wrong: the consumer then waits it out, retrying with back-off, and never dead-letters
 * the record for it. Recognised by shape (error names, socket codes, the clients' messages), along the
 * `cause` chain, so wrapping an error keeps it transient.
 */
export function isTransient(error: unknown): boolean {
  // Duck-typed, not `instanceof Error`: errors made by Node itself come from another realm under test runners.
  for (let e = error, depth = 0; isErrorLike(e) && depth < 5; e = e.cause, depth++) {
    if (e instanceof TransientError) return true;
    const { code, retriable, status } = e as { code?: unknown; retriable?: unknown; status?: unknown };
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (UNAVAILABLE_NAMES.has(e.name) || retriable === true) return true;
    // A ClickHouse or HTTP server that answers 502-504 is on its way up or down.
    if (typeof status === 'number' && status >= 502 && status <= 504) return true;
    const message = e.message;
    if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
  }
  return false;
}

function isErrorLike(value: unknown): value is { name: string; message: string; cause?: unknown } {
  const e = value as { name?: unknown; message?: unknown } | null;
  return typeof e === 'object' && e !== null && typeof e.message === 'string' && typeof e.name === 'string';
}

/**
 * Broker answers after which kafkajs cannot go on with an idempotent producer's sequence numbers: seen when a
 * partition's leader died with a batch in flight (the new leader refuses every later batch of that
 * partition, OUT_OF_ORDER_SEQUENCE_NUMBER, for ever). A new producer, with a producer id of its own, starts
 * the sequence again; the records it writes again may be duplicates, which every consumer already absorbs.
 */
const BROKEN_SEQUENCE = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
]);

export function brokenSequence(error: unknown): boolean {
  for (let e = error as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.type === 'string' && BROKEN_SEQUENCE.has(e.type)) return true;
    e = e.cause as typeof e;
  }
  return false;
}
