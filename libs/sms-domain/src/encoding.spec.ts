import {
  chooseEncoding,
  decodeGsm7,
  decodeUcs2,
  encodeGsm7,
  encodeUcs2,
  EncodingError,
  gsm7Length,
  isGsm7,
  segmentCount,
  splitText,
  packSeptets,
  unpackSeptets,
  isLatin1,
  encodeText,
} from './encoding';
import { concatenationUdh, parseUdh, UdhError } from './udh';
import { formatReceiptText, parseReceiptText } from './receipt';

describe('GSM 03.38', () => {
  it('maps the basic table and the extension table (ESC + code)', () => {
    expect([...encodeGsm7('@£$Ä€{')]).toEqual([0x00, 0x01, 0x02, 0x5b, 0x1b, 0x65, 0x1b, 0x28]);
    expect(decodeGsm7(Buffer.from([0x48, 0x69, 0x1b, 0x3d, 0x00]))).toBe('Hi~@');
    const all = 'Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà^{}\\[~]|€';
    expect(decodeGsm7(encodeGsm7(all))).toBe(all);
  });

  it('counts extension characters as two septets', () => {
    expect(gsm7Length('a€b')).toBe(4);
  });

  it('refuses what it cannot represent or read', () => {
    expect(isGsm7('Привет')).toBe(false);
    expect(() => encodeGsm7('ç')).toThrow(/no GSM 03.38 code/); // lowercase ç is not in the table, Ç is
    expect(() => decodeGsm7(Buffer.from([0x41, 0x80]))).toThrow(EncodingError);
  });
});

describe('UCS-2 and segments', () => {
  it('round-trips UCS-2 big-endian', () => {
    expect([...encodeUcs2('Aé')]).toEqual([0x00, 0x41, 0x00, 0xe9]);
    expect(decodeUcs2(encodeUcs2('مرحبا 你好'))).toBe('مرحبا 你好');
    expect(() => decodeUcs2(Buffer.from([0x00]))).toThrow(/odd/);
  });

  it.each([
    ['a'.repeat(160), 'GSM7', 1],
    ['a'.repeat(161), 'GSM7', 2],
    ['a'.repeat(306), 'GSM7', 2],
    ['a'.repeat(307), 'GSM7', 3],
    ['€'.repeat(80), 'GSM7', 1],
    ['€'.repeat(81), 'GSM7', 2],
    ['你'.repeat(70), 'UCS2', 1],
    ['你'.repeat(71), 'UCS2', 2],
    ['你'.repeat(134), 'UCS2', 2],
  ])('%#: %s.length chars need %s x %i', (text, encoding, segments) => {
    expect(chooseEncoding(text)).toBe(encoding);
    expect(segmentCount(text)).toBe(segments);
  });
});

describe('packed GSM 7-bit and Latin-1', () => {
  it('packs the 3GPP example and unpacks it back', () => {
    expect(packSeptets(encodeGsm7('hellohello')).toString('hex').toUpperCase()).toBe('E8329BFD4697D9EC37');
    expect(decodeGsm7(unpackSeptets(packSeptets(encodeGsm7('hellohello')), 10))).toBe('hellohello');
    // After a 6-octet UDH, one fill bit puts the text on a septet boundary.
    const packed = packSeptets(encodeGsm7('abc'), 1);
    expect(decodeGsm7(unpackSeptets(packed, 3, 1))).toBe('abc');
  });

  it('splits Latin-1 text at 140 and 134 octets', () => {
    expect(isLatin1('Grüße, ça va? ¿Qué?')).toBe(true);
    expect(isLatin1('€')).toBe(false);
    expect(splitText('ç'.repeat(140), 'LATIN1')).toHaveLength(1);
    expect(splitText('ç'.repeat(141), 'LATIN1').map((p) => p.length)).toEqual([134, 7]);
    expect(encodeText('ç', 'LATIN1')).toEqual(Buffer.from([0xe7]));
  });
});

