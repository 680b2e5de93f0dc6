import { connect } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { makeTestCertificates, infraFromEnv, startTcpProxy, uniqueName } from '@tern/testing';
import {
  ClickHouse,
  clickhouseOptionsFromSettings,
  InsertBatcher,
  literal,
  migrate,
  readMigrations,
  RowRefusedError,
  sql,
} from '../src';

const { clickhouseUrl } = infraFromEnv();

describe('ClickHouse adapter (real server)', () => {
  const database = uniqueName('ch_test').replace(/-/g, '_');
  let db: ClickHouse;

  beforeAll(async () => {
    db = new ClickHouse({ url: clickhouseUrl, database: 'default' });
  });
  afterAll(async () => {
    await db.command(`DROP DATABASE IF EXISTS ${database}`);
    await db.close();
  });

  it('literals round-trip through the server whatever the string holds', async () => {
    const nasty = [
      "it's",
      'back\\slash',
      "\\'; DROP TABLE x; --",
      'new\nline\ttab\r\0nul',
      'ünïcødé 🚀 ٣',
      '',
      "''''",
      '\\',
    ];
    for (const text of nasty) {
      const [row] = await db.rows<{ v: string }>(sql`SELECT ${text} AS v`);
      expect(row?.v).toBe(text);
    }
    const [row] = await db.rows<{ n: number; inList: number; t: string }>(
      sql`SELECT ${42.5} AS n, ${'b'} IN ${['a', 'b']} AS inList, toString(${new Date('2026-11-25T10:00:00Z')}, 'UTC') AS t`,
    );
    expect(row).toEqual({ n: 42.5, inList: 1, t: '2026-11-25 10:00:00' });
  });

  it('refuses values it cannot render safely', () => {
    expect(() => literal(Number.NaN)).toThrow('finite');
    expect(() => literal(new Date('nope'))).toThrow('invalid date');
  });

  it('migrates a new database once, and again changes nothing', async () => {
    const first = await migrate({ url: clickhouseUrl, database });
    expect(first).toEqual(readMigrations(`${__dirname}/../migrations`, database).map((m) => m.version));
    expect(first.length).toBeGreaterThan(0);
    // Two instances starting together: both succeed, nothing is applied twice.
    const again = await Promise.all([
      migrate({ url: clickhouseUrl, database }),
      migrate({ url: clickhouseUrl, database }),
    ]);
    expect(again).toEqual([[], []]);
    const tables = await db.rows<{ name: string }>(
      sql`SELECT name FROM system.tables WHERE database = ${database} ORDER BY name`,
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['attempts', 'schema_migrations']));
  });

  describe('InsertBatcher', () => {
    const table = 'batched';
    let testDb: ClickHouse;
    beforeAll(async () => {
      await db.command(`CREATE DATABASE IF NOT EXISTS ${database}`);
      testDb = new ClickHouse({ url: clickhouseUrl, database });
      await testDb.command(`CREATE TABLE ${table} (id UInt32, n UInt16) ENGINE = MergeTree ORDER BY id`);
    });
    afterAll(() => testDb.close());
    const ids = async () =>
      (await testDb.rows<{ id: number }>(sql`SELECT id FROM batched ORDER BY id`)).map((r) => Number(r.id));

    it('writes concurrent rows as one insert, settling each caller after the write', async () => {
      const batcher = new InsertBatcher<{ id: number; n: number }>(testDb, table, {
        maxRows: 100,
        lingerMs: 50,
      });
      await Promise.all([1, 2, 3].map((id) => batcher.add({ id, n: id })));
      expect(await ids()).toEqual([1, 2, 3]);
      const [inserts] = await db.rows<{ c: string }>(
        sql`SELECT count() AS c FROM system.parts WHERE database = ${database} AND table = 'batched' AND active`,
      );
      expect(Number(inserts?.c)).toBe(1);
    });

    it('refuses only the row the server cannot store; the rest of its batch is written', async () => {
      const batcher = new InsertBatcher<{ id: number; n: unknown }>(testDb, table, {
        maxRows: 3,
        lingerMs: 1000,
      });
      const outcomes = await Promise.allSettled([
        batcher.add({ id: 10, n: 1 }),
        batcher.add({ id: 11, n: 'not a number' }),
        batcher.add({ id: 12, n: 3 }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(RowRefusedError);
      expect(await ids()).toEqual([1, 2, 3, 10, 12]);
    });

    it('rejects every row while the server is unreachable, and writes them once it is back', async () => {
      const target = new URL(clickhouseUrl);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
      const viaProxy = new ClickHouse({ url: `http://127.0.0.1:${proxy.port}`, database });
      try {
        const batcher = new InsertBatcher<{ id: number; n: number }>(viaProxy, table, {
          maxRows: 2,
          lingerMs: 10,
        });
        await proxy.cut();
        const during = await Promise.allSettled([
          batcher.add({ id: 20, n: 0 }),
          batcher.add({ id: 21, n: 0 }),
        ]);
        expect(during.map((o) => o.status)).toEqual(['rejected', 'rejected']);
        expect((during[0] as PromiseRejectedResult).reason).not.toBeInstanceOf(RowRefusedError);
        await proxy.restore();
        await Promise.all([batcher.add({ id: 20, n: 0 }), batcher.add({ id: 21, n: 0 })]);
        expect(await ids()).toEqual([1, 2, 3, 10, 12, 20, 21]);
      } finally {
        await viaProxy.close();
        await proxy.close();
      }
    });

    it('finds a refused row among many with a few inserts, not one a row', async () => {
      let inserts = 0;
      const counted = Object.create(testDb) as ClickHouse;
      counted.insert = (...args) => {
        inserts++;
        return testDb.insert(...args);
      };
      const batcher = new InsertBatcher<{ id: number; n: unknown }>(counted, table, {
        maxRows: 64,
        lingerMs: 1000,
      });
      const rows = Array.from({ length: 64 }, (_, i) => ({ id: 100 + i, n: i === 40 ? 'bad' : i }));
      const outcomes = await Promise.allSettled(rows.map((row) => batcher.add(row)));
      const refused = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
      expect(refused).toEqual([40]);
      expect((outcomes[40] as PromiseRejectedResult).reason).toBeInstanceOf(RowRefusedError);
      expect((await ids()).filter((id) => id >= 100)).toEqual(
        rows.map((r) => r.id).filter((id) => id !== 140),
      );
      // The whole batch, then two halves at each of six levels (64 = 2^6): 13, against 65 row by row.
      expect(inserts).toBe(13);
    });
  });
});

describe('ClickHouse over TLS, from the settings', () => {
  // ClickHouse behind a TLS-terminating proxy (as behind a load balancer): the client speaks real TLS.
  const certs = makeTestCertificates();
  let tlsFront: Server;
  let url: string;
  beforeAll(async () => {
    const target = new URL(clickhouseUrl);
    tlsFront = createServer(
      { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) },
      (client) => {
        const upstream = connect(Number(target.port), target.hostname);
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      },
    );
    await new Promise<void>((resolve) => tlsFront.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(tlsFront.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => tlsFront.close(() => resolve())));

  const answers = async (caFile?: string) => {
    const db = new ClickHouse(
      clickhouseOptionsFromSettings({
        clickhouseUrl: url,
        clickhouseDatabase: 'default',
        clickhouseTlsCaFile: caFile,
      }),
    );
    try {
      const [row] = await db.rows<{ one: number }>(sql`SELECT 1 AS one`);
      return row?.one === 1;
    } catch {
      return false;
    } finally {
      await db.close();
    }
  };

  it('queries over https trusting the CA that signed the server, and not without it', async () => {
    expect(await answers(certs.caCert)).toBe(true);
    expect(await answers()).toBe(false);
  });
});
