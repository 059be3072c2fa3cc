import { sql, type Queryable } from '../../../core/db/sql.js';
import type { Family } from '../../../core/records.js';
import { Prisma } from '../../../generated/prisma/client.js';
import { REGISTRY } from '../../records/registry.js';

/** The first and last timestamp of a family's records (both index lookups), or null when it has none. */
export async function recordTimeRange(db: Queryable, family: Family): Promise<{ first: Date; last: Date } | null> {
  const [row] = await db.query<{ first: Date | null; last: Date | null }>(sql`/* analytics.recordTimeRange */
    SELECT min("timestamp") AS first, max("timestamp") AS last FROM ${Prisma.raw(REGISTRY[family].table)}`);
  return row?.first && row.last ? { first: row.first, last: row.last } : null;
}
