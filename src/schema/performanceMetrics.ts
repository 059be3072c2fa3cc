import { parseFilter, prismaWhere } from '../analytics/filters.js';
import { performanceTrends, TREND_INTERVALS } from '../analytics/performanceTrends.js';
import { InputValidationError } from '../ingest/validation.js';
import { builder } from './builder.js';
import { assertRecordCursors, BatchResult, IDEMPOTENCY_KEY_ARGUMENT, CONNECTION_SIZES, MetricInterface, MetricTypeEnum, NEWEST_FIRST, parseRecordId } from './common.js';
import { PerformanceMetricFilter } from './filters.js';
import { recordMany, recordOne } from './recording.js';

const FILTER_FIELDS = ['metricName', 'tags', 'statusCode'] as const;
const MAX_TREND_POINTS = 10_000;
const TAG_KEY = /^[A-Za-z0-9_.:/-]{1,100}$/;

builder.prismaObject('PerformanceMetric', {
  description: 'A measurement of how fast and how well requests are served.',
  interfaces: [MetricInterface],
  fields: (t) => ({
    responseTimeMs: t.exposeFloat('responseTimeMs', { nullable: true }),
    statusCode: t.exposeInt('statusCode', { nullable: true }),
    dimensions: t.expose('dimensions', { type: 'JSON', nullable: true }),
  }),
});

export const PerformanceMetricInput = builder.inputType('PerformanceMetricInput', {
  fields: (t) => ({
    metricName: t.string({ required: true }),
    metricType: t.field({ type: MetricTypeEnum, required: true }),
    value: t.float({ required: true }),
    unit: t.string(),
    responseTimeMs: t.float(),
    statusCode: t.int({ description: 'HTTP status, 100-599.' }),
    tags: t.field({ type: 'JSON', description: 'Flat object: at most 32 string, number or boolean values.' }),
    dimensions: t.field({ type: 'JSON' }),
    timestamp: t.field({ type: 'DateTime', description: 'When it was measured; defaults to receipt.' }),
  }),
});

const TrendInterval = builder.enumType('TrendInterval', { values: Object.keys(TREND_INTERVALS) as (keyof typeof TREND_INTERVALS)[] });

const PerformanceTrendPoint = builder.simpleObject('PerformanceTrendPoint', {
  fields: (t) => ({
    bucketStart: t.field({ type: 'DateTime', description: 'Start of the UTC time bucket.' }),
    group: t.string({ nullable: true, description: 'Value of the groupByTag tag, when grouping.' }),
    count: t.int(),
    avg: t.float({ nullable: true, description: 'Mean responseTimeMs.' }),
    p50: t.float({ nullable: true }),
    p95: t.float({ nullable: true }),
    p99: t.float({ nullable: true }),
    errorRate: t.float({ description: 'Share of records with statusCode >= 500, from 0 to 1.' }),
  }),
});

builder.queryFields((t) => ({
  performanceMetrics: t.prismaConnection(
    {
      type: 'PerformanceMetric',
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'Performance metrics, newest first.',
      args: { filter: t.arg({ type: PerformanceMetricFilter }) },
      resolve: (query, _root, args, ctx) => {
        assertRecordCursors(args);
        return ctx.db.prisma.performanceMetric.findMany({
          ...query,
          where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]),
          orderBy: NEWEST_FIRST,
        });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.performanceMetric.count({ where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]) }),
    },
    {},
  ),
  performanceMetric: t.prismaField({
    type: 'PerformanceMetric',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const id = parseRecordId(String(args.id));
      return id === null ? null : ctx.db.prisma.performanceMetric.findUnique({ ...query, where: { id } });
    },
  }),
  performanceTrends: t.field({
    type: [PerformanceTrendPoint],
    description:
      'Response-time percentiles and error rate per time bucket, oldest first; buckets without records are left out. ' +
      `At most ${MAX_TREND_POINTS} points (the newest).`,
    args: {
      filter: t.arg({ type: PerformanceMetricFilter }),
      interval: t.arg({ type: TrendInterval, required: true }),
      groupByTag: t.arg.string({ description: 'Tag whose values split each bucket, e.g. "endpoint".' }),
    },
    resolve: (_root, args, ctx) => {
      const groupByTag = args.groupByTag ?? null;
      if (groupByTag !== null && !TAG_KEY.test(groupByTag)) {
        throw new InputValidationError([
          { path: 'groupByTag', index: null, field: 'groupByTag', message: 'must be 1-100 characters of [A-Za-z0-9_.:/-]' },
        ]);
      }
      return performanceTrends(ctx.db, parseFilter(args.filter), {
        interval: args.interval,
        groupByTag,
        maxPoints: MAX_TREND_POINTS,
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  recordPerformanceMetric: t.prismaField({
    type: 'PerformanceMetric',
    args: { input: t.arg({ type: PerformanceMetricInput, required: true }) },
    resolve: (_query, _root, args, ctx) => recordOne(ctx, 'performanceMetrics', args.input),
  }),
  recordPerformanceMetrics: t.field({
    type: BatchResult,
    description: 'Stores a batch (at most INSIGHTS_BATCH_SIZE records) in one statement; all or nothing.',
    args: { input: t.arg({ type: [PerformanceMetricInput], required: true }), idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT) },
    resolve: (_root, args, ctx) => recordMany(ctx, 'recordPerformanceMetrics', 'performanceMetrics', args.input, args.idempotencyKey),
  }),
}));
