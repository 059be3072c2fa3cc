import type { Family, RowsByFamily, Stored } from '../ingest/families.js';
import type { Context } from './context.js';
import { idempotencyClaim } from '../ingest/idempotency.js';
import { toModel } from './common.js';

/** Stores one record given to a single-record mutation and returns it as stored. */
export async function recordOne<F extends Family>(ctx: Context, family: F, input: unknown) {
  const { stored } = await ctx.ingestor.ingest({ lists: [{ family, items: [input], path: 'input', indexed: false }] });
  const row = stored[family][0] as Stored<RowsByFamily[F][number]>;
  return toModel(row);
}

/**
 * Stores a batch given to a batch mutation, all or nothing. With an idempotencyKey, a retry of the same
 * request (same API key) within 24 hours returns the first result and stores nothing.
 */
export async function recordMany(
  ctx: Context,
  operation: string,
  family: Family,
  input: readonly unknown[],
  idempotencyKey: string | null | undefined,
) {
  const { count, replayed } = await ctx.ingestor.ingest({
    lists: [{ family, items: input, path: 'input', indexed: true }],
    idempotency: idempotencyClaim(ctx.principal.keyId, idempotencyKey, operation, input),
  });
  return { count, replayed };
}
