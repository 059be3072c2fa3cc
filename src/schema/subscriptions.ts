import { z } from 'zod';
import { InputValidationError, LIMITS } from '../ingest/validation.js';
import type { MetricKind } from '../realtime/topics.js';
import { builder } from './builder.js';
import { UserActivityObject } from './activities.js';
import { MetricInterface } from './common.js';
import { SystemMetricObject } from './systemMetrics.js';

const MetricKindEnum = builder.enumType('MetricKind', {
  description: 'The metric families, for filtering live streams.',
  values: ['SYSTEM', 'APPLICATION', 'USER', 'PERFORMANCE'] as const satisfies readonly MetricKind[],
});

const MetricStreamFilter = builder.inputType('MetricStreamFilter', {
  fields: (t) => ({
    kinds: t.field({ type: [MetricKindEnum], description: 'Only these families (all when absent).' }),
    metricNames: t.stringList(),
    appName: t.string({ description: 'Application metrics of this app only.' }),
    userId: t.string({ description: 'User metrics of this user only.' }),
    tags: t.field({ type: 'JSON', description: 'Records whose tags contain all of these key/value pairs.' }),
  }),
});

const ActivityStreamFilter = builder.inputType('ActivityStreamFilter', {
  fields: (t) => ({
    userId: t.string(),
    activityTypes: t.stringList(),
  }),
});

const streamTags = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]), {
    message: 'must be a flat object of string, number or boolean values',
  })
  .refine((value) => Object.keys(value).length <= LIMITS.tagCount, { message: `must have at most ${LIMITS.tagCount} entries` })
  .nullish();

function parseStreamTags(tags: unknown) {
  const parsed = streamTags.safeParse(tags);
  if (!parsed.success) {
    throw new InputValidationError([
      { path: 'filter.tags', index: null, field: 'tags', message: parsed.error.issues[0]?.message ?? 'invalid' },
    ]);
  }
  return parsed.data;
}

builder.subscriptionType({ authScopes: { scope: 'READ' } });

builder.subscriptionFields((t) => ({
  metricRecorded: t.field({
    type: MetricInterface,
    description: 'Every metric record stored from now on (by any mutation, batch or job) that matches the filter.',
    args: { filter: t.arg({ type: MetricStreamFilter }) },
    subscribe: (_root, args, ctx) =>
      ctx.live.metricStream({ ...args.filter, tags: parseStreamTags(args.filter?.tags) }),
    resolve: (record) => record,
  }),
  activityRecorded: t.field({
    type: UserActivityObject,
    description: 'Every user activity stored from now on that matches the filter.',
    args: { filter: t.arg({ type: ActivityStreamFilter }) },
    subscribe: (_root, args, ctx) => ctx.live.activityStream(args.filter ?? {}),
    resolve: (record) => ({ ...record, id: BigInt(record.id) }),
  }),
  currentSystemMetricsUpdated: t.field({
    type: [SystemMetricObject],
    description:
      'The currentSystemMetrics snapshot (for one host, or all): first the current one, then each time it changes, ' +
      'at most once per INSIGHTS_REAL_TIME_UPDATE_INTERVAL seconds.',
    args: { host: t.arg.string() },
    subscribe: (_root, args, ctx) => ctx.snapshots.subscribe(args.host ?? null),
    resolve: (snapshot) => snapshot.map((record) => ({ ...record, id: BigInt(record.id) })),
  }),
}));
