/**
 * How long encodeMessage takes for records every message is written as, against a writer's own finish() (a
 * copy into an ArrayBuffer of its own, as encodeMessage took before it copied into Node's pool).
 * Usage: pnpm --filter @tern/contracts bench [--encodes N]
 */
import { parseArgs } from 'node:util';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { encodeMessage, events, sms, type MessageCodec } from '../src';

const { values } = parseArgs({ options: { encodes: { type: 'string', default: '1000000' } } });
const encodes = Number(values.encodes);
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const writer = new BinaryWriter();
const finish = <T>(codec: MessageCodec<T>, value: T): Buffer => {
  const bytes = codec.encode(value, writer).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

function measure<T>(name: string, codec: MessageCodec<T>, value: T): void {
  const ways = [
    ['finish', finish],
    ['encodeMessage', encodeMessage],
  ] as const;
  // Twice each, alternated: the first rounds also warm the code up.
  for (const [way, encode] of [...ways, ...ways]) {
    const kept: Buffer[] = [];
    const started = process.hrtime.bigint();
    for (let i = 0; i < encodes; i++) {
      const bytes = encode(codec, value);
      // Some results live on, as records waiting for their produce request do.
      if (i % 100 === 0) kept.push(bytes);
    }
    const ns = Number(process.hrtime.bigint() - started);
    print({ message: name, way, bytes: kept[0]!.length, usPerEncode: +(ns / 1000 / encodes).toFixed(3) });
  }
}

const message = events.SmsMessage.fromPartial({
  messageId: '0b6c1f3e-3f7a-4c1e-9d2a-000000000001',
  tenantId: 'bench',
  to: '+6591234567',
  body: 'Your order 12345 has shipped and will arrive on Tuesday.',
  segments: 1,
});
measure(
  'StatusEvent',
  sms.StatusEvent,
  sms.StatusEvent.fromPartial({
    messageId: message.messageId,
    tenantId: 'bench',
    status: sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
    attempt: 1,
    channelId: 'bench-direct',
    occurredAt: new Date(),
    deliveryLatencyMs: 2000,
    smscMessageIds: ['abcdef123456'],
    mccMnc: '52501',
  }),
);
measure(
  'DispatchRequest',
  events.DispatchRequest,
  events.DispatchRequest.fromPartial({ message, attempt: 1, channelId: 'bench-direct' }),
);
