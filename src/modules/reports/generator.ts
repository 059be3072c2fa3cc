import type { Queryable } from '../../core/db/sql.js';
import { sql } from '../../core/db/sql.js';
import type { AggregateQuery, AggregateRow } from '../analytics/model.js';
import { daysEndingAt, hourStarts, localDayStarts, previousPeriod, type Period } from './periods.js';
import {
  computeChange,
  metric,
  type ActivityTypeRow,
  type AlertsSection,
  type ErrorEndpointRow,
  type Granularity,
  type HostSeries,
  type HostStatsRow,
  type ReportData,
  type ReportType,
  type RequestsPoint,
  type SlowEndpointRow,
} from './render/types.js';

// What a report holds, computed for a period and the one before it. Every aggregate is read through the
// analytics layer (services.analytics.aggregate), which picks rollups or raw rows; only new and total users
// come from this module's own user_first_seen table, maintained on ingest.

/** The activity types the product reports as project creations and publications. */
export const PROJECT_CREATE = 'PROJECT_CREATE';
export const PROJECT_PUBLISH = 'PROJECT_PUBLISH';
/** The performance-metric tag naming the endpoint of a request. */
export const ENDPOINT_TAG = 'endpoint';
/** System metrics the System section reads (names written by the collect-system-metrics job). */
export const HOST_METRICS = { cpu: 'cpu_usage', memory: 'memory_usage', disk: 'disk_usage' } as const;
/** Endpoints listed in each performance table. */
export const ENDPOINT_LIMIT = 10;
/** "Total so far" counts start here: before it there is nothing to count. */
const BEGINNING = new Date('2000-01-01T00:00:00Z');

export interface Aggregator {
  aggregate(query: AggregateQuery): Promise<{ rows: AggregateRow[] }>;
}

/**
 * What the reports need of the alerting module, when it exists (found at run time as `services.alerts`): how many
 * alerts fired and resolved in a period, by rule. Until a module provides it, reports leave the section out.
 */
export interface ReportAlertsSource {
  alertCountsByRule(from: Date, to: Date): Promise<{ rule: string; fired: number; resolved: number }[]>;
}

export function alertsSourceOf(services: object): ReportAlertsSource | null {
  // Whichever name the alerting module registers its service under.
  for (const name of ['alerts', 'alerting']) {
    if (!(name in services)) continue;
    const candidate = (services as Record<string, Partial<ReportAlertsSource> | undefined>)[name];
    if (candidate && typeof candidate.alertCountsByRule === 'function') return candidate as ReportAlertsSource;
  }
  return null;
}

export interface GenerateContext {
  id: string;
  type: ReportType;
  period: Period;
  timeZone: string;
  generatedAt: Date;
}

export interface GeneratorDeps {
  db: Queryable;
  analytics: Aggregator;
  alerts: ReportAlertsSource | null;
}

const iso = (date: Date) => date.toISOString();
const valueOf = (rows: AggregateRow[], key: string): number | null => rows[0]?.values[key] ?? null;

