import { createHash } from 'node:crypto';
import type { Queryable } from '../../core/db/sql.js';
import { sql } from '../../core/db/sql.js';
import { invalidInput, LIMITS, textProblem } from '../../core/input.js';

/** How long a batch's result is remembered for retries. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

export interface IdempotencyClaim {
  apiKeyId: string;
  key: string;
  /** Fingerprint of what was asked: the same key with another request is refused. */
  requestHash: string;
}

export function idempotencyClaim(apiKeyId: string, key: string | null | undefined, operation: string, input: unknown): IdempotencyClaim | null {
  if (key === null || key === undefined) return null;
  const problem = key.length === 0 || key.length > LIMITS.idMaxLength ? `must be 1-${LIMITS.idMaxLength} characters` : textProblem(key);
  if (problem) throw invalidInput('idempotencyKey', problem);
  const requestHash = createHash('sha256').update(operation).update('\n').update(JSON.stringify(input)).digest('hex');
  return { apiKeyId, key, requestHash };
}

export type ClaimOutcome<Result> = { fresh: true } | { fresh: false; result: Result };

/**
 * Claims the key inside the write's transaction. The claim row is inserted first: a concurrent retry with the
 * same key waits on its unique index until this transaction ends, then sees the stored result (or, after a
 * rollback, claims the key itself). So a retry never writes twice, on one instance or across several.
 */
export async function claimIdempotencyKey<Result>(tx: Queryable, claim: IdempotencyClaim): Promise<ClaimOutcome<Result>> {
  await tx.query(sql`/* idempotency.expire */
    DELETE FROM idempotency_keys WHERE api_key_id = ${claim.apiKeyId}::uuid AND key = ${claim.key}
      AND created_at < now() - make_interval(hours => ${IDEMPOTENCY_WINDOW_HOURS})`);
  const inserted = await tx.query(sql`/* idempotency.claim */
    INSERT INTO idempotency_keys (api_key_id, key, request_hash, result)
    VALUES (${claim.apiKeyId}::uuid, ${claim.key}, ${claim.requestHash}, 'null'::jsonb)
    ON CONFLICT DO NOTHING RETURNING 1 AS claimed`);
  if (inserted.length > 0) return { fresh: true };
  const [existing] = await tx.query<{ request_hash: string; result: Result }>(sql`/* idempotency.lookup */
    SELECT request_hash, result FROM idempotency_keys WHERE api_key_id = ${claim.apiKeyId}::uuid AND key = ${claim.key}`);
  if (!existing || existing.request_hash !== claim.requestHash) {
    throw invalidInput('idempotencyKey', 'was already used for a different request within the last 24 hours');
  }
  return { fresh: false, result: existing.result };
}

export async function storeIdempotentResult(tx: Queryable, claim: IdempotencyClaim, result: unknown): Promise<void> {
  await tx.query(sql`/* idempotency.store */
    UPDATE idempotency_keys SET result = ${JSON.stringify(result)}::jsonb
    WHERE api_key_id = ${claim.apiKeyId}::uuid AND key = ${claim.key}`);
}
