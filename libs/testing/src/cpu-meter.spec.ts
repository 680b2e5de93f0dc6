import { cpuMeter } from './cpu-meter';

/** A counter whose CPU seconds the test sets. */
const counter = (seconds: number[]) => ({ cpuSeconds: () => Promise.resolve(seconds.shift()!) });

describe('cpuMeter', () => {
  it("answers each counter's CPU since it started, in ms per item", async () => {
    const cpu = await cpuMeter({ service: counter([10, 10.5]), redis: counter([3, 3.1]) });
    expect(await cpu(1000)).toEqual({ service: 0.5, redis: 0.1 });
  });

  it('rounds to a microsecond', async () => {
    const cpu = await cpuMeter({ service: counter([0, 1]) });
    expect(await cpu(3)).toEqual({ service: 333.333 });
  });
});
