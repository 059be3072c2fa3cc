import type { Family, RowsByFamily } from './families.js';
import { serializeJson } from './validation.js';

/**
 * How each family maps onto its table, for the bulk writer and raw reads. Identifiers here are constants of
 * this file, never caller input, so they may be spliced into SQL text.
 */
export interface ColumnSpec<Row> {
  column: string;
  /** API/Prisma field name, used as the result alias so raw rows have the Prisma model's shape. */
  field: string;
  pgType: 'text' | 'float8' | 'int4' | 'jsonb' | 'timestamptz' | 'metric_type';
  get: (row: Row) => unknown;
}

export interface TableSpec<Row> {
  table: string;
  columns: ColumnSpec<Row>[];
}

type Specs = { [F in Family]: TableSpec<RowsByFamily[F][number]> };

const json = (value: unknown) => (value === null || value === undefined ? null : serializeJson(value));

const metricColumns = [
  { column: 'metric_name', field: 'metricName', pgType: 'text', get: (row: { metricName: string }) => row.metricName },
  { column: 'metric_type', field: 'metricType', pgType: 'metric_type', get: (row: { metricType: string }) => row.metricType },
  { column: 'value', field: 'value', pgType: 'float8', get: (row: { value: number }) => row.value },
  { column: 'unit', field: 'unit', pgType: 'text', get: (row: { unit: string | null }) => row.unit },
  { column: 'tags', field: 'tags', pgType: 'jsonb', get: (row: { tags: unknown }) => json(row.tags) },
] as const;

const timestampColumn = {
  column: 'timestamp',
  field: 'timestamp',
  pgType: 'timestamptz',
  get: (row: { timestamp: Date }) => row.timestamp.toISOString(),
} as const;

export const TABLES: Specs = {
  activities: {
    table: 'user_activities',
    columns: [
      { column: 'user_id', field: 'userId', pgType: 'text', get: (row) => row.userId },
      { column: 'activity_type', field: 'activityType', pgType: 'text', get: (row) => row.activityType },
      { column: 'description', field: 'description', pgType: 'text', get: (row) => row.description },
      { column: 'ip_address', field: 'ipAddress', pgType: 'text', get: (row) => row.ipAddress },
      { column: 'user_agent', field: 'userAgent', pgType: 'text', get: (row) => row.userAgent },
      { column: 'referrer', field: 'referrer', pgType: 'text', get: (row) => row.referrer },
      { column: 'metadata', field: 'metadata', pgType: 'jsonb', get: (row) => json(row.metadata) },
      timestampColumn,
    ],
  },
  systemMetrics: {
    table: 'system_metrics',
    columns: [
      ...metricColumns,
      { column: 'host', field: 'host', pgType: 'text', get: (row) => row.host },
      { column: 'dimensions', field: 'dimensions', pgType: 'jsonb', get: (row) => json(row.dimensions) },
      timestampColumn,
    ],
  },
  applicationMetrics: {
    table: 'application_metrics',
    columns: [
      { column: 'app_name', field: 'appName', pgType: 'text', get: (row) => row.appName },
      ...metricColumns,
      { column: 'metadata', field: 'metadata', pgType: 'jsonb', get: (row) => json(row.metadata) },
      timestampColumn,
    ],
  },
  userMetrics: {
    table: 'user_metrics',
    columns: [
      { column: 'user_id', field: 'userId', pgType: 'text', get: (row) => row.userId },
      ...metricColumns,
      { column: 'session_id', field: 'sessionId', pgType: 'text', get: (row) => row.sessionId },
      timestampColumn,
    ],
  },
  performanceMetrics: {
    table: 'performance_metrics',
    columns: [
      ...metricColumns,
      { column: 'response_time_ms', field: 'responseTimeMs', pgType: 'float8', get: (row) => row.responseTimeMs },
      { column: 'status_code', field: 'statusCode', pgType: 'int4', get: (row) => row.statusCode },
      { column: 'dimensions', field: 'dimensions', pgType: 'jsonb', get: (row) => json(row.dimensions) },
      timestampColumn,
    ],
  },
};
