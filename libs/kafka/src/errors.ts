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
