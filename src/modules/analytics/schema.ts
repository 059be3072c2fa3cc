import { invalidInput, isKnownTimeZone } from '../../core/input.js';
import { builder } from '../../schema/builder.js';
import { parseFilter } from '../records/filters.js';
import { FilterInputs } from '../records/schema.js';
import { TAG_KEY } from './dimensions.js';
import { INTERVALS } from './model.js';
import { applicationMetricStats, performanceTrends, traceOf, userActivityStats } from './reads.js';
import { MAX_AGGREGATE_ROWS } from './service.js';

const MAX_TREND_POINTS = MAX_AGGREGATE_ROWS;

export const KeyCount = builder.simpleObject('KeyCount', {
  description: 'A key (an activity type, a user id, a day) and how many records have it.',
  fields: (t) => ({
    key: t.string({ description: 'The value counted: an activity type, a user id, or a day as YYYY-MM-DD.' }),
    count: t.int({ description: 'How many records have this key.' }),
  }),
});

const UserActivityStats = builder.simpleObject('UserActivityStats', {
  description: 'Totals and breakdowns of the activities matching a filter.',
  fields: (t) => ({
    totalActivities: t.int({ description: 'How many activities match the filter.' }),
    uniqueUsers: t.int({ description: 'How many distinct users those activities belong to.' }),
    byType: t.field({ type: [KeyCount], description: 'Count per activity type, largest first (the `top` types).' }),
    byUser: t.field({ type: [KeyCount], description: 'Count per user, largest first (the `top` users).' }),
    byDay: t.field({ type: [KeyCount], description: 'Count per calendar day (YYYY-MM-DD in `timeZone`), oldest first; days without activity are left out.' }),
  }),
});

const ApplicationMetricStat = builder.simpleObject('ApplicationMetricStat', {
  description: 'Aggregates of one metric of one application over the filtered records (values rounded to 10 significant digits).',
  fields: (t) => ({
    appName: t.string({ description: 'The application.' }),
    metricName: t.string({ description: 'The metric name.' }),
    count: t.int({ description: 'How many records.' }),
    sum: t.float({ description: "Sum of their values, in the metric's unit." }),
    avg: t.float({ description: "Mean of their values, in the metric's unit." }),
    min: t.float({ description: 'Smallest value.' }),
    max: t.float({ description: 'Largest value.' }),
    last: t.float({ description: 'Value of the newest record (by timestamp, then id).' }),
    lastTimestamp: t.field({ type: 'DateTime', description: 'Timestamp of the newest record.' }),
  }),
});

const TrendInterval = builder.enumType('TrendInterval', {
  description: 'Width of the time buckets of a trend, cut in UTC.',
  values: {
    MINUTE: { description: 'One bucket per minute.' },
    HOUR: { description: 'One bucket per hour.' },
    DAY: { description: 'One bucket per UTC day.' },
  } satisfies Record<keyof typeof INTERVALS, { description: string }>,
});

const PerformanceTrendPoint = builder.simpleObject('PerformanceTrendPoint', {
  description: 'Response times and errors in one time bucket (and one value of the grouping tag, when grouping).',
  fields: (t) => ({
    bucketStart: t.field({ type: 'DateTime', description: 'Start of the UTC time bucket.' }),
    group: t.string({ nullable: true, description: 'Value of the groupByTag tag, when grouping; null otherwise, and for records without the tag.' }),
    count: t.int({ description: 'How many records fall in the bucket.' }),
    avg: t.float({ nullable: true, description: 'Mean responseTimeMs, in milliseconds; null when no record has one.' }),
    p50: t.float({ nullable: true, description: 'Median responseTimeMs (percentile_cont 0.5), in milliseconds; null when no record has one.' }),
    p95: t.float({ nullable: true, description: 'The 95th percentile of responseTimeMs (percentile_cont 0.95), in milliseconds; null when no record has one.' }),
    p99: t.float({ nullable: true, description: 'The 99th percentile of responseTimeMs (percentile_cont 0.99), in milliseconds; null when no record has one.' }),
    errorRate: t.float({ description: 'Share of records with statusCode ≥ 500, from 0 to 1.' }),
  }),
});

builder.queryFields((t) => ({
  userActivityStats: t.field({
    type: UserActivityStats,
    description: 'Aggregated statistics over the activities matching the filter.',
    args: {
      filter: t.arg({ type: FilterInputs.activities, description: 'Which activities to count; all when absent.' }),
      top: t.arg.int({ defaultValue: 100, description: 'How many entries byType and byUser keep (1-1000).' }),
      timeZone: t.arg.string({ defaultValue: 'UTC', description: 'IANA time zone in which byDay cuts days, e.g. Europe/Paris.' }),
    },
    resolve: (_root, args, ctx) => {
      const top = args.top ?? 100;
      const timeZone = args.timeZone ?? 'UTC';
      if (top < 1 || top > 1000) throw invalidInput('top', 'must be between 1 and 1000');
      if (!isKnownTimeZone(timeZone)) throw invalidInput('timeZone', 'must be an IANA time zone such as UTC or Europe/Paris');
      return userActivityStats(ctx.analytics, ctx.db, parseFilter(args.filter), { top, timeZone, trace: traceOf(ctx) });
    },
  }),
  applicationMetricStats: t.field({
    type: [ApplicationMetricStat],
    description: 'Count, sum, avg, min, max and last value per application and metric name, ordered by application then name.',
    args: { filter: t.arg({ type: FilterInputs.applicationMetrics, description: 'Which records to aggregate; all when absent.' }) },
    resolve: (_root, args, ctx) => applicationMetricStats(ctx.analytics, ctx.db, parseFilter(args.filter), traceOf(ctx)),
  }),
  performanceTrends: t.field({
    type: [PerformanceTrendPoint],
    description:
      'Response-time percentiles and error rate per time bucket, oldest first; buckets without records are left out. ' +
      `At most ${MAX_TREND_POINTS} points (the newest). Values are rounded to 10 significant digits.`,
    args: {
      filter: t.arg({ type: FilterInputs.performanceMetrics, description: 'Which records to aggregate; all when absent.' }),
      interval: t.arg({ type: TrendInterval, required: true, description: 'Bucket width.' }),
      groupByTag: t.arg.string({
        description:
          'Tag whose values split each bucket, e.g. "endpoint" (1-100 characters of letters, digits and _ . : / -): one point per ' +
          'bucket and value, records without the tag together under group null. No split when absent.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const groupByTag = args.groupByTag ?? null;
      if (groupByTag !== null && !TAG_KEY.test(groupByTag)) throw invalidInput('groupByTag', 'must be 1-100 characters of [A-Za-z0-9_.:/-]');
      return performanceTrends(ctx.analytics, ctx.db, parseFilter(args.filter), { interval: args.interval, groupByTag, trace: traceOf(ctx) });
    },
  }),
}));
