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

export type TextEncoding = 'GSM7' | 'UCS2';

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
} as const;

/** How many SMS the text needs in its natural encoding (GSM 7-bit when possible). */
export function segmentCount(text: string, encoding: TextEncoding = chooseEncoding(text)): number {
  const units = encoding === 'GSM7' ? gsm7Length(text) : encodeUcs2(text).length / 2;
  const limits = SEGMENT_LIMITS[encoding];
  if (units <= limits.single) return 1;
  return Math.ceil(units / limits.part);
}
