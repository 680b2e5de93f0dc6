export { ClickHouse, clickhouseOptionsFromSettings, isDataError, type ClickHouseOptions } from './client';
export { InsertBatcher, RowRefusedError, type InsertBatcherOptions } from './insert-batcher';
export { migrate, readMigrations, MIGRATIONS_DIR, type Migration } from './migrate';
export { identifier, literal, sql, Sql, type SqlValue } from './sql';
