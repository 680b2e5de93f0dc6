import { attemptKeepMs } from './attempt-outcome';

describe('attemptKeepMs', () => {
  const now = Date.parse('2026-12-07T08:00:00Z');
  const hour = 3_600_000;

  it('keeps an attempt until its message expires, then an hour', () => {
    expect(attemptKeepMs(new Date(now + 10 * 60_000), now)).toBe(10 * 60_000 + hour);
    expect(attemptKeepMs(new Date(now + 72 * hour), now)).toBe(73 * hour);
  });

  it('keeps only the margin for a message already expired', () => {
    expect(attemptKeepMs(new Date(now - 5 * hour), now)).toBe(hour);
  });

  it('keeps the attempt of a message without an expiry a week', () => {
    expect(attemptKeepMs(undefined, now)).toBe(7 * 24 * hour);
  });
});
