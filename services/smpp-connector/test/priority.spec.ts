import { CarrierSimulator, parseScenario } from '@tern/carrier-sim';
import { events, sms } from '@tern/contracts';
import { createLogger } from '@tern/telemetry';
import { waitFor } from '@tern/testing';
import { ChannelBinds } from '../src/channel-binds';
import { channelSchema } from '../src/domain/channel';
import { buildSubmits } from '../src/domain/submit-builder';

// The bind pool against a real SMSC that takes 20 submissions a second: 60 marketing messages are waiting
// when 5 OTPs arrive; the OTPs must not queue behind them.
describe('bind pool priority', () => {
  const sim = new CarrierSimulator({
    scenario: parseScenario(`
name: priority-test
countries:
  - { code: SG, dialCode: '65', carriers: [{ id: sg-a, name: A, mccMnc: '52501', prefixes: ['6590'] }] }
channels:
  - { id: slow, tier: direct, port: 0, systemId: slow, password: pw, tps: 20, pricePerSegment: 0.01, countries: [SG],
      default: { deliveryRate: 1, latency: { p50: 1s, p95: 2s } } }
`),
    timeScale: 1,
  });
  let binds: ChannelBinds;

  beforeAll(async () => {
    await sim.start();
    const config = channelSchema.parse({
      id: 'slow',
      host: '127.0.0.1',
      port: sim.ports()['slow'],
      systemId: 'slow',
      password: { env: 'X' },
      tpsPerBind: 100,
      window: 10,
    });
    binds = new ChannelBinds(
      config,
      'pw',
      createLogger({ service: 'priority-test', level: 'error' }),
      () => undefined,
    );
    binds.start();
    await waitFor('the bind', () => binds.state().canSubmit === 1);
  });
  afterAll(async () => {
    await binds.stop();
    await sim.stop();
  });

  it('submits OTPs ahead of a marketing backlog', async () => {
    const config = channelSchema.parse({
      id: 'slow',
      host: 'x',
      port: 1,
      systemId: 's',
      password: { env: 'X' },
      tpsPerBind: 1,
    });
    const part = (i: number, type: sms.MessageType) =>
      buildSubmits(
        events.SmsMessage.fromPartial({
          to: `+6590${String(i).padStart(7, '0')}`,
          from: 'TernTest',
          body: `m${i}`,
          type,
        }),
        config,
        i,
      )[0]!;
    const done: string[] = [];
    const bulk = Array.from({ length: 60 }, (_, i) =>
      binds
        .submit(part(i, sms.MessageType.MESSAGE_TYPE_MARKETING), { busyMs: 60_000, downMs: 60_000 }, false)
        .then(() => done.push(`bulk-${i}`)),
    );
    await new Promise((r) => setTimeout(r, 300)); // the backlog is throttled and waiting
    const doneWhenOtpsArrive = done.length;
    const otp = Array.from({ length: 5 }, (_, i) =>
      binds
        .submit(part(100 + i, sms.MessageType.MESSAGE_TYPE_OTP), { busyMs: 60_000, downMs: 60_000 }, true)
        .then(() => done.push(`otp-${i}`)),
    );
    await Promise.all([...bulk, ...otp]);
    const otpAt = done.map((d, i) => (d.startsWith('otp') ? i : -1)).filter((i) => i >= 0);
    // Marketing that finished after the OTPs arrived and before the last OTP: only what was already out.
    const overtaking = done
      .slice(doneWhenOtpsArrive, Math.max(...otpAt))
      .filter((d) => d.startsWith('bulk')).length;
    process.stdout.write(
      `priority: ${doneWhenOtpsArrive} marketing done when the OTPs arrived; OTPs finished at positions ${otpAt.join(', ')} of ${done.length}; ${overtaking} marketing finished in between\n`,
    );
    expect(overtaking).toBeLessThanOrEqual(10); // at most one window of submissions already sent
    expect(60 - doneWhenOtpsArrive).toBeGreaterThan(20); // and there was a real backlog to jump
    expect(sim.truth.channel('slow').partsAccepted).toBe(65);
  });
});
