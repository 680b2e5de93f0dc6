import { rebindWaitCeilingMs } from './rebind';

describe('rebindWaitCeilingMs', () => {
  it('starts at 250 ms and doubles with each failed attempt', () => {
    const ceilings = [0, 1, 2, 3].map((failed) => rebindWaitCeilingMs(failed, 60_000));
    expect(ceilings).toEqual([250, 500, 1_000, 2_000]);
  });

  it('waits at most half as long as the bind has been down', () => {
    // Five quick refusals in the first 2 s of an outage: by attempts alone the next wait could be 8 s.
    expect(rebindWaitCeilingMs(5, 2_000)).toBe(1_000);
    expect(rebindWaitCeilingMs(5, 2_500)).toBe(1_250);
    // Never below the first wait, however recent the loss.
    expect(rebindWaitCeilingMs(0, 10)).toBe(250);
    expect(rebindWaitCeilingMs(6, 100)).toBe(250);
  });

  it('never waits more than 30 s, however long the outage', () => {
    expect(rebindWaitCeilingMs(7, 3_600_000)).toBe(30_000);
    expect(rebindWaitCeilingMs(50, 3_600_000)).toBe(30_000);
  });
});
