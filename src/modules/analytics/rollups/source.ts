import { join, sql, type Queryable, type Sql } from '../../../core/db/sql.js';
import type { Family, MetricFamily } from '../../../core/records.js';
import { Prisma } from '../../../generated/prisma/client.js';
import { REGISTRY } from '../../records/registry.js';
import { Partial } from './partial.js';

// Raw records as the rollups read them: only the columns they aggregate, tags already projected onto the rollup
// tags (text), time as epoch milliseconds. One reader per table kind, over a list of [start, end) ranges.

export interface MetricSourceRecord {
  ts: number;
  id: string;
  metric: string;
  app: string;
  value: number;
  rt: number | null;
  status: number | null;
  user: string | null;
  /** The rollup tags' values, in the order of the configured tags (null: the record does not have it). */
  tags: (string | null)[];
}

export interface ActivitySourceRecord {
  ts: number;
  id: string;
  type: string;
  user: string;
}

export type Range = readonly [number, number];

/** `(column >= start AND column < end) OR …` for each range: B-tree range scans, whatever the table's statistics say. */
export function rangesSql(ranges: readonly Range[], column: 'timestamp' | 'bucket' = 'timestamp'): Sql {
  const name = Prisma.raw(column === 'timestamp' ? '"timestamp"' : 'bucket');
  return join(
    ranges.map(([start, end]) => sql`(${name} >= ${new Date(start)} AND ${name} < ${new Date(end)})`),
    ' OR ',
  );
}

const has = (family: Family, field: string) => REGISTRY[family].fields.some((candidate) => candidate.name === field);

/**
 * Metric records in the ranges, optionally narrowed by extra conditions (a read's filter). Tag values come back
 * as text through ->> with the tag name bound as a parameter.
 */
export async function readMetricRecords(
  db: Queryable,
  family: MetricFamily,
  ranges: readonly Range[],
  tags: readonly string[],
  extra: Sql[] = [],
): Promise<MetricSourceRecord[]> {
  if (ranges.length === 0) return [];
  const table = Prisma.raw(REGISTRY[family].table);
  const tagColumns = tags.map((tag, index) => sql`tags ->> ${tag} AS ${Prisma.raw(`"t${index}"`)}`);
  const rows = await db.query<Record<string, unknown> & { ts: number; id: string; metric: string; app: string; value: number }>(sql`/* rollups.readMetricRecords */
    SELECT (extract(epoch FROM "timestamp") * 1000)::float8 AS ts, id::text AS id, metric_name AS metric,
      ${has(family, 'appName') ? sql`app_name` : sql`''`} AS app, value,
      ${has(family, 'responseTimeMs') ? sql`response_time_ms` : sql`NULL::float8`} AS rt,
      ${has(family, 'statusCode') ? sql`status_code` : sql`NULL::int`} AS status,
      ${has(family, 'userId') ? sql`user_id` : sql`NULL::text`} AS "user"
      ${tagColumns.length > 0 ? sql`, ${join(tagColumns)}` : Prisma.empty}
    FROM ${table}
    WHERE (${rangesSql(ranges)})${extra.length > 0 ? sql` AND ${join(extra, ' AND ')}` : Prisma.empty}`);
  return rows.map((row) => ({
    ts: row.ts,
    id: row.id,
    metric: row.metric,
    app: row.app,
    value: row.value,
    rt: (row.rt as number | null) ?? null,
    status: (row.status as number | null) ?? null,
    user: (row.user as string | null) ?? null,
    tags: tags.map((_, index) => (row[`t${index}`] as string | null) ?? null),
  }));
}

export async function readActivityRecords(db: Queryable, ranges: readonly Range[], extra: Sql[] = []): Promise<ActivitySourceRecord[]> {
  if (ranges.length === 0) return [];
  return db.query<ActivitySourceRecord>(sql`/* rollups.readActivityRecords */
    SELECT (extract(epoch FROM "timestamp") * 1000)::float8 AS ts, id::text AS id, activity_type AS type, user_id AS "user"
    FROM user_activities
    WHERE (${rangesSql(ranges)})${extra.length > 0 ? sql` AND ${join(extra, ' AND ')}` : Prisma.empty}`);
}

/** Adds one metric record to a partial aggregate. */
export function addMetricRecord(partial: Partial, record: MetricSourceRecord): void {
  partial.count += 1;
  partial.value.add(record.value);
  if (record.rt !== null) partial.responseTime.add(record.rt);
  if (record.status !== null && record.status >= 500) partial.errors += 1;
  partial.addLast(record.value, record.ts, BigInt(record.id));
  if (record.user !== null) partial.addUser(record.user);
}

export function addActivityRecord(partial: Partial, record: ActivitySourceRecord): void {
  partial.count += 1;
  partial.addUser(record.user);
}
