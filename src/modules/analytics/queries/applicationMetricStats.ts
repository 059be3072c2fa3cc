import type { Queryable } from '../../../core/db/sql.js';
import { sql } from '../../../core/db/sql.js';
import { sqlConditions, whereClause, type RecordFilter } from '../../records/filters.js';

export interface ApplicationMetricStat {
  appName: string;
  metricName: string;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
  /** Value of the newest record (by timestamp, then id). */
  last: number;
  lastTimestamp: Date;
}


export async function applicationMetricStats(db: Queryable, filter: RecordFilter): Promise<ApplicationMetricStat[]> {
  const where = whereClause(sqlConditions(filter, 'applicationMetrics'));
  return db.query<ApplicationMetricStat>(sql`/* applicationMetricStats */
    WITH stats AS (
      SELECT app_name, metric_name, count(*)::int AS count, sum(value) AS sum, avg(value) AS avg,
             min(value) AS min, max(value) AS max
      FROM application_metrics ${where}
      GROUP BY app_name, metric_name
    ), latest AS (
      SELECT DISTINCT ON (app_name, metric_name) app_name, metric_name, value, "timestamp"
      FROM application_metrics ${where}
      ORDER BY app_name, metric_name, "timestamp" DESC, id DESC
    )
    SELECT s.app_name AS "appName", s.metric_name AS "metricName", s.count, s.sum, s.avg, s.min, s.max,
           l.value AS last, l."timestamp" AS "lastTimestamp"
    FROM stats s JOIN latest l USING (app_name, metric_name)
    ORDER BY s.app_name, s.metric_name`);
}
