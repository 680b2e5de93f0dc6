import { QueueWaits } from './queue-waits';

describe('QueueWaits', () => {
  it('is the mean wait of the submissions finished since the last look', () => {
    const waits = new QueueWaits(0);
    const a = waits.enter(1_000);
    const b = waits.enter(1_000);
    waits.leave(a, 1_010);
    waits.leave(b, 1_030);
    expect(waits.take(1_100)).toBe(20);
    // Nothing waited since: nothing to say.
    expect(waits.take(2_100)).toBe(0);
  });

  it('is the age of the oldest submission still waiting when that is longer, as on a channel taking none', () => {
    const waits = new QueueWaits(0);
    const stuck = waits.enter(1_000);
    const quick = waits.enter(3_000);
    waits.leave(quick, 3_005);
    expect(waits.outstanding).toBe(1);
    expect(waits.take(4_000)).toBe(3_000);
    waits.leave(stuck, 5_000);
    expect(waits.take(5_500)).toBe(4_000);
    // A submission left twice counts once.
    waits.leave(stuck, 6_000);
    expect(waits.take(6_500)).toBe(0);
  });

  it('is the time to work through the queue at the rate it was served, when a queue has just formed', () => {
    const waits = new QueueWaits(0);
    // Two answered in the second (2 a second); 10 more came in its last half and wait to be written.
    for (let i = 0; i < 2; i++) waits.leave(waits.enter(0), 50);
    for (let i = 0; i < 10; i++) waits.enter(500);
    expect(waits.take(1_000, 10)).toBe(5_000);
  });
});
