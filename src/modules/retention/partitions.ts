import { sql, type Queryable } from '../../core/db/sql.js';
import type { Database } from '../../core/db/database.js';
import type { JobDefinition } from '../../core/jobs.js';
import { FAMILIES } from '../../core/records.js';
import type { Schedule } from '../../core/schedule.js';
import { Prisma } from '../../generated/prisma/client.js';
import { REGISTRY } from '../records/registry.js';

// The record tables are range-partitioned by "timestamp", one partition per UTC day, named <table>_pYYYYMMDD,
// with a default partition (<table>_default) that takes any record whose day has no partition yet, so a write
// never fails for want of one. This keeps partitions created ahead of time, moves what landed in the default
// partition into its own day, and lists days for retention, which drops whole days (DROP TABLE: no bulk DELETE).

const DAY_MS = 86_400_000;
/** Partitions kept ready: yesterday (late records) to a week ahead (clock skew allows an hour; this is margin). */
const AHEAD_DAYS = 7;
/**
 * The advisory lock class of partition changes (one key per table). Two instances starting together both create
 * the same partitions; each CREATE ... PARTITION OF locks the parent and the default partition, and two of them
 * interleaving deadlock. One creator per table at a time; the second then finds the partition there.
 */
const PARTITION_LOCK_CLASS = 7_271_305;

export const PARTITIONED_TABLES: readonly string[] = FAMILIES.map((family) => REGISTRY[family].table);

/** Identifiers built here are a registry table name plus digits: never caller input. */
const ident = (name: string) => Prisma.raw(`"${name}"`);
const dayName = (table: string, day: number) => `${table}_p${new Date(day).toISOString().slice(0, 10).replace(/-/g, '')}`;

/** Holds, until the transaction ends, the right to add or drop partitions of one table (PGlite has one connection). */
export async function lockPartitionChanges(db: Database, tx: Queryable, table: string): Promise<void> {
  if (db.kind !== 'postgres') return;
  await tx.query(sql`/* partitions.lock */ SELECT pg_advisory_xact_lock(${PARTITION_LOCK_CLASS}::int, ${PARTITIONED_TABLES.indexOf(table)}::int)`);
}

export interface DayPartition {
  name: string;
  /** Start of its UTC day, epoch ms. */
  day: number;
}

/** The day partitions of a table, oldest first (the default partition is not one of them). */
export async function dayPartitions(db: Queryable, table: string): Promise<DayPartition[]> {
  const rows = await db.query<{ name: string }>(sql`/* partitions.list */
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = ${table}::regclass`);
  const pattern = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`);
  return rows
    .map((row) => ({ name: row.name, match: pattern.exec(row.name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({ name, day: Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) }))
    .sort((a, b) => a.day - b.day);
}

/**
 * Makes sure the partition of one UTC day exists. When the default partition already holds rows of that day, they
 * are moved into a new table that is then attached, with the default partition locked meanwhile (so no row of
 * the day lands there between the move and the attach); otherwise the partition is simply created.
 */
async function ensureDay(db: Database, table: string, day: number): Promise<'exists' | 'created' | 'moved'> {
  const name = dayName(table, day);
  return db.transaction(async (tx) => {
    await lockPartitionChanges(db, tx, table);
    const [exists] = await tx.query<{ present: boolean }>(sql`SELECT to_regclass(${name}) IS NOT NULL AS present`);
    if (exists?.present) return 'exists';
    const from = new Date(day);
    const to = new Date(day + DAY_MS);
    const [stray] = await tx.query<{ present: boolean }>(sql`/* partitions.strayRows */
      SELECT EXISTS (SELECT 1 FROM ${ident(`${table}_default`)} WHERE "timestamp" >= ${from} AND "timestamp" < ${to}) AS present`);
    if (!stray?.present) {
      await tx.query(sql`/* partitions.create */
        CREATE TABLE IF NOT EXISTS ${ident(name)} PARTITION OF ${ident(table)} FOR VALUES FROM (${Prisma.raw(`'${from.toISOString()}'`)}) TO (${Prisma.raw(`'${to.toISOString()}'`)})`);
      return 'created';
    }
    await tx.query(sql`LOCK TABLE ${ident(`${table}_default`)} IN ACCESS EXCLUSIVE MODE`);
    await tx.query(sql`CREATE TABLE ${ident(name)} (LIKE ${ident(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    await tx.query(sql`/* partitions.moveFromDefault */
      WITH moved AS (DELETE FROM ${ident(`${table}_default`)} WHERE "timestamp" >= ${from} AND "timestamp" < ${to} RETURNING *)
      INSERT INTO ${ident(name)} SELECT * FROM moved`);
    await tx.query(sql`/* partitions.attach */
      ALTER TABLE ${ident(table)} ATTACH PARTITION ${ident(name)} FOR VALUES FROM (${Prisma.raw(`'${from.toISOString()}'`)}) TO (${Prisma.raw(`'${to.toISOString()}'`)})`);
    return 'moved';
  });
}

/** Days (UTC starts) holding rows in a table's default partition. */
async function strayDays(db: Queryable, table: string): Promise<number[]> {
  const rows = await db.query<{ day: number }>(sql`/* partitions.strayDays */
    SELECT DISTINCT (extract(epoch FROM date_trunc('day', "timestamp" AT TIME ZONE 'UTC')) * 1000)::float8 AS day
    FROM ${ident(`${table}_default`)}`);
  return rows.map((row) => row.day);
}

export interface PartitionReport {
  [key: string]: number;
  created: number;
  moved: number;
}

/** Creates the partitions of yesterday to a week ahead, and gives rows stranded in default partitions their own day. */
export async function maintainPartitions(db: Database, now: Date, options: { keepFrom?: Date } = {}): Promise<PartitionReport> {
  const report: PartitionReport = { created: 0, moved: 0 };
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  for (const table of PARTITIONED_TABLES) {
    const days = new Set<number>();
    for (let offset = -1; offset <= AHEAD_DAYS; offset += 1) days.add(today + offset * DAY_MS);
    // Stranded rows older than retention are not worth a partition: retention deletes them from the default one.
    for (const day of await strayDays(db, table)) if (!options.keepFrom || day + DAY_MS > options.keepFrom.getTime()) days.add(day);
    for (const day of [...days].sort((a, b) => a - b)) {
      const outcome = await ensureDay(db, table, day);
      if (outcome === 'created') report.created += 1;
      if (outcome === 'moved') report.moved += 1;
    }
  }
  return report;
}

export function maintainPartitionsJob(deps: { schedule: Schedule; db: Database; retentionMs: number }): JobDefinition {
  return {
    name: 'maintain-partitions',
    description:
      'Creates the daily partitions of the record tables ahead of time (yesterday to a week ahead) and moves records that landed in a default partition into their own day.',
    schedule: deps.schedule,
    scope: 'cluster',
    manualAnchor: 'now',
    run: ({ fireTime }) => maintainPartitions(deps.db, fireTime, { keepFrom: new Date(fireTime.getTime() - deps.retentionMs) }),
  };
}
