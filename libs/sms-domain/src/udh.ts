/** User Data Header (3GPP TS 23.040 section 9.2.3.24): what concatenated messages carry in front of the text. */
export interface Concatenation {
  reference: number;
  total: number;
  sequence: number;
}

export interface UserDataHeader {
  /** Octets taken by the header, its length octet included. */
  length: number;
  elements: { id: number; data: Buffer }[];
  concatenation?: Concatenation;
}

export class UdhError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UdhError';
  }
}

/** Reads the UDH at the start of a short_message whose esm_class has the UDHI bit. */
export function parseUdh(message: Uint8Array): UserDataHeader {
  const udhl = message[0];
  if (udhl === undefined || udhl + 1 > message.length) throw new UdhError('UDH length runs past the message');
  const elements: { id: number; data: Buffer }[] = [];
  let offset = 1;
  while (offset < udhl + 1) {
    const id = message[offset];
    const len = message[offset + 1];
    if (id === undefined || len === undefined || offset + 2 + len > udhl + 1)
      throw new UdhError('UDH element runs past the header');
    elements.push({ id, data: Buffer.from(message.subarray(offset + 2, offset + 2 + len)) });
    offset += 2 + len;
  }
  const header: UserDataHeader = { length: udhl + 1, elements };
  for (const e of elements) {
    // IE 0x00: concatenation with an 8-bit reference; IE 0x08: with a 16-bit reference.
    if (e.id === 0x00 && e.data.length === 3) {
      header.concatenation = { reference: e.data[0] ?? 0, total: e.data[1] ?? 0, sequence: e.data[2] ?? 0 };
    } else if (e.id === 0x08 && e.data.length === 4) {
      header.concatenation = {
        reference: e.data.readUInt16BE(0),
        total: e.data[2] ?? 0,
        sequence: e.data[3] ?? 0,
      };
    }
  }
  const c = header.concatenation;
  if (c && (c.total === 0 || c.sequence === 0 || c.sequence > c.total)) {
    throw new UdhError(`concatenation part ${c.sequence} of ${c.total} is impossible`);
  }
  return header;
}

/** The 6-octet UDH of part `sequence` of `total` with an 8-bit reference. */
export function concatenationUdh(reference: number, total: number, sequence: number): Buffer {
  return Buffer.from([0x05, 0x00, 0x03, reference & 0xff, total, sequence]);
}
