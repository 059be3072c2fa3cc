import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Database } from '../../core/db/database.js';
import { sql } from '../../core/db/sql.js';
import type { JobDefinition } from '../../core/jobs.js';
import { FAMILIES, type Family } from '../../core/records.js';
import type { Schedule } from '../../core/schedule.js';
import { Prisma } from '../../generated/prisma/client.js';
import { recordColumns } from '../records/filters.js';
import { REGISTRY } from '../records/registry.js';
import { dayPartitions, lockPartitionChanges, type DayPartition } from './partitions.js';

const gzip = promisify(gzipCallback);
const raw = Prisma.raw;

/**
 * Rows per statement. Small enough that each batch holds its row locks for milliseconds and writes a bounded
 * amount of WAL, large enough that a million expired rows take a few hundred statements, not a million.
 */
export const RETENTION_BATCH_SIZE = 5_000;

/** The tables retention empties, in this order; names are constants of the ingest layer, never input. */
export const RETENTION_TABLES: readonly { family: Family; table: string }[] = FAMILIES.map((family) => ({
  family,
  table: REGISTRY[family].table,
}));
/** Job history is kept as long as the data it produced. */
export const JOB_RUNS_TABLE = 'job_runs';

export interface PurgeProgress {
  table: string;
  /** Deleted so far from this table. */
  deleted: number;
  /** Expired rows found in this table before deleting started. */
  total: number;
}

export interface PurgeOptions {
  /** Records whose `timestamp` is before this are deleted; records at or after it are kept. */
  cutoff: Date;
  /** When set, each batch is appended to `<archiveDir>/<table>/<YYYY-MM-DD>.ndjson.gz` before it is deleted. */
  archiveDir?: string;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (progress: PurgeProgress) => void;
}

export interface PurgeReport {
  [key: string]: string | number | string[] | Record<string, number>;
  cutoff: string;
  /** Rows deleted per table, job_runs included. */
  deleted: Record<string, number>;
  total: number;
  /** Archive files written to (appended to). */
  archives: string[];
}

/** How many rows each table holds that are older than `cutoff` (the command line's dry run and progress bar). */
export async function countExpired(db: Database, cutoff: Date): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { table } of RETENTION_TABLES) {
    const [row] = await db.query<{ count: number }>(
      sql`/* retention.countExpired */ SELECT count(*)::int AS count FROM ${raw(table)} WHERE "timestamp" < ${cutoff}`,
    );
    counts[table] = row?.count ?? 0;
  }
  const [runs] = await db.query<{ count: number }>(
    sql`/* retention.countExpiredRuns */ SELECT count(*)::int AS count FROM ${raw(JOB_RUNS_TABLE)} WHERE started_at < ${cutoff} AND status <> 'RUNNING'`,
  );
  counts[JOB_RUNS_TABLE] = runs?.count ?? 0;
  return counts;
}

/**
 * Deletes every record older than the cut-off from the five data tables (and finished job runs started before
 * it), one bounded batch per statement or transaction, so no lock is held for long and concurrent writers are
 * never blocked for more than one batch. Rows another deleter has locked are skipped (SKIP LOCKED), so two
 * purges running at once share the work instead of queueing behind each other or archiving a row twice.
 *
 * With an archive directory, a batch is read, appended to its gzip file and fsync'd, and only then deleted in
 * the same transaction: a crash may leave a row archived and not yet deleted (archived again next time), never
 * deleted and not archived.
 */
