import { BulkPacer, nextBulkRate, type BulkPaceSettings } from './bulk-pace';

const settings: BulkPaceSettings = { yieldDelayMs: 10, minRatePerSecond: 50 };
const congested = { delayMs: 40, priorityActive: true, admittedPerSecond: 900 };
const calm = { delayMs: 2, priorityActive: true, admittedPerSecond: 400 };

describe('nextBulkRate', () => {
  it('halves what bulk work got when priority work meets a slow event loop', () => {
    expect(nextBulkRate(Infinity, congested, settings)).toBe(450);
    expect(nextBulkRate(600, { ...congested, admittedPerSecond: 590 }, settings)).toBe(295);
    // A pace above what bulk work took is halved from what it took, not from the pace.
    expect(nextBulkRate(5000, { ...congested, admittedPerSecond: 300 }, settings)).toBe(150);
  });

  it('never goes below the floor, so a campaign keeps moving', () => {
    expect(nextBulkRate(60, { ...congested, admittedPerSecond: 60 }, settings)).toBe(50);
    expect(nextBulkRate(50, { ...congested, admittedPerSecond: 0 }, settings)).toBe(50);
  });

  it('does not slow bulk work for a slow loop when no priority work is about', () => {
    expect(nextBulkRate(Infinity, { ...congested, priorityActive: false }, settings)).toBe(Infinity);
    expect(
      nextBulkRate(400, { ...congested, priorityActive: false, admittedPerSecond: 400 }, settings),
    ).toBeCloseTo(490);
  });

  it('grows by a tenth and the floor each calm window, and is lifted far above demand', () => {
    expect(nextBulkRate(400, calm, settings)).toBeCloseTo(490);
    expect(nextBulkRate(Infinity, calm, settings)).toBe(Infinity);
    expect(nextBulkRate(1500, calm, settings)).toBe(Infinity);
    expect(nextBulkRate(1400, calm, settings)).toBeCloseTo(1590);
  });

  it('a delay at the threshold is calm', () => {
    expect(nextBulkRate(400, { ...calm, delayMs: 10 }, settings)).toBeCloseTo(490);
  });
});

describe('BulkPacer', () => {
  const resolvedWithin = async (waits: Promise<unknown>[], ms: number): Promise<number> => {
    let done = 0;
    for (const wait of waits) void wait.then(() => done++);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return done;
  };

  it('never holds bulk work back when yielding is off', async () => {
    const pacer = new BulkPacer({ yieldDelayMs: 0, minRatePerSecond: 1 });
    pacer.priorityWork();
    expect(await resolvedWithin([pacer.admit(100), pacer.admit(100), pacer.turn('bulk')], 5)).toBe(3);
    expect(pacer.pace()).toBe(Infinity);
    pacer.close();
  });

  it('paces bulk work, in arrival order, while priority work meets a blocked event loop', async () => {
    const pacer = new BulkPacer({ yieldDelayMs: 10, minRatePerSecond: 10 });
    // A loop blocked 40 ms at a time, with an OTP coming in now and then, until the pacer has ended a window
    // of it: half a second on an idle machine, later on CI's loaded one (its timers run late, at nice 19).
    const until = Date.now() + 10_000;
    await new Promise<void>((resolve) => {
      const block = () => {
        pacer.priorityWork();
        const end = Date.now() + 40;
        while (Date.now() < end);
        if (pacer.pace() === Infinity && Date.now() < until) setTimeout(block, 1);
        else resolve();
      };
      block();
    });
    // Nothing bulk came in that window, so the pace is the floor: 10 a second, one at a time.
    expect(pacer.pace()).toBe(10);
    const order: number[] = [];
    const startedAt = performance.now();
    const waits = [1, 2, 3, 4, 5].map((n) => pacer.turn('bulk').then(() => order.push(n)));
    const done = await resolvedWithin(waits, 40);
    // One at once, then no faster than the pace: 10 a second, or 21 had a calm window ended meanwhile (a busy
    // machine may take longer than the 40 ms asked).
    expect(done).toBeLessThanOrEqual(1 + Math.ceil(((performance.now() - startedAt) * 21) / 1000));
    expect(done).toBeLessThan(5);
    // Closing lets every waiting item go.
    pacer.close();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });
});
