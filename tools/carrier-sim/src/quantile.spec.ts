import { quantile } from './quantile';

describe('quantile', () => {
  it('takes the nearest rank of unsorted values', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, unsorted
    expect(quantile(values, 0.5)).toBe(50);
    expect(quantile(values, 0.95)).toBe(95);
    expect(quantile(values, 0.99)).toBe(99);
    expect(quantile(values, 1)).toBe(100);
    expect(quantile(values, 0)).toBe(1);
    expect(quantile([7], 0.5)).toBe(7);
    expect(quantile([], 0.5)).toBeUndefined();
  });

  it('orders numerically, not as text', () => {
    expect(quantile([900, 10_000, 80], 1)).toBe(10_000);
    expect(quantile([900, 10_000, 80], 0.5)).toBe(900);
  });
});
