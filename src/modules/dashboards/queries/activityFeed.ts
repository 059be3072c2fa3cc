import { join, sql, type Queryable, type Sql } from '../../../core/db/sql.js';
import type { JsonValue } from '../../../core/json.js';

export interface FeedActivity {
  id: string;
  userId: string;
  activityType: string;
  description: string | null;
  metadata: JsonValue | null;
  timestamp: Date;
}

/**
 * The newest activities of a range, newest first: a list, which no rollup holds. The day partitions and the
 * timestamp index bound it to the range, and LIMIT to the page.
 */
export async function activityFeed(
  db: Queryable,
  options: { from: Date; to: Date; activityTypes: string[]; userId: string | null; limit: number },
): Promise<FeedActivity[]> {
  const conditions: Sql[] = [sql`"timestamp" >= ${options.from}`, sql`"timestamp" < ${options.to}`];
  if (options.activityTypes.length > 0) conditions.push(sql`activity_type = ANY(${options.activityTypes}::text[])`);
  if (options.userId !== null) conditions.push(sql`user_id = ${options.userId}`);
  return db.query<FeedActivity>(sql`/* dashboards.activityFeed */
    SELECT id::text AS "id", user_id AS "userId", activity_type AS "activityType", description, metadata, "timestamp"
    FROM user_activities WHERE ${join(conditions, ' AND ')}
    ORDER BY "timestamp" DESC, id DESC LIMIT ${options.limit}`);
}
