// How fast the operators' console answers with a busy tenant's day in ClickHouse. Fills a database of its
// own with `--messages` messages over the last 24 hours (one attempt each, as dlr writes them, and five
// trace rows each: four status events and the routing decision), starts the built analytics service on
// it (pnpm build) against the local infrastructure (TERN_KAFKA_BROKERS, TERN_CLICKHOUSE_URL), and loads each
// page `--rounds` times in Debian's Chromium: the time to the load event of each, and the server's time to
// the last byte of its HTML. Prints one table and drops the database.
//   pnpm --filter @tern/analytics bench --messages 1000000 --rounds 5
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickHouse, identifier, migrate, sql, Sql } from '@tern/clickhouse';
import { infraFromEnv, launchChromium, startServiceProcess, uniqueName, waitFor } from '@tern/testing';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
  },
});
const MESSAGES = Number(args.messages);
const ROUNDS = Number(args.rounds);
const HASH_KEY = 'bench-analytics-hash-key';
const RECIPIENT = '+6591234567';
const OPERATOR_TOKEN = 'tern-local-operator-token';
const root = join(__dirname, '..', '..', '..');
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Columns shared by the generated rows: message n of the day, spread evenly over the last 24 hours. */
const DAY = new Sql(`
  concat('bench-', toString(number)) AS message_id,
  toDateTime(${Math.floor(Date.now() / 1000)} - intDiv(number * 86400, ${MESSAGES})) AS done,
  ['SG', 'ID', 'BR', 'DE', 'AE'][number % 5 + 1] AS country_code,
  ['direct-1', 'aggregator-1', 'indirect-1'][intDiv(number, 5) % 3 + 1] AS channel`);

async function fill(db: ClickHouse): Promise<void> {
  const hash = createHmac('sha256', HASH_KEY).update(RECIPIENT).digest('hex');
  await db.command(sql`
    INSERT INTO attempts
    SELECT message_id, 1, 1, 'busy', country_code, concat(toString(number % 5 + 50000), '1'), channel,
      ['direct', 'aggregator', 'indirect'][intDiv(number, 5) % 3 + 1], 'OTP', 1, 0.03,
      if(number % 200000 = 7, ${hash}, lower(hex(MD5(toString(number % 300000))))),
      if(number % 100 < 93, 'DELIVERED', 'UNDELIVERED'), if(number % 100 < 93, 'DELIVERED', 'UNREACHABLE'), 0,
      if(number % 100 < 93, 'DELIVRD', 'UNDELIV'), '000', done - 4, done - 3, done, 40, 3000 + number % 4000,
      3200 + number % 4000, toDate(done - 3), done
    FROM (SELECT number, ${DAY} FROM numbers(${MESSAGES}))`);
  const decision = JSON.stringify({
    candidates: [
      {
        channelId: 'direct-1',
        score: 2.5,
        deliveryProbability: 0.95,
        expectedLatencyMs: 3000,
        pricePerSegment: 0.045,
      },
      {
        channelId: 'aggregator-1',
        score: 1.9,
        deliveryProbability: 0.9,
        expectedLatencyMs: 8000,
        pricePerSegment: 0.028,
      },
      {
        channelId: 'indirect-1',
        score: 1.4,
        deliveryProbability: 0.75,
        expectedLatencyMs: 15000,
        pricePerSegment: 0.012,
      },
    ],
    reason: 'thompson sample among 3 candidates',
  });
  const steps: [kind: string, status: string, secondsBefore: number, detail: string][] = [
    ['status', 'ACCEPTED', 4, '{"callback":"due"}'],
    ['status', 'ROUTED', 4, '{}'],
    ['routing', '', 3, decision],
    ['status', 'SUBMITTED', 3, '{"smscMessageIds":"1234567"}'],
    ['status', 'DELIVERED', 0, '{"receiptState":"DELIVRD","errorCode":"000","deliveryLatencyMs":3000}'],
  ];
  for (const [kind, status, before, detail] of steps) {
    await db.command(sql`
      INSERT INTO message_events
      SELECT message_id, 'busy', concat('order-', toString(number)), ${kind}, ${status},
        if(${status} = 'ACCEPTED', 0, 1), if(${status} = 'ACCEPTED', '', channel), if(${status} = 'DELIVERED', 'DELIVERED', ''),
        ${detail}, done - ${before}, 0, toDate(done - ${before})
      FROM (SELECT number, ${DAY} FROM numbers(${MESSAGES}))`);
  }
}

