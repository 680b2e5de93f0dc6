// Tern's patch of kafkajs' record encoding, decoding and partitioning (patches/kafkajs@2.2.4.patch): the same
// bytes and partitions as the Kafka protocol and the Java client, without upstream's per-record allocations.
// Every integration test then writes and reads these records through a real broker, which checks each batch.
import { createRequire } from 'node:module';

type Headers = Record<string, string | Buffer | (string | Buffer)[]>;
interface DecodedRecord {
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}
interface Decoder {
  readVarIntBytes(): Buffer;
}

const load = createRequire(require.resolve('kafkajs'));
const murmur2 = load('./src/producer/partitioners/default/murmur2') as (key: string | Buffer) => number;
const encodeRecord = load('./src/protocol/recordBatch/record/v0') as (record: {
  offsetDelta?: number;
  timestampDelta?: number;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Headers;
}) => { buffer: Buffer };
const decodeRecord = load('./src/protocol/recordBatch/record/v0/decoder') as (
  decoder: Decoder,
  batch: { firstOffset: string; firstTimestamp: string; timestampType?: number; maxTimestamp?: string },
) => DecodedRecord;
const crc32C = load('./src/protocol/recordBatch/crc32C/crc32C') as (buffer: Buffer) => number;
const { RecordBatch } = load('./src/protocol/recordBatch/v0') as {
  RecordBatch: (batch: {
    records: { buf: Buffer; offset: number }[];
    firstOffset?: number;
    firstTimestamp: number;
    maxTimestamp: number;
    lastOffsetDelta: number;
    producerId?: number;
    producerEpoch?: number;
    firstSequence?: number;
    transactional?: boolean;
  }) => Promise<{ buffer: Buffer }>;
};
const DecoderClass = load('./src/protocol/decoder') as new (buffer: Buffer) => Decoder;
const groupMessagesPerPartition = load('./src/producer/groupMessagesPerPartition') as (options: {
  topic: string;
  partitionMetadata: { partitionId: number; leader: number }[];
  messages: { key: string }[];
  partitioner: (options: { message: { key: string } }) => number;
}) => Record<string, { key: string }[]>;

/** Decodes one record as a record batch does: its length-prefixed bytes, then the record. */
function decode(bytes: Buffer, firstOffset = '1000', firstTimestamp = '1764936000000'): DecodedRecord {
  const body = new DecoderClass(bytes).readVarIntBytes();
  return decodeRecord(new DecoderClass(body), { firstOffset, firstTimestamp });
}

describe('murmur2 (the Java client’s partitioner hash)', () => {
  it('gives the hashes of Kafka’s own test vectors (UtilsTest.testMurmur2)', () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect([key, murmur2(key)]).toEqual([key, hash]);
  });

  it('hashes a key’s UTF-8 bytes, whether given as text or as a Buffer', () => {
    const key = '0190c7a2-1b2c-7def-8abc-1234567890ab/é';
    expect(murmur2(key)).toBe(murmur2(Buffer.from(key, 'utf8')));
  });
});

/** CRC-32C by its definition, a bit at a time (reflected Castagnoli polynomial). */
function reference(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32C (every record batch’s checksum, which the broker checks)', () => {
  it('gives the standard check value and RFC 3720’s test vectors', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32C(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32C(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32C(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });

  it('agrees with the definition at every length around its eight-byte steps, from any offset', () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff));
    for (let length = 0; length <= 40; length++) {
      for (const start of [0, 3]) {
        const slice = bytes.subarray(start, start + length);
        expect([length, start, crc32C(slice)]).toEqual([length, start, reference(slice)]);
      }
    }
    expect(crc32C(bytes)).toBe(reference(bytes));
  });
});

describe('record encoding', () => {
  it('writes the protocol’s bytes: zigzag varints (two bytes from 64 up), key, value, headers', () => {
    const value = Buffer.alloc(70, 0xab);
    const bytes = encodeRecord({ offsetDelta: 1, timestampDelta: 3, key: 'k', value, headers: { h: 'v' } });
    const body = Buffer.concat([
      Buffer.from([0x00, 0x06, 0x02]), // attributes, timestamp delta 3, offset delta 1
      Buffer.from([0x02, 0x6b]), // key: length 1, "k"
      Buffer.from([0x8c, 0x01]), // value: length 70 (zigzag 140)
      value,
      Buffer.from([0x02, 0x02, 0x68, 0x02, 0x76]), // one header: "h" = "v"
    ]);
    expect(body.length).toBe(82);
    expect(bytes.buffer).toEqual(Buffer.concat([Buffer.from([0xa4, 0x01]), body])); // length 82 (zigzag 164)
  });

  it('writes a null key and value as length -1, and a header per value of an array', () => {
    const bytes = encodeRecord({ key: null, value: null, headers: { a: ['1', Buffer.from('2')] } });
    expect(bytes.buffer).toEqual(
      Buffer.from([0x1c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x04, 0x02, 0x61, 0x02, 0x31, 0x02, 0x61, 0x02, 0x32]),
    );
  });
});

