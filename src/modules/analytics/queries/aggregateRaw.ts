import { empty, join, sql, type Queryable, type Sql } from '../../../core/db/sql.js';
import { Prisma } from '../../../generated/prisma/client.js';
import { sqlConditions } from '../../records/filters.js';
import { REGISTRY } from '../../records/registry.js';
import { measureKey, percentileOf, type AggregateQuery, type AggregateRow, type Measure } from '../model.js';
import { dimensionColumn } from '../dimensions.js';

/** date_trunc units per interval: the only values that reach SQL text. */
const UNITS = { MINUTE: 'minute', HOUR: 'hour', DAY: 'day' } as const;

const raw = (identifier: string) => Prisma.raw(`"${identifier}"`);

function measureSql(query: AggregateQuery, measure: Measure): Sql {
  const descriptor = REGISTRY[query.family];
  const column = raw(descriptor.fields.find((field) => field.name === (measure.field ?? 'value'))?.column ?? 'value');
  const q = percentileOf(measure.fn);
  if (q !== null) return sql`percentile_cont(${q}::float8) WITHIN GROUP (ORDER BY ${column})`;
  switch (measure.fn) {
    case 'count':
      return sql`count(*)::float8`;
    case 'sum':
      return sql`sum(${column})`;
    case 'avg':
      return sql`avg(${column})`;
    case 'min':
      return sql`min(${column})`;
    case 'max':
      return sql`max(${column})`;
    case 'last':
      return sql`(array_agg(${column} ORDER BY "timestamp" DESC, id DESC))[1]`;
    case 'lastTimestamp':
      return sql`(array_agg((extract(epoch FROM "timestamp") * 1000)::float8 ORDER BY "timestamp" DESC, id DESC))[1]`;
    case 'rate':
      // Per second of the bucket, divided once the bucket's length is known.
      return query.family === 'activities' ? sql`count(*)::float8` : sql`sum(${column})`;
    case 'errorRate':
      return sql`(count(*) FILTER (WHERE status_code >= 500))::float8 / NULLIF(count(*), 0)`;
    case 'uniqueUsers':
      return sql`count(DISTINCT user_id)::float8`;
    default:
      throw new Error(`no SQL for measure ${measure.fn as string}`);
  }
}

function bucketSql(query: AggregateQuery): Sql {
  if (!query.interval) return sql`${query.from}::timestamptz`;
  const zone = query.interval === 'DAY' ? (query.timeZone ?? 'UTC') : 'UTC';
  return sql`date_trunc(${UNITS[query.interval]}, "timestamp" AT TIME ZONE ${zone}) AT TIME ZONE ${zone}`;
}

/**
 * The aggregate query on raw rows: one GROUP BY over the range. Exact (percentile_cont), and as slow as the
 * rows it scans; the rollup path is preferred wherever it serves.
 */
export async function aggregateRaw(db: Queryable, query: AggregateQuery, maxRows: number): Promise<AggregateRow[]> {
  const descriptor = REGISTRY[query.family];
  const groupBy = query.groupBy ?? [];
  const groupColumns = groupBy.map((dimension, index) => sql`${dimensionColumn(query.family, dimension)} AS ${raw(`g${index}`)}`);
  const measures = query.measures.map((measure, index) => sql`${measureSql(query, measure)} AS ${raw(`m${index}`)}`);
  const conditions = sqlConditions({ ...query.filter, from: query.from, to: query.to }, query.family);
  const positions = Prisma.raw(Array.from({ length: groupBy.length + 1 }, (_, index) => String(index + 1)).join(', '));
  const rows = await db.query<Record<string, unknown> & { bucketStart: Date; count: number }>(sql`/* analytics.aggregateRaw */
    SELECT * FROM (
      SELECT ${bucketSql(query)} AS "bucketStart"${groupColumns.length > 0 ? sql`, ${join(groupColumns)}` : empty},
             count(*)::int AS count${measures.length > 0 ? sql`, ${join(measures)}` : empty}
      FROM ${Prisma.raw(descriptor.table)}
      WHERE ${join(conditions, ' AND ')}
      GROUP BY ${positions}
      ORDER BY 1 DESC
      LIMIT ${maxRows}
    ) newest
    ORDER BY ${positions}`);
  return rows.map((row) => ({
    bucketStart: row.bucketStart,
    groups: Object.fromEntries(groupBy.map((dimension, index) => [dimension, stringOrNull(row[`g${index}`])])),
    count: row.count,
    values: Object.fromEntries(query.measures.map((measure, index) => [measureKey(measure), numberOrNull(row[`m${index}`])])),
  }));
}

const stringOrNull = (value: unknown) => (value === null || value === undefined ? null : String(value));
const numberOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));
