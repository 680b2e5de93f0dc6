// The operators' console against a running platform on the simulated carrier world, driven by Debian's
// Chromium through playwright-core as an operator uses it: sign in, watch traffic move while OTPs are sent,
// read why a message went to its channel (checked against the carrier the simulator saw it on), replay a
// dead letter once its cause is fixed and see the message go through, and a viewer who cannot replay.
// Screenshots of each step are kept in .local/e2e/console-*.png.
// Runs side by side with other suites: it asserts what the console shows, not how fast.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '@tern/carrier-sim';
import { signedSendEvent, sms } from '@tern/contracts';
import { topics } from '@tern/kafka';
import {
  closeTestProducer,
  freePort,
  launchChromium,
  publishValues,
  startPrometheus,
  uniqueName,
  waitFor,
  type TestPrometheus,
} from '@tern/testing';
import type { Browser, Page } from 'playwright-core';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { PlatformRun, SERVICES } from '../support/platform-run';

const root = join(__dirname, '..', '..');
const shots = join(root, '.local', 'e2e');
/** The local platform's operators (deploy/local/operators.yaml): public tokens on purpose. */
const OPERATOR_TOKEN = 'tern-local-operator-token';
const VIEWER_TOKEN = 'tern-local-viewer-token';
const COUNTRIES = ['SG', 'ID', 'BR', 'DE', 'AE'];

let run: PlatformRun;
let browser: Browser;
/** Scrapes the run's services, as operators' Prometheus does: the console reads breakers and lag from it. */
let prometheus: TestPrometheus | undefined;
let console_: string;
/** The run's tenants file: a copy of the local one, to which the test adds an event key. */
let tenantsFile: string;
const dir = mkdtempSync(join(tmpdir(), 'tern-console-'));

