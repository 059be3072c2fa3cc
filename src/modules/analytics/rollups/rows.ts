import { sql, type Queryable, type Sql } from '../../../core/db/sql.js';
import { Prisma } from '../../../generated/prisma/client.js';
import type { MetricFamily } from '../../../core/records.js';
import { DistinctCountSketch } from '../sketches/index.js';
import { FieldStats, Partial } from './partial.js';
import type { Dims, Resolution } from './shape.js';

// Rollup rows as they are stored (metric_rollups, activity_rollups, activity_user_rollups) and how partial
// aggregates go to and from them. Sketches travel as base64 text and are decoded by the server, because both
// drivers (pg and PGlite) pass text arrays through unnest the same way.

export interface MetricRollupRow {
  family: MetricFamily;
  resolution: Resolution;
  bucket: number;
  metric: string;
  app: string;
  slice: string;
  dims: Dims;
  /** dims as stored: canonical JSON (keys in rollup-tag order), which is also part of the row's key. */
  dimsJson: string;
  partial: Partial;
}

export interface ActivityRollupRow {
  resolution: Resolution;
  bucket: number;
  /** '' for the row of all types. */
  type: string;
  partial: Partial;
}

export interface ActivityUserRollupRow {
  resolution: Resolution;
  bucket: number;
  user: string;
  count: number;
}

const b64 = (bytes: Uint8Array | null) => (bytes ? Buffer.from(bytes).toString('base64') : null);
const finiteOrNull = (value: number) => (Number.isFinite(value) ? value : null);

/** Columns of a stored metric rollup row, as read back (counts cast to float8 so both drivers give numbers). */
export interface StoredMetricRollup {
  bucket: Date;
  metric_name: string;
  app_name: string;
  slice: string;
  dims: string;
  count: number;
  value_sum: number | null;
  value_min: number | null;
  value_max: number | null;
  /** undefined when the read left the column out (no percentile of it asked for), as are rt_sketch and users. */
  value_sketch: Uint8Array | null | undefined;
  last_value: number | null;
  last_ts: number | null;
  last_id: string | null;
  rt_count: number;
  rt_sum: number | null;
  rt_min: number | null;
  rt_max: number | null;
  rt_sketch: Uint8Array | null | undefined;
  error_count: number;
  users: Uint8Array | null | undefined;
}

export const METRIC_ROLLUP_COLUMNS = sql`bucket, metric_name, app_name, slice, dims, count::float8 AS count, value_sum, value_min,
  value_max, value_sketch, last_value, last_ts, last_id::text AS last_id, rt_count::float8 AS rt_count, rt_sum, rt_min, rt_max,
  rt_sketch, error_count::float8 AS error_count, users`;

/** Which of a metric rollup row's sketches a read needs: the others are neither transferred nor decoded. */
export interface SketchNeeds {
  value: boolean;
  responseTime: boolean;
  users: boolean;
}

/** METRIC_ROLLUP_COLUMNS with only the sketches a read needs. */
export function metricRollupColumns(needs: SketchNeeds): Sql {
  return sql`bucket, metric_name, app_name, slice, dims, count::float8 AS count, value_sum, value_min, value_max,
    ${needs.value ? sql`value_sketch, ` : Prisma.empty}last_value, last_ts, last_id::text AS last_id, rt_count::float8 AS rt_count,
    rt_sum, rt_min, rt_max, ${needs.responseTime ? sql`rt_sketch, ` : Prisma.empty}error_count::float8 AS error_count${needs.users ? sql`, users` : Prisma.empty}`;
}

export function partialOfMetricRow(row: StoredMetricRollup): Partial {
  const partial = new Partial();
  partial.count = row.count;
  partial.value.absorb(FieldStats.from(row.count, row.value_sum, row.value_min, row.value_max, row.value_sketch));
  partial.responseTime.absorb(FieldStats.from(row.rt_count, row.rt_sum, row.rt_min, row.rt_max, row.rt_sketch));
  partial.errors = row.error_count;
  if (row.last_value !== null && row.last_ts !== null && row.last_id !== null) {
    partial.last = { value: row.last_value, timestamp: Number(row.last_ts), id: BigInt(row.last_id) };
  }
  if (row.users) partial.users = DistinctCountSketch.deserialize(row.users);
  return partial;
}

