import { HEADER_LENGTH } from './pdu';

/** The stream cannot be cut into PDUs any more (a length below 16 or above the limit): close the session. */
export class FramingError extends Error {
  constructor(
    readonly commandLength: number,
    readonly maxLength: number,
  ) {
    super(`command_length ${commandLength} is outside 16..${maxLength}`);
    this.name = 'FramingError';
  }
}

/**
 * Cuts a TCP byte stream into whole PDUs by command_length. Keeps at most one PDU's worth of bytes, so a
 * peer cannot make us buffer without bound.
 */
export class PduFramer {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxLength = 65_536) {}

  /** Adds bytes and returns every PDU now complete; throws FramingError on an impossible length. */
  push(chunk: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: Buffer[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length < HEADER_LENGTH || length > this.maxLength) throw new FramingError(length, this.maxLength);
      if (this.buffer.length < length) break;
      out.push(this.buffer.subarray(0, length));
      this.buffer = this.buffer.subarray(length);
    }
    return out;
  }
}
