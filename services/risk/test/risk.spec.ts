import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { events, sms } from '@tern/contracts';
import { topics, type TopicDef } from '@tern/kafka';
import {
  closeTestProducer,
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  publishValues,
  startServiceProcess,
  uniqueName,
  waitFor,
  type ServiceProcess,
} from '@tern/testing';

// The built risk service against the real local Kafka and Redis. Each test has its own tenant (so shared
// counters of other runs do not apply), policy file and deployment (consumer groups reading only new work).
const infra = infraFromEnv();
/** A message's screening, and when risk wrote its result (ms). */
type Outcome = { approved?: events.MessageApproved; rejected?: sms.StatusEvent; writtenAt: number };

describe('risk', () => {
  let services: ServiceProcess[] = [];
  let stopReading: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await Promise.all(services.map((s) => s.stop()));
    services = [];
    await stopReading?.();
  });
  afterAll(closeTestProducer);

  async function setUp(policy: (tenant: string) => string, instances = 1) {
    await ensurePlatformTopics();
    const run = uniqueName('rk');
    const tenant = `t-${run}`;
    const path = join(mkdtempSync(join(tmpdir(), 'risk-')), 'policy.yaml');
    writeFileSync(path, policy(tenant));
    const outcomes = new Map<string, Outcome>();
    const { stop } = await followTopics(
      [topics.approved, topics.status] as TopicDef<unknown>[],
      (topic, value, _headers, writtenAt) => {
        if (topic === topics.approved.name) {
          const a = value as events.MessageApproved;
          if (a.message?.tenantId === tenant) outcomes.set(a.message.messageId, { approved: a, writtenAt });
        } else {
          const s = value as sms.StatusEvent;
          if (s.tenantId === tenant && s.status === sms.MessageStatus.MESSAGE_STATUS_REJECTED) {
            outcomes.set(s.messageId, { rejected: s, writtenAt });
          }
        }
      },
    );
    stopReading = stop;
    const startInstance = async (env: Record<string, string> = {}) => {
      const service = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
        TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
        TERN_REDIS_URL: infra.redisUrl,
        TERN_RISK_POLICY_FILE: path,
        TERN_RISK_POLICY_RELOAD_MS: '200',
        TERN_RISK_DEPLOYMENT: run,
        TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
        TERN_KAFKA_SESSION_TIMEOUT_MS: '10000',
        ...env,
      });
      services.push(service);
      await waitFor('risk to be ready', async () => (await service.ready()).status === 200, 60_000);
    };
    for (let i = 0; i < instances; i++) await startInstance();
    let serial = 0;
    const message = (over: Partial<events.SmsMessage> = {}) =>
      events.SmsMessage.fromPartial({
        messageId: `${run}-${++serial}`,
        tenantId: tenant,
        to: `+62812${String(1_000_000 + serial).padStart(7, '0')}`,
        from: 'ShopKita',
        senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
        body: 'Your code is 123456',
        type: sms.MessageType.MESSAGE_TYPE_OTP,
        country: 'ID',
        segments: 1,
        acceptedAt: new Date(),
        expiresAt: new Date(Date.now() + 600_000),
        ...over,
      });
    const send = (...messages: events.SmsMessage[]) =>
      publishValues(
        topics.accepted,
        messages.map((m) => ({ message: m })),
      );
    const outcome = (m: events.SmsMessage) =>
      waitFor(`the decision on ${m.messageId}`, () => outcomes.get(m.messageId));
    return { run, tenant, path, message, send, outcome, outcomes, startInstance };
  }

  const codeOf = (o: Outcome) => o.rejected?.reason?.code ?? 'APPROVED';

  it('sender IDs: passes a registered one, replaces an unregistered one by the fallback, rejects without one', async () => {
    const { message, send, outcome } = await setUp(
      (t) => `
countries: { ID: { alphanumeric: registered }, VN: { alphanumeric: registered } }
tenants: { ${t}: { registeredSenders: { ID: [ShopKita] }, fallbackSenders: { ID: '+62811000111' } } }`,
    );
    const ok = message();
    const replaced = message({ from: 'Unknown' });
    const refused = message({ from: 'Unknown', country: 'VN', to: '+84961234567' });
    await send(ok, replaced, refused);
    expect(codeOf(await outcome(ok))).toBe('APPROVED');
    const r = await outcome(replaced);
    expect(r.approved?.message?.from).toBe('+62811000111');
    expect(r.approved?.message?.senderType).toBe(sms.SenderType.SENDER_TYPE_INTERNATIONAL);
    expect(r.approved?.adjustments[0]).toMatch(/sender Unknown replaced by \+62811000111/);
    const x = await outcome(refused);
    expect(codeOf(x)).toBe('SENDER_NOT_REGISTERED');
    expect(x.rejected?.reason?.description).toBe('Unknown is not registered for VN');
  });

  it('content: rejects phishing, defers marketing outside local hours with its earliest time', async () => {
    // A window that is closed right now wherever the test runs: the one hour that began 2 h ago (UTC).
    const closedFrom = (new Date().getUTCHours() + 22) % 24;
    const { message, send, outcome } = await setUp(
      () => `
countries: { ID: { marketingHours: { from: ${closedFrom}, to: ${(closedFrom + 1) % 24}, timeZone: UTC } } }`,
    );
    const clean = message();
    const phishing = message({ body: 'Your account is locked, verify at paypa1-secure.com/login' });
    const night = message({
      type: sms.MessageType.MESSAGE_TYPE_MARKETING,
      from: 'Shop',
      body: 'Sale: 50% off',
    });
    await send(clean, phishing, night);
    expect(codeOf(await outcome(clean))).toBe('APPROVED');
    expect(codeOf(await outcome(phishing))).toBe('CONTENT_PHISHING');
    const deferred = (await outcome(night)).approved!;
    const opens = new Date();
    opens.setUTCHours(closedFrom, 0, 0, 0);
    if (opens.getTime() <= Date.now()) opens.setUTCDate(opens.getUTCDate() + 1);
    expect(deferred.message?.notBefore?.toISOString()).toBe(opens.toISOString());
    expect(deferred.adjustments[0]).toMatch(/deferred to .* marketing to ID is sent/);
  });

  it('rate limits: rejects past a recipient’s window, defers above the tenant’s pace', async () => {
    const { message, send, outcome } = await setUp(
      () => `
limits: { perRecipient: { otp: { count: 2, windowSeconds: 600 } }, perTenant: { perSecond: 5 } }`,
    );
    const same = Array.from({ length: 3 }, () => message({ to: '+6281299990000' }));
    const codes: string[] = [];
    for (const m of same) {
      // One after the other (their ids land on different partitions): the third is the one over the limit.
      await send(m);
      codes.push(codeOf(await outcome(m)));
    }
    expect(codes).toEqual(['APPROVED', 'APPROVED', 'RECIPIENT_RATE_LIMITED']);
    const burst = Array.from({ length: 20 }, () => message());
    const sentAt = Date.now();
    await send(...burst);
    const decided = await Promise.all(burst.map(outcome));
    expect(decided.every((o) => o.approved)).toBe(true);
    // The tenant's own pace (5/s, a second of burst): the first ~5 go at once, the others get slots 200 ms
    // apart, named in their adjustments, the last some 3 s after the burst.
    const paced = decided.filter((o) => o.approved!.message!.notBefore);
    expect(paced.length).toBeGreaterThanOrEqual(12);
    expect(paced.every((o) => o.approved!.adjustments.some((a) => a.startsWith('paced to')))).toBe(true);
    const last = Math.max(...paced.map((o) => o.approved!.message!.notBefore!.getTime()));
    expect(last - sentAt).toBeGreaterThan(2000);
    expect(last - sentAt).toBeLessThan(6000);
  });

  it('a message refused by one window spends none of the others', async () => {
    const { message, send, outcome } = await setUp(
      () => `
limits: { perRecipient: { otp: { count: 1, windowSeconds: 600 } } }
fraud: { otpVelocity: { digits: 8, count: 3, windowSeconds: 600 } }`,
    );
    // One recipient's repeats are refused by its own window; they must not use up the velocity window of
    // its prefix (+62812999…), which still has room for two other numbers, then holds the next.
    const to = ['+6281299900001', '+6281299900001', '+6281299900001', '+6281299900002'];
    const sequence = [...to, '+6281299900003', '+6281299900004'].map((n) => message({ to: n }));
    const codes: string[] = [];
    for (const m of sequence) {
      await send(m);
      codes.push(codeOf(await outcome(m)));
    }
    expect(codes).toEqual([
      'APPROVED',
      'RECIPIENT_RATE_LIMITED',
      'RECIPIENT_RATE_LIMITED',
      'APPROVED',
      'APPROVED',
      'PUMPING_SUSPECTED',
    ]);
  });

  it('fraud: blocks a high-risk range unless allowed; STOP replies end marketing but not OTPs', async () => {
    const { message, send, outcome, run } = await setUp(
      (t) => `
tenants: { ${t}: { allowList: ['4479111'], registeredSenders: {}, fallbackSenders: {} } }
fraud: { highRiskRanges: [{ prefix: '4479', category: premium }] }`,
    );
    const premium = message({ to: '+447912345678', country: 'GB' });
    const allowListed = message({ to: '+447911123456', country: 'GB' });
    await send(premium, allowListed);
    expect(codeOf(await outcome(premium))).toBe('HIGH_RISK_RANGE');
    expect(codeOf(await outcome(allowListed))).toBe('APPROVED');

    const handset = '+6281277776666';
    await publishValues(topics.inbound, [
      { channelId: `ch-${run}`, from: handset, to: 'ShopNews', body: 'STOP', receivedAt: new Date() },
    ]);
    await waitFor('the opt-out recorded', () =>
      services[0]!.logs.some((l) => l['msg'] === 'opt-out recorded' && l['channelId'] === `ch-${run}`),
    );
    const marketing = message({
      to: handset,
      from: 'ShopNews',
      type: sms.MessageType.MESSAGE_TYPE_MARKETING,
      body: 'New deals',
    });
    const otp = message({ to: handset, from: 'ShopNews' });
    await send(marketing, otp);
    expect(codeOf(await outcome(marketing))).toBe('OPTED_OUT');
    expect(codeOf(await outcome(otp))).toBe('APPROVED');
  });

  it('holds an OTP pumping burst to one premium prefix while normal traffic around it passes', async () => {
    const { message, send, outcome } = await setUp(
      () => `
fraud: { otpVelocity: { digits: 8, count: 20, windowSeconds: 60 } }`,
    );
    const pumped = Array.from({ length: 200 }, (_, i) =>
      message({ to: `+4478123${String(i).padStart(5, '0')}`, country: 'GB' }),
    );
    const normal = Array.from({ length: 200 }, (_, i) =>
      message({ to: `+628${String(1_100_000_000 + i * 7919)}` }),
    );
    await send(...pumped.flatMap((p, i) => [p, normal[i]!]));
    const pumpedOutcomes = await Promise.all(pumped.map(outcome));
    const normalOutcomes = await Promise.all(normal.map(outcome));
    expect(pumpedOutcomes.filter((o) => o.approved)).toHaveLength(20);
    expect(pumpedOutcomes.filter((o) => codeOf(o) === 'PUMPING_SUSPECTED')).toHaveLength(180);
    expect(normalOutcomes.every((o) => o.approved)).toBe(true);
  });

  it('screens an OTP ahead of a marketing backlog published before it, and the backlog in full after', async () => {
    const { message, send, outcome, outcomes } = await setUp(() => 'countries: { ID: {} }');
    const backlog = Array.from({ length: 3000 }, () =>
      message({ type: sms.MessageType.MESSAGE_TYPE_MARKETING, from: 'Shop', body: 'Sale: 50% off' }),
    );
    const otp = message();
    await send(...backlog, otp);
    const screened = await outcome(otp);
    expect(codeOf(screened)).toBe('APPROVED');
    await waitFor(
      'the backlog approved',
      () => backlog.every((m) => outcomes.get(m.messageId)?.approved),
      60_000,
    );
    // One intake for both would screen the OTP after its partition's share of the backlog, when the other
    // partitions (screened side by side) are as far: nearly all of it. Counted by when risk wrote each
    // result (a tie counts as before), not by when this test read it: a busy reader sees the OTP's late.
    const screenedBefore = backlog.filter((m) => outcomes.get(m.messageId)!.writtenAt <= screened.writtenAt);
    expect(screenedBefore.length).toBeLessThan(backlog.length / 2);
  });

  it('an instance of one traffic class leaves the other class to an instance of its own', async () => {
    const { message, send, outcome, outcomes, startInstance } = await setUp(() => 'countries: { ID: {} }', 0);
    await startInstance({ TERN_TRAFFIC_CLASSES: 'priority' });
    const marketing = message({ type: sms.MessageType.MESSAGE_TYPE_MARKETING, from: 'Shop', body: 'Sale' });
    const otp = message();
    await send(marketing, otp);
    expect(codeOf(await outcome(otp))).toBe('APPROVED');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(outcomes.get(marketing.messageId)).toBeUndefined();
    // A new group of marketing alone starts where new groups start (by default the earliest kept record), not
    // where the priority group's commits are: those passed over the campaign, which waited, and is not skipped.
    await startInstance({ TERN_TRAFFIC_CLASSES: 'bulk', TERN_KAFKA_NEW_GROUP_STARTS_AT: 'earliest' });
    expect(codeOf(await outcome(marketing))).toBe('APPROVED');
  });

  it('two instances share a per-recipient limit exactly', async () => {
    const { message, send, outcome } = await setUp(
      () => `
limits: { perRecipient: { otp: { count: 5, windowSeconds: 600 } } }`,
      2,
    );
    // Spread over every partition (message ids are the keys), so both instances screen some at once.
    const racing = Array.from({ length: 60 }, () => message({ to: '+6281255554444' }));
    await send(...racing);
    const decided = await Promise.all(racing.map(outcome));
    expect(decided.filter((o) => o.approved)).toHaveLength(5);
    expect(decided.filter((o) => codeOf(o) === 'RECIPIENT_RATE_LIMITED')).toHaveLength(55);
    const byInstance = await Promise.all(
      services.map(async (s) => {
        const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
        return text.includes('tern_risk_decisions_total{rule="rate-limit",outcome="rejected"');
      }),
    );
    expect(byInstance).toEqual([true, true]);
  });

  it('takes a new policy without a restart and refuses a broken one, keeping the last good', async () => {
    const { message, send, outcome, path } = await setUp(() => 'content: { banned: [] }\n');
    const before = message({ body: 'Best casino bonus' });
    await send(before);
    expect(codeOf(await outcome(before))).toBe('APPROVED');
    writeFileSync(path, "content: { banned: [{ pattern: '\\bcasino\\b', code: CONTENT_GAMBLING }] }\n");
    await waitFor('the reload', () => services[0]!.logs.some((l) => l['msg'] === 'risk policy reloaded'));
    const after = message({ body: 'Best casino bonus' });
    await send(after);
    expect(codeOf(await outcome(after))).toBe('CONTENT_GAMBLING');

    writeFileSync(path, 'limits: { perTenant: { perSecond: -1 } }\n');
    await waitFor('the refusal', () =>
      services[0]!.logs.some((l) => String(l['msg']).startsWith('risk policy refused')),
    );
    const still = message({ body: 'Best casino bonus' });
    await send(still);
    expect(codeOf(await outcome(still))).toBe('CONTENT_GAMBLING');
  });
});
