/**
 * A joined call failed: the caller's own records may not be at fault (another caller's may be), so it calls
 * again with its own records alone, and what that call does decides what happens to them.
 */
export class JoinedCallFailed extends Error {
  constructor(cause: unknown) {
    super(`a joined call failed: ${String(cause)}`, { cause });
    this.name = 'JoinedCallFailed';
  }
}

interface Forming<R> {
  records: R[];
  callers: number;
  /** Settles when the joined call does. */
  result: Promise<void>;
  settle: (error?: Error) => void;
}

/**
 * Joins the calls of a batch handler that start in the same turn of the event loop (the batches of one fetch,
 * one per partition, are handed over together) into calls of up to `maxRecords` records. A handler that pays a
 * round trip a call (Redis, the attempt ledger) then pays it once a fetch, not once a partition.
 * A call alone in its turn is made as it was given; a joined call that fails rejects each of its callers
 * with JoinedCallFailed.
 */
export class CallMerger<R> {
  private forming: Forming<R> | undefined;

  constructor(
    private readonly handle: (records: R[]) => Promise<void>,
    private readonly maxRecords: number,
  ) {}

  run(records: R[]): Promise<void> {
    if (records.length >= this.maxRecords) return this.handle(records);
    if (this.forming && this.forming.records.length + records.length > this.maxRecords) this.flush();
    const joined = this.forming ?? this.form();
    joined.callers++;
    joined.records.push(...records);
    return joined.result.catch((error: unknown) => {
      throw joined.callers > 1 ? new JoinedCallFailed(error) : error;
    });
  }

  private form(): Forming<R> {
    let settle!: (error?: Error) => void;
    const result = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    const forming: Forming<R> = { records: [], callers: 0, result, settle };
    this.forming = forming;
    // After the I/O callbacks of this turn, where the rest of the fetch's batches are handed over.
    setImmediate(() => {
      if (this.forming === forming) this.flush();
    });
    return forming;
  }

  private flush(): void {
    const joined = this.forming!;
    this.forming = undefined;
    // Async: a handler that throws at once rejects like one that throws later.
    const call = (async () => this.handle(joined.records))();
    call.then(
      () => joined.settle(),
      (error: unknown) => joined.settle(error instanceof Error ? error : new Error(String(error))),
    );
  }
}
