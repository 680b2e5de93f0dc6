/**
 * SQL text with every value rendered as a literal. ClickHouse 18.16 (Debian 12) has no server-side query
 * parameters, so values are escaped here, in one place, and queries are written as tagged templates:
 * sql`SELECT count() FROM attempts WHERE tenant_id = ${tenant}`; never by joining strings.
 */
export class Sql {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type SqlValue = string | number | bigint | boolean | Date | Sql | readonly SqlValue[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A database, table or column name; only plain names are accepted (no quoting tricks to get wrong). */
export function identifier(name: string): Sql {
  if (!IDENTIFIER.test(name)) throw new Error(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return new Sql(`\`${name}\``);
}

/** A value as a ClickHouse literal: strings quoted with backslash escapes, times as UTC unix seconds. */
export function literal(value: SqlValue): string {
  if (value instanceof Sql) return value.text;
  if (typeof value === 'string') return `'${escapeString(value)}'`;
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (value instanceof Date) {
    const seconds = Math.floor(value.getTime() / 1000);
    if (!Number.isFinite(seconds)) throw new Error('invalid date');
    return `toDateTime(${seconds})`;
  }
  return `(${value.map(literal).join(', ')})`;
}

/**
 * Backslash and quote are the only characters that end or escape a quoted string; control characters are
 * written as escapes so a query stays one readable line in logs.
 */
function escapeString(text: string): string {
  return text.replace(/[\\'\0\n\r\t\b\f]/g, (c) => ESCAPES[c] ?? c);
}
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): Sql {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += literal(value) + (strings[i + 1] ?? '');
  });
  return new Sql(text);
}
