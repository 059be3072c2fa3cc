import type { Family, MetricFamily } from '../../../core/records.js';

// The shape of the rollups: resolutions, which tags key them, and the slices each bucket is stored in.
//
// Each metric rollup row is keyed by (family, resolution, bucket, metric name, app name, slice, dims). A bucket
// is stored in several slices, each of which partitions its records exactly once:
//   ''       every record of the metric in one row (dims {}): reads with no tag in their filter or grouping;
//   '<tag>'  one row per value of that rollup tag, and one (dims {}) for records without it: reads that filter
//            or group by that one tag;
//   '*'      one row per combination of the rollup tags present (dims holds them all): any other mix of rollup
//            tags, filtered and grouped in the reader.
// A read that names a tag outside INSIGHTS_ROLLUP_TAGS, or a field the rollups do not keep (statusCode,
// sessionId, userId of metrics), is served from raw rows.

export const RESOLUTIONS = ['1m', '1h', '1d'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];
export const RESOLUTION_MS: Record<Resolution, number> = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 };

export const TOTAL_SLICE = '';
export const FULL_SLICE = '*';

export const METRIC_FAMILIES: readonly MetricFamily[] = ['systemMetrics', 'applicationMetrics', 'userMetrics', 'performanceMetrics'];

/** Which rollup table serves a family. */
export const isMetricFamily = (family: Family): family is MetricFamily => family !== 'activities';

/** Tag values as the rollups keep them: text (a tag 200 and a tag "200" fall in one row). */
export type Dims = Record<string, string>;

/** Canonical JSON of dims (keys in rollup-tag order), for keys and for the jsonb column. */
export function dimsJson(tags: readonly string[], dims: Dims): string {
  const ordered: Dims = {};
  for (const tag of tags) if (tag in dims) ordered[tag] = dims[tag] as string;
  return JSON.stringify(ordered);
}

export const floorTo = (time: number, resolution: Resolution) => Math.floor(time / RESOLUTION_MS[resolution]) * RESOLUTION_MS[resolution];

/**
 * Minute rollups are kept for INSIGHTS_ROLLUP_MINUTE_RETENTION_DAYS: older minutes are neither built (a rebuild of an
 * old range makes its hours and days only) nor read (such reads use hours, or raw rows). A whole UTC day.
 */
export const minuteHorizon = (minuteRetentionDays: number, now = Date.now()) => floorTo(now - minuteRetentionDays * RESOLUTION_MS['1d'], '1d');
