import { mkdtempSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouse, identifier, sql } from '@tern/clickhouse';
import { events } from '@tern/contracts';
import { KafkaClient, PoisonMessageError, REPLAY_HEADERS, topics, type TopicDef } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';
import {
  closeTestProducer,
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  launchChromium,
  makeTestCertificates,
  renderedWidths,
  startServiceProcess,
  testNamespace,
  uniqueName,
  waitFor,
  type ServiceProcess,
} from '@tern/testing';
import * as grpc from '@grpc/grpc-js';
import { analytics as api } from '@tern/contracts';
import { analyticsServiceDefinition } from '../src/analytics-api';
import { channelReport, writeChannelReport } from '../src/channel-report.job';
import type { PumpingBlock } from '../src/domain/channel-report';
import { deliveryRate, type ConversionMinute } from '../src/domain/route-weights';
import { RouteFiguresRepository } from '../src/route-figures.repository';

// The built analytics against the real ClickHouse (its own database, migrated by the service) and Kafka:
// attempt rows go into `attempts` as dlr writes them, the materialized view aggregates them per minute,
// and the weights come out on routing.weights. Its read API serves TLS and operators only, as deployed.
const infra = infraFromEnv();
const root = join(__dirname, '..', '..', '..');
const certs = makeTestCertificates();
/** The local platform's operators (deploy/local/operators.yaml) and tenants: public tokens on purpose. */
const VIEWER_TOKEN = 'tern-local-viewer-token';
const OPERATOR_TOKEN = 'tern-local-operator-token';
const TENANT_API_KEY = 'tern-local-demo-key';