describe('record batch encoding', () => {
  it('writes the protocol’s header, the records as given and the checksum of what follows it', async () => {
    const records = [
      encodeRecord({ offsetDelta: 0, key: 'a', value: 'one' }),
      encodeRecord({ offsetDelta: 1, timestampDelta: 5, key: 'b', value: 'two', headers: { h: 'v' } }),
    ];
    const written = (
      await RecordBatch({
        records: records as unknown as { buf: Buffer; offset: number }[],
        firstTimestamp: 1764936000000,
        maxTimestamp: 1764936000005,
        lastOffsetDelta: 1,
        producerId: 42,
        producerEpoch: 3,
        firstSequence: 17,
        transactional: true,
      })
    ).buffer;
    const int = (bytes: number, value: number | bigint) => {
      const b = Buffer.alloc(bytes);
      if (bytes === 8) b.writeBigInt64BE(BigInt(value));
      else if (bytes === 4) b.writeInt32BE(Number(value));
      else if (bytes === 2) b.writeInt16BE(Number(value));
      else b.writeInt8(Number(value));
      return b;
    };
    const body = Buffer.concat([
      int(2, 16), // attributes: transactional, no compression, create time
      int(4, 1), // last offset delta
      int(8, 1764936000000),
      int(8, 1764936000005),
      int(8, 42), // producer id
      int(2, 3), // producer epoch
      int(4, 17), // first sequence
      int(4, 2), // records
      ...records.map((r) => r.buffer),
    ]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(reference(body));
    const afterLength = Buffer.concat([int(4, 0), int(1, 2), crc, body]); // leader epoch, magic 2
    expect(written).toEqual(Buffer.concat([int(8, 0), int(4, afterLength.length), afterLength]));
  });
});

describe('record decoding', () => {
  it('reads back what was written: offset and timestamp from the batch’s, headers by name', () => {
    const record = decode(
      encodeRecord({
        offsetDelta: 7,
        timestampDelta: -250,
        key: 'message-1',
        value: Buffer.from([1, 2, 3]),
        headers: { 'content-type': 'application/x-protobuf', many: ['a', 'b', 'c'] },
      }).buffer,
    );
    expect(record.offset).toBe('1007');
    expect(record.timestamp).toBe('1764935999750');
    expect(record.key?.toString()).toBe('message-1');
    expect(record.value).toEqual(Buffer.from([1, 2, 3]));
    expect(record.headers['content-type']?.toString()).toBe('application/x-protobuf');
    expect((record.headers.many as Buffer[]).map(String)).toEqual(['a', 'b', 'c']);
  });

  it('keeps a header named __proto__ as the record’s own header, not the headers object’s prototype', () => {
    const record = decode(encodeRecord({ key: 'k', value: 'v', headers: { ['__proto__']: 'x' } }).buffer);
    expect(Object.getPrototypeOf(record.headers)).toBe(Object.prototype);
    expect(Object.keys(record.headers)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(record.headers, '__proto__')?.value).toEqual(Buffer.from('x'));
  });

  it('reads a header named as what every object inherits as that header alone, repeated or not', () => {
    const headers = { constructor: 'c', toString: ['1', '2'], ['__proto__']: ['p', 'q'] };
    const record = decode(encodeRecord({ key: 'k', value: 'v', headers }).buffer);
    expect(Object.keys(record.headers).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(String(record.headers.constructor)).toBe('c');
    expect((record.headers.toString as unknown as Buffer[]).map(String)).toEqual(['1', '2']);
    const proto = Object.getOwnPropertyDescriptor(record.headers, '__proto__')?.value as Buffer[];
    expect(proto.map(String)).toEqual(['p', 'q']);
  });

  it('adds past 2^53 exactly (offsets are 64-bit), and reads timestamp deltas beyond 49 bits', () => {
    const bytes = encodeRecord({ offsetDelta: 5, timestampDelta: 2 ** 50 + 3, key: null, value: null });
    const record = decode(bytes.buffer, '9223372036854775000', '0');
    expect(record.offset).toBe('9223372036854775005');
    expect(record.timestamp).toBe(String(2 ** 50 + 3));
    expect(record.key).toBeNull();
    expect(record.value).toBeNull();
  });
});

describe('grouping a request’s messages by partition', () => {
  it('keeps each partition’s messages in the order they were given', () => {
    const messages = Array.from({ length: 9 }, (_, i) => ({ key: String(i) }));
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [0, 1, 2].map((partitionId) => ({ partitionId, leader: 1 })),
      messages,
      partitioner: ({ message }) => Number(message.key) % 3,
    });
    expect(Object.fromEntries(Object.entries(grouped).map(([p, m]) => [p, m.map((x) => x.key)]))).toEqual({
      0: ['0', '3', '6'],
      1: ['1', '4', '7'],
      2: ['2', '5', '8'],
    });
  });
});
