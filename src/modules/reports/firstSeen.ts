import { sql, type Queryable } from '../../core/db/sql.js';
import type { StoredByFamily } from '../../core/records.js';

/**
 * Keeps user_first_seen up to date in each ingest transaction: one upsert per batch of activities. least() and
 * greatest() because batches arrive out of order (a back-filled activity may be older than the first one
 * recorded). Rows go in user-id order so that concurrent batches touching the same users lock them in the same
 * order and cannot deadlock.
 */
export async function recordFirstSeen(tx: Queryable, stored: StoredByFamily): Promise<void> {
  const activities = stored.activities;
  if (activities.length === 0) return;
  const userIds = activities.map((activity) => activity.userId);
  // As text: PGlite serialises text arrays natively, not timestamp ones.
  const timestamps = activities.map((activity) => activity.timestamp.toISOString());
  await tx.query(sql`/* reports.recordFirstSeen */
    INSERT INTO user_first_seen (user_id, first_seen, last_seen)
    SELECT user_id, min(at), max(at) FROM unnest(${userIds}::text[], ${timestamps}::text[]::timestamptz[]) AS batch(user_id, at)
    GROUP BY user_id ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET
      first_seen = least(user_first_seen.first_seen, excluded.first_seen),
      last_seen = greatest(user_first_seen.last_seen, excluded.last_seen)`);
}
