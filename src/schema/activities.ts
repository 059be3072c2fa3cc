import { parseFilter, prismaWhere } from '../analytics/filters.js';
import { userActivityStats } from '../analytics/userActivityStats.js';
import { InputValidationError } from '../ingest/validation.js';
import { builder } from './builder.js';
import { assertRecordCursors, BatchResult, IDEMPOTENCY_KEY_ARGUMENT, CONNECTION_SIZES, KeyCount, NEWEST_FIRST, parseRecordId } from './common.js';
import { UserActivityFilter } from './filters.js';
import { recordMany, recordOne } from './recording.js';

const FILTER_FIELDS = ['userId', 'activityType'] as const;

export const UserActivityObject = builder.prismaObject('UserActivity', {
  description: 'Something a user of the platform did, as reported by the service that saw it.',
  fields: (t) => ({
    id: t.id({ resolve: (activity) => String(activity.id) }),
    userId: t.exposeString('userId'),
    activityType: t.exposeString('activityType'),
    description: t.exposeString('description', { nullable: true }),
    ipAddress: t.exposeString('ipAddress', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    referrer: t.exposeString('referrer', { nullable: true }),
    metadata: t.expose('metadata', { type: 'JSON', nullable: true }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const UserActivityInput = builder.inputType('UserActivityInput', {
  fields: (t) => ({
    userId: t.string({ required: true, description: 'Opaque id of the user (users live in another module).' }),
    activityType: t.string({ required: true }),
    description: t.string(),
    ipAddress: t.string({ description: 'IPv4 or IPv6 address.' }),
    userAgent: t.string(),
    referrer: t.string(),
    metadata: t.field({ type: 'JSON', description: 'Any JSON, at most 16 KiB.' }),
    timestamp: t.field({ type: 'DateTime', description: 'When it happened; defaults to receipt.' }),
  }),
});
export { UserActivityInput };

const UserActivityStats = builder.simpleObject('UserActivityStats', {
  fields: (t) => ({
    totalActivities: t.int(),
    uniqueUsers: t.int(),
    byType: t.field({ type: [KeyCount], description: 'Count per activity type, largest first.' }),
    byUser: t.field({ type: [KeyCount], description: 'Count per user, largest first (the `top` users).' }),
    byDay: t.field({ type: [KeyCount], description: 'Count per calendar day (YYYY-MM-DD in `timeZone`), oldest first.' }),
  }),
});

// Region names (and their aliases, e.g. Asia/Kolkata) that both ICU and PostgreSQL know; offsets such as
// "+05:00" are refused because PostgreSQL reads their sign the POSIX way, opposite to ISO 8601.
const TIME_ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
function isKnownTimeZone(name: string): boolean {
  if (name.length > 64 || !TIME_ZONE_NAME.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

builder.queryFields((t) => ({
  userActivities: t.prismaConnection(
    {
      type: 'UserActivity',
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'User activities, newest first.',
      args: { filter: t.arg({ type: UserActivityFilter }) },
      resolve: (query, _root, args, ctx) => {
        assertRecordCursors(args);
        return ctx.db.prisma.userActivity.findMany({
          ...query,
          where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]),
          orderBy: NEWEST_FIRST,
        });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.userActivity.count({ where: prismaWhere(parseFilter(args.filter), [...FILTER_FIELDS]) }),
    },
    {},
  ),
  userActivity: t.prismaField({
    type: 'UserActivity',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const id = parseRecordId(String(args.id));
      return id === null ? null : ctx.db.prisma.userActivity.findUnique({ ...query, where: { id } });
    },
  }),
  userActivityStats: t.field({
    type: UserActivityStats,
    description: 'Aggregated statistics over the activities matching the filter.',
    args: {
      filter: t.arg({ type: UserActivityFilter }),
      top: t.arg.int({ defaultValue: 100, description: 'How many entries byType and byUser keep (1-1000).' }),
      timeZone: t.arg.string({ defaultValue: 'UTC', description: 'IANA time zone in which byDay cuts days.' }),
    },
    resolve: (_root, args, ctx) => {
      const top = args.top ?? 100;
      const timeZone = args.timeZone ?? 'UTC';
      if (top < 1 || top > 1000) {
        throw new InputValidationError([{ path: 'top', index: null, field: 'top', message: 'must be between 1 and 1000' }]);
      }
      if (!isKnownTimeZone(timeZone)) {
        throw new InputValidationError([
          { path: 'timeZone', index: null, field: 'timeZone', message: 'must be an IANA time zone such as UTC or Europe/Paris' },
        ]);
      }
      return userActivityStats(ctx.db, parseFilter(args.filter), { top, timeZone });
    },
  }),
}));

builder.mutationFields((t) => ({
  recordUserActivity: t.prismaField({
    type: 'UserActivity',
    args: { input: t.arg({ type: UserActivityInput, required: true }) },
    resolve: (_query, _root, args, ctx) => recordOne(ctx, 'activities', args.input),
  }),
  recordUserActivities: t.field({
    type: BatchResult,
    description: 'Stores a batch (at most INSIGHTS_BATCH_SIZE records) in one statement; all or nothing.',
    args: { input: t.arg({ type: [UserActivityInput], required: true }), idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT) },
    resolve: (_root, args, ctx) => recordMany(ctx, 'recordUserActivities', 'activities', args.input, args.idempotencyKey),
  }),
}));
