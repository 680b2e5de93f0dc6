// How many submit_sm per second one simulator process sustains, receipts included.
//   pnpm --filter @tern/carrier-sim bench --submissions 100000 --binds 4 --window 100
// Starts the simulator (built CLI) as its own process at time scale 100, binds transceivers, keeps `window`
// submissions in flight per bind, and answers every receipt. Prints one JSON line of figures.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Status, type SmppSession } from '@tern/smpp';
import { bind, collectReceipts, connect, sms } from '../test/smpp-client';

const { values } = parseArgs({
  options: {
    submissions: { type: 'string', default: '100000' },
    binds: { type: 'string', default: '4' },
    window: { type: 'string', default: '100' },
  },
});
const total = Number(values.submissions);
const binds = Number(values.binds);
const window = Number(values.window);

async function main(): Promise<void> {
  const sim = spawn(
    process.execPath,
    [
      join(__dirname, '..', 'dist', 'cli.js'),
      '--scenario',
      join(__dirname, 'bench-scenario.yaml'),
      '--time-scale',
      '100',
      '--http-port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => sim.stdout.once('data', () => resolve()));
  const sessions: SmppSession[] = [];
  const receipts = [];
  for (let i = 0; i < binds; i++) {
    const s = await connect(12899);
    receipts.push(collectReceipts(s));
    if ((await bind(s, 'transceiver', 'bench', 'bench')) !== Status.ESME_ROK) throw new Error('bind refused');
    sessions.push(s);
  }
  const started = process.hrtime.bigint();
  let next = 0;
  let refused = 0;
  await Promise.all(
    sessions.flatMap((s) =>
      Array.from({ length: window }, async () => {
        while (next < total) {
          next++;
          const r = await s.request('submit_sm', sms({ shortMessage: Buffer.from(`Code ${next}`) }));
          if (r.status !== Status.ESME_ROK) refused++;
        }
      }),
    ),
  );
  const submitSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const expected = total - refused; // registered_delivery 1 and no receipt loss in the bench scenario
  const waitStart = Date.now();
  while (receipts.reduce((n, r) => n + r.length, 0) < expected && Date.now() - waitStart < 60_000) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const allSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const received = receipts.reduce((n, r) => n + r.length, 0);
  process.stdout.write(
    `${JSON.stringify({
      submissions: total,
      binds,
      window,
      refused,
      submitSeconds: +submitSeconds.toFixed(2),
      submitsPerSecond: Math.round(total / submitSeconds),
      receiptsReceived: received,
      secondsUntilLastReceipt: +allSeconds.toFixed(2),
    })}\n`,
  );
  await Promise.all(sessions.map((s) => s.unbind()));
  sim.kill('SIGTERM');
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
