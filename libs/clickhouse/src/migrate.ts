import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClickHouse, type ClickHouseOptions } from './client';
import { identifier, sql } from './sql';

/** The platform's schema: numbered files, applied in order, each once per database. */
export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

const FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * Reads `NNN_name.sql` files; statements end with `;` at the end of a line, `--` lines are comments, and
 * `{database}` stands for the target database (a materialized view names its tables in full).
 */
export function readMigrations(dir: string, database: string): Migration[] {
  const db = identifier(database).text;
  return readdirSync(dir)
    .filter((f) => FILE.test(f))
    .sort()
    .map((file) => {
      const [, version = '0', name = ''] = FILE.exec(file) ?? [];
      const text = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => !line.trim().startsWith('--'))
        .join('\n')
        .replaceAll('{database}', db);
      const statements = text
        .split(/;\s*$/m)
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      return { version: Number(version), name, statements };
    });
}

/**
 * Brings a database to the newest schema. Safe to run from every instance at start-up, at once: each
 * statement is idempotent (IF NOT EXISTS), and applied versions are recorded so later ones run once.
 */
export async function migrate(options: ClickHouseOptions, dir = MIGRATIONS_DIR): Promise<number[]> {
  const bootstrap = new ClickHouse({ ...options, database: 'default' });
  try {
    await bootstrap.command(sql`CREATE DATABASE IF NOT EXISTS ${identifier(options.database)}`);
  } finally {
    await bootstrap.close();
  }
  const db = new ClickHouse(options);
  try {
    await db.command(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) ' +
        'ENGINE = ReplacingMergeTree ORDER BY version',
    );
    const done = new Set(
      (await db.rows<{ version: number }>(sql`SELECT version FROM schema_migrations`)).map((r) =>
        Number(r.version),
      ),
    );
    const applied: number[] = [];
    for (const migration of readMigrations(dir, options.database)) {
      if (done.has(migration.version)) continue;
      for (const statement of migration.statements) await db.command(statement);
      await db.insert('schema_migrations', [
        { version: migration.version, name: migration.name, applied_at: Math.floor(Date.now() / 1000) },
      ]);
      applied.push(migration.version);
    }
    return applied;
  } finally {
    await db.close();
  }
}