describe('splitText', () => {
  it('never splits an escape sequence: a € that would straddle parts moves to the next one', () => {
    const text = `${'a'.repeat(152)}€${'b'.repeat(10)}`; // 152 + 2 + 10 = 164 septets: two parts
    const parts = splitText(text);
    expect(parts).toEqual(['a'.repeat(152), `€${'b'.repeat(10)}`]);
    expect(parts.every((p) => gsm7Length(p) <= 153)).toBe(true);
    expect(parts.join('')).toBe(text);
  });

  it('never splits a surrogate pair: an emoji that would straddle parts moves to the next one', () => {
    const text = `${'你'.repeat(66)}😀${'好'.repeat(10)}`; // 66 + 2 + 10 = 78 units: two parts
    const parts = splitText(text);
    expect(parts[0]).toBe('你'.repeat(66));
    expect(parts[1]?.startsWith('😀')).toBe(true);
    expect(parts.join('')).toBe(text);
  });

  it('counts emoji as two UCS-2 units and forces UCS-2', () => {
    expect(chooseEncoding('Code 123 😀')).toBe('UCS2');
    expect(segmentCount('😀'.repeat(35))).toBe(1); // 70 units
    expect(segmentCount('😀'.repeat(36))).toBe(2); // 72 units
    expect(splitText('😀'.repeat(36)).map((p) => [...p].length)).toEqual([33, 3]); // 66 units, then 6
  });

  it('leaves room for a 7-octet UDH (16-bit reference)', () => {
    expect(splitText('a'.repeat(306), 'GSM7', 7).map((p) => p.length)).toEqual([152, 152, 2]);
    expect(splitText('你'.repeat(134), 'UCS2', 7).map((p) => p.length)).toEqual([66, 66, 2]);
  });

  it('keeps a text that fits one message whole', () => {
    expect(splitText('a'.repeat(160))).toEqual(['a'.repeat(160)]);
    expect(splitText('{'.repeat(80))).toEqual(['{'.repeat(80)]);
  });
});

describe('UDH', () => {
  it('reads 8-bit and 16-bit concatenation headers', () => {
    expect(
      parseUdh(Buffer.concat([concatenationUdh(0x2a, 3, 2), Buffer.from('text')])).concatenation,
    ).toEqual({ reference: 0x2a, total: 3, sequence: 2 });
    expect(parseUdh(Buffer.from([0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01])).concatenation).toEqual({
      reference: 0x1234,
      total: 2,
      sequence: 1,
    });
  });

  it('refuses headers that run past the message or name an impossible part', () => {
    expect(() => parseUdh(Buffer.from([0x05, 0x00, 0x03]))).toThrow(UdhError);
    expect(() => parseUdh(Buffer.from([0x05, 0x00, 0x03, 0x01, 0x02, 0x03]))).toThrow(/part 3 of 2/);
  });
});

describe('receipt text', () => {
  it('formats the Appendix B text and parses it back', () => {
    const receipt = {
      id: '1F2E3D',
      submitted: 1,
      delivered: 1,
      submitDate: new Date('2026-11-25T12:00:00Z'),
      doneDate: new Date('2026-11-25T12:01:00Z'),
      stat: 'DELIVRD' as const,
      err: '000',
      text: 'Your code is 123456 please',
    };
    const text = formatReceiptText(receipt);
    expect(text).toBe(
      'id:1F2E3D sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Your code is 123456 ',
    );
    expect(parseReceiptText(text)).toEqual({ ...receipt, text: 'Your code is 123456 ' });
  });

  it('reads variants real SMSCs send and refuses what is not a receipt', () => {
    const r = parseReceiptText(
      'id:12345 sub:001 dlvrd:000 submit_date:261125120000 done_date:261125120530 stat:undeliv err:011',
    );
    expect(r).toMatchObject({ id: '12345', stat: 'UNDELIV', err: '011', text: '' });
    expect(r?.doneDate.toISOString()).toBe('2026-11-25T12:05:30.000Z');
    expect(parseReceiptText('hello there')).toBeUndefined();
    expect(
      parseReceiptText('id:1 sub:1 dlvrd:1 submit date:2611251200 done date:2611251201 stat:WHATEVER err:0'),
    ).toBeUndefined();
  });
});