beforeAll(async () => {
  tenantsFile = join(dir, 'tenants.yaml');
  copyFileSync(join(root, 'deploy/local/tenants.yaml'), tenantsFile);
  // Its address is known before the services start; it starts once their metrics ports are known.
  const prometheusPort = await freePort();
  run = await PlatformRun.start({
    scenario: loadScenario('tiers'),
    strategy: 'smart',
    serviceEnv: {
      ingest: { TERN_TENANTS_FILE: tenantsFile, TERN_TENANTS_RELOAD_MS: '500' },
      analytics: { TERN_PROMETHEUS_URL: `http://127.0.0.1:${prometheusPort}` },
    },
  });
  const targets = SERVICES.flatMap((name) => run.instances(name).map((i) => `127.0.0.1:${i.httpPort}`));
  prometheus = await startPrometheus(targets, [], prometheusPort);
  run.begin();
  console_ = run.consoleUrl();
  browser = await launchChromium();
  mkdirSync(shots, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await prometheus?.stop();
  await closeTestProducer();
  await run?.stop();
});

async function signIn(token: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${console_}/`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(`${console_}/`), page.click('button[type=submit]')]);
  return page;
}

/** The attempts the channels table of the traffic page counts now (the page refreshes it in place). */
async function attemptsShown(page: Page): Promise<number> {
  const cells = await page.locator('#channels tr td:nth-child(5)').allTextContents();
  return cells.reduce((sum, text) => sum + Number(text), 0);
}

describe('the operators’ console', () => {
  let operator: Page;

  it('shows traffic moving while messages are sent, without a reload', async () => {
    operator = await signIn(OPERATOR_TOKEN);
    await expect(operator.locator('#who').textContent()).resolves.toBe('local-operator (operator)');
    const before = await attemptsShown(operator);
    const firstUpdate = await operator.locator('#updated').textContent();
    for (let i = 0; i < 8; i++) {
      await run.sendOtps(COUNTRIES);
      await new Promise((r) => setTimeout(r, 500));
    }
    // 40 OTPs: the page shows them accepted, then their attempts ending, as its live part refreshes.
    await waitFor('accepted/s above zero on the page', async () => {
      return Number(await operator.locator('#accepted-per-s').textContent()) > 0;
    });
    const after = await waitFor(
      'the sent OTPs’ attempts counted on the page',
      async () => {
        const shown = await attemptsShown(operator);
        return shown >= before + 30 && shown;
      },
      60_000,
    );
    expect(await operator.locator('#updated').textContent()).not.toBe(firstUpdate);
    expect(after).toBeGreaterThanOrEqual(before + 30);
    await operator.screenshot({ path: join(shots, 'console-traffic.png'), fullPage: true });
  }, 120_000);

  it('shows each route’s weight and breaker, and each lane’s lag, from the routers’ and consumers’ metrics', async () => {
    const laneLag = `#lag tr[data-topic="${run.namespace}.sms.dispatch.default"]`;
    await waitFor(
      'the default lane’s lag and the breakers on the routing page',
      async () => {
        await operator.goto(`${console_}/routing`);
        return (
          (await operator.locator(laneLag).count()) > 0 &&
          (await operator.locator('#weights td.breaker.closed').count()) > 0
        );
      },
      60_000,
    );
    // The lane's connectors are one of the groups reading its dispatch topic.
    const groups = await operator.locator(`${laneLag} td:nth-child(2)`).allTextContents();
    expect(groups.some((g) => g.includes('smpp-connector'))).toBe(true);
    // Every route with a weight has its breaker's state.
    const states = await operator.locator('#weights td.breaker').allTextContents();
    expect(states.length).toBe((await operator.locator('#weights tr').count()) - 1);
    expect(states.every((s) => ['closed', 'half-open', 'open'].includes(s))).toBe(true);
    await operator.screenshot({ path: join(shots, 'console-routing.png'), fullPage: true });
  }, 90_000);

  it('traces a message: why it went to its channel, as the carrier saw it', async () => {
    // An OTP the simulator saw arrive, found by its client reference.
    const otp = await waitFor('an OTP at a carrier', () =>
      [...run.otps.values()].find((o) => o.submissions.length === 1 && o.messageId),
    );
    const [arrived] = otp.submissions;
    await waitFor(
      'its trace with the routing decision',
      async () => {
        await operator.goto(`${console_}/trace?q=${encodeURIComponent(otp.ref)}`);
        return (await operator.locator('.why[data-attempt="1"]').count()) > 0;
      },
      60_000,
    );
    await expect(operator.locator('h2').first().textContent()).resolves.toBe(`Message ${otp.messageId}`);
    const why = await operator.locator('.why[data-attempt="1"]').textContent();
    // The channel the console says it chose, and why, is the one the message reached the carrier on.
    expect(why).toMatch(new RegExp(`^${arrived!.channel}: .+; score \\d+\\.\\d{3} \\(delivery`));
    const candidates = await operator
      .locator('table.candidates[data-attempt="1"] tr td:first-child')
      .allTextContents();
    expect(candidates).toContain(arrived!.channel);
    expect(candidates.length).toBeGreaterThan(1);
    const steps = await operator.locator('#timeline tr[data-status] > td:nth-child(2)').allTextContents();
    expect(steps.slice(0, 3)).toEqual(['ACCEPTED', 'ROUTED', 'SUBMITTED']);
    await operator.screenshot({ path: join(shots, 'console-trace.png'), fullPage: true });
  }, 90_000);

  it('replays a dead letter once its cause is fixed, and the message goes through; a viewer cannot', async () => {
    // A producer signs with a key the platform does not know yet: its event is dead-lettered (UNKNOWN_KEY).
    const keyId = 'rotated';
    const secret = randomBytes(32).toString('hex');
    const reference = uniqueName('console-dlq');
    const request = sms.SendMessageRequest.fromPartial({
      to: run.recipientIn('DE', 7),
      from: 'Tern',
      body: 'Your parcel is on its way',
      type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
      clientReference: reference,
    });
    const fields = { tenantId: 'demo', keyId, eventId: reference, sentAt: new Date() };
    await publishValues(topics.sendEvents, [signedSendEvent(fields, request, secret)], run.namespace);

    // DLQs are named as declared: the deployment's namespace is its own business.
    const dlq = topics.sendEvents.dlq;
    const listed = `${console_}/dead-letters?topic=${encodeURIComponent(dlq)}&reason=UNKNOWN_KEY`;
    await waitFor(
      'the dead letter on the page',
      async () => {
        await operator.goto(listed);
        return (await operator.locator('#dead-letters input[type=checkbox]').count()) === 1;
      },
      60_000,
    );
    await expect(operator.locator('#dead-letters td:nth-child(6)').first().textContent()).resolves.toBe(
      `tenant demo has no event key "${keyId}"`,
    );

    // A viewer reads the same list and cannot replay: no form, and a forged post is refused.
    const viewer = await signIn(VIEWER_TOKEN);
    await viewer.goto(listed);
    await expect(viewer.locator('#read-only').count()).resolves.toBe(1);
    await expect(viewer.locator('#dead-letters input[type=checkbox]').count()).resolves.toBe(0);
    const record = await operator.locator('#dead-letters input[type=checkbox]').getAttribute('value');
    const forged = await viewer.evaluate(
      async ([topic, value]) =>
        (
          await fetch('/dead-letters/replay', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ topic, record: value, note: 'not mine to do' }).toString(),
          })
        ).status,
      [dlq, record ?? ''] as const,
    );
    expect(forged).toBe(403);
    await viewer.screenshot({ path: join(shots, 'console-dead-letters-viewer.png'), fullPage: true });

    // The fix: the tenant's new key goes into the tenants file, which ingest reads again while running.
    const keyFile = join(dir, 'rotated-key');
    writeFileSync(keyFile, secret);
    const tenants = parseYaml(readFileSync(tenantsFile, 'utf8')) as {
      tenants: { id: string; eventKeys?: { id: string; secret: { file: string } }[] }[];
    };
    tenants.tenants.find((t) => t.id === 'demo')!.eventKeys!.push({ id: keyId, secret: { file: keyFile } });
    writeFileSync(tenantsFile, stringifyYaml(tenants));
    const ingest = run.instances('ingest')[0]!;
    await waitFor('ingest to read the new key', () =>
      ingest.logs.some((l) => l['msg'] === 'tenants reloaded'),
    );

    await operator.check('#dead-letters input[type=checkbox]');
    await operator.fill('input[name=note]', `tenant demo's key ${keyId} added`);
    await operator.click('button[value=selected]');
    await operator.locator('#replayed').waitFor();
    await expect(operator.locator('#replayed').textContent()).resolves.toBe('Replayed 1 record(s).');
    await expect(operator.locator('#dead-letters input[type=checkbox]').count()).resolves.toBe(0);
    await operator.screenshot({ path: join(shots, 'console-dead-letters-replayed.png'), fullPage: true });

    // Processed: accepted, routed and submitted to a carrier like any message, as its trace shows.
    await waitFor(
      'the replayed message at a carrier',
      async () => {
        await operator.goto(`${console_}/trace?q=${encodeURIComponent(reference)}`);
        return (await operator.locator('#timeline tr[data-status="SUBMITTED"]').count()) > 0;
      },
      90_000,
    );
    await operator.screenshot({ path: join(shots, 'console-replayed-trace.png'), fullPage: true });
    const steps = await operator.locator('#timeline tr[data-status] > td:nth-child(2)').allTextContents();
    expect(steps.slice(0, 3)).toEqual(['ACCEPTED', 'ROUTED', 'SUBMITTED']);
    // The DLQ holds no new record of it: it was processed, not refused again.
    await operator.goto(listed);
    await expect(operator.locator('#dead-letters tr[data-offset]').count()).resolves.toBe(1);
  }, 240_000);
});
