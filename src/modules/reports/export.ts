import { stringify } from 'csv-stringify/sync';
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Database } from '../../core/db/database.js';
import { join, sql, type Sql } from '../../core/db/sql.js';
import { isKnownTimeZone } from '../../core/input.js';
import { FAMILIES, type Family } from '../../core/records.js';
import { Prisma } from '../../generated/prisma/client.js';
import { REGISTRY } from '../records/registry.js';
import { localDate } from './periods.js';

// Exports of stored records by date, as CSV or NDJSON, for the command line (export-analytics) and
// GET /export. Rows are streamed in pages of PAGE_ROWS, oldest first (timestamp, then id), so memory stays flat
// whatever the range holds:
// - on PostgreSQL, from a server-side cursor (pg-cursor) on a connection of its own, so a long export never
//   holds a connection of the service's pool and reads one consistent snapshot;
// - on embedded PGlite, which has no server cursor over its driver and one connection for everything, by keyset
//   pagination: each page is a short query that starts after the last (timestamp, id) sent, so ingest goes on
//   between pages. Rows stored meanwhile into the part of the range already sent are not included.
// JSON columns (tags, metadata, dimensions) are written as JSON text, in CSV cells as in NDJSON values.

export const PAGE_ROWS = 1000;

/** Family names on the command line and in /export, and the registry's own keys. */
export const EXPORT_FAMILIES: Record<string, Family> = {
  activity: 'activities',
  system: 'systemMetrics',
  application: 'applicationMetrics',
  user: 'userMetrics',
  performance: 'performanceMetrics',
};
export const FAMILY_NAMES = Object.keys(EXPORT_FAMILIES);
const familyName = (family: Family) => FAMILY_NAMES.find((name) => EXPORT_FAMILIES[name] === family) ?? family;

export type ExportFormat = 'csv' | 'ndjson';

export interface ExportRequest {
  families: Family[];
  from: Date;
  to: Date;
  format: ExportFormat;
}

/** A caller's mistake in an export request: HTTP 400, exit code 2. */
export class ExportInputError extends Error {
  override name = 'ExportInputError';
  constructor(
    message: string,
    readonly parameter: string,
  ) {
    super(message);
  }
}

export interface ExportParameters {
  family?: string | null;
  format?: string | null;
  date?: string | null;
  from?: string | null;
  to?: string | null;
  timeZone?: string | null;
}

/** Longest export range: long enough for a year, short enough that a typo in a year is caught. */
const MAX_RANGE_DAYS = 400;

function instant(value: string, parameter: string, timeZone: string): Date {
  const asDate = localDate(value, timeZone);
  if (asDate) return asDate;
  const time = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new ExportInputError(`${parameter} must be a date (2024-01-15, midnight in ${timeZone}) or an ISO 8601 date-time (2024-01-15T08:00:00Z), got "${value.slice(0, 40)}"`, parameter);
  }
  return new Date(time);
}

/** Checks an export request as the command line and the HTTP route receive it. */
export function parseExportRequest(parameters: ExportParameters, defaultTimeZone: string): ExportRequest {
  const format = (parameters.format ?? 'csv').toLowerCase();
  if (format !== 'csv' && format !== 'ndjson') throw new ExportInputError(`format must be csv or ndjson, got "${format.slice(0, 40)}"`, 'format');
  let families: Family[] = [...FAMILIES];
  if (parameters.family) {
    const family = EXPORT_FAMILIES[parameters.family] ?? (FAMILIES as readonly string[]).find((name) => name === parameters.family);
    if (!family) throw new ExportInputError(`family must be one of ${FAMILY_NAMES.join(', ')}, got "${parameters.family.slice(0, 40)}"`, 'family');
    families = [family as Family];
  }
  const timeZone = parameters.timeZone ?? defaultTimeZone;
  if (!isKnownTimeZone(timeZone)) throw new ExportInputError('timeZone must be an IANA time zone such as UTC or Europe/Paris', 'timeZone');
  let from: Date;
  let to: Date;
  if (parameters.date) {
    if (parameters.from || parameters.to) throw new ExportInputError('give either date or from and to, not both', 'date');
    const day = localDate(parameters.date, timeZone);
    if (!day) throw new ExportInputError(`date must be a calendar date such as 2024-01-15, got "${parameters.date.slice(0, 40)}"`, 'date');
    from = day;
    to = localDate(nextDay(parameters.date), timeZone) as Date;
  } else {
    if (!parameters.from || !parameters.to) throw new ExportInputError('give date (2024-01-15), or both from and to', parameters.from ? 'to' : 'from');
    from = instant(parameters.from, 'from', timeZone);
    to = instant(parameters.to, 'to', timeZone);
    if (from.getTime() >= to.getTime()) throw new ExportInputError(`from (${from.toISOString()}) must be before to (${to.toISOString()})`, 'from');
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
      throw new ExportInputError(`the range must be at most ${MAX_RANGE_DAYS} days long (export longer ones in parts)`, 'to');
    }
  }
  return { families, from, to, format };
}

function nextDay(date: string): string {
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return next.toISOString().slice(0, 10);
}

interface Column {
  name: string;
  /** Selected as text or number already shaped for output. */
  select: Sql;
  json: boolean;
}

