import type { Queryable } from '../../core/db/sql.js';
import { sql } from '../../core/db/sql.js';
import type { StoredOf } from '../../core/records.js';
import { recordColumns } from '../records/filters.js';

/**
 * The latest record of each metric name per host (tags.host). A loose index scan over
 * (host, metric_name, timestamp DESC) visits each distinct pair once, so the cost follows the number of
 * series, not the number of rows. Records without a host tag are reported as one more "host" of their own
 * when no host is asked for.
 */
export async function currentSystemMetrics(db: Queryable, host: string | null): Promise<StoredOf<'systemMetrics'>[]> {
  const hostCondition = host === null ? sql`host IS NOT NULL` : sql`host = ${host}`;
  const withHost = await db.query<StoredOf<'systemMetrics'>>(sql`/* currentSystemMetrics.byHost */
    WITH RECURSIVE series AS (
      (SELECT host, metric_name FROM system_metrics WHERE ${hostCondition} ORDER BY host, metric_name LIMIT 1)
      UNION ALL
      SELECT next.host, next.metric_name FROM series
      CROSS JOIN LATERAL (
        SELECT s.host, s.metric_name FROM system_metrics s
        WHERE ${hostCondition} AND (s.host, s.metric_name) > (series.host, series.metric_name)
        ORDER BY s.host, s.metric_name LIMIT 1
      ) next
    )
    SELECT latest.* FROM series
    CROSS JOIN LATERAL (
      SELECT ${recordColumns('systemMetrics', 'm')} FROM system_metrics m
      WHERE m.host = series.host AND m.metric_name = series.metric_name
      ORDER BY m."timestamp" DESC, m.id DESC LIMIT 1
    ) latest
    ORDER BY latest.host, latest."metricName"`);
  if (host !== null) return withHost;
  const withoutHost = await db.query<StoredOf<'systemMetrics'>>(sql`/* currentSystemMetrics.noHost */
    SELECT DISTINCT ON (metric_name) ${recordColumns('systemMetrics')} FROM system_metrics
    WHERE host IS NULL ORDER BY metric_name, "timestamp" DESC, id DESC`);
  return [...withHost, ...withoutHost];
}