export async function generateReportData(deps: GeneratorDeps, context: GenerateContext): Promise<ReportData> {
  const { analytics } = deps;
  const { period, timeZone, type } = context;
  const previous = previousPeriod(type, period, timeZone);
  const read = async (query: Omit<AggregateQuery, 'timeZone'>) => (await analytics.aggregate({ ...query, timeZone })).rows;
  const range = (p: Period) => ({ from: p.start, to: p.end });

  const activitiesByType = (p: Period) =>
    read({ family: 'activities', ...range(p), groupBy: ['activityType'], measures: [{ fn: 'count' }] });
  const uniqueUsers = async (p: Period) =>
    valueOf(await read({ family: 'activities', ...range(p), measures: [{ fn: 'uniqueUsers' }] }), 'uniqueUsers') ?? 0;
  const activeWindows = async (end: Date) => {
    const [dau, wau, mau] = await Promise.all([1, 7, 30].map((days) => uniqueUsers(daysEndingAt(end, days, timeZone))));
    return { dau: dau as number, wau: wau as number, mau: mau as number };
  };
  const projectsCreatedBy = async (end: Date) =>
    valueOf(
      await read({ family: 'activities', from: BEGINNING, to: end, filter: { activityTypes: [PROJECT_CREATE] }, measures: [{ fn: 'count' }] }),
      'count',
    ) ?? 0;
  const performance = (p: Period) =>
    read({
      family: 'performanceMetrics',
      ...range(p),
      measures: [
        { fn: 'count' },
        { fn: 'avg', field: 'responseTimeMs' },
        { fn: 'p95', field: 'responseTimeMs' },
        { fn: 'p99', field: 'responseTimeMs' },
        { fn: 'errorRate' },
      ],
    });
  const granularity: Granularity = type === 'DAILY' || (type === 'CUSTOM' && period.end.getTime() - period.start.getTime() <= 2 * 86_400_000) ? 'HOUR' : 'DAY';

  const [typesNow, typesBefore, activeNow, activeBefore, windowsNow, windowsBefore, users, totalNow, totalBefore, perfNow, perfBefore, slowest, byEndpoint, series, hostStats, hostSeries, alerts] =
    await Promise.all([
      activitiesByType(period),
      activitiesByType(previous),
      uniqueUsers(period),
      uniqueUsers(previous),
      activeWindows(period.end),
      activeWindows(previous.end),
      firstSeenCounts(deps.db, period, previous),
      projectsCreatedBy(period.end),
      projectsCreatedBy(previous.end),
      performance(period),
      performance(previous),
      // One more than shown: records without an endpoint tag form a group of their own, left out below.
      read({
        family: 'performanceMetrics',
        ...range(period),
        groupBy: [ENDPOINT_TAG],
        measures: [{ fn: 'count' }, { fn: 'p95', field: 'responseTimeMs' }, { fn: 'p99', field: 'responseTimeMs' }, { fn: 'errorRate' }],
        top: { measure: 'p95(responseTimeMs)', limit: ENDPOINT_LIMIT + 1 },
      }),
      read({ family: 'performanceMetrics', ...range(period), groupBy: [ENDPOINT_TAG], measures: [{ fn: 'count' }, { fn: 'errorRate' }] }),
      read({ family: 'performanceMetrics', ...range(period), interval: granularity, measures: [{ fn: 'count' }, { fn: 'errorRate' }] }),
      read({
        family: 'systemMetrics',
        ...range(period),
        filter: { metricNames: Object.values(HOST_METRICS) },
        groupBy: ['host', 'metricName'],
        measures: [{ fn: 'avg' }, { fn: 'max' }],
      }),
      read({
        family: 'systemMetrics',
        ...range(period),
        interval: granularity,
        filter: { metricNames: [HOST_METRICS.cpu, HOST_METRICS.memory] },
        groupBy: ['host', 'metricName'],
        measures: [{ fn: 'avg' }],
      }),
      deps.alerts ? deps.alerts.alertCountsByRule(period.start, period.end) : Promise.resolve(null),
    ]);

  const countByType = (rows: AggregateRow[]) => new Map(rows.map((row) => [row.groups.activityType ?? '', row.count]));
  const now = countByType(typesNow);
  const before = countByType(typesBefore);
  const activities: ActivityTypeRow[] = [...new Set([...now.keys(), ...before.keys()])]
    .map((activityType) => {
      const count = now.get(activityType) ?? 0;
      const previousCount = before.get(activityType) ?? 0;
      return { type: activityType, count, previous: previousCount, change: computeChange(count, previousCount) };
    })
    .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));

  const stickiness = (w: { dau: number; mau: number }) => (w.mau > 0 ? w.dau / w.mau : null);
  const perf = (rows: AggregateRow[], key: string) => (key === 'count' ? (rows[0]?.count ?? 0) : valueOf(rows, key));

  const endpointRows = byEndpoint.filter((row) => row.groups[ENDPOINT_TAG] !== null);
  const topErrorEndpoints: ErrorEndpointRow[] = endpointRows
    .map((row) => {
      const errorRate = row.values.errorRate ?? null;
      // errorRate is errors / requests rounded to 10 significant digits: rounding gives back the exact count.
      return { endpoint: row.groups[ENDPOINT_TAG] as string, errors: Math.round((errorRate ?? 0) * row.count), requests: row.count, errorRate };
    })
    .filter((row) => row.errors > 0)
    .sort((a, b) => b.errors - a.errors || a.endpoint.localeCompare(b.endpoint))
    .slice(0, ENDPOINT_LIMIT);
  const slowestEndpoints: SlowEndpointRow[] = slowest
    .filter((row) => row.groups[ENDPOINT_TAG] !== null)
    .map((row) => ({
      endpoint: row.groups[ENDPOINT_TAG] as string,
      requests: row.count,
      p95Ms: row.values['p95(responseTimeMs)'] ?? null,
      p99Ms: row.values['p99(responseTimeMs)'] ?? null,
      errorRate: row.values.errorRate ?? null,
    }))
    .sort((a, b) => (b.p95Ms ?? -1) - (a.p95Ms ?? -1) || a.endpoint.localeCompare(b.endpoint))
    .slice(0, ENDPOINT_LIMIT);

  const buckets = granularity === 'HOUR' ? hourStarts(period) : localDayStarts(period, timeZone);
  const seriesByBucket = new Map(series.map((row) => [row.bucketStart.getTime(), row]));
  const points: RequestsPoint[] = buckets.map((bucket) => {
    const row = seriesByBucket.get(bucket.getTime());
    return { bucketStart: iso(bucket), requests: row?.count ?? 0, errorRate: row ? (row.values.errorRate ?? null) : null };
  });

  const alertsSection: AlertsSection | undefined = alerts
    ? { byRule: [...alerts].sort((a, b) => b.fired - a.fired || a.rule.localeCompare(b.rule)) }
    : undefined;

  return {
    id: context.id,
    type,
    periodStart: iso(period.start),
    periodEnd: iso(period.end),
    timeZone,
    generatedAt: iso(context.generatedAt),
    users: {
      newUsers: metric(users.newNow, users.newBefore),
      activeUsers: metric(activeNow, activeBefore),
      dau: metric(windowsNow.dau, windowsBefore.dau),
      wau: metric(windowsNow.wau, windowsBefore.wau),
      mau: metric(windowsNow.mau, windowsBefore.mau),
      stickiness: metric(stickiness(windowsNow), stickiness(windowsBefore)),
      totalUsers: metric(users.totalNow, users.totalBefore),
    },
    projects: {
      created: metric(now.get(PROJECT_CREATE) ?? 0, before.get(PROJECT_CREATE) ?? 0),
      published: metric(now.get(PROJECT_PUBLISH) ?? 0, before.get(PROJECT_PUBLISH) ?? 0),
      totalCreated: metric(totalNow, totalBefore),
    },
    activities,
    performance: {
      totalRequests: metric(perf(perfNow, 'count'), perf(perfBefore, 'count')),
      avgResponseMs: metric(perf(perfNow, 'avg(responseTimeMs)'), perf(perfBefore, 'avg(responseTimeMs)')),
      p95ResponseMs: metric(perf(perfNow, 'p95(responseTimeMs)'), perf(perfBefore, 'p95(responseTimeMs)')),
      p99ResponseMs: metric(perf(perfNow, 'p99(responseTimeMs)'), perf(perfBefore, 'p99(responseTimeMs)')),
      errorRate: metric(perf(perfNow, 'errorRate'), perf(perfBefore, 'errorRate')),
      slowestEndpoints,
      topErrorEndpoints,
      timeSeries: { granularity, points },
    },
    system: { hosts: hostRows(hostStats), timeSeries: { granularity, series: hostTimeSeries(hostSeries) } },
    ...(alertsSection ? { alerts: alertsSection } : {}),
  };
}