/** Writes metric rollup rows in one statement (unnest of one array per column). */
export async function insertMetricRollups(tx: Queryable, rows: MetricRollupRow[]): Promise<void> {
  for (let offset = 0; offset < rows.length; offset += 5_000) {
    const chunk = rows.slice(offset, offset + 5_000);
    const column = <T>(pick: (row: MetricRollupRow) => T) => chunk.map(pick);
    await tx.query(sql`/* rollups.insertMetricRows */
      INSERT INTO metric_rollups (family, resolution, bucket, metric_name, app_name, slice, dims, count, value_sum, value_min,
        value_max, value_sketch, last_value, last_ts, last_id, rt_count, rt_sum, rt_min, rt_max, rt_sketch, error_count, users)
      SELECT f, r, to_timestamp(b / 1000.0), m, a, s, d, c, vs, vmin, vmax, decode(vk, 'base64'), lv, lt, li::int8,
        rc, rs, rmin, rmax, decode(rk, 'base64'), e, decode(u, 'base64')
      FROM unnest(${column((row) => row.family)}::text[], ${column((row) => row.resolution)}::text[],
        ${column((row) => row.bucket)}::float8[], ${column((row) => row.metric)}::text[], ${column((row) => row.app)}::text[],
        ${column((row) => row.slice)}::text[], ${column((row) => row.dimsJson)}::text[],
        ${column((row) => row.partial.count)}::float8[], ${column((row) => (row.partial.value.count ? row.partial.value.sum : null))}::float8[],
        ${column((row) => finiteOrNull(row.partial.value.min))}::float8[], ${column((row) => finiteOrNull(row.partial.value.max))}::float8[],
        ${column((row) => b64(row.partial.value.storedSketch()))}::text[],
        ${column((row) => row.partial.last?.value ?? null)}::float8[], ${column((row) => row.partial.last?.timestamp ?? null)}::float8[],
        ${column((row) => row.partial.last?.id.toString() ?? null)}::text[],
        ${column((row) => row.partial.responseTime.count)}::float8[],
        ${column((row) => (row.partial.responseTime.count ? row.partial.responseTime.sum : null))}::float8[],
        ${column((row) => finiteOrNull(row.partial.responseTime.min))}::float8[], ${column((row) => finiteOrNull(row.partial.responseTime.max))}::float8[],
        ${column((row) => b64(row.partial.responseTime.storedSketch()))}::text[],
        ${column((row) => row.partial.errors)}::float8[], ${column((row) => b64(row.partial.users?.serialize() ?? null))}::text[])
        AS u(f, r, b, m, a, s, d, c, vs, vmin, vmax, vk, lv, lt, li, rc, rs, rmin, rmax, rk, e, u)`);
  }
}

export interface StoredActivityRollup {
  bucket: Date;
  activity_type: string;
  count: number;
  users?: Uint8Array | null;
}

export function partialOfActivityRow(row: StoredActivityRollup): Partial {
  const partial = new Partial();
  partial.count = row.count;
  if (row.users) partial.users = DistinctCountSketch.deserialize(row.users);
  return partial;
}

export async function insertActivityRollups(tx: Queryable, rows: ActivityRollupRow[]): Promise<void> {
  for (let offset = 0; offset < rows.length; offset += 5_000) {
    const chunk = rows.slice(offset, offset + 5_000);
    await tx.query(sql`/* rollups.insertActivityRows */
      INSERT INTO activity_rollups (resolution, bucket, activity_type, count, users)
      SELECT r, to_timestamp(b / 1000.0), t, c, decode(u, 'base64')
      FROM unnest(${chunk.map((row) => row.resolution)}::text[], ${chunk.map((row) => row.bucket)}::float8[],
        ${chunk.map((row) => row.type)}::text[], ${chunk.map((row) => row.partial.count)}::float8[],
        ${chunk.map((row) => b64(row.partial.users?.serialize() ?? null))}::text[]) AS u(r, b, t, c, u)`);
  }
}

export async function insertActivityUserRollups(tx: Queryable, rows: ActivityUserRollupRow[]): Promise<void> {
  for (let offset = 0; offset < rows.length; offset += 10_000) {
    const chunk = rows.slice(offset, offset + 10_000);
    await tx.query(sql`/* rollups.insertActivityUserRows */
      INSERT INTO activity_user_rollups (resolution, bucket, user_id, count)
      SELECT r, to_timestamp(b / 1000.0), u, c
      FROM unnest(${chunk.map((row) => row.resolution)}::text[], ${chunk.map((row) => row.bucket)}::float8[],
        ${chunk.map((row) => row.user)}::text[], ${chunk.map((row) => row.count)}::float8[]) AS u(r, b, u, c)`);
  }
}
