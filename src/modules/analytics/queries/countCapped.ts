import { join, sql, type Queryable } from '../../../core/db/sql.js';
import type { Family } from '../../../core/records.js';
import { Prisma } from '../../../generated/prisma/client.js';
import { sqlConditions, type RecordFilter } from '../../records/filters.js';
import { REGISTRY } from '../../records/registry.js';

/** Counts matching raw rows, stopping one past `cap`: the scan is bounded whatever the table holds. */
export async function countCapped(db: Queryable, family: Family, filter: RecordFilter, cap: number): Promise<number> {
  const conditions = sqlConditions(filter, family);
  const [row] = await db.query<{ count: number }>(sql`/* analytics.countCapped */
    SELECT count(*)::int AS count FROM (
      SELECT 1 FROM ${Prisma.raw(REGISTRY[family].table)}
      ${conditions.length > 0 ? sql`WHERE ${join(conditions, ' AND ')}` : Prisma.empty}
      LIMIT ${cap + 1}
    ) capped`);
  return row?.count ?? 0;
}
