import { sql, type Queryable } from '../../../core/db/sql.js';

/**
 * Seconds a user spent in a range: the sum of `metadata.time_spent_seconds` over their activities. Rollups keep no
 * metadata, so this reads the user's rows of the range (bounded by the day partitions); values that are not
 * non-negative numbers are left out.
 */
export async function timeSpentSeconds(db: Queryable, userId: string, from: Date, to: Date): Promise<number> {
  const [row] = await db.query<{ seconds: number | null }>(sql`/* dashboards.timeSpent */
    SELECT sum((metadata ->> 'time_spent_seconds')::float8)::float8 AS seconds
    FROM user_activities
    WHERE user_id = ${userId} AND "timestamp" >= ${from} AND "timestamp" < ${to}
      AND jsonb_typeof(metadata -> 'time_spent_seconds') = 'number' AND (metadata ->> 'time_spent_seconds')::float8 >= 0`);
  return row?.seconds ?? 0;
}
