import { builder } from '../../schema/builder.js';
import { toModel } from '../../schema/helpers.js';
import { RecordObjects } from '../records/schema.js';
import { currentSystemMetrics } from './currentSystemMetrics.js';

builder.queryFields((t) => ({
  currentSystemMetrics: t.prismaField({
    type: ['SystemMetric'],
    description: 'The latest record of each metric name per host (tags.host), for every host or for one; ordered by host, then name.',
    args: { host: t.arg.string({ description: 'Only this host (tags.host); every host when absent, plus records without a host tag.' }) },
    resolve: async (_query, _root, args, ctx) => (await currentSystemMetrics(ctx.db, args.host ?? null)).map(toModel),
  }),
}));

builder.subscriptionFields((t) => ({
  currentSystemMetricsUpdated: t.field({
    type: [RecordObjects.systemMetrics],
    description:
      'The currentSystemMetrics snapshot (for one host, or all): first the current one, then each time it changes, ' +
      'at most once per INSIGHTS_REAL_TIME_UPDATE_INTERVAL seconds.',
    args: { host: t.arg.string({ description: 'Only this host (tags.host); every host when absent.' }) },
    subscribe: (_root, args, ctx) => ctx.snapshots.subscribe(args.host ?? null),
    resolve: (snapshot) => snapshot.map((record) => toModel(record)) as never,
  }),
}));