describe('analytics', () => {
  const run = uniqueName('an');
  const database = `analytics_${run.replace(/-/g, '_')}`;
  const steady = `steady-${run}`;
  const degrading = `degrading-${run}`;
  const clickhouse = new ClickHouse({ url: infra.clickhouseUrl, database: 'default' });
  const weights: events.RoutingWeight[] = [];
  let analytics: ServiceProcess;
  const Client = grpc.makeGenericClientConstructor(analyticsServiceDefinition, 'AnalyticsService');
  let client: grpc.Client;
  let address: string;
  type UnaryWithMetadata = (
    request: unknown,
    metadata: grpc.Metadata,
    done: (error: grpc.ServiceError | null, response: unknown) => void,
  ) => void;
  /** One unary call of the read API through a plain grpc-js client, as the local viewer by default. */
  const call = <Res>(
    name: 'listRoutingWeights' | 'getChannelReport' | 'listDeadLetters' | 'replayDeadLetters',
    request: unknown,
    /** null: no token. */
    authorization: string | null = `Bearer ${VIEWER_TOKEN}`,
    through: grpc.Client = client,
  ) =>
    new Promise<Res>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (authorization) metadata.set('authorization', authorization);
      (through as unknown as Record<string, UnaryWithMetadata>)[name]!(request, metadata, (e, r) =>
        e ? reject(e) : resolve(r as Res),
      );
    });
  let stopReading: () => Promise<void>;
  let serial = 0;
  let consolePort: number;
  /** One request to the console over HTTPS (the test CA), as a browser would send it. */
  const page = (
    method: 'GET' | 'POST',
    path: string,
    options: { cookie?: string; form?: Record<string, string>; origin?: string } = {},
  ) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
      (resolve, reject) => {
        const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: consolePort,
            path,
            method,
            ca: certs.read(certs.caCert),
            servername: 'localhost',
            headers: {
              host: `localhost:${consolePort}`,
              ...(options.cookie ? { cookie: options.cookie } : {}),
              ...(options.origin ? { origin: options.origin } : {}),
              ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );

  beforeAll(async () => {
    ({ stop: stopReading } = await followTopics(
      [topics.routingWeights] as TopicDef<unknown>[],
      (_t, value) => {
        const w = value as events.RoutingWeight;
        if (w.channelId.endsWith(run)) weights.push(w);
      },
    ));
    analytics = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
      TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      TERN_CLICKHOUSE_URL: infra.clickhouseUrl,
      TERN_CLICKHOUSE_DATABASE: database,
      TERN_ANALYTICS_INTERVAL_MS: '1000',
      TERN_ANALYTICS_GRPC_PORT: '0',
      TERN_CONSOLE_PORT: '0',
      TERN_ANALYTICS_HASH_KEY: 'analytics-test-hash-key',
      TERN_OPERATORS_FILE: join(root, 'deploy/local/operators.yaml'),
      TERN_GRPC_TLS_CERT_FILE: certs.serverCert,
      TERN_GRPC_TLS_KEY_FILE: certs.serverKey,
    });
    await waitFor('analytics to be ready', async () => (await analytics.ready()).status === 200, 60_000);
    const grpcPort = await waitFor(
      'the read API',
      () =>
        analytics.logs.find((l) => l['msg'] === 'analytics publishing weights')?.['grpcPort'] as
          number | undefined,
    );
    address = `127.0.0.1:${grpcPort}`;
    consolePort = analytics.logs.find((l) => l['msg'] === 'analytics publishing weights')?.[
      'consolePort'
    ] as number;
    client = new Client(address, grpc.credentials.createSsl(certs.read(certs.caCert)));
  });
  afterAll(async () => {
    client.close();
    await analytics.stop();
    await stopReading();
    await closeTestProducer();
    await clickhouse.command(sql`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await clickhouse.close();
  });

  /** Attempt rows of a channel: `delivered` and `failed` ones that ended `minutesAgo`. */
  async function attempts(
    channelId: string,
    delivered: number,
    failed: number,
    minutesAgo: number,
    route: { country: string; tier: string } = { country: 'SG', tier: 'direct' },
  ) {
    const doneAt = Math.floor(Date.now() / 1000) - minutesAgo * 60;
    const row = (ok: boolean) => ({
      message_id: `${run}-${++serial}`,
      attempt: 1,
      version: 1,
      tenant_id: 't',
      country: route.country,
      mcc_mnc: '52501',
      channel_id: channelId,
      tier: route.tier,
      message_type: 'OTP',
      segments: 1,
      price_per_segment: 0.04,
      status: ok ? 'DELIVERED' : 'UNDELIVERED',
      reason_code: ok ? 'DELIVERED' : 'UNREACHABLE',
      delivery_latency_ms: ok ? 2000 + (serial % 5) * 500 : 0,
      submitted_at: doneAt - 3,
      done_at: doneAt,
      submitted_date: new Date(doneAt * 1000).toISOString().slice(0, 10),
      written_at: doneAt,
    });
    const rows = [
      ...Array.from({ length: delivered }, () => row(true)),
      ...Array.from({ length: failed }, () => row(false)),
    ];
    const db = new ClickHouse({ url: infra.clickhouseUrl, database });
    await db.insert('attempts', rows).finally(() => db.close());
  }
  const latest = (channelId: string, mccMnc = '', after = 0) =>
    weights
      .filter((w) => w.channelId === channelId && w.mccMnc === mccMnc && w.computedAt!.getTime() > after)
      .at(-1);

  it('publishes per-route weights from the attempts, and turns away from a channel that starts failing', async () => {
    for (let minute = 10; minute >= 1; minute--) {
      await attempts(steady, 40, 1, minute);
      await attempts(degrading, 40, 1, minute);
    }
    const before = await waitFor('weights of both channels', () => {
      const s = latest(steady);
      const d = latest(degrading);
      return s && d && s.attempts === 410 && d.attempts === 410 && { s, d };
    });
    expect(deliveryRate(before.s)).toBeGreaterThan(0.95);
    expect(deliveryRate(before.d)).toBeGreaterThan(0.95);
    expect(before.s.latencyP50Ms).toBeGreaterThanOrEqual(2000);
    expect(before.s.latencyP95Ms).toBeGreaterThanOrEqual(before.s.latencyP50Ms);
    expect(before.s.costPerDelivered).toBeCloseTo(0.04 * (410 / 400), 2);
    // The carrier has attempts enough for weights of its own.
    expect(latest(steady, '52501')).toBeDefined();

    // 90 failures in the current minute.
    const failedAt = Date.now();
    await attempts(degrading, 0, 90, 0);
    // Both channels' weights of a later cycle: one cycle's weights arrive one record after another.
    const { d: after, s: steadyAfter } = await waitFor('the degraded weights', () => {
      const d = latest(degrading, '', failedAt);
      const s = latest(steady, '', failedAt);
      return d && s && d.attempts === 500 && { d, s };
    });
    expect(deliveryRate(after)).toBeLessThan(0.8);
    expect(deliveryRate(steadyAfter)).toBeGreaterThan(0.95);

    // It delivers again: its weight climbs back.
    const recoveredAt = Date.now();
    await attempts(degrading, 300, 0, 0);
    const recovered = await waitFor('the recovering weights', () => {
      const d = latest(degrading, '', recoveredAt);
      return d && d.attempts === 800 && d;
    });
    expect(deliveryRate(recovered)).toBeGreaterThan(deliveryRate(after) + 0.1);
  });

  it('reads what conversions say of each carrier of a route, and how long users took to use their codes', async () => {
    const channelId = `otp-${run}`;
    const tenant = `converting-${run}`;
    const now = Math.floor(Date.now() / 1000);
    const doneAt = now - 300;
    const acceptedAt = doneAt - 10;
    const date = (at: number) => new Date(at * 1000).toISOString().slice(0, 10);
    const attempt = (id: string, mccMnc: string, status = 'DELIVERED', tenantId = tenant) => ({
      message_id: id,
      attempt: 1,
      version: 1,
      tenant_id: tenantId,
      country: 'MY',
      mcc_mnc: mccMnc,
      channel_id: channelId,
      tier: 'aggregator',
      message_type: 'OTP',
      segments: 1,
      status,
      accepted_at: acceptedAt,
      submitted_at: acceptedAt + 1,
      done_at: doneAt,
      submitted_date: date(doneAt),
    });
    const used = (id: string, afterSeconds: number) => ({
      message_id: id,
      tenant_id: tenant,
      message_type: 'OTP',
      country: 'MY',
      accepted_at: acceptedAt,
      converted_at: acceptedAt + afterSeconds,
      reported_at: now - 60,
      reported_date: date(now),
    });
    const ids = (carrier: string, n: number) => Array.from({ length: n }, (_, i) => `${run}-${carrier}-${i}`);
    const db = new ClickHouse({ url: infra.clickhouseUrl, database });
    let minutes: ConversionMinute[];
    try {
      await db.insert('attempts', [
        ...ids('good', 10).map((id) => attempt(id, '52501')),
        ...ids('bad', 10).map((id) => attempt(id, '52505')),
        // Neither counts: an OTP that was not delivered, and one of a tenant that reports no conversions.
        attempt(`${run}-failed`, '52501', 'UNDELIVERED'),
        attempt(`${run}-silent-tenant`, '52501', 'DELIVERED', `silent-${run}`),
        // Sent with a validity of almost three days and delivered in the window: it counts, however long ago
        // it was submitted (the read bounds the table's date key by the longest validity).
        {
          ...attempt(`${run}-long-validity`, '52501'),
          accepted_at: doneAt - 71 * 3600,
          submitted_at: doneAt - 71 * 3600 + 1,
          submitted_date: date(doneAt - 71 * 3600),
        },
      ]);
      await db.insert('conversions', [
        ...ids('good', 8).map((id) => used(id, 20)),
        used(ids('bad', 1)[0]!, 40),
        // Reported twice: the first use counts.
        used(ids('bad', 1)[0]!, 90),
      ]);
      minutes = await new RouteFiguresRepository(db).conversionMinutes(
        new Date((now - 3600) * 1000),
        new Date(now * 1000),
      );
    } finally {
      await db.close();
    }
    const byCarrier = Object.fromEntries(
      minutes
        .filter((m) => m.channelId === channelId)
        .map(({ mccMnc, delivered, converted, timeToUseMs }) => [
          mccMnc,
          { delivered, converted, timeToUseMs },
        ]),
    );
    expect(byCarrier).toEqual({
      '52501': { delivered: 11, converted: 8, timeToUseMs: 8 * 20_000 },
      '52505': { delivered: 10, converted: 1, timeToUseMs: 40_000 },
    });
  });

  it('reads the ranges refused as pumping from the traces, and those monitor mode would have refused', async () => {
    const enforcing = `enforcing-${run}`;
    const monitoring = `monitoring-${run}`;
    const now = Math.floor(Date.now() / 1000);
    const pumped = (range: string) =>
      `0 of 40 OTPs to +${range}… within 600 s were used (at most 5% is pumping)`;
    const row = (
      id: string,
      tenantId: string,
      kind: 'status' | 'routing',
      detail: unknown,
      { attempt = 1, at = now - 60, status = '', reasonCode = '' } = {},
    ) => ({
      message_id: id,
      tenant_id: tenantId,
      client_reference: '',
      kind,
      status,
      attempt,
      channel_id: kind === 'routing' ? 'ng-direct' : '',
      reason_code: reasonCode,
      detail: JSON.stringify(detail),
      at,
      at_ms: 0,
      event_date: new Date(at * 1000).toISOString().slice(0, 10),
    });
    const refused = (id: string, range: string, at?: number) =>
      row(
        id,
        enforcing,
        'status',
        { description: pumped(range) },
        {
          status: 'REJECTED',
          reasonCode: 'PUMPING_NO_CONVERSIONS',
          at,
        },
      );
    const routed = (id: string, riskNotes: string[], attempt = 1) =>
      row(
        id,
        monitoring,
        'routing',
        events.RoutingDecision.toJSON({ candidates: [], reason: 'x', riskNotes }),
        {
          attempt,
        },
      );
    const wouldRefuse = (range: string) => `monitor: would be refused as pumping (${pumped(range)})`;
    const db = new ClickHouse({ url: infra.clickhouseUrl, database });
    let blocks: PumpingBlock[];
    try {
      await db.insert('message_events', [
        refused(`${run}-r1`, '2349099'),
        refused(`${run}-r2`, '2349099'),
        // The same rejection twice (a redelivered record): one OTP.
        refused(`${run}-r2`, '2349099'),
        // Before the period.
        refused(`${run}-r3`, '2349099', now - 7200),
        routed(`${run}-m1`, [wouldRefuse('2348888')]),
        routed(`${run}-m2`, ['paced to 2026-12-01T10:00:00.000Z (300 ms later)', wouldRefuse('2348888')]),
        // Not counted: a retry's decision (the first attempt's holds the note), and notes of other screens.
        routed(`${run}-m2`, [wouldRefuse('2348888')], 2),
        routed(`${run}-m3`, ['paced to 2026-12-01T10:00:00.000Z (300 ms later)']),
        routed(`${run}-m4`, []),
      ]);
      blocks = await new RouteFiguresRepository(db).pumpingBlocks(
        new Date((now - 3600) * 1000),
        new Date((now + 60) * 1000),
      );
    } finally {
      await db.close();
    }
    expect(
      blocks
        .filter((b) => [enforcing, monitoring].includes(b.tenantId))
        .sort((a, b) => a.range.localeCompare(b.range)),
    ).toEqual([
      { tenantId: monitoring, range: '2348888', refused: 0, wouldRefuse: 2 },
      { tenantId: enforcing, range: '2349099', refused: 2, wouldRefuse: 0 },
    ]);
  });

  it('reports each channel against its tier, with recommendations, and the report renders its charts in Chromium', async () => {
    const grey = `grey-${run}`;
    for (let minute = 6; minute >= 1; minute--)
      await attempts(grey, 6, 4, minute, { country: 'BR', tier: 'indirect' });
    const report = await channelReport(
      new RouteFiguresRepository(new ClickHouse({ url: infra.clickhouseUrl, database })),
      new Date(Date.now() - 3_600_000),
      new Date(Date.now() + 60_000),
    );
    const line = report.channels.find((c) => c.channelId === grey)!;
    expect(line).toMatchObject({ country: 'BR', attempts: 60, delivered: 36, deliveryVerdict: 'below' });
    expect(report.channels.find((c) => c.channelId === steady)?.deliveryVerdict).toBe('within');
    expect(report.recommendations.map((r) => `${r.kind} ${r.channelId ?? r.country}`)).toEqual(
      expect.arrayContaining([`drop-channel ${grey}`, 'needs-direct-route BR']),
    );
    const { html } = writeChannelReport(report, mkdtempSync(join(tmpdir(), 'tern-report-')));

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`file://${html}`);
      // Every channel has a bar, laid out with a width of its own (the chart rendered, not just its markup).
      const widths = await renderedWidths(page, '#chart-delivery rect.bar');
      expect(widths).toHaveLength(report.channels.length);
      expect(widths.every((w) => w > 0)).toBe(true);
      expect(await page.locator('svg.routing rect.share').count()).toBeGreaterThan(0);
      await expect(
        page.locator('#recommendations li[data-kind="drop-channel"]').first().textContent(),
      ).resolves.toContain(grey);
      const shot = join(mkdtempSync(join(tmpdir(), 'tern-report-shot-')), 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(20_000);
    } finally {
      await browser.close();
    }
  });

  it('serves the current weights and the report over its gRPC read API', async () => {
    const { weights: sg } = await call<api.ListRoutingWeightsResponse>('listRoutingWeights', {
      country: 'sg',
    });
    const mine = sg.filter((w) => w.channelId.endsWith(run));
    expect(mine.map((w) => `${w.channelId}/${w.mccMnc}`).sort()).toEqual(
      [`degrading-${run}/`, `degrading-${run}/52501`, `steady-${run}/`, `steady-${run}/52501`].sort(),
    );
    const { weights: br } = await call<api.ListRoutingWeightsResponse>('listRoutingWeights', {
      country: 'BR',
    });
    expect(br.some((w) => w.channelId === `grey-${run}`)).toBe(true);

    const report = await call<api.GetChannelReportResponse>('getChannelReport', {
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 60_000),
    });
    const grey = report.channels.find((c) => c.channelId === `grey-${run}`);
    expect(grey).toMatchObject({ attempts: 60, delivered: 36, deliveryVerdict: api.Verdict.VERDICT_BELOW });
    expect(grey?.benchmarkDeliveryLow).toBe(0.7);
    // The conversions of the test above, per carrier: used, confirmed, and how long users took.
    expect(report.carriers.find((c) => c.channelId === `otp-${run}` && c.mccMnc === '52501')).toMatchObject({
      // Ten OTPs, and the one sent with an almost three-day validity.
      otpsDelivered: 11,
      otpsConverted: 8,
      timeToUseMeanMs: 20_000,
    });
    const badCarrier = report.carriers.find((c) => c.channelId === `otp-${run}` && c.mccMnc === '52505');
    expect(badCarrier?.receiptsConfirmed).toBeLessThan(
      report.carriers.find((c) => c.channelId === `otp-${run}` && c.mccMnc === '52501')!.receiptsConfirmed,
    );
    expect(
      report.recommendations.some((r) => r.kind === 'drop-channel' && r.channelId === `grey-${run}`),
    ).toBe(true);

    await expect(
      call('getChannelReport', { from: new Date(), to: new Date(Date.now() - 1000) }),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'from must be before to' });
  });

  it('serves operators only, over TLS: no token, a tenant’s API key or a plaintext client get nothing', async () => {
    await expect(call('listRoutingWeights', {}, null)).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
    await expect(call('getChannelReport', {}, `Bearer ${TENANT_API_KEY}`)).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
    });
    const plaintext = new Client(address, grpc.credentials.createInsecure());
    try {
      await expect(call('listRoutingWeights', {}, null, plaintext)).rejects.toMatchObject({
        code: grpc.status.UNAVAILABLE,
      });
    } finally {
      plaintext.close();
    }
  });

  it('lists dead letters and sends them back to their topic once each: operators only, audited, never in a loop', async () => {
    await ensurePlatformTopics();
    const kafka = new KafkaClient({
      brokers: infra.kafkaBrokers,
      clientId: `${run}-dlq`,
      logger: createLogger({ service: 'dlq-test', level: 'warn' }),
      topicNamespace: testNamespace(),
    });
    await kafka.producer().connect();
    // A service that refuses some retry requests until it is fixed, as a real consumer dead-letters them.
    const fixedFor = new Set<string>();
    const handled: { id: string; replayOf: string | undefined }[] = [];
    const consumer = kafka.consumer({
      groupId: `${run}-retries`,
      sessionTimeoutMs: 10_000,
      fromBeginning: true,
    });
    consumer.on(topics.retry, (record) => {
      const id = record.value.message?.messageId ?? '';
      if (!fixedFor.has(id))
        throw new PoisonMessageError('NOT_HANDLED_YET', `cannot take ${id} yet`, 'message');
      handled.push({ id, replayOf: record.headers[REPLAY_HEADERS.of]?.toString() });
      return Promise.resolve();
    });
    await consumer.start();
    const retry = (id: string) =>
      events.RetryRequest.fromPartial({ message: { messageId: id }, failedAttempt: 1 });
    const [fixable, stubborn] = [`${run}-fixable`, `${run}-stubborn`];
    await kafka.producer().send(topics.retry, [retry(fixable), retry(stubborn)]);

    type Letters = {
      deadLetters: {
        topic: string;
        partition: number;
        offset: string;
        reason: string;
        sourceTopic: string;
        replays: number;
        replayedAt?: unknown;
        valueBytes: number;
      }[];
    };
    const dlq = `${topics.retry.name}.dlq`;
    const lettersOf = async () =>
      (await call<Letters>('listDeadLetters', api.ListDeadLettersRequest.fromPartial({ topic: dlq })))
        .deadLetters;
    const first = await waitFor('both records in the DLQ', async () => {
      const letters = await lettersOf();
      return letters.length >= 2 && letters;
    });
    expect(first).toHaveLength(2);
    for (const l of first) {
      expect(l).toMatchObject({ reason: 'NOT_HANDLED_YET', sourceTopic: topics.retry.name, replays: 0 });
      expect(l.valueBytes).toBeGreaterThan(0);
    }
    // Every DLQ topic when none is named: this one among them.
    const everything = await call<Letters>('listDeadLetters', api.ListDeadLettersRequest.fromPartial({}));
    expect(everything.deadLetters.filter((l) => l.topic === dlq)).toHaveLength(2);

    const replay = (records: { partition: number; offset: string }[], token = OPERATOR_TOKEN) =>
      call<{ replayed: unknown[]; refused: { why: string }[] }>(
        'replayDeadLetters',
        api.ReplayDeadLettersRequest.fromPartial({ topic: dlq, records, note: 'handler fixed' }),
        `Bearer ${token}`,
      );
    // A viewer reads but does not act.
    await expect(
      replay(
        first.map((l) => ({ partition: l.partition, offset: l.offset })),
        VIEWER_TOKEN,
      ),
    ).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });

    fixedFor.add(fixable);
    const all = first.map((l) => ({ partition: l.partition, offset: l.offset }));
    const answer = await replay(all);
    expect(answer.replayed).toHaveLength(2);
    await waitFor('the fixed record handled', () => handled.some((h) => h.id === fixable));
    expect(handled).toEqual([
      { id: fixable, replayOf: expect.stringMatching(new RegExp(`^${dlq}/\\d+/\\d+$`)) },
    ]);
    // Each replay is in the audit log, by whom and why; a dead letter is never replayed twice.
    const audit = await clickhouse.rows<{ operator_id: string; note: string; replays: number }>(
      sql`SELECT operator_id, note, replays FROM ${identifier(database)}.dlq_replays WHERE dlq_topic = ${dlq}`,
    );
    expect(audit).toEqual([
      { operator_id: 'local-operator', note: 'handler fixed', replays: 1 },
      { operator_id: 'local-operator', note: 'handler fixed', replays: 1 },
    ]);
    const again = await replay(all);
    expect(again.replayed).toEqual([]);
    expect(again.refused.map((r) => r.why)).toEqual([
      expect.stringMatching(/^replayed already/),
      expect.stringMatching(/^replayed already/),
    ]);

    // The stubborn one fails each time it comes back: after three replays it is refused, not looped.
    for (let round = 1; round <= 3; round++) {
      const newest = await waitFor(`the stubborn record back in the DLQ (${round})`, async () => {
        const letter = (await lettersOf()).find((l) => l.replays === round);
        return letter;
      });
      const sent = await replay([{ partition: newest.partition, offset: newest.offset }]);
      expect({ round, replayed: sent.replayed.length, refused: sent.refused }).toEqual(
        round < 3
          ? { round, replayed: 1, refused: [] }
          : {
              round,
              replayed: 0,
              refused: [expect.objectContaining({ why: expect.stringMatching(/after 3 replays/) })],
            },
      );
      if (round === 3) break;
    }
    expect(handled.filter((h) => h.id === stubborn)).toEqual([]);
    await consumer.stop();
    await kafka.disconnect();
  });

  it('serves its console over TLS to signed-in operators: roles hold, forms come only from its own pages', async () => {
    expect(await page('GET', '/')).toMatchObject({ status: 303, headers: { location: '/login' } });
    // A tenant's API key is not an operator's token.
    const refused = await page('POST', '/login', { form: { token: TENANT_API_KEY } });
    expect(refused.status).toBe(401);
    expect(refused.headers['set-cookie']).toBeUndefined();
    const signIn = async (token: string) => {
      const res = await page('POST', '/login', { form: { token } });
      expect(res.status).toBe(303);
      const [cookie = ''] = res.headers['set-cookie'] as string[];
      // Only over TLS, never to scripts, never on another site's requests.
      expect(cookie).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
      return cookie.split(';')[0]!;
    };
    const viewer = await signIn(VIEWER_TOKEN);
    const operator = await signIn(OPERATOR_TOKEN);

    for (const path of ['/', '/?window=1h&fragment=1', '/routing', '/trace?q=nothing-like-this', '/report']) {
      const res = await page('GET', path, { cookie: viewer });
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    }
    expect((await page('GET', '/routing', { cookie: viewer })).body).toContain(`steady-${run}`);
    expect((await page('GET', '/trace?q=nothing-like-this', { cookie: viewer })).body).toContain(
      'id="not-found"',
    );

    const dlq = await page('GET', '/dead-letters', { cookie: viewer });
    expect(dlq.body).not.toContain('action="/dead-letters/replay"');
    const form = { topic: 'sms.retry.dlq', record: 'sms.retry.dlq/0/0', note: 'try' };
    const asViewer = await page('POST', '/dead-letters/replay', { cookie: viewer, form });
    expect(asViewer.status).toBe(403);
    expect(asViewer.body).toContain('needs the operator role; local-viewer is a viewer');
    // The operator's own session, posted from another site's page: refused before anything is read.
    const crossSite = await page('POST', '/dead-letters/replay', {
      cookie: operator,
      form,
      origin: 'https://evil.example',
    });
    expect(crossSite.status).toBe(403);
    // A replay must say why.
    const noNote = await page('POST', '/dead-letters/replay', {
      cookie: operator,
      form: { ...form, note: ' ' },
    });
    expect(noNote.status).toBe(400);
    expect(noNote.body).toContain('say why the records are replayed');
    // A token that is no operator's (revoked, or never one) is signed out.
    expect(await page('GET', '/routing', { cookie: 'tern_operator=revoked-token' })).toMatchObject({
      status: 303,
      headers: { location: '/login' },
    });
  });
});
