import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** A generated (ts-proto) message codec. */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: Uint8Array): T;
}

/** A writer that grew past this is not kept, so one large message does not hold its buffer for good. */
const KEPT_WRITER_BYTES = 64 * 1024;

// One writer for the process's encodes: it keeps the buffer it grew to, where a new writer per message starts
// empty and grows, copying, two to four times (about a third of the CPU an encode took). Encoding is
// synchronous, so no two encodes use it at once.
let writer = new BinaryWriter();

/** A message's protobuf bytes, in a Buffer of their own. */
export function encodeMessage<T>(codec: MessageCodec<T>, message: T): Buffer {
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(message, writer).finish();
  } catch (e) {
    // A value the codec refused mid-way leaves its bytes (and open forks) in the writer.
    writer = new BinaryWriter();
    throw e;
  }
  if (bytes.byteLength > KEPT_WRITER_BYTES) writer = new BinaryWriter();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
