import type { JsonObject, JsonValue } from './json.js';

export const METRIC_TYPES = ['GAUGE', 'COUNTER', 'HISTOGRAM', 'SUMMARY'] as const;
export type MetricTypeName = (typeof METRIC_TYPES)[number];

// The record families' domain types: what every module may know about stored records. How each family is
// stored, validated, filtered and exposed is described once, in src/modules/records/registry.ts.

/** The five data families, keyed as in `IngestInput`. */
export const FAMILIES = ['activities', 'systemMetrics', 'applicationMetrics', 'userMetrics', 'performanceMetrics'] as const;
export type Family = (typeof FAMILIES)[number];
export type MetricFamily = Exclude<Family, 'activities'>;

/** The metric families as live streams and the API name them. */
export const METRIC_KINDS = ['SYSTEM', 'APPLICATION', 'USER', 'PERFORMANCE'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

export interface UserActivityRow {
  userId: string;
  activityType: string;
  description: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  referrer: string | null;
  metadata: JsonValue | null;
  timestamp: Date;
}

interface MetricBase {
  metricName: string;
  metricType: MetricTypeName;
  value: number;
  unit: string | null;
  tags: JsonObject;
  timestamp: Date;
}

export interface SystemMetricRow extends MetricBase {
  host: string | null;
  dimensions: JsonValue | null;
}

export interface ApplicationMetricRow extends MetricBase {
  appName: string;
  metadata: JsonValue | null;
}

export interface UserMetricRow extends MetricBase {
  userId: string;
  sessionId: string | null;
}

export interface PerformanceMetricRow extends MetricBase {
  responseTimeMs: number | null;
  statusCode: number | null;
  dimensions: JsonValue | null;
}

export interface RowsByFamily {
  activities: UserActivityRow[];
  systemMetrics: SystemMetricRow[];
  applicationMetrics: ApplicationMetricRow[];
  userMetrics: UserMetricRow[];
  performanceMetrics: PerformanceMetricRow[];
}

/** A stored record as read back: the row plus what the database assigned. */
export type Stored<Row> = Row & { id: string; createdAt: Date };

export type RowOf<F extends Family> = RowsByFamily[F][number];
export type StoredOf<F extends Family> = Stored<RowOf<F>>;
export type StoredByFamily = { [F in Family]: StoredOf<F>[] };
