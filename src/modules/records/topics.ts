import type { MetricKind, StoredByFamily, StoredOf } from '../../core/records.js';

export type MetricRecordedBatch =
  | { kind: 'SYSTEM'; records: StoredOf<'systemMetrics'>[] }
  | { kind: 'APPLICATION'; records: StoredOf<'applicationMetrics'>[] }
  | { kind: 'USER'; records: StoredOf<'userMetrics'>[] }
  | { kind: 'PERFORMANCE'; records: StoredOf<'performanceMetrics'>[] };

/** A metric as live streams carry it: any family's stored record. */
export type LiveMetric = MetricRecordedBatch['records'][number];
export type LiveActivity = StoredOf<'activities'>;

// The records module's topics. Payloads are whole committed batches: one message per batch and table, fanned
// out to subscribers inside each process (see core/bus/liveHub.ts).
declare module '../../core/bus/pubsub.js' {
  interface TopicPayloads {
    'metrics.recorded': MetricRecordedBatch;
    'activities.recorded': { records: LiveActivity[] };
  }
}

export type { MetricKind, StoredByFamily };
