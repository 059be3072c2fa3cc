import type {
  ApplicationMetricInput,
  IngestInput,
  PerformanceMetricInput,
  SystemMetricInput,
  UserActivityInput,
  UserMetricInput,
} from './generated/graphql.js';

export type { MetricType } from './generated/graphql.js';

/** Tag values the service accepts: a flat object of at most 32 strings, numbers or booleans. */
export type Tags = Record<string, string | number | boolean>;

/**
 * The service's input types, with `timestamp` also taking a Date and `tags` typed. A record without a timestamp
 * is stamped when it is handed to the client, not when its batch arrives, so batching and retries do not move it.
 */
type Reported<Input> = Omit<Input, 'timestamp' | 'tags'> & { timestamp?: Date | string | null } & ('tags' extends keyof Input
    ? { tags?: Tags | null }
    : unknown);

export type SystemMetric = Reported<SystemMetricInput>;
export type ApplicationMetric = Reported<ApplicationMetricInput>;
export type UserMetric = Reported<UserMetricInput>;
export type PerformanceMetric = Reported<PerformanceMetricInput>;
export type UserActivity = Reported<UserActivityInput>;

/** The `ingest` input's lists, one per record family. */
export type Family = keyof IngestInput & ('systemMetrics' | 'applicationMetrics' | 'userMetrics' | 'performanceMetrics' | 'activities');

export const FAMILIES: readonly Family[] = ['systemMetrics', 'applicationMetrics', 'userMetrics', 'performanceMetrics', 'activities'];

/** One record as it waits in the buffer and travels in a batch. */
export interface QueuedRecord {
  family: Family;
  record: Record<string, unknown>;
}

/** A record the service refused (BAD_USER_INPUT), with what it said about it. */
export interface RejectedRecord extends QueuedRecord {
  /** Index of the record within its family's list in the refused request. */
  index: number;
  issues: { path: string; field: string; message: string }[];
}

/**
 * What the `onError` hook receives. `rejected`: the service refused these records as invalid; they are not retried
 * (the rest of their batch is sent again without them). `failed`: a batch could not be delivered (retries used up,
 * or a refusal that no retry can fix, such as an invalid key); its records are given back.
 */
export type InsightsClientError =
  | { kind: 'rejected'; code: string; message: string; items: RejectedRecord[] }
  | { kind: 'failed'; code: string | null; status: number | null; message: string; items: QueuedRecord[] };

export interface InsightsClientStats {
  /** Records waiting in the buffer. */
  queued: number;
  /** Records in batches being sent (or waiting to be retried). */
  inFlight: number;
  /** Records the service confirmed as stored (a replayed batch counts once). */
  sent: number;
  /** Batches confirmed. */
  batches: number;
  /** Requests sent again after a network error, 429 or 5xx. */
  retries: number;
  /** Batches the service answered as replays of an earlier attempt (stored once, by that attempt). */
  replayed: number;
  /** Oldest records dropped because the buffer was full, and records handed over after close(). */
  dropped: number;
  /** Records the service refused as invalid (reported to onError, not retried). */
  rejected: number;
  /** Records given up on after retries, or refused for a reason no retry fixes (reported to onError). */
  failed: number;
}
