import type { Queryable } from '../../core/db/sql.js';
import type { Family } from '../../core/records.js';
import type { RecordFilter } from '../records/filters.js';
import type { AggregateQuery, Interval, ReadTrace } from './model.js';
import { recordTimeRange } from './queries/recordTimeRange.js';
import type { AnalyticsService } from './service.js';

// The API's statistics and trends, as reads of the aggregate contract: rollups serve them whenever they can.

/**
 * The range a filter reads: its from/to, with an open end closed by the family's first or last record (an
 * unbounded read covers all there is). Null when the family holds no records in it.
 */
export async function rangeOf(db: Queryable, family: Family, filter: RecordFilter): Promise<{ from: Date; to: Date } | null> {
  if (filter.from && filter.to) return filter.from.getTime() < filter.to.getTime() ? { from: filter.from, to: filter.to } : null;
  const span = await recordTimeRange(db, family);
  if (!span) return null;
  const from = filter.from ?? span.first;
  const to = filter.to ?? new Date(span.last.getTime() + 1);
  return from.getTime() < to.getTime() ? { from, to } : null;
}

export interface PerformanceTrendPoint {
  bucketStart: Date;
  group: string | null;
  count: number;
  avg: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  errorRate: number;
}

export async function performanceTrends(
  analytics: AnalyticsService,
  db: Queryable,
  filter: RecordFilter,
  options: { interval: Interval; groupByTag: string | null; trace?: ReadTrace[] },
): Promise<PerformanceTrendPoint[]> {
  const range = await rangeOf(db, 'performanceMetrics', filter);
  if (!range) return [];
  const { rows } = await analytics.aggregate({
    family: 'performanceMetrics',
    filter: { ...filter, from: undefined, to: undefined },
    ...range,
    interval: options.interval,
    groupBy: options.groupByTag ? [options.groupByTag] : [],
    measures: [
      { fn: 'avg', field: 'responseTimeMs', as: 'avg' },
      { fn: 'p50', field: 'responseTimeMs', as: 'p50' },
      { fn: 'p95', field: 'responseTimeMs', as: 'p95' },
      { fn: 'p99', field: 'responseTimeMs', as: 'p99' },
      { fn: 'errorRate' },
    ],
  }, { trace: options.trace });
  return rows.map((row) => ({
    bucketStart: row.bucketStart,
    group: options.groupByTag ? (row.groups[options.groupByTag] ?? null) : null,
    count: row.count,
    avg: row.values.avg ?? null,
    p50: row.values.p50 ?? null,
    p95: row.values.p95 ?? null,
    p99: row.values.p99 ?? null,
    errorRate: row.values.errorRate ?? 0,
  }));
}

export interface KeyCount {
  key: string;
  count: number;
}

export interface UserActivityStats {
  totalActivities: number;
  uniqueUsers: number;
  byType: KeyCount[];
  byUser: KeyCount[];
  byDay: KeyCount[];
}

/** The calendar day (YYYY-MM-DD) of an instant in a time zone. */
function dayIn(timeZone: string, at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** Totals and breakdowns of activities; byDay keys are calendar days (YYYY-MM-DD) in `timeZone`. */
export async function userActivityStats(
  analytics: AnalyticsService,
  db: Queryable,
  filter: RecordFilter,
  options: { top: number; timeZone: string; trace?: ReadTrace[] },
): Promise<UserActivityStats> {
  const range = await rangeOf(db, 'activities', filter);
  if (!range) return { totalActivities: 0, uniqueUsers: 0, byType: [], byUser: [], byDay: [] };
  const base: Omit<AggregateQuery, 'measures'> = { family: 'activities', filter: { ...filter, from: undefined, to: undefined }, ...range };
  const traced = { trace: options.trace };
  const [totals, byType, byUser, byDay] = await Promise.all([
    analytics.aggregate({ ...base, measures: [{ fn: 'count' }, { fn: 'uniqueUsers' }] }, traced),
    analytics.aggregate({ ...base, groupBy: ['activityType'], measures: [{ fn: 'count' }], top: { measure: 'count', limit: options.top } }, traced),
    analytics.aggregate({ ...base, groupBy: ['userId'], measures: [{ fn: 'count' }], top: { measure: 'count', limit: options.top } }, traced),
    analytics.aggregate({ ...base, interval: 'DAY', timeZone: options.timeZone, measures: [{ fn: 'count' }] }, traced),
  ]);
  const ranked = (rows: typeof byType.rows, dimension: string) =>
    rows
      .map((row) => ({ key: row.groups[dimension] ?? '', count: row.count }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    totalActivities: totals.rows[0]?.count ?? 0,
    uniqueUsers: totals.rows[0]?.values.uniqueUsers ?? 0,
    byType: ranked(byType.rows, 'activityType'),
    byUser: ranked(byUser.rows, 'userId'),
    byDay: byDay.rows.map((row) => ({ key: dayIn(options.timeZone, row.bucketStart), count: row.count })),
  };
}

export interface ApplicationMetricStat {
  appName: string;
  metricName: string;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
  last: number;
  lastTimestamp: Date;
}

export async function applicationMetricStats(
  analytics: AnalyticsService,
  db: Queryable,
  filter: RecordFilter,
  trace?: ReadTrace[],
): Promise<ApplicationMetricStat[]> {
  const range = await rangeOf(db, 'applicationMetrics', filter);
  if (!range) return [];
  const { rows } = await analytics.aggregate({
    family: 'applicationMetrics',
    filter: { ...filter, from: undefined, to: undefined },
    ...range,
    groupBy: ['appName', 'metricName'],
    measures: [{ fn: 'sum' }, { fn: 'avg' }, { fn: 'min' }, { fn: 'max' }, { fn: 'last' }, { fn: 'lastTimestamp' }],
  }, { trace });
  return rows.map((row) => ({
    appName: row.groups.appName ?? '',
    metricName: row.groups.metricName ?? '',
    count: row.count,
    sum: row.values.sum ?? 0,
    avg: row.values.avg ?? 0,
    min: row.values.min ?? 0,
    max: row.values.max ?? 0,
    last: row.values.last ?? 0,
    lastTimestamp: new Date(row.values.lastTimestamp ?? 0),
  }));
}

/** The response extension where a request's analytics reads are reported (`extensions.analytics`). */
export function traceOf(ctx: { extensions: Record<string, unknown> }): ReadTrace[] {
  return ((ctx.extensions.analytics as ReadTrace[] | undefined) ??= []);
}
