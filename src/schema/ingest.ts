import type { Family } from '../ingest/families.js';
import { FAMILIES } from '../ingest/families.js';
import { idempotencyClaim } from '../ingest/idempotency.js';
import { UserActivityInput } from './activities.js';
import { ApplicationMetricInput } from './applicationMetrics.js';
import { builder } from './builder.js';
import { BatchResult, IDEMPOTENCY_KEY_ARGUMENT } from './common.js';
import { PerformanceMetricInput } from './performanceMetrics.js';
import { SystemMetricInput } from './systemMetrics.js';
import { UserMetricInput } from './userMetrics.js';

const IngestInput = builder.inputType('IngestInput', {
  description: 'Records of any families, stored together in one transaction.',
  fields: (t) => ({
    activities: t.field({ type: [UserActivityInput] }),
    systemMetrics: t.field({ type: [SystemMetricInput] }),
    applicationMetrics: t.field({ type: [ApplicationMetricInput] }),
    userMetrics: t.field({ type: [UserMetricInput] }),
    performanceMetrics: t.field({ type: [PerformanceMetricInput] }),
  }),
});

builder.mutationFields((t) => ({
  ingest: t.field({
    type: BatchResult,
    description:
      'Stores records of several families in one transaction: all or nothing. At most INSIGHTS_BATCH_SIZE records in all.',
    args: { input: t.arg({ type: IngestInput, required: true }), idempotencyKey: t.arg.string(IDEMPOTENCY_KEY_ARGUMENT) },
    resolve: async (_root, args, ctx) => {
      const lists = FAMILIES.filter((family) => args.input[family]).map((family: Family) => ({
        family,
        items: args.input[family] ?? [],
        path: `input.${family}`,
        indexed: true,
      }));
      const { count, replayed } = await ctx.ingestor.ingest({
        lists,
        idempotency: idempotencyClaim(ctx.principal.keyId, args.idempotencyKey, 'ingest', args.input),
      });
      return { count, replayed };
    },
  }),
}));
