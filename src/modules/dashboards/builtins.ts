import type { Queryable } from '../../core/db/sql.js';
import type { ReadTrace } from '../analytics/model.js';
import type { AnalyticsService } from '../analytics/service.js';
import { alertItem, type AlertItem, type AlertSource, type Point } from './data.js';
import { relativeMs } from './model.js';
import { timeSpentSeconds } from './queries/timeSpent.js';

// The product's two built-in dashboards, read through the analytics layer like any widget.

export const SYSTEM_METRICS = ['cpu_usage', 'memory_usage', 'disk_usage'] as const;
export const PROJECT_CREATE = 'PROJECT_CREATE';
export const PAGE_UPDATE = 'PAGE_UPDATE';
const HOUR = 3_600_000;
const DAY = 86_400_000;

export interface HostStatus {
  host: string;
  cpuUsage: number | null;
  memoryUsage: number | null;
  diskUsage: number | null;
}

export interface SystemDashboardData {
  from: Date;
  to: Date;
  hosts: HostStatus[];
  activeUsers: number;
  averageResponseTimeMs: number | null;
  errorRate: number | null;
  requestsPerMinute: number;
  activeAlerts: AlertItem[];
  performanceTrends: { name: string; points: Point[] }[];
}

export interface UserDashboardData {
  userId: string;
  period: string;
  from: Date;
  to: Date;
  totalActivities: number;
  projectsCreated: number;
  pagesModified: number;
  timeSpentSeconds: number;
  activeDays: number;
  timeline: Point[];
  topFeatures: { key: string; value: number | null }[];
  productivityScore: number;
}

/**
 * The productivity score, 0-100 (README "Dashboards"): a weighted sum of four ratios, each capped at 1, over the
 * period's length in days D:
 *   activity    = min(1, activities / (20·D))                   weight 25
 *   output      = min(1, (5·projects + pages) / (5·D))           weight 35
 *   focus       = min(1, timeSpentSeconds / (4 h · D))           weight 20
 *   consistency = activeDays / ceil(D)                           weight 20
 */
export function productivityScore(input: { days: number; activities: number; projects: number; pages: number; timeSpentSeconds: number; activeDays: number }): number {
  const days = Math.max(input.days, 1 / 24);
  const ratio = (value: number) => Math.max(0, Math.min(1, value));
  const score =
    25 * ratio(input.activities / (20 * days)) +
    35 * ratio((5 * input.projects + input.pages) / (5 * days)) +
    20 * ratio(input.timeSpentSeconds / (4 * 3600 * days)) +
    20 * ratio(input.activeDays / Math.ceil(days));
  return Math.round(score * 10) / 10;
}

export async function systemDashboard(analytics: AnalyticsService, alerts: AlertSource | null, now: number, trace?: ReadTrace[]): Promise<SystemDashboardData> {
  const from = new Date(now - HOUR);
  const to = new Date(now);
  const options = { trace };
  const [hostRows, users, performance, trends, active] = await Promise.all([
    analytics.aggregate({ family: 'systemMetrics', filter: { metricNames: [...SYSTEM_METRICS] }, from, to, groupBy: ['host', 'metricName'], measures: [{ fn: 'last' }] }, options),
    analytics.aggregate({ family: 'activities', from, to, measures: [{ fn: 'uniqueUsers' }] }, options),
    analytics.aggregate({ family: 'performanceMetrics', from, to, measures: [{ fn: 'count' }, { fn: 'avg', field: 'responseTimeMs' }, { fn: 'errorRate' }] }, options),
    analytics.aggregate(
      { family: 'performanceMetrics', from: new Date(now - 24 * HOUR), to, interval: 'HOUR', measures: [{ fn: 'avg', field: 'responseTimeMs' }, { fn: 'p95', field: 'responseTimeMs' }, { fn: 'count' }] },
      options,
    ),
    alerts ? alerts.activeAlerts() : Promise.resolve([]),
  ]);
  const hosts = new Map<string, HostStatus>();
  for (const row of hostRows.rows) {
    const host = row.groups.host;
    if (host === null || host === undefined) continue;
    let status = hosts.get(host);
    if (!status) hosts.set(host, (status = { host, cpuUsage: null, memoryUsage: null, diskUsage: null }));
    const value = row.values.last ?? null;
    if (row.groups.metricName === 'cpu_usage') status.cpuUsage = value;
    else if (row.groups.metricName === 'memory_usage') status.memoryUsage = value;
    else if (row.groups.metricName === 'disk_usage') status.diskUsage = value;
  }
  const totals = performance.rows[0];
  const series = (name: string, key: string) => ({ name, points: trends.rows.map((row) => ({ t: row.bucketStart, v: row.values[key] ?? null })) });
  return {
    from,
    to,
    hosts: [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host)),
    activeUsers: users.rows[0]?.values.uniqueUsers ?? 0,
    averageResponseTimeMs: totals?.values['avg(responseTimeMs)'] ?? null,
    errorRate: totals?.values.errorRate ?? null,
    requestsPerMinute: Math.round(((totals?.count ?? 0) / 60) * 1000) / 1000,
    activeAlerts: active.map(alertItem),
    performanceTrends: [series('avg(responseTimeMs)', 'avg(responseTimeMs)'), series('p95(responseTimeMs)', 'p95(responseTimeMs)'), series('requests', 'count')],
  };
}

export async function userDashboard(analytics: AnalyticsService, db: Queryable, userId: string, period: string, now: number, trace?: ReadTrace[]): Promise<UserDashboardData> {
  const length = relativeMs(period) as number;
  const from = new Date(now - length);
  const to = new Date(now);
  const options = { trace };
  const [byType, timeline, spent] = await Promise.all([
    analytics.aggregate({ family: 'activities', filter: { userId }, from, to, groupBy: ['activityType'], measures: [{ fn: 'count' }] }, options),
    analytics.aggregate({ family: 'activities', filter: { userId }, from, to, interval: 'DAY', measures: [{ fn: 'count' }] }, options),
    timeSpentSeconds(db, userId, from, to),
  ]);
  const countOf = (type: string) => byType.rows.find((row) => row.groups.activityType === type)?.count ?? 0;
  const totalActivities = byType.rows.reduce((sum, row) => sum + row.count, 0);
  const projectsCreated = countOf(PROJECT_CREATE);
  const pagesModified = countOf(PAGE_UPDATE);
  const activeDays = timeline.rows.filter((row) => row.count > 0).length;
  const topFeatures = [...byType.rows]
    .sort((a, b) => b.count - a.count || String(a.groups.activityType).localeCompare(String(b.groups.activityType)))
    .slice(0, 10)
    .map((row) => ({ key: row.groups.activityType ?? '(none)', value: row.count }));
  return {
    userId,
    period,
    from,
    to,
    totalActivities,
    projectsCreated,
    pagesModified,
    timeSpentSeconds: spent,
    activeDays,
    timeline: timeline.rows.map((row) => ({ t: row.bucketStart, v: row.count })),
    topFeatures,
    productivityScore: productivityScore({ days: length / DAY, activities: totalActivities, projects: projectsCreated, pages: pagesModified, timeSpentSeconds: spent, activeDays }),
  };
}
