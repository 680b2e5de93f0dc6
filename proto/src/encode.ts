import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** A generated (ts-proto) message codec. */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: Uint8Array): T;
}

/** A writer that grew past this is not kept, so one large message does not hold its buffer for good. */
const KEPT_WRITER_BYTES = 64 * 1024;

/**
 * What @bufbuild/protobuf's writer keeps (2.17: one growing buffer, the write position, the open forks'
 * positions), private to it: `finish()` would copy the bytes into an ArrayBuffer of their own, about half of
 * a small message's encode (and one more ArrayBuffer per record for the young generation to sweep), where a
 * copy into Node's pool (`Buffer.allocUnsafe`) costs little.
 */
interface WriterState {
  buffer: Uint8Array;
  pos: number;
  stackPos: number[];
}

const fresh = new BinaryWriter() as unknown as Partial<WriterState>;
/**
 * Whether the writer keeps its state as above, so that encodeMessage copies from its buffer into Node's pool;
 * a later version that keeps it otherwise is encoded through `finish()`.
 */
export const ENCODES_INTO_POOL =
  fresh.buffer instanceof Uint8Array && typeof fresh.pos === 'number' && Array.isArray(fresh.stackPos);

// One writer for the process's encodes: it keeps the buffer it grew to, where a new writer per message starts
// empty and grows, copying, two to four times (about a third of the CPU an encode took). Encoding is
// synchronous, so no two encodes use it at once.
let writer = new BinaryWriter();

/** A message's protobuf bytes, in a Buffer of their own (a small one in Node's pool, as Buffer.from's). */
export function encodeMessage<T>(codec: MessageCodec<T>, message: T): Buffer {
  let bytes: Buffer;
  try {
    codec.encode(message, writer);
    if (ENCODES_INTO_POOL) {
      // Every fork of a whole message is joined: only the position is left to reset.
      const state = writer as unknown as WriterState;
      bytes = Buffer.allocUnsafe(state.pos);
      bytes.set(state.buffer.subarray(0, state.pos));
      state.pos = 0;
    } else {
      const finished = writer.finish();
      bytes = Buffer.from(finished.buffer, finished.byteOffset, finished.byteLength);
    }
  } catch (e) {
    // A value the codec refused mid-way leaves its bytes (and open forks) in the writer.
    writer = new BinaryWriter();
    throw e;
  }
  if (bytes.byteLength > KEPT_WRITER_BYTES) writer = new BinaryWriter();
  return bytes;
}
