import { isTransient } from './errors';

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait after the first failure; doubled after each later one, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Told of each failure that will be tried again, with the number of the try that failed. */
  onRetry?: (error: unknown, attempt: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `step` again, backing off, while it fails because a dependency cannot answer yet (`isTransient`);
 * any other error, or the last try's, is thrown.
 */
export async function whileUnavailable<T>(step: () => Promise<T>, options: RetryOptions): Promise<T> {
  const wait = options.sleep ?? sleep;
  let delay = options.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!isTransient(error) || attempt >= options.attempts) throw error;
      options.onRetry?.(error, attempt);
      await wait(delay);
      delay = Math.min(delay * 2, options.maxDelayMs);
    }
  }
}
