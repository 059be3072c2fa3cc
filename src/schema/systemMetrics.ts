import { currentSystemMetrics } from '../analytics/currentSystemMetrics.js';
import { parseFilter, prismaWhere } from '../analytics/filters.js';
import { builder } from './builder.js';
import { assertRecordCursors, BatchResult, IDEMPOTENCY_KEY_ARGUMENT, CONNECTION_SIZES, MetricInterface, MetricTypeEnum, NEWEST_FIRST, parseRecordId, toModel } from './common.js';
import { SystemMetricFilter } from './filters.js';
import { recordMany, recordOne } from './recording.js';

const FILTER_FIELDS = ['metricName', 'tags', 'host'] as const;

export const SystemMetricObject = builder.prismaObject('SystemMetric', {
  description: 'A measurement of a machine: CPU, memory, disk, network. tags.host names the machine.',
  interfaces: [MetricInterface],
  fields: (t) => ({
    dimensions: t.expose('dimensions', { type: 'JSON', nullable: true }),
  }),
});

export const SystemMetricInput = builder.inputType('SystemMetricInput', {
  fields: (t) => ({
    metricName: t.string({ required: true }),
    metricType: t.field({ type: MetricTypeEnum, required: true }),
    value: t.float({ required: true }),
    unit: t.string(),
    tags: t.field({ type: 'JSON', description: 'Flat object: at most 32 string, number or boolean values.' }),
    dimensions: t.field({ type: 'JSON' }),
    timestamp: t.field({ type: 'DateTime', description: 'When it was measured; defaults to receipt.' }),
  }),
});

builder.queryFields((t) => ({
  systemMetrics: t.prismaConnection(
    {
      type: 'SystemMetric',
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'System metrics, newest first.',
      args: { filter: t.arg({ type: SystemMetricFilter }) },
      resolve: (query, _root, args, ctx) => {
        assertRecordCursors(args);
        return ctx.db.prisma.systemMetric.findMany({
          ...query,
          where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]),
          orderBy: NEWEST_FIRST,
        });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.systemMetric.count({ where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]) }),
    },
    {},
  ),
  systemMetric: t.prismaField({
    type: 'SystemMetric',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const id = parseRecordId(String(args.id));
      return id === null ? null : ctx.db.prisma.systemMetric.findUnique({ ...query, where: { id } });
    },
  }),
  currentSystemMetrics: t.prismaField({
    type: ['SystemMetric'],
    description: 'The latest value of each metric name per host (tags.host), or for one host.',
    args: { host: t.arg.string() },
    resolve: async (_query, _root, args, ctx) =>
      (await currentSystemMetrics(ctx.db, args.host ?? null)).map(toModel),
  }),
}));

builder.mutationFields((t) => ({
  recordSystemMetric: t.prismaField({
    type: 'SystemMetric',
    args: { input: t.arg({ type: SystemMetricInput, required: true }) },
    resolve: (_query, _root, args, ctx) => recordOne(ctx, 'systemMetrics', args.input),
  }),
  recordSystemMetrics: t.field({
    type: BatchResult,
    description: 'Stores a batch (at most INSIGHTS_BATCH_SIZE records) in one statement; all or nothing.',
    args: { input: t.arg({ type: [SystemMetricInput], required: true }), idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT) },
    resolve: (_root, args, ctx) => recordMany(ctx, 'recordSystemMetrics', 'systemMetrics', args.input, args.idempotencyKey),
  }),
}));
