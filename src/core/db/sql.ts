import { Prisma } from '../../generated/prisma/client.js';

// Prisma's sql-template-tag: values always travel as bound parameters ($1, $2, …), never spliced into text.
export const sql = Prisma.sql;
export const join = Prisma.join;
export const empty = Prisma.empty;
export type Sql = Prisma.Sql;

/** Something that runs parameterised SQL: the pool/database itself, or one transaction. */
export interface Queryable {
  query<Row>(statement: Sql): Promise<Row[]>;
  /**
   * PostgreSQL only (absent on PGlite): `COPY table (columns) FROM STDIN` with `data` in COPY's text format
   * (fields made with copyField, tab-separated, one row per line). Returns the number of rows stored. Table and column names are constants of the caller,
   * quoted here as identifiers; the data never becomes SQL.
   */
  copyIn?(table: string, columns: readonly string[], data: string): Promise<number>;
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The COPY statement copyIn runs: identifiers quoted, nothing from the data. */
export const copyStatement = (table: string, columns: readonly string[]) =>
  `COPY ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')}) FROM STDIN (FORMAT text)`;

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPABLE = /[\\\t\n\r]/g;

/**
 * One field of COPY's text format: null is `\N`; backslash, tab, newline and carriage return are escaped, so no
 * value can end its field or its row early, or be read as the end-of-data marker.
 */
export function copyField(value: string | null): string {
  if (value === null) return '\\N';
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPABLE, (char) => COPY_ESCAPES[char] as string) : value;
}
