import { isDataError, type ClickHouse } from './client';

export interface InsertBatcherOptions {
  /** A batch is written as soon as it holds this many rows... */
  maxRows: number;
  /** ...or when its first row has waited this long. */
  lingerMs: number;
}

/** ClickHouse refused this row itself (it cannot be parsed or stored): writing it again will not help. */
export class RowRefusedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RowRefusedError';
  }
}

interface Pending<T> {
  row: T;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Gathers rows added by concurrent callers into one INSERT, because ClickHouse wants few large inserts, not
 * many small ones. Each caller's promise settles when its row is stored, so a Kafka handler that awaits it
 * commits its offset only after the write:
 * - the server unreachable or failing: every row of the batch rejects with the error (retry later);
 * - the server refusing the data: the batch is written again in halves, down to single rows, so only the
 *   rows it refuses reject, with RowRefusedError, and the others are stored.
 */
export class InsertBatcher<T extends object> {
  private pending: Pending<T>[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: ClickHouse,
    private readonly table: string,
    private readonly options: InsertBatcherOptions,
  ) {}

  add(row: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (this.pending.length >= this.options.maxRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  /** Writes what is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) void this.write(batch);
  }

  private async write(batch: Pending<T>[]): Promise<void> {
    try {
      await this.db.insert(
        this.table,
        batch.map((p) => p.row),
      );
      for (const p of batch) p.resolve();
    } catch (error) {
      if (!isDataError(error) || batch.length === 1) {
        const refused = isDataError(error);
        for (const p of batch)
          p.reject(refused ? new RowRefusedError(messageOf(error), { cause: error }) : asError(error));
        return;
      }
      // One bad row must not cost the others their write: halve the batch until the refused rows stand alone,
      // a few inserts for one bad row among thousands rather than an insert per row.
      const middle = Math.ceil(batch.length / 2);
      await Promise.all([this.write(batch.slice(0, middle)), this.write(batch.slice(middle))]);
    }
  }
}

const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));
const messageOf = (error: unknown) => asError(error).message.slice(0, 500);
