import type { JsonObject } from '../ingest/json.js';
import type { MetricKind } from './topics.js';

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

/** Compiled once per subscription, run per record: plain comparisons, no GraphQL execution. */
export function metricMatcher(filter: MetricStreamFilter): { kinds: Set<MetricKind> | null; matches: (record: MetricLike) => boolean } {
  const names = filter.metricNames?.length ? new Set(filter.metricNames) : null;
  const tags = filter.tags && Object.keys(filter.tags).length > 0 ? filter.tags : null;
  const { appName, userId } = filter;
  return {
    kinds: filter.kinds?.length ? new Set(filter.kinds) : null,
    matches: (record) =>
      (names === null || names.has(record.metricName)) &&
      (appName == null || record.appName === appName) &&
      (userId == null || record.userId === userId) &&
      (tags === null || tagsContain(record.tags, tags)),
  };
}

export function activityMatcher(filter: ActivityStreamFilter): (record: { userId: string; activityType: string }) => boolean {
  const types = filter.activityTypes?.length ? new Set(filter.activityTypes) : null;
  const { userId } = filter;
  return (record) => (userId == null || record.userId === userId) && (types === null || types.has(record.activityType));
}
