import type {
  ApplicationMetricRow,
  PerformanceMetricRow,
  Stored,
  SystemMetricRow,
  UserActivityRow,
  UserMetricRow,
} from '../ingest/families.js';

export type MetricKind = 'SYSTEM' | 'APPLICATION' | 'USER' | 'PERFORMANCE';

export type MetricRecordedBatch =
  | { kind: 'SYSTEM'; records: Stored<SystemMetricRow>[] }
  | { kind: 'APPLICATION'; records: Stored<ApplicationMetricRow>[] }
  | { kind: 'USER'; records: Stored<UserMetricRow>[] }
  | { kind: 'PERFORMANCE'; records: Stored<PerformanceMetricRow>[] };

/**
 * The single place naming pub/sub topics and their payloads. Payloads are whole committed batches: one
 * message per batch and table, fanned out to subscribers inside each process.
 */
export interface TopicPayloads {
  'metrics.recorded': MetricRecordedBatch;
  'activities.recorded': { records: Stored<UserActivityRow>[] };
}

export type Topic = keyof TopicPayloads;
