import { KafkaJSProtocolError } from 'kafkajs';
import { PoisonMessageError } from './errors';
import { whileUnavailable } from './retry';

/** What a fresh broker answers while it loads its offsets topic (retriable by the protocol's word). */
const notCoordinator = () =>
  new KafkaJSProtocolError({
    type: 'NOT_COORDINATOR',
    code: 16,
    retriable: true,
    message: 'This is not the correct coordinator for this group',
  } as unknown as Error);

/** A step that fails with each of `failures` in turn, then answers 'done'; and the waits it was given. */
function flaky(failures: Error[]) {
  const waits: number[] = [];
  let calls = 0;
  const step = async () => {
    calls++;
    const failure = failures.shift();
    if (failure) throw failure;
    return 'done';
  };
  const sleep = async (ms: number) => {
    waits.push(ms);
  };
  return { step, sleep, waits, calls: () => calls };
}

describe('whileUnavailable', () => {
  it('tries again while Kafka cannot answer, backing off, and returns what the step returns', async () => {
    const { step, sleep, waits, calls } = flaky([notCoordinator(), notCoordinator()]);
    const retried: number[] = [];
    const result = await whileUnavailable(step, {
      attempts: 10,
      firstDelayMs: 200,
      maxDelayMs: 10_000,
      onRetry: (_error, attempt) => retried.push(attempt),
      sleep,
    });
    expect(result).toBe('done');
    expect(calls()).toBe(3);
    expect(waits).toEqual([200, 400]);
    expect(retried).toEqual([1, 2]);
  });

  it('throws any other error at once', async () => {
    const poison = new PoisonMessageError('bad', 'not a dependency away');
    const { step, sleep, waits, calls } = flaky([poison]);
    await expect(
      whileUnavailable(step, { attempts: 10, firstDelayMs: 200, maxDelayMs: 500, sleep }),
    ).rejects.toBe(poison);
    expect(calls()).toBe(1);
    expect(waits).toEqual([]);
  });

  it('gives up after its tries, with the waits doubling up to the cap, and throws the last error', async () => {
    const failures = Array.from({ length: 6 }, notCoordinator);
    const last = failures[4];
    const { step, sleep, waits, calls } = flaky(failures);
    await expect(
      whileUnavailable(step, { attempts: 5, firstDelayMs: 200, maxDelayMs: 500, sleep }),
    ).rejects.toBe(last);
    expect(calls()).toBe(5);
    expect(waits).toEqual([200, 400, 500, 500]);
  });
});