export async function purgeExpired(db: Database, options: PurgeOptions): Promise<PurgeReport> {
  const batchSize = options.batchSize ?? RETENTION_BATCH_SIZE;
  const totals = options.onProgress ? await countExpired(db, options.cutoff) : undefined;
  const deleted: Record<string, number> = {};
  const archives = new Set<string>();

  const progress = (table: string, count: number) => {
    deleted[table] = count;
    options.onProgress?.({ table, deleted: count, total: Math.max(count, totals?.[table] ?? 0) });
  };

  for (const { family, table } of RETENTION_TABLES) {
    let count = 0;
    progress(table, 0);
    // Whole days first: a day partition entirely before the cut-off is archived if asked, then dropped.
    for (const partition of await dayPartitions(db, table)) {
      if (partition.day + DAY_MS > options.cutoff.getTime()) break;
      options.signal?.throwIfAborted();
      count += await dropDay(db, family, table, partition, options.archiveDir, archives);
      progress(table, count);
    }
    // Then the rest (the day the cut-off falls in, and the default partition), in bounded batches.
    for (;;) {
      options.signal?.throwIfAborted();
      const removed = options.archiveDir
        ? await archiveAndDeleteBatch(db, family, table, options.cutoff, batchSize, options.archiveDir, archives)
        : await deleteBatch(db, table, options.cutoff, batchSize);
      if (removed === 0) break;
      count += removed;
      progress(table, count);
    }
  }

  let runs = 0;
  progress(JOB_RUNS_TABLE, 0);
  for (;;) {
    options.signal?.throwIfAborted();
    const [row] = await db.query<{ count: number }>(sql`/* retention.deleteRuns */
      WITH doomed AS (
        SELECT id FROM ${raw(JOB_RUNS_TABLE)} WHERE started_at < ${options.cutoff} AND status <> 'RUNNING'
        ORDER BY started_at LIMIT ${batchSize} FOR UPDATE SKIP LOCKED
      ), removed AS (
        DELETE FROM ${raw(JOB_RUNS_TABLE)} r USING doomed WHERE r.id = doomed.id RETURNING 1
      )
      SELECT count(*)::int AS count FROM removed`);
    if (!row?.count) break;
    runs += row.count;
    progress(JOB_RUNS_TABLE, runs);
  }

  return {
    cutoff: options.cutoff.toISOString(),
    deleted,
    total: Object.values(deleted).reduce((sum, value) => sum + value, 0),
    archives: [...archives].sort(),
  };
}

const DAY_MS = 86_400_000;

/**
 * Archives (when asked) and drops one day partition. The drop waits at most 10 s for readers of the table;
 * a retention run that gives up is retried at the next tick, and the rows are still there.
 */
async function dropDay(
  db: Database,
  family: Family,
  table: string,
  partition: DayPartition,
  archiveDir: string | undefined,
  archives: Set<string>,
): Promise<number> {
  const name = Prisma.raw(`"${partition.name}"`);
  if (archiveDir) {
    // Read in keyset pages so a big day never sits in memory at once; appended and fsync'd before the drop.
    let after: { timestamp: Date; id: string } | null = null;
    for (;;) {
      const page: { id: string; timestamp: Date }[] = await db.query<{ id: string; timestamp: Date }>(sql`/* retention.readPartitionPage */
        SELECT ${recordColumns(family)} FROM ${name}
        ${after ? sql`WHERE ("timestamp", id) > (${after.timestamp}, ${after.id}::bigint)` : Prisma.empty}
        ORDER BY "timestamp", id LIMIT ${ARCHIVE_PAGE_SIZE}`);
      if (page.length === 0) break;
      for (const file of await appendToArchive(archiveDir, table, page)) archives.add(file);
      const last = page[page.length - 1] as { id: string; timestamp: Date };
      after = { timestamp: last.timestamp, id: last.id };
    }
  }
  return db.transaction(async (tx) => {
    const [row] = await tx.query<{ count: number }>(sql`/* retention.countPartition */ SELECT count(*)::int AS count FROM ${name}`);
    if (db.kind === 'postgres') await tx.query(sql`SET LOCAL lock_timeout = '10s'`);
    await lockPartitionChanges(db, tx, table);
    await tx.query(sql`/* retention.dropPartition */ DROP TABLE ${name}`);
    return row?.count ?? 0;
  });
}

const ARCHIVE_PAGE_SIZE = 20_000;