async function main(): Promise<void> {
  const infra = infraFromEnv();
  const database = `console_bench_${uniqueName('b').replace(/-/g, '_')}`;
  const options = { url: infra.clickhouseUrl, database };
  await migrate(options);
  const db = new ClickHouse(options);
  const admin = new ClickHouse({ url: infra.clickhouseUrl, database: 'default' });
  const started = Date.now();
  await fill(db);
  say(`filled ${database}: ${MESSAGES} messages, ${MESSAGES * 5} trace rows in ${Date.now() - started} ms`);
  const analytics = await startServiceProcess(join(root, 'services/analytics/dist/main.js'), {
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_CLICKHOUSE_URL: infra.clickhouseUrl,
    TERN_CLICKHOUSE_DATABASE: database,
    TERN_ANALYTICS_HASH_KEY: HASH_KEY,
    TERN_ANALYTICS_GRPC_PORT: '0',
    TERN_CONSOLE_PORT: '0',
    TERN_OPERATORS_FILE: join(root, 'deploy/local/operators.yaml'),
  });
  const browser = await launchChromium();
  try {
    await waitFor('analytics to be ready', async () => (await analytics.ready()).status === 200, 60_000);
    const port = await waitFor(
      'the console',
      () =>
        analytics.logs.find((l) => l['msg'] === 'analytics publishing weights')?.['consolePort'] as number,
    );
    const base = `http://127.0.0.1:${port}`;
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name=token]', OPERATOR_TOKEN);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    const pages = [
      ['traffic, last 5 minutes', '/'],
      ['traffic, last hour', '/?window=1h'],
      ['traffic, last 24 hours', '/?window=24h'],
      ['routing weights', '/routing'],
      ['trace by message id', `/trace?id=bench-${Math.floor(MESSAGES / 2)}`],
      ['trace by client reference', `/trace?q=order-${Math.floor(MESSAGES / 3)}`],
      ['trace by recipient', `/trace?q=${encodeURIComponent(RECIPIENT)}`],
      ['dead letters', '/dead-letters'],
      ['channel report, last hour', '/report'],
      ['channel report, last 24 hours', '/report?hours=24'],
    ] as const;
    const rows: string[] = [];
    for (const [name, path] of pages) {
      const loads: number[] = [];
      const servers: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        await page.goto(`${base}${path}`);
        // Runs in the page; typed by hand, as Node's types (this file's) know no navigation timing.
        const timing = await page.evaluate(() => {
          const nav = (
            performance.getEntries() as unknown as {
              entryType: string;
              startTime: number;
              loadEventEnd: number;
              requestStart: number;
              responseEnd: number;
            }[]
          ).find((e) => e.entryType === 'navigation')!;
          return { load: nav.loadEventEnd - nav.startTime, server: nav.responseEnd - nav.requestStart };
        });
        loads.push(timing.load);
        servers.push(timing.server);
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      rows.push(
        `| ${name} | \`${path}\` | ${median(loads).toFixed(0)} | ${Math.max(...loads).toFixed(0)} | ${median(servers).toFixed(0)} |`,
      );
    }
    say(`\n${MESSAGES} messages of one tenant over 24 h; ${ROUNDS} loads of each page in Chromium (ms)\n`);
    say('| page | path | load median | load max | server median |');
    say('|---|---|---|---|---|');
    for (const row of rows) say(row);
  } finally {
    await browser.close();
    await analytics.stop();
    await admin.command(sql`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await admin.close();
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