function hostRows(rows: AggregateRow[]): HostStatsRow[] {
  const hosts = new Map<string, HostStatsRow>();
  for (const row of rows) {
    const host = row.groups.host;
    if (host === null || host === undefined) continue;
    const entry = hosts.get(host) ?? { host, cpuAvg: null, cpuMax: null, memoryAvg: null, memoryMax: null, diskAvg: null, diskMax: null };
    const avg = row.values.avg ?? null;
    const max = row.values.max ?? null;
    if (row.groups.metricName === HOST_METRICS.cpu) Object.assign(entry, { cpuAvg: avg, cpuMax: max });
    else if (row.groups.metricName === HOST_METRICS.memory) Object.assign(entry, { memoryAvg: avg, memoryMax: max });
    else if (row.groups.metricName === HOST_METRICS.disk) Object.assign(entry, { diskAvg: avg, diskMax: max });
    hosts.set(host, entry);
  }
  return [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host));
}

function hostTimeSeries(rows: AggregateRow[]): HostSeries[] {
  const byHost = new Map<string, Map<number, { cpu: number | null; memory: number | null }>>();
  for (const row of rows) {
    const host = row.groups.host;
    if (host === null || host === undefined) continue;
    const points = byHost.get(host) ?? new Map();
    const point = points.get(row.bucketStart.getTime()) ?? { cpu: null, memory: null };
    if (row.groups.metricName === HOST_METRICS.cpu) point.cpu = row.values.avg ?? null;
    else point.memory = row.values.avg ?? null;
    points.set(row.bucketStart.getTime(), point);
    byHost.set(host, points);
  }
  return [...byHost.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([host, points]) => ({
      host,
      points: [...points.entries()].sort(([a], [b]) => a - b).map(([time, point]) => ({ bucketStart: new Date(time).toISOString(), ...point })),
    }));
}

/** New users of both periods and users seen by the end of each: one statement over user_first_seen. */
async function firstSeenCounts(db: Queryable, period: Period, previous: Period) {
  const [row] = await db.query<{ newNow: number; newBefore: number; totalNow: number; totalBefore: number }>(sql`/* reports.firstSeenCounts */
    SELECT count(*) FILTER (WHERE first_seen >= ${period.start} AND first_seen < ${period.end})::int AS "newNow",
           count(*) FILTER (WHERE first_seen >= ${previous.start} AND first_seen < ${previous.end})::int AS "newBefore",
           count(*) FILTER (WHERE first_seen < ${period.end})::int AS "totalNow",
           count(*) FILTER (WHERE first_seen < ${previous.end})::int AS "totalBefore"
    FROM user_first_seen WHERE first_seen < ${period.end}`);
  return row ?? { newNow: 0, newBefore: 0, totalNow: 0, totalBefore: 0 };
}
