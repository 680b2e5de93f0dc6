// What one routing-weights cycle costs ClickHouse as the month fills: analytics runs it every 2 s, reading
// the route minutes, the latency quantiles and the conversions of the window. Fills a database of its own
// with `--per-day` OTPs a day over the last `--days` days (one attempt each, as dlr writes them, 93%
// delivered, 70% of those reported used by their tenant), then times each of the cycle's three reads
// `--rounds` times with the analytics service's own repository, over its default windows. Prints one table
// and drops the database, unless it is named (`--database`): then a filled one is read as it is and kept,
// to compare two versions of the reads on the same data.
//   pnpm --filter @tern/analytics bench:weights --per-day 2000000 --days 28 [--database weights_bench]
import { parseArgs } from 'node:util';
import { ClickHouse, identifier, migrate, sql, Sql } from '@tern/clickhouse';
import { infraFromEnv, uniqueName } from '@tern/testing';
import { DEFAULT_CONVERSION_WINDOW_MS } from '../src/domain/route-weights';
import { RouteFiguresRepository } from '../src/route-figures.repository';

const { values: args } = parseArgs({
  options: {
    'per-day': { type: 'string', default: '2000000' },
    days: { type: 'string', default: '28' },
    rounds: { type: 'string', default: '10' },
    database: { type: 'string' },
  },
});
const PER_DAY = Number(args['per-day']);
const DAYS = Number(args.days);
const ROUNDS = Number(args.rounds);
/** analytics' defaults: TERN_ANALYTICS_WINDOW_MS and TERN_ANALYTICS_LATENCY_WINDOW_MS. */
const WINDOW_MS = 3_600_000;
const LATENCY_WINDOW_MS = 900_000;
const say = (line: string) => process.stdout.write(`${line}\n`);

/** OTP n of the run, spread evenly over the last DAYS days (the newest now). */
const OTPS = new Sql(`
  concat('bench-', toString(number)) AS message_id,
  toDateTime(${Math.floor(Date.now() / 1000)} - intDiv(number * 86400, ${PER_DAY})) AS done,
  concat('tenant-', toString(number % 4)) AS tenant,
  ['SG', 'ID', 'BR', 'DE', 'AE'][number % 5 + 1] AS country_code,
  ['direct-1', 'aggregator-1', 'indirect-1'][intDiv(number, 5) % 3 + 1] AS channel,
  number % 100 < 93 AS delivered`);

async function fill(db: ClickHouse): Promise<void> {
  const total = PER_DAY * DAYS;
  await db.command(sql`
    INSERT INTO attempts
    SELECT message_id, 1, 1, tenant, country_code, concat(toString(number % 5 + 50000), toString(number % 3)),
      channel, ['direct', 'aggregator', 'indirect'][intDiv(number, 5) % 3 + 1], 'OTP', 1, 0.03,
      lower(hex(MD5(toString(number % 300000)))), if(delivered, 'DELIVERED', 'UNDELIVERED'),
      if(delivered, 'DELIVERED', 'UNREACHABLE'), 0, if(delivered, 'DELIVRD', 'UNDELIV'), '000',
      done - 4, done - 3, done, 40, 3000 + number % 4000, 3200 + number % 4000, toDate(done - 3), done
    FROM (SELECT number, ${OTPS} FROM numbers(${total}))`);
  await db.command(sql`
    INSERT INTO conversions
    SELECT message_id, tenant, 'OTP', country_code, done - 4, done + 20, done + 21, toDate(done + 21)
    FROM (SELECT number, ${OTPS} FROM numbers(${total}))
    WHERE delivered AND number % 10 < 7`);
}

async function main(): Promise<void> {
  const infra = infraFromEnv();
  const database = args.database ?? `weights_bench_${uniqueName('b').replace(/-/g, '_')}`;
  const options = { url: infra.clickhouseUrl, database };
  await migrate(options);
  // Filling a month takes minutes; the reads are timed with the service's own client settings.
  const filler = new ClickHouse({ ...options, requestTimeoutMs: 3_600_000 });
  const db = new ClickHouse(options);
  const admin = new ClickHouse({ url: infra.clickhouseUrl, database: 'default' });
  try {
    const [filled] = await db.rows<{ n: string }>(sql`SELECT count() AS n FROM attempts`);
    if (Number(filled?.n ?? 0) === 0) {
      const started = Date.now();
      await fill(filler);
      say(`filled ${database}: ${PER_DAY * DAYS} OTPs over ${DAYS} days in ${Date.now() - started} ms`);
      // As analytics reads after its inserts settle: background merges of the fill would be timed otherwise.
      await filler.command(sql`OPTIMIZE TABLE attempts`);
      await filler.command(sql`OPTIMIZE TABLE conversions`);
    } else say(`reading ${database} as it is: ${filled!.n} attempts`);
    const figures = new RouteFiguresRepository(db);
    const reads: [name: string, read: (now: number) => Promise<unknown[]>][] = [
      ['route minutes (window 1 h)', (now) => figures.minutes(new Date(now - WINDOW_MS))],
      ['latency quantiles (15 min)', (now) => figures.latencies(new Date(now - LATENCY_WINDOW_MS))],
      [
        'conversions (1 h, mature after 2 min)',
        (now) =>
          figures.conversionMinutes(new Date(now - WINDOW_MS), new Date(now - DEFAULT_CONVERSION_WINDOW_MS)),
      ],
    ];
    say(
      `\n${PER_DAY} OTPs a day over ${DAYS} days (as filled); each read of one weights cycle ${ROUNDS} times (ms)\n`,
    );
    say('| read | rows | median | max |');
    say('|---|---:|---:|---:|');
    for (const [name, read] of reads) {
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const begun = Date.now();
        rows = (await read(Date.now())).length;
        times.push(Date.now() - begun);
      }
      const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
      say(`| ${name} | ${rows} | ${median} | ${Math.max(...times)} |`);
    }
  } finally {
    if (!args.database) await admin.command(sql`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await admin.close();
    await filler.close();
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
