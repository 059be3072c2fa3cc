import { parseFilter, prismaWhere } from '../analytics/filters.js';
import { builder } from './builder.js';
import { assertRecordCursors, BatchResult, IDEMPOTENCY_KEY_ARGUMENT, CONNECTION_SIZES, MetricInterface, MetricTypeEnum, NEWEST_FIRST, parseRecordId } from './common.js';
import { UserMetricFilter } from './filters.js';
import { recordMany, recordOne } from './recording.js';

const FILTER_FIELDS = ['metricName', 'tags', 'userId', 'sessionId'] as const;

builder.prismaObject('UserMetric', {
  description: 'A measurement about one user: session length, clicks, items viewed.',
  interfaces: [MetricInterface],
  fields: (t) => ({
    userId: t.exposeString('userId'),
    sessionId: t.exposeString('sessionId', { nullable: true }),
  }),
});

export const UserMetricInput = builder.inputType('UserMetricInput', {
  fields: (t) => ({
    userId: t.string({ required: true }),
    metricName: t.string({ required: true }),
    metricType: t.field({ type: MetricTypeEnum, required: true }),
    value: t.float({ required: true }),
    unit: t.string(),
    sessionId: t.string(),
    tags: t.field({ type: 'JSON', description: 'Flat object: at most 32 string, number or boolean values.' }),
    timestamp: t.field({ type: 'DateTime', description: 'When it was measured; defaults to receipt.' }),
  }),
});

builder.queryFields((t) => ({
  userMetrics: t.prismaConnection(
    {
      type: 'UserMetric',
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'User metrics, newest first.',
      args: { filter: t.arg({ type: UserMetricFilter }) },
      resolve: (query, _root, args, ctx) => {
        assertRecordCursors(args);
        return ctx.db.prisma.userMetric.findMany({
          ...query,
          where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]),
          orderBy: NEWEST_FIRST,
        });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.userMetric.count({ where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]) }),
    },
    {},
  ),
  userMetric: t.prismaField({
    type: 'UserMetric',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const id = parseRecordId(String(args.id));
      return id === null ? null : ctx.db.prisma.userMetric.findUnique({ ...query, where: { id } });
    },
  }),
}));

builder.mutationFields((t) => ({
  recordUserMetric: t.prismaField({
    type: 'UserMetric',
    args: { input: t.arg({ type: UserMetricInput, required: true }) },
    resolve: (_query, _root, args, ctx) => recordOne(ctx, 'userMetrics', args.input),
  }),
  recordUserMetrics: t.field({
    type: BatchResult,
    description: 'Stores a batch (at most INSIGHTS_BATCH_SIZE records) in one statement; all or nothing.',
    args: { input: t.arg({ type: [UserMetricInput], required: true }), idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT) },
    resolve: (_root, args, ctx) => recordMany(ctx, 'recordUserMetrics', 'userMetrics', args.input, args.idempotencyKey),
  }),
}));