const ISO_TEXT = (column: string) => Prisma.raw(`to_char("${column}" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

/** The exported columns of a family: id, timestamp, createdAt, then its fields (as the API names them). */
export function exportColumns(family: Family): Column[] {
  const fields = REGISTRY[family].fields.filter((field) => !field.hidden && field.name !== 'timestamp');
  return [
    { name: 'id', select: Prisma.raw('id::text'), json: false },
    { name: 'timestamp', select: ISO_TEXT('timestamp'), json: false },
    { name: 'createdAt', select: ISO_TEXT('created_at'), json: false },
    ...fields.map((field) => ({
      name: field.name,
      select:
        field.pgType === 'jsonb' || field.pgType === 'metric_type'
          ? Prisma.raw(`"${field.column}"::text`)
          : field.pgType === 'timestamptz'
            ? ISO_TEXT(field.column)
            : Prisma.raw(`"${field.column}"`),
      json: field.pgType === 'jsonb',
    })),
  ];
}

function pageQuery(family: Family, columns: Column[], from: Date, to: Date, after: { timestamp: string; id: string } | null, limit: number | null): Sql {
  const select = join(columns.map((column, index) => sql`${column.select} AS ${Prisma.raw(`c${index}`)}`));
  const keyset = after ? sql`AND "timestamp" >= ${after.timestamp}::timestamptz AND ("timestamp", id) > (${after.timestamp}::timestamptz, ${after.id}::int8)` : sql``;
  return sql`/* reports.exportRows */
    SELECT ${select} FROM ${Prisma.raw(REGISTRY[family].table)}
    WHERE "timestamp" >= ${from} AND "timestamp" < ${to} ${keyset}
    ORDER BY "timestamp", id ${limit === null ? sql`` : sql`LIMIT ${limit}`}`;
}

/** A row as its values in column order (no per-row object with keys: less garbage per page). */
type RawRow = unknown[];

/** Pages of raw rows of one family, from a cursor (PostgreSQL) or by keyset (PGlite). */
async function* pages(db: Database, databaseUrl: string | undefined, family: Family, columns: Column[], from: Date, to: Date): AsyncGenerator<RawRow[]> {
  if (db.kind === 'postgres' && databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'insights-export' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      // One read-only transaction: the cursor reads one snapshot of the range, however long the export takes.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const statement = pageQuery(family, columns, from, to, null, null);
      const cursor = client.query(new Cursor<RawRow>(statement.text, statement.values as unknown[], { rowMode: 'array' }));
      try {
        for (;;) {
          const rows = await cursor.read(PAGE_ROWS);
          if (rows.length === 0) break;
          yield rows;
        }
      } finally {
        await cursor.close().catch(() => undefined);
      }
      await client.query('COMMIT');
    } finally {
      await client.end().catch(() => undefined);
    }
    return;
  }
  let after: { timestamp: string; id: string } | null = null;
  for (;;) {
    const rows = (await db.query<Record<string, unknown>>(pageQuery(family, columns, from, to, after, PAGE_ROWS))).map((row) =>
      columns.map((_, index) => row[`c${index}`]),
    );
    if (rows.length === 0) return;
    yield rows;
    const last = rows[rows.length - 1] as RawRow;
    after = { id: String(last[0]), timestamp: String(last[1]) };
    if (rows.length < PAGE_ROWS) return;
  }
}

function ndjsonLines(columns: Column[], rows: RawRow[], family: Family | null): string {
  const names = columns.map((column) => JSON.stringify(column.name));
  const prefix = family ? `{"family":${JSON.stringify(familyName(family))},` : '{';
  let out = '';
  for (const row of rows) {
    out += prefix;
    for (let index = 0; index < columns.length; index += 1) {
      const value = row[index];
      // JSON columns arrive as their JSON text: spliced in as is, not parsed and printed again.
      const text = value === null || value === undefined ? 'null' : (columns[index] as Column).json ? String(value) : JSON.stringify(value);
      out += `${index === 0 ? '' : ','}${names[index]}:${text}`;
    }
    out += '}\n';
  }
  return out;
}

const csvOptions = {
  record_delimiter: 'windows' as const,
  cast: { number: (n: number) => (Number.isFinite(n) ? String(n) : ''), boolean: (b: boolean) => (b ? 'true' : 'false') },
};

function csvLines(columns: Column[], rows: RawRow[]): string {
  return stringify(rows, csvOptions);
}

export interface ExportProgress {
  (family: Family, rowsSoFar: number): void;
}

/**
 * The export as text chunks (one per page), to pipe into a file, a gzip stream or an HTTP response. CSV with
 * one family is one table (a header row, then the rows); with several it follows the report CSV's multi-table
 * convention (a row naming the family, the header, the rows, an empty line). NDJSON with several families adds
 * `"family"` to each line. Returns the number of rows per family.
 */
export async function* exportChunks(
  db: Database,
  databaseUrl: string | undefined,
  request: ExportRequest,
  progress?: ExportProgress,
): AsyncGenerator<string, Record<string, number>> {
  const counts: Record<string, number> = {};
  const several = request.families.length > 1;
  for (const [position, family] of request.families.entries()) {
    const columns = exportColumns(family);
    if (request.format === 'csv') {
      const head = several ? [[familyName(family)], columns.map((column) => column.name)] : [columns.map((column) => column.name)];
      yield `${position > 0 ? '\r\n' : ''}${stringify(head, csvOptions)}`;
    }
    let count = 0;
    for await (const rows of pages(db, databaseUrl, family, columns, request.from, request.to)) {
      count += rows.length;
      yield request.format === 'csv' ? csvLines(columns, rows) : ndjsonLines(columns, rows, several ? family : null);
      progress?.(family, count);
    }
    counts[familyName(family)] = count;
    progress?.(family, count);
  }
  return counts;
}

export { familyName as exportFamilyName };
