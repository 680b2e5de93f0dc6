import type { TlvValue } from './pdu';

/** Helpers for the TLVs Tern reads and writes. */
export const tlv = {
  cstring: (tag: number, value: string): TlvValue => ({ tag, value: Buffer.from(`${value}\0`, 'latin1') }),
  u8: (tag: number, value: number): TlvValue => ({ tag, value: Buffer.from([value & 0xff]) }),
  u16: (tag: number, value: number): TlvValue => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    return { tag, value: b };
  },
  bytes: (tag: number, value: Buffer): TlvValue => ({ tag, value }),
};

export function findTlv(tlvs: readonly TlvValue[], tag: number): Buffer | undefined {
  return tlvs.find((t) => t.tag === tag)?.value;
}

export function readTlvString(tlvs: readonly TlvValue[], tag: number): string | undefined {
  const value = findTlv(tlvs, tag);
  if (!value) return undefined;
  const end = value.indexOf(0);
  return value.toString('latin1', 0, end < 0 ? value.length : end);
}

export function readTlvInt(tlvs: readonly TlvValue[], tag: number): number | undefined {
  const value = findTlv(tlvs, tag);
  if (!value || value.length === 0) return undefined;
  return value.readUIntBE(0, Math.min(value.length, 6));
}
