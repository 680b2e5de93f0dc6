import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { SIGNED_EVENTS, SignedEventKind } from '@tern/contracts';

type SignedMember = (typeof SIGNED_EVENTS)[SignedEventKind]['member'];

/** The signed field's number, the same in SendEvent (`message`) and ConversionEvent (`conversion`). */
const SIGNED_FIELD = 4;

/**
 * The exact bytes of a protobuf event's signed field (SendEvent's `message`, ConversionEvent's
 * `conversion`), as the producer wrote them: re-encoding the decoded value could order or drop fields
 * differently and break an honest signature.
 */
export function signedBytesOfProtobuf(value: Uint8Array): Uint8Array | undefined {
  const reader = new BinaryReader(value);
  let found: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === SIGNED_FIELD && wireType === WireType.LengthDelimited) found = reader.bytes();
    else reader.skip(wireType, fieldNo);
  }
  return found;
}

/**
 * The exact text of a JSON event's top-level signed member (`message`, or `conversion`), as the producer
 * wrote it. The value is already known to be valid JSON (it was parsed); this only finds where the member's
 * value starts and ends.
 */
export function signedTextOfJson(text: string, member: SignedMember = 'message'): string | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== '{') return undefined;
  i = skipSpace(text, i + 1);
  let found: string | undefined;
  while (i < text.length && text[i] !== '}') {
    const keyEnd = endOfString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    i = skipSpace(text, i + 1); // ':'
    const valueEnd = endOfValue(text, i);
    if (key === member) found = text.slice(i, valueEnd);
    i = skipSpace(text, valueEnd);
    if (text[i] === ',') i = skipSpace(text, i + 1);
  }
  return found;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && ' \t\n\r'.includes(text[i] ?? '')) i++;
  return i;
}

/** `i` at an opening quote; returns the index after the closing one. */
function endOfString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  return text.length;
}

function endOfValue(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return endOfString(text, i);
  if (first !== '{' && first !== '[') {
    let j = i;
    while (j < text.length && !',}] \t\n\r'.includes(text[j] ?? '')) j++;
    return j;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const ch = text[j];
    if (ch === '"') j = endOfString(text, j) - 1;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return text.length;
}
