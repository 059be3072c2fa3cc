import type { Queryable } from '../../../core/db/sql.js';
import { sql } from '../../../core/db/sql.js';
import type { Ingestor } from '../../records/ingestor.js';
import type { Schedule } from '../../../core/schedule.js';
import type { JobDefinition } from '../../../core/jobs.js';

export const AGGREGATE_SOURCE = 'aggregate-application-metrics';

/** The appName rule of the ingest path; an app tag that breaks it is skipped so it cannot fail the other apps' rollups. */
const APP_NAME = /^[A-Za-z0-9_.:/-]{1,100}$/;

export interface AppWindowStats {
  app: string;
  requests: number;
  visitors: number;
  withStatus: number;
  errors: number;
  timed: number;
  avgResponseTimeMs: number | null;
}

/** Per app (tags.app), what the performance metrics recorded in [start, end) add up to. */
export async function appWindowStats(db: Queryable, start: Date, end: Date): Promise<AppWindowStats[]> {
  return db.query<AppWindowStats>(sql`/* aggregateApplicationMetrics.window */
    SELECT tags->>'app' AS "app",
      count(*)::int AS "requests",
      count(DISTINCT tags->>'user_id')::int AS "visitors",
      count(status_code)::int AS "withStatus",
      (count(*) FILTER (WHERE status_code >= 500))::int AS "errors",
      count(response_time_ms)::int AS "timed",
      avg(response_time_ms)::float8 AS "avgResponseTimeMs"
    FROM performance_metrics
    WHERE "timestamp" >= ${start} AND "timestamp" < ${end} AND tags->>'app' IS NOT NULL
    GROUP BY 1 ORDER BY 1`);
}

/**
 * Rolls the performance metrics of the period that ends at the tick up into each app's application metrics:
 *
 * - window: [previous tick, tick), from the schedule (5 minutes for the default cron), never from the clock;
 * - page_views (COUNTER): performance records tagged with the app;
 * - unique_visitors (GAUGE): distinct tags.user_id among them (records without one are not visitors);
 * - error_rate (GAUGE, percent 0–100, like HIGH_ERROR_RATE_THRESHOLD): share of records with a status code
 *   whose status is ≥ 500; left out when no record has a status code;
 * - avg_response_time_ms (GAUGE): mean responseTimeMs; left out when no record has one.
 *
 * Each is stamped with the window's start (a bucket is named by where it begins) and carries the window in its
 * metadata. A window is rolled up once: the tick's claim admits one run, and a manual run stands for the
 * latest tick (manualAnchor), so it returns the run that already covered that window instead of counting it twice.
 * Records that arrive after their window's tick are not counted.
 */
export function aggregateApplicationMetricsJob(deps: {
  schedule: Schedule;
  db: Queryable;
  ingestor: Ingestor;
  batchSize: number;
  environment?: string;
}): JobDefinition {
  return {
    name: 'aggregate-application-metrics',
    description:
      'Rolls the last period of performance metrics (tag app) up into each app\'s page_views, unique_visitors, error_rate (percent) and avg_response_time_ms.',
    schedule: deps.schedule,
    scope: 'cluster',
    manualAnchor: 'latestTick',
    async run({ fireTime, signal, log }) {
      const end = fireTime;
      const start = deps.schedule.previous(end);
      const stats = await appWindowStats(deps.db, start, end);
      const skipped = stats.filter((row) => !APP_NAME.test(row.app)).map((row) => row.app.slice(0, 120));
      if (skipped.length > 0) log.warn({ apps: skipped }, 'performance metrics tagged with an app name the ingest path refuses; not aggregated');

      const tags: Record<string, string> = { source: AGGREGATE_SOURCE };
      if (deps.environment) tags.environment = deps.environment;
      const window = { windowStart: start.toISOString(), windowEnd: end.toISOString() };
      const items = stats
        .filter((row) => APP_NAME.test(row.app))
        .flatMap((row) => {
          const metric = (metricName: string, metricType: 'COUNTER' | 'GAUGE', value: number, unit: string) => ({
            appName: row.app,
            metricName,
            metricType,
            value,
            unit,
            tags,
            metadata: { ...window, samples: row.requests },
            timestamp: start,
          });
          return [
            metric('page_views', 'COUNTER', row.requests, 'views'),
            metric('unique_visitors', 'GAUGE', row.visitors, 'visitors'),
            ...(row.withStatus > 0 ? [metric('error_rate', 'GAUGE', round((row.errors / row.withStatus) * 100), 'percent')] : []),
            ...(row.timed > 0 && row.avgResponseTimeMs !== null ? [metric('avg_response_time_ms', 'GAUGE', round(row.avgResponseTimeMs), 'ms')] : []),
          ];
        });
      // One ingest call is limited to INSIGHTS_BATCH_SIZE records.
      for (let offset = 0; offset < items.length; offset += deps.batchSize) {
        signal.throwIfAborted();
        await deps.ingestor.ingest({
          lists: [{ family: 'applicationMetrics', items: items.slice(offset, offset + deps.batchSize), path: 'aggregate-application-metrics', indexed: true }],
        });
      }
      return { ...window, apps: stats.length - skipped.length, metrics: items.length, skippedApps: skipped };
    },
  };
}

function round(value: number): number {
  return Number(value.toFixed(4));
}
