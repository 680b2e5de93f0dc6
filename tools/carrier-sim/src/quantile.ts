// One definition of a latency quantile for everything that counts from the carriers' side: the simulator's
// own figures (GET /stats), the benchmark's and the end-to-end suites' reports.

/** The q-quantile (0..1) of `values` by the nearest-rank method; undefined for no values. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}
