/**
 * The shape of a computed report, as the reports module hands it to the renderers (HTML, CSV, JSON, e-mail).
 *
 * Conventions, for every field below:
 * - Instants are ISO 8601 strings in UTC (`2024-01-15T00:00:00.000Z`). The period is half-open:
 *   `periodStart` is included, `periodEnd` is not. Renderers show instants in `timeZone`.
 * - Ratios (stickiness, error rates, relative changes) are shares between 0 and 1 (relative changes may
 *   exceed 1 or go below 0); the renderers turn them into percentages. Resource usages (cpu, memory, disk)
 *   are already percentages, 0–100.
 * - Durations are milliseconds.
 * - `null` means "not computable" (no data, division by zero, no previous period), never zero.
 */

export type ReportType = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'CUSTOM';

/** An ISO 8601 instant in UTC, e.g. `2024-01-15T00:00:00.000Z`. */
export type IsoDateTime = string;

/** How a figure moved from the previous period of the same length to this one. */
export interface Change {
  /** value − previous; null when either is null. */
  absolute: number | null;
  /** (value − previous) / previous, as a share (0.25 = +25 %); null when either is null or previous is 0. */
  relative: number | null;
}

/** A headline figure with its value for the previous period. */
export interface Metric {
  value: number | null;
  previous: number | null;
  change: Change;
}

export interface UsersSection {
  /** Users whose first activity ever falls inside the period. */
  newUsers: Metric;
  /** Distinct users with at least one activity in the period. */
  activeUsers: Metric;
  /** Daily, weekly and monthly active users as of the period's end. */
  dau: Metric;
  wau: Metric;
  mau: Metric;
  /** DAU / MAU, a share (0–1). */
  stickiness: Metric;
  /** Distinct users ever seen, as of the period's end. */
  totalUsers: Metric;
}

export interface ProjectsSection {
  /** PROJECT_CREATE activities in the period. */
  created: Metric;
  /** PROJECT_PUBLISH activities in the period. */
  published: Metric;
  /** Projects created since the beginning, as of the period's end. */
  totalCreated: Metric;
}

export interface ActivityTypeRow {
  /** The activity type as stored (free text: escape it). */
  type: string;
  count: number;
  /** Count in the previous period; null when there is no previous period to compare with. */
  previous: number | null;
  change: Change;
}

export interface SlowEndpointRow {
  endpoint: string;
  requests: number;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Share of requests that failed, 0–1. */
  errorRate: number | null;
}

export interface ErrorEndpointRow {
  endpoint: string;
  errors: number;
  requests: number;
  /** errors / requests, 0–1. */
  errorRate: number | null;
}

export type Granularity = 'HOUR' | 'DAY';

export interface RequestsPoint {
  /** Start of the bucket (an hour or a day in the report's time zone). */
  bucketStart: IsoDateTime;
  requests: number;
  /** 0–1; null when the bucket has no request. */
  errorRate: number | null;
}

export interface PerformanceSection {
  totalRequests: Metric;
  avgResponseMs: Metric;
  p95ResponseMs: Metric;
  p99ResponseMs: Metric;
  /** Share of failed requests, 0–1. */
  errorRate: Metric;
  /** At most 10, slowest p95 first. */
  slowestEndpoints: SlowEndpointRow[];
  /** At most 10, most errors first. */
  topErrorEndpoints: ErrorEndpointRow[];
  /** Oldest bucket first. */
  timeSeries: { granularity: Granularity; points: RequestsPoint[] };
}

/** Per-host resource usage over the period, in percent (0–100); null when the host sent no sample of it. */
export interface HostStatsRow {
  host: string;
  cpuAvg: number | null;
  cpuMax: number | null;
  memoryAvg: number | null;
  memoryMax: number | null;
  diskAvg: number | null;
  diskMax: number | null;
}

export interface HostPoint {
  bucketStart: IsoDateTime;
  /** Average cpu and memory use in the bucket, percent (0–100). */
  cpu: number | null;
  memory: number | null;
}

export interface HostSeries {
  host: string;
  /** Oldest bucket first. */
  points: HostPoint[];
}

export interface SystemSection {
  hosts: HostStatsRow[];
  timeSeries: { granularity: Granularity; series: HostSeries[] };
}

export interface AlertRuleRow {
  /** The rule's name (free text: escape it). */
  rule: string;
  fired: number;
  resolved: number;
}

export interface AlertsSection {
  byRule: AlertRuleRow[];
}

export interface ReportData {
  id: string;
  type: ReportType;
  periodStart: IsoDateTime;
  /** Exclusive. */
  periodEnd: IsoDateTime;
  /** IANA time zone the report was computed and is shown in, e.g. `Europe/Paris`. */
  timeZone: string;
  generatedAt: IsoDateTime;
  users: UsersSection;
  projects: ProjectsSection;
  /** Largest count first. */
  activities: ActivityTypeRow[];
  performance: PerformanceSection;
  system: SystemSection;
  /** Absent when the report does not cover alerts: the section is then left out, never shown as zeros. */
  alerts?: AlertsSection;
}

/** The change from `previous` to `value`, with the null rules of {@link Change}. */
export function computeChange(value: number | null, previous: number | null): Change {
  if (value === null || previous === null || !Number.isFinite(value) || !Number.isFinite(previous)) {
    return { absolute: null, relative: null };
  }
  return { absolute: value - previous, relative: previous === 0 ? null : (value - previous) / previous };
}

/** Builds a {@link Metric} with its change computed. */
export function metric(value: number | null, previous: number | null): Metric {
  return { value, previous, change: computeChange(value, previous) };
}
