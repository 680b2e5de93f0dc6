// Demo traffic through a running Tern, as a customer's backend sends it: OTPs, notifications and a
// campaign to the countries of the simulated carrier world, over the public gRPC API with an API key, then
// each message read back. Prints one line per status and a summary.
//   pnpm --filter @tern/traffic send --target 127.0.0.1:50051 --api-key tern-local-demo-key --messages 30
//   (--ca FILE: over TLS, trusting the CA in FILE, as with `./tern up --tls`: --ca .local/tls/ca.crt)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_ROOT, SMS_PROTO_PATH } from '@tern/contracts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: '127.0.0.1:50051' },
    'api-key': { type: 'string', default: 'tern-local-demo-key' },
    messages: { type: 'string', default: '30' },
    ca: { type: 'string' },
  },
});

interface Response {
  results: {
    index: number;
    accepted?: { messageId: string; country: string; segments: number };
    error?: { code: string; message: string };
  }[];
}

// Numbers in the ranges of the `tiers` scenario's carriers (SG, ID, BR, DE, AE).
const recipients = ['+6590123456', '+6281234567890', '+5511912345678', '+4915112345678', '+971501234567'];
const kinds = [
  {
    type: 'MESSAGE_TYPE_OTP',
    from: 'Tern',
    body: (i: number) => `Your Tern code is ${String(100000 + i).slice(-6)}`,
  },
  {
    type: 'MESSAGE_TYPE_TRANSACTIONAL',
    from: 'TernShop',
    body: (i: number) => `Your order ${1000 + i} has shipped and arrives tomorrow.`,
  },
  {
    type: 'MESSAGE_TYPE_MARKETING',
    from: 'TernShop',
    body: (i: number) => `Weekend sale (code W${i}): 20% off everything. Reply STOP to opt out.`,
  },
];

async function main(): Promise<void> {
  const definition = protoLoader.loadSync(SMS_PROTO_PATH, {
    includeDirs: [PROTO_ROOT],
    enums: String,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    tern: { sms: { v1: { SmsService: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.tern.sms.v1.SmsService(
    values.target,
    values.ca ? grpc.credentials.createSsl(readFileSync(values.ca)) : grpc.credentials.createInsecure(),
  ) as unknown as Record<
    string,
    (req: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void
  >;
  const metadata = new grpc.Metadata();
  metadata.set('x-api-key', values['api-key']);
  const call = <T>(method: string, request: unknown) =>
    new Promise<T>((resolve, reject) =>
      client[method]!(request, metadata, (e, r) => (e ? reject(e) : resolve(r as T))),
    );

  const count = Number(values.messages);
  const run = Date.now().toString(36);
  const messages = Array.from({ length: count }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    return {
      to: recipients[i % recipients.length],
      from: kind.from,
      body: kind.body(i),
      type: kind.type,
      clientReference: `demo-${run}-${i}`,
    };
  });
  const batch = await call<Response>('sendBatch', { messages });
  const accepted = batch.results.flatMap((r) => (r.accepted ? [r.accepted] : []));
  for (const r of batch.results)
    if (r.error) process.stdout.write(`refused #${r.index}: ${r.error.code} ${r.error.message}\n`);
  process.stdout.write(`sent ${count} messages, ${accepted.length} accepted\n`);
  // Long enough for the simulated direct routes (1-5 s) to deliver and report back.
  await new Promise((resolve) => setTimeout(resolve, 6000));
  const statuses = new Map<string, number>();
  for (const a of accepted) {
    const message = await call<{ status: string }>('getMessage', { messageId: a.messageId });
    statuses.set(message.status, (statuses.get(message.status) ?? 0) + 1);
  }
  process.stdout.write(`statuses after 6 s: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
  (client as unknown as grpc.Client).close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
