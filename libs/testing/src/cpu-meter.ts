/** Something whose CPU a benchmark counts: a service's process, the Redis server (`benchRedis`). */
export interface CpuCounter {
  cpuSeconds(): Promise<number>;
}

/** Each counter's CPU in ms per item since its meter started (3 decimals). */
export type CpuPerItem<Name extends string> = (items: number) => Promise<Record<Name, number>>;

/**
 * Starts counting the CPU of each named counter; the function it answers gives each one's CPU in ms per item
 * (3 decimals) since then, e.g. `{ ingest: 0.081, redis: 0.019 }` for a phase's messages.
 */
export async function cpuMeter<Name extends string>(
  counters: Record<Name, CpuCounter>,
): Promise<CpuPerItem<Name>> {
  const names = Object.keys(counters) as Name[];
  const read = () => Promise.all(names.map((name) => counters[name].cpuSeconds()));
  const before = await read();
  return async (items) => {
    const after = await read();
    return Object.fromEntries(
      names.map((name, i) => [name, +(((after[i]! - before[i]!) * 1000) / items).toFixed(3)]),
    ) as Record<Name, number>;
  };
}
