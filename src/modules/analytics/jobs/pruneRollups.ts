import { sql } from '../../../core/db/sql.js';
import { Prisma } from '../../../generated/prisma/client.js';
import type { Database } from '../../../core/db/database.js';
import type { JobDefinition } from '../../../core/jobs.js';
import type { Schedule } from '../../../core/schedule.js';
import { floorTo, type Resolution } from '../rollups/shape.js';

const DAY_MS = 86_400_000;
const BATCH = 20_000;

/**
 * Prunes rollups past their retention: minute rollups after INSIGHTS_ROLLUP_MINUTE_RETENTION_DAYS, hourly and daily
 * ones after INSIGHTS_ROLLUP_RETENTION_DAYS (so a year-long dashboard works after raw rows are gone). Each
 * resolution's horizon is recorded first, so reads stop using buckets about to disappear.
 */
export function pruneRollupsJob(deps: { schedule: Schedule; db: Database; minuteDays: number; days: number }): JobDefinition {
  return {
    name: 'prune-rollups',
    description: 'Deletes minute rollups older than INSIGHTS_ROLLUP_MINUTE_RETENTION_DAYS and hourly and daily rollups older than INSIGHTS_ROLLUP_RETENTION_DAYS.',
    schedule: deps.schedule,
    scope: 'cluster',
    manualAnchor: 'now',
    async run({ fireTime, signal }) {
      const cutoffs: Record<Resolution, number> = {
        '1m': floorTo(fireTime.getTime() - deps.minuteDays * DAY_MS, '1d'),
        '1h': floorTo(fireTime.getTime() - deps.days * DAY_MS, '1d'),
        '1d': floorTo(fireTime.getTime() - deps.days * DAY_MS, '1d'),
      };
      const deleted: Record<string, number> = {};
      for (const [resolution, cutoff] of Object.entries(cutoffs) as [Resolution, number][]) {
        await deps.db.query(sql`/* rollups.recordHorizon */
          INSERT INTO rollup_state (key, value) VALUES (${`horizon:${resolution}`}, to_jsonb(${cutoff}::float8))
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`);
        let count = 0;
        for (const table of ['metric_rollups', 'activity_rollups', ...(resolution === '1m' ? [] : ['activity_user_rollups'])]) {
          for (;;) {
            signal.throwIfAborted();
            const [row] = await deps.db.query<{ count: number }>(sql`/* rollups.prune */
              WITH doomed AS (
                SELECT ctid FROM ${Prisma.raw(`"${table}"`)} WHERE resolution = ${resolution} AND bucket < ${new Date(cutoff)} LIMIT ${BATCH}
              ), removed AS (DELETE FROM ${Prisma.raw(`"${table}"`)} t USING doomed WHERE t.ctid = doomed.ctid RETURNING 1)
              SELECT count(*)::int AS count FROM removed`);
            if (!row?.count) break;
            count += row.count;
          }
        }
        deleted[resolution] = count;
      }
      return { cutoffs: Object.fromEntries(Object.entries(cutoffs).map(([key, value]) => [key, new Date(value).toISOString()])), deleted };
    },
  };
}