// Walking the timestamp index (not the primary key) bounds each batch's scan to expired rows, however many
// recent rows there are; a loop ends on an empty batch rather than a short one, because SKIP LOCKED can make a
// batch short while rows remain.
async function deleteBatch(db: Database, table: string, cutoff: Date, batchSize: number): Promise<number> {
  const [row] = await db.query<{ count: number }>(sql`/* retention.deleteBatch */
    WITH doomed AS (
      SELECT id, "timestamp" FROM ${raw(table)} WHERE "timestamp" < ${cutoff} ORDER BY "timestamp" LIMIT ${batchSize} FOR UPDATE SKIP LOCKED
    ), removed AS (
      DELETE FROM ${raw(table)} t USING doomed WHERE t.id = doomed.id AND t."timestamp" = doomed."timestamp" RETURNING 1
    )
    SELECT count(*)::int AS count FROM removed`);
  return row?.count ?? 0;
}

async function archiveAndDeleteBatch(
  db: Database,
  family: Family,
  table: string,
  cutoff: Date,
  batchSize: number,
  archiveDir: string,
  archives: Set<string>,
): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await tx.query<{ id: string; timestamp: Date }>(sql`/* retention.readBatch */
      SELECT ${recordColumns(family)} FROM ${raw(table)} WHERE "timestamp" < ${cutoff}
      ORDER BY "timestamp" LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`);
    if (rows.length === 0) return 0;
    for (const file of await appendToArchive(archiveDir, table, rows)) archives.add(file);
    await tx.query(sql`/* retention.deleteArchived */
      DELETE FROM ${raw(table)} WHERE "timestamp" < ${cutoff} AND id = ANY(${rows.map((row) => row.id)}::text[]::bigint[])`);
    return rows.length;
  });
}

/**
 * One file per table and UTC day of the records (so a day can be restored on its own), one gzip member per
 * batch appended to it: gzip readers (zcat, zlib) read concatenated members as one stream.
 */
async function appendToArchive(archiveDir: string, table: string, rows: { timestamp: Date }[]): Promise<string[]> {
  const byDay = new Map<string, string[]>();
  for (const row of rows) {
    const day = new Date(row.timestamp).toISOString().slice(0, 10);
    let lines = byDay.get(day);
    if (!lines) byDay.set(day, (lines = []));
    lines.push(JSON.stringify(row));
  }
  const directory = path.join(archiveDir, table);
  await fs.mkdir(directory, { recursive: true });
  const files: string[] = [];
  for (const [day, lines] of byDay) {
    const file = path.join(directory, `${day}.ndjson.gz`);
    const compressed = await gzip(`${lines.join('\n')}\n`);
    const handle = await fs.open(file, 'a');
    try {
      await handle.write(compressed);
      // On disk before the delete commits: the archive is the only copy from then on.
      await handle.sync();
    } finally {
      await handle.close();
    }
    files.push(file);
  }
  return files;
}

/** Deletes raw records older than `maxAgeMs` before the tick (INSIGHTS_RETENTION_DAYS), archiving them first when configured. */
export function retentionJob(deps: {
  schedule: Schedule;
  db: Database;
  maxAgeMs: number;
  archiveDir?: string;
  batchSize?: number;
  onProgress?: (progress: PurgeProgress) => void;
}): JobDefinition {
  return {
    name: 'retention',
    description: 'Deletes raw records (and job history) older than the retention period, in bounded batches, archiving them first when INSIGHTS_ARCHIVE_DIR is set.',
    schedule: deps.schedule,
    scope: 'cluster',
    manualAnchor: 'now',
    run: ({ fireTime, signal }) =>
      purgeExpired(deps.db, {
        cutoff: new Date(fireTime.getTime() - deps.maxAgeMs),
        archiveDir: deps.archiveDir,
        batchSize: deps.batchSize,
        signal,
        onProgress: deps.onProgress,
      }),
  };
}
