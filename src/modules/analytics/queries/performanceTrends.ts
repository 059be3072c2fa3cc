import type { Queryable } from '../../../core/db/sql.js';
import { sql } from '../../../core/db/sql.js';
import { sqlConditions, whereClause, type RecordFilter } from '../../records/filters.js';

/** Bucket widths a caller may ask for, mapped to date_trunc units: the only values that reach SQL. */
export const TREND_INTERVALS = { MINUTE: 'minute', HOUR: 'hour', DAY: 'day' } as const;
export type TrendInterval = keyof typeof TREND_INTERVALS;

export interface PerformanceTrendPoint {
  bucketStart: Date;
  /** Value of the grouping tag, when grouped; null otherwise or when a record lacks the tag. */
  group: string | null;
  count: number;
  avg: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Share of the bucket's records with statusCode >= 500, 0..1. */
  errorRate: number;
}


/**
 * One point per UTC time bucket (and tag value when grouped), oldest first, buckets with no records omitted.
 * At most `maxPoints` points: the newest ones when the range holds more.
 */
export async function performanceTrends(
  db: Queryable,
  filter: RecordFilter,
  options: { interval: TrendInterval; groupByTag: string | null; maxPoints: number },
): Promise<PerformanceTrendPoint[]> {
  const unit = TREND_INTERVALS[options.interval];
  const where = whereClause(sqlConditions(filter, 'performanceMetrics'));
  const group = options.groupByTag === null ? sql`NULL::text` : sql`tags ->> ${options.groupByTag}`;
  const rows = await db.query<PerformanceTrendPoint>(sql`/* performanceTrends */
    SELECT * FROM (
      SELECT date_trunc(${unit}, "timestamp" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS "bucketStart",
             ${group} AS "group",
             count(*)::int AS count,
             avg(response_time_ms) AS avg,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms) AS p50,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p95,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms) AS p99,
             (count(*) FILTER (WHERE status_code >= 500))::float8 / count(*) AS "errorRate"
      FROM performance_metrics ${where}
      GROUP BY 1, 2
      ORDER BY 1 DESC, 2
      LIMIT ${options.maxPoints}
    ) newest
    ORDER BY "bucketStart", "group"`);
  return rows;
}
