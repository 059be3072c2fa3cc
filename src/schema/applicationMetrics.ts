import { applicationMetricStats } from '../analytics/applicationMetricStats.js';
import { parseFilter, prismaWhere } from '../analytics/filters.js';
import { builder } from './builder.js';
import { assertRecordCursors, BatchResult, IDEMPOTENCY_KEY_ARGUMENT, CONNECTION_SIZES, MetricInterface, MetricTypeEnum, NEWEST_FIRST, parseRecordId } from './common.js';
import { ApplicationMetricFilter } from './filters.js';
import { recordMany, recordOne } from './recording.js';

const FILTER_FIELDS = ['metricName', 'tags', 'appName'] as const;

builder.prismaObject('ApplicationMetric', {
  description: 'A measurement reported by an application: page views, error rate, queue length.',
  interfaces: [MetricInterface],
  fields: (t) => ({
    appName: t.exposeString('appName'),
    metadata: t.expose('metadata', { type: 'JSON', nullable: true }),
  }),
});

export const ApplicationMetricInput = builder.inputType('ApplicationMetricInput', {
  fields: (t) => ({
    appName: t.string({ required: true }),
    metricName: t.string({ required: true }),
    metricType: t.field({ type: MetricTypeEnum, required: true }),
    value: t.float({ required: true }),
    unit: t.string(),
    tags: t.field({ type: 'JSON', description: 'Flat object: at most 32 string, number or boolean values.' }),
    metadata: t.field({ type: 'JSON' }),
    timestamp: t.field({ type: 'DateTime', description: 'When it was measured; defaults to receipt.' }),
  }),
});

const ApplicationMetricStat = builder.simpleObject('ApplicationMetricStat', {
  description: 'Aggregates of one metric of one application over the filtered records.',
  fields: (t) => ({
    appName: t.string(),
    metricName: t.string(),
    count: t.int(),
    sum: t.float(),
    avg: t.float(),
    min: t.float(),
    max: t.float(),
    last: t.float({ description: 'Value of the newest record.' }),
    lastTimestamp: t.field({ type: 'DateTime', description: 'Timestamp of the newest record.' }),
  }),
});

builder.queryFields((t) => ({
  applicationMetrics: t.prismaConnection(
    {
      type: 'ApplicationMetric',
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'Application metrics, newest first.',
      args: { filter: t.arg({ type: ApplicationMetricFilter }) },
      resolve: (query, _root, args, ctx) => {
        assertRecordCursors(args);
        return ctx.db.prisma.applicationMetric.findMany({
          ...query,
          where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]),
          orderBy: NEWEST_FIRST,
        });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.applicationMetric.count({ where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]) }),
    },
    {},
  ),
  applicationMetric: t.prismaField({
    type: 'ApplicationMetric',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const id = parseRecordId(String(args.id));
      return id === null ? null : ctx.db.prisma.applicationMetric.findUnique({ ...query, where: { id } });
    },
  }),
  applicationMetricStats: t.field({
    type: [ApplicationMetricStat],
    description: 'count, sum, avg, min, max and last value per application and metric name.',
    args: { filter: t.arg({ type: ApplicationMetricFilter }) },
    resolve: (_root, args, ctx) => applicationMetricStats(ctx.db, parseFilter(args.filter)),
  }),
}));

builder.mutationFields((t) => ({
  recordApplicationMetric: t.prismaField({
    type: 'ApplicationMetric',
    args: { input: t.arg({ type: ApplicationMetricInput, required: true }) },
    resolve: (_query, _root, args, ctx) => recordOne(ctx, 'applicationMetrics', args.input),
  }),
  recordApplicationMetrics: t.field({
    type: BatchResult,
    description: 'Stores a batch (at most INSIGHTS_BATCH_SIZE records) in one statement; all or nothing.',
    args: { input: t.arg({ type: [ApplicationMetricInput], required: true }), idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT) },
    resolve: (_root, args, ctx) => recordMany(ctx, 'recordApplicationMetrics', 'applicationMetrics', args.input, args.idempotencyKey),
  }),
}));
