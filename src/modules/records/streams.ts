import type { Matcher } from '../../core/bus/liveHub.js';
import type { JsonObject } from '../../core/json.js';
import type { MetricKind } from '../../core/records.js';
import type { LiveActivity, LiveMetric } from './topics.js';

export interface MetricStreamFilter {
  kinds?: MetricKind[] | null;
  metricNames?: string[] | null;
  appName?: string | null;
  userId?: string | null;
  tags?: Record<string, string | number | boolean> | null;
}

export interface ActivityStreamFilter {
  userId?: string | null;
  activityTypes?: string[] | null;
}

interface MetricLike {
  metricName: string;
  tags: JsonObject;
  appName?: string;
  userId?: string;
}

/** Tags match when they contain every pair of the filter (the same subset rule as the queries). */
export function tagsContain(tags: JsonObject, wanted: Record<string, string | number | boolean>): boolean {
  for (const key in wanted) {
    if (tags[key] !== wanted[key]) return false;
  }
  return true;
}

/** Whether one metric record matches a stream filter (families are checked per batch, see metricMatcher). */
export function metricRecordMatcher(filter: MetricStreamFilter): (record: MetricLike) => boolean {
  const names = filter.metricNames?.length ? new Set(filter.metricNames) : null;
  const tags = filter.tags && Object.keys(filter.tags).length > 0 ? filter.tags : null;
  const { appName, userId } = filter;
  return (record) =>
    (names === null || names.has(record.metricName)) &&
    (appName == null || record.appName === appName) &&
    (userId == null || record.userId === userId) &&
    (tags === null || tagsContain(record.tags, tags));
}

/** The live hub matcher of `metricRecorded`: whole batches of other families are skipped at once. */
export function metricMatcher(filter: MetricStreamFilter): Matcher<'metrics.recorded', LiveMetric> {
  const kinds = filter.kinds?.length ? new Set(filter.kinds) : null;
  const matches = metricRecordMatcher(filter);
  return (batch, emit) => {
    if (kinds !== null && !kinds.has(batch.kind)) return;
    for (const record of batch.records) if (matches(record)) emit(record);
  };
}

/** The live hub matcher of `activityRecorded`. */
export function activityMatcher(filter: ActivityStreamFilter): Matcher<'activities.recorded', LiveActivity> {
  const types = filter.activityTypes?.length ? new Set(filter.activityTypes) : null;
  const { userId } = filter;
  return ({ records }, emit) => {
    for (const record of records) {
      if ((userId == null || record.userId === userId) && (types === null || types.has(record.activityType))) emit(record);
    }
  };
}
