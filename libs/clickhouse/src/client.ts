import { readFileSync } from 'node:fs';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { identifier, type Sql } from './sql';

export interface ClickHouseOptions {
  /** HTTP endpoint, e.g. http://127.0.0.1:8123, https:// for TLS (credentials, if any, in the URL). */
  url: string;
  database: string;
  /** For https: the CA that signed the server's certificate (else the system's CAs). */
  tlsCaFile?: string | undefined;
  requestTimeoutMs?: number;
}

/** A service's ClickHouse options from its settings (clickhouseSettings in @tern/config). */
export function clickhouseOptionsFromSettings(config: {
  clickhouseUrl: string;
  clickhouseDatabase: string;
  clickhouseTlsCaFile?: string | undefined;
}): ClickHouseOptions {
  return {
    url: config.clickhouseUrl,
    database: config.clickhouseDatabase,
    tlsCaFile: config.clickhouseTlsCaFile,
  };
}

/** One client per process and database; it pools HTTP connections. */
export class ClickHouse {
  readonly client: ClickHouseClient;
  readonly database: string;

  constructor(options: ClickHouseOptions) {
    identifier(options.database); // a plain name, or it throws
    this.database = options.database;
    this.client = createClient({
      url: options.url,
      database: options.database,
      request_timeout: options.requestTimeoutMs ?? 30_000,
      ...(options.tlsCaFile ? { tls: { ca_cert: readFileSync(options.tlsCaFile) } } : {}),
      // 18.16 knows no newer settings; the client's defaults only add what every version accepts.
      compression: { request: false, response: false },
      // Its own console logging is off: callers see every error and report it through the service's logger.
      log: { level: ClickHouseLogLevel.OFF },
      // The server closes idle keep-alive sockets after 3 s (keep_alive_timeout); on a busy machine a timer
      // firing late let the client reuse one (EPIPE on insert). Drop them well before, and eagerly.
      keep_alive: { enabled: true, idle_socket_ttl: 1500, eagerly_destroy_stale_sockets: true },
    });
  }

  async rows<T>(query: Sql): Promise<T[]> {
    const result = await this.client.query({ query: query.text, format: 'JSONEachRow' });
    return result.json<T>();
  }

  async command(query: Sql | string): Promise<void> {
    await this.client.command({ query: typeof query === 'string' ? query : query.text });
  }

  async insert<T extends object>(table: string, rows: readonly T[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({ table: identifier(table).text, values: rows, format: 'JSONEachRow' });
  }

  async ping(): Promise<{ ok: boolean; detail?: string }> {
    const result = await this.client.ping();
    return result.success ? { ok: true } : { ok: false, detail: result.error.message };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * Whether an error says the data was refused (a row ClickHouse cannot parse or store), as opposed to the
 * server being unreachable or busy: refused rows are set aside, everything else is retried.
 */
export function isDataError(error: unknown): boolean {
  return DATA_ERROR_CODES.has(errorCode(error));
}

/** ClickHouse's error code: the client parses it from current servers; 18.16 says "Code: 27, e.displayText()". */
function errorCode(error: unknown): number {
  const code = Number((error as { code?: unknown }).code);
  if (Number.isInteger(code) && code > 0) return code;
  return Number(/^Code: (\d+)[,.]/.exec(error instanceof Error ? error.message : '')?.[1] ?? NaN);
}
// CANNOT_PARSE_TEXT, CANNOT_PARSE_ESCAPE_SEQUENCE, CANNOT_PARSE_QUOTED_STRING, CANNOT_PARSE_INPUT_ASSERTION_FAILED,
// CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE,
// CANNOT_PARSE_NUMBER, INCORRECT_DATA, TOO_LARGE_STRING_SIZE.
const DATA_ERROR_CODES = new Set([6, 25, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131]);
