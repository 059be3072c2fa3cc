import type { Queryable } from '../../../core/db/sql.js';
import { sql } from '../../../core/db/sql.js';
import { sqlConditions, whereClause, type RecordFilter } from '../../records/filters.js';

export interface KeyCount {
  key: string;
  count: number;
}

export interface UserActivityStats {
  totalActivities: number;
  uniqueUsers: number;
  byType: KeyCount[];
  byUser: KeyCount[];
  byDay: KeyCount[];
}


/** Totals and breakdowns of activities; byDay keys are calendar days (YYYY-MM-DD) in `timeZone`. */
export async function userActivityStats(
  db: Queryable,
  filter: RecordFilter,
  options: { top: number; timeZone: string },
): Promise<UserActivityStats> {
  const where = whereClause(sqlConditions(filter, 'activities'));
  const [totals, byType, byUser, byDay] = await Promise.all([
    db.query<{ total: number; users: number }>(
      sql`/* userActivityStats.totals */ SELECT count(*)::int AS total, count(DISTINCT user_id)::int AS users FROM user_activities ${where}`,
    ),
    db.query<KeyCount>(sql`/* userActivityStats.byType */
      SELECT activity_type AS key, count(*)::int AS count FROM user_activities ${where}
      GROUP BY activity_type ORDER BY count DESC, key LIMIT ${options.top}`),
    db.query<KeyCount>(sql`/* userActivityStats.byUser */
      SELECT user_id AS key, count(*)::int AS count FROM user_activities ${where}
      GROUP BY user_id ORDER BY count DESC, key LIMIT ${options.top}`),
    db.query<KeyCount>(sql`/* userActivityStats.byDay */
      SELECT to_char(("timestamp" AT TIME ZONE ${options.timeZone})::date, 'YYYY-MM-DD') AS key, count(*)::int AS count
      FROM user_activities ${where} GROUP BY 1 ORDER BY 1`),
  ]);
  return {
    totalActivities: totals[0]?.total ?? 0,
    uniqueUsers: totals[0]?.users ?? 0,
    byType,
    byUser,
    byDay,
  };
}
