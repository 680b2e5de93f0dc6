import { CallMerger, JoinedCallFailed } from './call-merger';

function recording(fail?: (records: number[]) => Error | undefined) {
  const calls: number[][] = [];
  const handle = async (records: number[]) => {
    calls.push([...records]);
    const error = fail?.(records);
    if (error) throw error;
  };
  return { calls, handle };
}

describe('CallMerger', () => {
  it('joins the calls of one turn of the event loop, and each caller sees the joined call done', async () => {
    const { calls, handle } = recording();
    const merger = new CallMerger(handle, 10);
    await Promise.all([merger.run([1, 2]), merger.run([3]), merger.run([4, 5, 6])]);
    expect(calls).toEqual([[1, 2, 3, 4, 5, 6]]);
  });

  it('keeps calls of different turns apart', async () => {
    const { calls, handle } = recording();
    const merger = new CallMerger(handle, 10);
    await merger.run([1]);
    await merger.run([2]);
    expect(calls).toEqual([[1], [2]]);
  });

  it('never joins more than maxRecords, and makes a full call as it was given', async () => {
    const { calls, handle } = recording();
    const merger = new CallMerger(handle, 4);
    await Promise.all([
      merger.run([1, 2]),
      merger.run([3, 4]),
      merger.run([5, 6, 7]),
      merger.run([8, 9, 10, 11]),
      merger.run([12]),
    ]);
    expect(calls).toEqual([
      [1, 2, 3, 4],
      [8, 9, 10, 11],
      [5, 6, 7, 12],
    ]);
  });

  it('fails each caller of a failed joined call with JoinedCallFailed, holding the cause', async () => {
    const poison = new Error('record 3 is poison');
    const { handle } = recording((records) => (records.includes(3) ? poison : undefined));
    const merger = new CallMerger(handle, 10);
    const outcomes = await Promise.allSettled([merger.run([1, 2]), merger.run([3])]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as JoinedCallFailed;
      expect(reason).toBeInstanceOf(JoinedCallFailed);
      expect(reason.cause).toBe(poison);
    }
  });

  it("passes a lone call's failure on unchanged, a handler's synchronous throw too", async () => {
    const poison = new Error('poison');
    const merger = new CallMerger<number>(() => {
      throw poison;
    }, 10);
    await expect(merger.run([1])).rejects.toBe(poison);
  });
});
