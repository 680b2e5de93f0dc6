/**
 * GSM 03.38 default alphabet and extension table (3GPP TS 23.038 section 6.2.1), UCS-2, and segmentation.
 * SMPP carries GSM text unpacked: one septet per octet, extension characters as ESC (0x1B) + code.
 */
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const EXTENSION: Record<number, string> = {
  0x0a: '\f',
  0x14: '^',
  0x28: '{',
  0x29: '}',
  0x2f: '\\',
  0x3c: '[',
  0x3d: '~',
  0x3e: ']',
  0x40: '|',
  0x65: '€',
};
const ESC = 0x1b;

const basicCode = new Map<string, number>([...BASIC].map((ch, i) => [ch, i]));
basicCode.delete('\u001b');
const extensionCode = new Map<string, number>(
  Object.entries(EXTENSION).map(([code, ch]) => [ch, Number(code)]),
);

export type TextEncoding = 'GSM7' | 'UCS2' | 'LATIN1';

/** True when every character has a GSM 03.38 code (basic or extension). */
export function isGsm7(text: string): boolean {
  for (const ch of text) if (!basicCode.has(ch) && !extensionCode.has(ch)) return false;
  return true;
}

/** Septets the text takes in GSM 7-bit (extension characters count two). */
export function gsm7Length(text: string): number {
  let n = 0;
  for (const ch of text) n += extensionCode.has(ch) ? 2 : 1;
  return n;
}

/** Unpacked GSM 7-bit octets, as SMPP's short_message carries them with data_coding 0. */
export function encodeGsm7(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const basic = basicCode.get(ch);
    if (basic !== undefined) out.push(basic);
    else {
      const ext = extensionCode.get(ch);
      if (ext === undefined)
        throw new Error(`character U+${ch.codePointAt(0)?.toString(16)} has no GSM 03.38 code`);
      out.push(ESC, ext);
    }
  }
  return Buffer.from(out);
}

export class EncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodingError';
  }
}

export function decodeGsm7(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b > 0x7f) throw new EncodingError(`octet 0x${b.toString(16)} at ${i} is not a GSM 7-bit septet`);
    if (b === ESC) {
      const next = bytes[++i];
      const ch = next === undefined ? undefined : EXTENSION[next];
      // An unknown extension code is shown as a space, as 23.038 asks of receivers.
      text += ch ?? ' ';
    } else {
      text += BASIC[b];
    }
  }
  return text;
}

/** UCS-2 / UTF-16 big-endian, as data_coding 8 carries it. */
export function encodeUcs2(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

export function decodeUcs2(bytes: Uint8Array): string {
  if (bytes.length % 2 !== 0) throw new EncodingError('UCS-2 text has an odd number of octets');
  return Buffer.from(bytes).swap16().toString('utf16le');
}

export function chooseEncoding(text: string): TextEncoding {
  return isGsm7(text) ? 'GSM7' : 'UCS2';
}

/** Characters per message: whole, and per part when concatenated (a 6-octet UDH takes the difference). */
export const SEGMENT_LIMITS = {
  GSM7: { single: 160, part: 153 },
  UCS2: { single: 70, part: 67 },
  LATIN1: { single: 140, part: 134 },
} as const;

/** True when every character fits ISO 8859-1 (one octet each): data_coding 3, where a channel supports it. */
export function isLatin1(text: string): boolean {
  for (const ch of text) if ((ch.codePointAt(0) ?? 0x100) > 0xff) return false;
  return true;
}

/** Units a character takes: septets in GSM 7-bit (2 for extension characters), UTF-16 code units in UCS-2. */
function unitsOf(ch: string, encoding: TextEncoding): number {
  if (encoding === 'GSM7') return extensionCode.has(ch) ? 2 : 1;
  if (encoding === 'LATIN1') return 1;
  return ch.length; // 2 for a character outside the BMP (a surrogate pair), such as most emoji
}

/**
 * Splits a text into the parts of a concatenated SMS: one part when it fits a single message, otherwise
 * parts of at most 153 septets (GSM 7-bit) or 67 UTF-16 units (UCS-2) with a 6-octet UDH, 152 or 66 with a
 * 7-octet one. Splits between characters only, so
 * an escape sequence (ESC + code) or a surrogate pair never straddles two parts.
 */
export function splitText(
  text: string,
  encoding: TextEncoding = chooseEncoding(text),
  udhOctets = 6,
): string[] {
  const limits = { single: SEGMENT_LIMITS[encoding].single, part: partLimit(encoding, udhOctets) };
  const chars = [...text];
  const total = chars.reduce((n, ch) => n + unitsOf(ch, encoding), 0);
  if (total <= limits.single) return [text];
  const parts: string[] = [];
  let current = '';
  let used = 0;
  for (const ch of chars) {
    const units = unitsOf(ch, encoding);
    if (used + units > limits.part) {
      parts.push(current);
      current = '';
      used = 0;
    }
    current += ch;
    used += units;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/** Units left for text in a part whose UDH takes `udhOctets` (6 for an 8-bit reference, 7 for 16-bit). */
function partLimit(encoding: TextEncoding, udhOctets: number): number {
  switch (encoding) {
    case 'GSM7':
      return 160 - Math.ceil((udhOctets * 8) / 7);
    case 'UCS2':
      return Math.floor((140 - udhOctets) / 2);
    case 'LATIN1':
      return 140 - udhOctets;
  }
}

/** How many SMS the text needs in its natural encoding (GSM 7-bit when possible). */
export function segmentCount(text: string, encoding: TextEncoding = chooseEncoding(text)): number {
  return splitText(text, encoding).length;
}

/** The text's octets as SMPP carries them: unpacked GSM 7-bit septets, UCS-2 big-endian, or Latin-1. */
export function encodeText(text: string, encoding: TextEncoding): Buffer {
  switch (encoding) {
    case 'GSM7':
      return encodeGsm7(text);
    case 'UCS2':
      return encodeUcs2(text);
    case 'LATIN1':
      return Buffer.from(text, 'latin1');
  }
}

/**
 * Packs septets 8 into 7 octets (3GPP TS 23.038 section 6.1.2.1), for SMSCs that want packed GSM text.
 * `fillBits` pads the start so that text after a UDH begins on a septet boundary.
 */
export function packSeptets(septets: Uint8Array, fillBits = 0): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = fillBits;
  for (const s of septets) {
    acc |= (s & 0x7f) << bits;
    bits += 7;
    while (bits >= 8) {
      out.push(acc & 0xff);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out.push(acc & 0xff);
  return Buffer.from(out);
}

export function unpackSeptets(octets: Uint8Array, count: number, fillBits = 0): Buffer {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const bit = fillBits + i * 7;
    const byte = bit >> 3;
    const shift = bit & 7;
    const word = (octets[byte] ?? 0) | ((octets[byte + 1] ?? 0) << 8);
    out.push((word >> shift) & 0x7f);
  }
  return Buffer.from(out);
}
