import type { Logger } from 'pino';
import type { Database } from '../../../core/db/database.js';
import { sql, type Queryable } from '../../../core/db/sql.js';
import { FAMILIES, type Family, type MetricFamily, type StoredByFamily } from '../../../core/records.js';
import { Prisma } from '../../../generated/prisma/client.js';
import { REGISTRY } from '../../records/registry.js';
import { Partial } from './partial.js';
import {
  insertActivityRollups,
  insertMetricRollups,
  METRIC_ROLLUP_COLUMNS,
  partialOfActivityRow,
  partialOfMetricRow,
  type ActivityRollupRow,
  type MetricRollupRow,
  type StoredActivityRollup,
  type StoredMetricRollup,
} from './rows.js';
import { FULL_SLICE, METRIC_FAMILIES, RESOLUTION_MS, TOTAL_SLICE, dimsJson, floorTo, minuteHorizon, type Dims, type Resolution } from './shape.js';
import { addActivityRecord, addMetricRecord, rangesSql, readActivityRecords, readMetricRecords, type Range } from './source.js';

// Keeping the rollups up to date, TimescaleDB-style: every ingest transaction records which minutes it touched
// (rollup_invalidations, written with the records, so a crash between commit and rollup loses nothing), and a
// maintainer folds them in: it recomputes those minutes from raw rows, the hours that hold them from minute rows,
// and their days from hour rows, then deletes the invalidations, all in one transaction. Reads treat a minute
// with a pending invalidation as not rolled up and read its raw rows instead, so a read is exact whatever the
// maintainer's lag; late and out-of-order records land in their own old bucket the same way.
//
// Recomputing a minute reads all its raw rows, so a minute still being written is not recomputed at every
// interval (TimescaleDB's refresh lag, for the same reason): the timer folds a minute once no write has touched
// it for one interval, or once its oldest pending write is MAX_WAIT_INTERVALS intervals old. Writes stamped
// "now" settle a few seconds after their minute ends; writes spread over the past hour recompute each minute at
// most once a minute instead of every 5 s. An explicit refresh() (rebuild-rollups, tests) folds everything.

/** How many refresh intervals a minute that keeps being written may wait before it is folded anyway. */
export const MAX_WAIT_INTERVALS = 12;

/** The advisory lock class of rollup maintenance (one key per family): one maintainer at a time per family. */
const ROLLUP_LOCK_CLASS = 7_271_304;

export interface RefreshOptions {
  /** Stop starting new chunks after this long; the rest waits for the next call. */
  budgetMs?: number;
  families?: readonly Family[];
  /** The timer's mode: only minutes whose writes have settled (see MAX_WAIT_INTERVALS). */
  settledOnly?: boolean;
}

export interface RefreshStats {
  families: Family[];
  minutes: number;
  records: number;
  rows: number;
  ms: number;
}

/** The minutes (epoch ms) a batch of stored records touched, per family. */
export function touchedMinutes(stored: StoredByFamily): { family: Family; minutes: number[] }[] {
  const touched: { family: Family; minutes: number[] }[] = [];
  for (const family of FAMILIES) {
    const records = stored[family];
    if (records.length === 0) continue;
    const minutes = new Set<number>();
    for (const record of records) minutes.add(floorTo(record.timestamp.getTime(), '1m'));
    touched.push({ family, minutes: [...minutes] });
  }
  return touched;
}

/** The ingest hook: records the touched minutes in the write's own transaction (one statement). */
export async function recordInvalidations(tx: Queryable, stored: StoredByFamily): Promise<void> {
  const touched = touchedMinutes(stored);
  if (touched.length === 0) return;
  const families = touched.flatMap(({ family, minutes }) => minutes.map(() => family));
  const buckets = touched.flatMap(({ minutes }) => minutes);
  await tx.query(sql`/* rollups.invalidate */
    INSERT INTO rollup_invalidations (family, bucket)
    SELECT f, to_timestamp(b / 1000.0) FROM unnest(${families}::text[], ${buckets}::float8[]) AS u(f, b)`);
}

/** Contiguous runs of sorted minutes as [start, end) ranges. */
export function minuteRuns(minutes: readonly number[]): Range[] {
  const runs: [number, number][] = [];
  for (const minute of minutes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === minute) last[1] = minute + RESOLUTION_MS['1m'];
    else runs.push([minute, minute + RESOLUTION_MS['1m']]);
  }
  return runs;
}

export class RollupMaintainer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  /** Serialises maintenance in this process (PGlite has one process; PostgreSQL adds an advisory lock). */
  private local: Promise<unknown> = Promise.resolve();
  lastRefresh: { at: Date; stats: RefreshStats } | null = null;
  /** Told when this instance adds or folds pending minutes of a family (readers remember them briefly). */
  onPendingChanged: (family: Family) => void = () => undefined;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly tags: readonly string[],
    private readonly intervalMs: number,
    private readonly minuteRetentionDays: number,
  ) {}

  /** Server mode: folds pending invalidations in every interval. */
  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.timer = null;
      if (this.stopped) return;
      this.running = this.refresh({ budgetMs: Math.max(1_000, this.intervalMs * 2), settledOnly: true })
        .catch((error: unknown) => this.log.warn({ err: error }, 'rollup maintenance failed; retried at the next interval'))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.intervalMs).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * Folds pending invalidations into the rollups, oldest first, one day of minutes per transaction, until none
   * are left (or `budgetMs` has passed: the rest waits for the next call).
   */
  refresh(options: RefreshOptions = {}): Promise<RefreshStats> {
    const run = this.local.then(() => this.refreshNow(options));
    this.local = run.catch(() => undefined);
    return run;
  }

  private async refreshNow(options: RefreshOptions): Promise<RefreshStats> {
    const started = performance.now();
    const deadline = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : started + options.budgetMs;
    const stats: RefreshStats = { families: [], minutes: 0, records: 0, rows: 0, ms: 0 };
    // One cheap look first: an idle instance costs one query per interval.
    const pending = await this.pendingFamilies();
    for (const family of (options.families ?? FAMILIES).filter((candidate) => pending.has(candidate))) {
      let worked = false;
      while (performance.now() < deadline) {
        const chunk = await this.db.transaction((tx) => this.refreshChunk(tx, family, options.settledOnly === true));
        if (chunk === null) break;
        this.onPendingChanged(family);
        worked = true;
        stats.minutes += chunk.minutes;
        stats.records += chunk.records;
        stats.rows += chunk.rows;
      }
      if (worked) stats.families.push(family);
    }
    stats.ms = Math.round(performance.now() - started);
    if (stats.minutes > 0) {
      this.lastRefresh = { at: new Date(), stats };
      this.log.debug({ ...stats }, 'rollups refreshed');
    }
    return stats;
  }

  /** Families with pending invalidations. */
  async pendingFamilies(): Promise<Set<Family>> {
    const rows = await this.db.query<{ family: Family }>(sql`/* rollups.pendingFamilies */ SELECT DISTINCT family FROM rollup_invalidations`);
    return new Set(rows.map((row) => row.family));
  }

  /** How many invalidations are pending (all families, or some). */
  async pendingCount(families: readonly Family[] = FAMILIES): Promise<number> {
    const [row] = await this.db.query<{ count: number }>(sql`/* rollups.pendingCount */
      SELECT count(*)::int AS count FROM rollup_invalidations WHERE family = ANY(${[...families]}::text[])`);
    return row?.count ?? 0;
  }

  /**
   * One transaction: the oldest day with pending minutes of one family (settled ones only, if asked). Null when
   * nothing is pending (or locked).
   */
  private async refreshChunk(tx: Queryable, family: Family, settledOnly: boolean): Promise<{ minutes: number; records: number; rows: number } | null> {
    if (this.db.kind === 'postgres') {
      const [lock] = await tx.query<{ locked: boolean }>(
        sql`SELECT pg_try_advisory_xact_lock(${ROLLUP_LOCK_CLASS}, ${FAMILIES.indexOf(family)}) AS locked`,
      );
      if (!lock?.locked) return null;
    }
    // Ripe: everything, or (timer) minutes whose writes have paused for an interval or waited long enough.
    const quietSeconds = this.intervalMs / 1000;
    const ripe = (day?: number) => sql`
      SELECT bucket FROM rollup_invalidations
      WHERE family = ${family} ${day === undefined ? Prisma.empty : sql`AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + RESOLUTION_MS['1d'])}`}
      GROUP BY bucket
      HAVING NOT ${settledOnly}::boolean
        OR max(at) <= now() - make_interval(secs => ${quietSeconds}::float8)
        OR min(at) <= now() - make_interval(secs => ${quietSeconds * MAX_WAIT_INTERVALS}::float8)`;
    const [oldest] = await tx.query<{ bucket: number | null }>(sql`/* rollups.oldestPending */
      SELECT (extract(epoch FROM min(bucket)) * 1000)::float8 AS bucket FROM (${ripe()}) AS ripe`);
    if (oldest?.bucket === null || oldest?.bucket === undefined) return null;
    const day = floorTo(oldest.bucket, '1d');
    // Only what this transaction sees is taken: a write committing meanwhile leaves its rows for the next round.
    const taken = await tx.query<{ bucket: number }>(sql`/* rollups.takePending */
      DELETE FROM rollup_invalidations
      WHERE family = ${family} AND bucket IN (${ripe(day)})
      RETURNING (extract(epoch FROM bucket) * 1000)::float8 AS bucket`);
    const minutes = [...new Set(taken.map((row) => floorTo(row.bucket, '1m')))].sort((a, b) => a - b);
    if (minutes.length === 0) return { minutes: 0, records: 0, rows: 0 };
    // Hour by hour (raw rows of one hour in memory at a time), then the day once from its hours.
    const byHour = new Map<number, number[]>();
    for (const minute of minutes) {
      const hour = floorTo(minute, '1h');
      const list = byHour.get(hour);
      if (list) list.push(minute);
      else byHour.set(hour, [minute]);
    }
    const totals = { records: 0, rows: 0 };
    if (family === 'activities') {
      const hours: ActivityRollupRow[] = [];
      for (const [hour, hourMinutes] of byHour) {
        const result = await this.refreshActivityHour(tx, hour, hourMinutes);
        hours.push(...result.hourRows);
        totals.records += result.records;
        totals.rows += result.rows;
      }
      totals.rows += await this.refreshActivityDay(tx, day, [...byHour.keys()], hours);
    } else {
      const hours: MetricRollupRow[] = [];
      for (const [hour, hourMinutes] of byHour) {
        const result = await this.refreshMetricHour(tx, family, hour, hourMinutes);
        hours.push(...result.hourRows);
        totals.records += result.records;
        totals.rows += result.rows;
      }
      totals.rows += await this.refreshMetricDay(tx, family, day, [...byHour.keys()], hours);
    }
    return { minutes: minutes.length, ...totals };
  }

  // ---- metrics --------------------------------------------------------------------------------------------------

  private async refreshMetricHour(
    tx: Queryable,
    family: MetricFamily,
    hour: number,
    minutes: number[],
  ): Promise<{ records: number; rows: number; hourRows: MetricRollupRow[] }> {
    const records = await readMetricRecords(tx, family, minuteRuns(minutes), this.tags);
    // Each record goes to exactly one full-slice row; the other slices are merges of those.
    const full = new Map<string, MetricRollupRow>();
    for (const record of records) {
      const minute = floorTo(record.ts, '1m');
      const dims: Dims = {};
      record.tags.forEach((value, index) => {
        if (value !== null) dims[this.tags[index] as string] = value;
      });
      const json = JSON.stringify(dims);
      const key = `${minute}\u0001${record.metric}\u0001${record.app}\u0001${json}`;
      let row = full.get(key);
      if (!row) {
        row = { family, resolution: '1m', bucket: minute, metric: record.metric, app: record.app, slice: FULL_SLICE, dims, dimsJson: json, partial: new Partial() };
        full.set(key, row);
      }
      addMetricRecord(row.partial, record);
    }
    // Minutes keep every slice, as hours and days do: the partial hours at both ends of a range ending now are
    // read from minutes, and a one-tag read of full-slice rows merges every tag combination. Minutes older than
    // their retention only feed the hour.
    const minuteRows = [...full.values()];
    const keepMinutes = hour >= minuteHorizon(this.minuteRetentionDays);
    const stored = keepMinutes ? [...minuteRows, ...this.slices(minuteRows, this.tags)] : [];
    // As ranges, not `bucket = ANY(…)`: with an array the planner may scan the whole (family, resolution) prefix.
    await tx.query(sql`/* rollups.clearMetricMinutes */
      DELETE FROM metric_rollups WHERE family = ${family} AND resolution = '1m' AND (${rangesSql(minuteRuns(minutes), 'bucket')})`);
    await insertMetricRollups(tx, stored);
    // The hour from its minutes' full slices: the fresh ones in memory, the others as stored.
    const storedMinutes = await tx.query<StoredMetricRollup>(sql`/* rollups.readMetricMinutes */
      SELECT ${METRIC_ROLLUP_COLUMNS} FROM metric_rollups
      WHERE family = ${family} AND resolution = '1m' AND slice = ${FULL_SLICE}
        AND bucket >= ${new Date(hour)} AND bucket < ${new Date(hour + RESOLUTION_MS['1h'])}
        AND NOT (bucket = ANY(${minutes.map((minute) => new Date(minute))}::timestamptz[]))`);
    const hourFull = this.mergeFull(family, '1h', hour, [...minuteRows, ...storedMinutes.map((row) => this.metricRow(family, '1m', row))]);
    const hourRows = [...hourFull, ...this.slices(hourFull, this.tags)];
    await tx.query(sql`/* rollups.clearMetricHour */
      DELETE FROM metric_rollups WHERE family = ${family} AND resolution = '1h' AND bucket = ${new Date(hour)}`);
    await insertMetricRollups(tx, hourRows);
    return { records: records.length, rows: stored.length + hourRows.length, hourRows: hourFull };
  }

  /** The day from its hours' full slices: the recomputed ones in memory, the others as stored. */
  private async refreshMetricDay(tx: Queryable, family: MetricFamily, day: number, hours: number[], hourFull: MetricRollupRow[]): Promise<number> {
    const storedHours = await tx.query<StoredMetricRollup>(sql`/* rollups.readMetricHours */
      SELECT ${METRIC_ROLLUP_COLUMNS} FROM metric_rollups
      WHERE family = ${family} AND resolution = '1h' AND slice = ${FULL_SLICE}
        AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + RESOLUTION_MS['1d'])}
        AND NOT (bucket = ANY(${hours.map((hour) => new Date(hour))}::timestamptz[]))`);
    const dayFull = this.mergeFull(family, '1d', day, [...hourFull, ...storedHours.map((row) => this.metricRow(family, '1h', row))]);
    const dayRows = [...dayFull, ...this.slices(dayFull, this.tags)];
    await tx.query(sql`/* rollups.clearMetricDay */
      DELETE FROM metric_rollups WHERE family = ${family} AND resolution = '1d' AND bucket = ${new Date(day)}`);
    await insertMetricRollups(tx, dayRows);
    return dayRows.length;
  }

  private metricRow(family: MetricFamily, resolution: Resolution, row: StoredMetricRollup): MetricRollupRow {
    return {
      family,
      resolution,
      bucket: row.bucket.getTime(),
      metric: row.metric_name,
      app: row.app_name,
      slice: row.slice,
      dims: JSON.parse(row.dims) as Dims,
      dimsJson: row.dims,
      partial: partialOfMetricRow(row),
    };
  }

  /** From full-slice rows, per bucket and metric: the total slice, and one slice per tag of `tags`. */
  private slices(fullRows: MetricRollupRow[], tags: readonly string[]): MetricRollupRow[] {
    const derived = new Map<string, MetricRollupRow>();
    const addTo = (template: MetricRollupRow, slice: string, dims: Dims) => {
      const json = JSON.stringify(dims);
      const key = `${template.bucket}\u0001${template.metric}\u0001${template.app}\u0001${slice}\u0001${json}`;
      let row = derived.get(key);
      if (!row) {
        row = { ...template, slice, dims, dimsJson: json, partial: new Partial() };
        derived.set(key, row);
      }
      row.partial.merge(template.partial);
    };
    for (const row of fullRows) {
      addTo(row, TOTAL_SLICE, {});
      for (const tag of tags) addTo(row, tag, tag in row.dims ? { [tag]: row.dims[tag] as string } : {});
    }
    return [...derived.values()];
  }

  /** Merges finer full-slice rows into one coarser bucket. */
  private mergeFull(family: MetricFamily, resolution: Resolution, bucket: number, rows: MetricRollupRow[]): MetricRollupRow[] {
    const merged = new Map<string, MetricRollupRow>();
    for (const row of rows) {
      const json = dimsJson(this.tags, row.dims);
      const key = `${row.metric}\u0001${row.app}\u0001${json}`;
      let target = merged.get(key);
      if (!target) {
        target = { family, resolution, bucket, metric: row.metric, app: row.app, slice: FULL_SLICE, dims: row.dims, dimsJson: json, partial: new Partial() };
        merged.set(key, target);
      }
      target.partial.merge(row.partial);
    }
    return [...merged.values()];
  }

  // ---- activities -----------------------------------------------------------------------------------------------

  private async refreshActivityHour(
    tx: Queryable,
    hour: number,
    minutes: number[],
  ): Promise<{ records: number; rows: number; hourRows: ActivityRollupRow[] }> {
    const records = await readActivityRecords(tx, minuteRuns(minutes));
    const byKey = new Map<string, ActivityRollupRow>();
    const add = (minute: number, type: string) => {
      const key = `${minute}\u0001${type}`;
      let row = byKey.get(key);
      if (!row) {
        row = { resolution: '1m', bucket: minute, type, partial: new Partial() };
        byKey.set(key, row);
      }
      return row.partial;
    };
    for (const record of records) {
      const minute = floorTo(record.ts, '1m');
      addActivityRecord(add(minute, ''), record);
      addActivityRecord(add(minute, record.type), record);
    }
    const minuteRows = [...byKey.values()];
    const dates = minutes.map((minute) => new Date(minute));
    await tx.query(sql`/* rollups.clearActivityMinutes */
      DELETE FROM activity_rollups WHERE resolution = '1m' AND (${rangesSql(minuteRuns(minutes), 'bucket')})`);
    if (hour >= minuteHorizon(this.minuteRetentionDays)) await insertActivityRollups(tx, minuteRows);
    const storedMinutes = await tx.query<StoredActivityRollup>(sql`/* rollups.readActivityMinutes */
      SELECT bucket, activity_type, count::float8 AS count, users FROM activity_rollups
      WHERE resolution = '1m' AND bucket >= ${new Date(hour)} AND bucket < ${new Date(hour + RESOLUTION_MS['1h'])}
        AND NOT (bucket = ANY(${dates}::timestamptz[]))`);
    const hourRows = mergeActivityRows('1h', hour, [...minuteRows, ...storedMinutes.map((row) => activityRow('1m', row))]);
    await tx.query(sql`/* rollups.clearActivityHour */ DELETE FROM activity_rollups WHERE resolution = '1h' AND bucket = ${new Date(hour)}`);
    await insertActivityRollups(tx, hourRows);
    // Activities per user and hour are counted in SQL from the hour's raw rows (one GROUP BY).
    await tx.query(sql`/* rollups.clearActivityUserHour */
      DELETE FROM activity_user_rollups WHERE resolution = '1h' AND bucket = ${new Date(hour)}`);
    await tx.query(sql`/* rollups.activityUserHour */
      INSERT INTO activity_user_rollups (resolution, bucket, user_id, count)
      SELECT '1h', ${new Date(hour)}::timestamptz, user_id, count(*) FROM user_activities
      WHERE "timestamp" >= ${new Date(hour)} AND "timestamp" < ${new Date(hour + RESOLUTION_MS['1h'])}
      GROUP BY user_id`);
    return { records: records.length, rows: minuteRows.length + hourRows.length, hourRows };
  }

  private async refreshActivityDay(tx: Queryable, day: number, hours: number[], hourRows: ActivityRollupRow[]): Promise<number> {
    const storedHours = await tx.query<StoredActivityRollup>(sql`/* rollups.readActivityHours */
      SELECT bucket, activity_type, count::float8 AS count, users FROM activity_rollups
      WHERE resolution = '1h' AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + RESOLUTION_MS['1d'])}
        AND NOT (bucket = ANY(${hours.map((hour) => new Date(hour))}::timestamptz[]))`);
    const dayRows = mergeActivityRows('1d', day, [...hourRows, ...storedHours.map((row) => activityRow('1h', row))]);
    await tx.query(sql`/* rollups.clearActivityDay */ DELETE FROM activity_rollups WHERE resolution = '1d' AND bucket = ${new Date(day)}`);
    await insertActivityRollups(tx, dayRows);
    // Per user and day, from the hours (counted in SQL).
    await tx.query(sql`/* rollups.clearActivityUserDay */
      DELETE FROM activity_user_rollups WHERE resolution = '1d' AND bucket = ${new Date(day)}`);
    await tx.query(sql`/* rollups.activityUserDay */
      INSERT INTO activity_user_rollups (resolution, bucket, user_id, count)
      SELECT '1d', ${new Date(day)}::timestamptz, user_id, sum(count) FROM activity_user_rollups
      WHERE resolution = '1h' AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + RESOLUTION_MS['1d'])}
      GROUP BY user_id`);
    return dayRows.length;
  }

  /**
   * Marks every minute that holds records in [from, to) for recomputation (all families, or some), then folds
   * them in: `rebuild-rollups`, and a change of INSIGHTS_ROLLUP_TAGS.
   */
  async rebuild(from: Date, to: Date, families: readonly Family[] = FAMILIES, onProgress?: (stats: RefreshStats) => void): Promise<RefreshStats> {
    // From the command line no server may have started on this database since the upgrade: the marker the
    // rebuild moves back must exist.
    await this.db.transaction((tx) => this.initMinuteSlicesFrom(tx));
    for (const family of families) {
      await this.db.query(sql`/* rollups.invalidateRange */
        INSERT INTO rollup_invalidations (family, bucket)
        SELECT DISTINCT ${family}, date_trunc('minute', "timestamp") FROM ${rawTable(family)}
        WHERE "timestamp" >= ${from} AND "timestamp" < ${to}`);
      this.onPendingChanged(family);
    }
    const total: RefreshStats = { families: [], minutes: 0, records: 0, rows: 0, ms: 0 };
    for (;;) {
      const stats = await this.refresh({ budgetMs: 2_000, families });
      total.minutes += stats.minutes;
      total.records += stats.records;
      total.rows += stats.rows;
      total.ms += stats.ms;
      for (const family of stats.families) if (!total.families.includes(family)) total.families.push(family);
      onProgress?.(total);
      if (stats.minutes > 0) continue;
      // Nothing done: either all is folded in, or another instance's maintainer holds a family's lock.
      if ((await this.pendingCount(families)) === 0) {
        for (const family of families) if (family !== 'activities') await this.extendMinuteSlicesFrom(family, from, to);
        // A rebuild may have changed the rollup tables' size by orders of magnitude: fresh statistics keep the
        // reads' plans right without waiting for autovacuum.
        if (this.db.kind === 'postgres') {
          await this.db.query(sql`/* rollups.analyze */ ANALYZE metric_rollups, activity_rollups, activity_user_rollups`);
          // The rebuild queued and folded one invalidation per minute: their dead index entries go now, not when
          // autovacuum gets to them (every read looks pending minutes up in that index).
          await this.db.query(sql`/* rollups.vacuumInvalidations */ VACUUM rollup_invalidations`);
        }
        return total;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * After a rebuild of [from, to): every minute there that holds records now has per-tag slices, so a marker
   * inside the range moves back to `from`, or to the oldest raw record if that is later (older minute rollups
   * have no raw rows left to be rebuilt from, and keep their layout).
   */
  private async extendMinuteSlicesFrom(family: MetricFamily, from: Date, to: Date): Promise<void> {
    await this.db.query(sql`/* rollups.extendMinuteSlicesFrom */
      WITH oldest AS (
        SELECT GREATEST(${from.getTime()}::float8,
          coalesce(floor(extract(epoch FROM min("timestamp")) / 60) * 60000, ${from.getTime()}::float8)) AS at
        FROM ${rawTable(family)}
      )
      UPDATE rollup_state SET value = to_jsonb(oldest.at), updated_at = now() FROM oldest
      WHERE key = ${`minuteSlicesFrom:${family}`} AND (value #>> '{}')::float8 <= ${to.getTime()}::float8
        AND (value #>> '{}')::float8 > oldest.at`);
  }

  /**
   * Rollups from a version that kept only the total and the full slice for minutes (no marker yet): minutes
   * folded from now on have per-tag slices. An hour ahead, for records stamped up to an hour in the future, which
   * that version may have folded already.
   */
  private async initMinuteSlicesFrom(tx: Queryable): Promise<void> {
    const from = floorTo(Date.now(), '1m') + RESOLUTION_MS['1h'] + RESOLUTION_MS['1m'];
    for (const family of METRIC_FAMILIES) await this.setMinuteSlicesFrom(tx, family, from, 'ifAbsent');
  }

  /** Records the first minute stored with per-tag slices (see reader.ts): always, or only if none is recorded. */
  private async setMinuteSlicesFrom(tx: Queryable, family: MetricFamily, from: number, mode: 'always' | 'ifAbsent'): Promise<void> {
    const key = `minuteSlicesFrom:${family}`;
    await (mode === 'always'
      ? tx.query(sql`/* rollups.writeMinuteSlicesFrom */
          INSERT INTO rollup_state (key, value) VALUES (${key}, to_jsonb(${from}::float8))
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`)
      : tx.query(sql`/* rollups.initMinuteSlicesFrom */
          INSERT INTO rollup_state (key, value) VALUES (${key}, to_jsonb(${from}::float8)) ON CONFLICT (key) DO NOTHING`));
  }

  /**
   * The rollup tags are part of every row's key: when INSIGHTS_ROLLUP_TAGS is not what the rollups were built
   * with (or on the first start after rollups were introduced), the metric rollups are rebuilt from raw rows.
   * Concurrent starters agree through a lock; the losers find the tags already recorded.
   */
  async reconcileTags(): Promise<'unchanged' | 'rebuilding'> {
    const wanted = JSON.stringify(this.tags);
    const outcome = await this.db.transaction(async (tx) => {
      if (this.db.kind === 'postgres') await tx.query(sql`SELECT pg_advisory_xact_lock(${ROLLUP_LOCK_CLASS}, 1000)`);
      const [state] = await tx.query<{ value: unknown }>(sql`/* rollups.readTags */ SELECT value FROM rollup_state WHERE key = 'tags'`);
      if (state && JSON.stringify(state.value) === wanted) {
        await this.initMinuteSlicesFrom(tx);
        return 'unchanged' as const;
      }
      await tx.query(sql`/* rollups.writeTags */
        INSERT INTO rollup_state (key, value) VALUES ('tags', ${wanted}::jsonb)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`);
      await tx.query(sql`/* rollups.dropMetricRollups */ DELETE FROM metric_rollups`);
      // Everything is rebuilt, so every minute will have its per-tag slices.
      for (const family of METRIC_FAMILIES) await this.setMinuteSlicesFrom(tx, family, 0, 'always');
      for (const family of state ? METRIC_FAMILIES : FAMILIES) {
        await tx.query(sql`/* rollups.invalidateAll */
          INSERT INTO rollup_invalidations (family, bucket)
          SELECT DISTINCT ${family}, date_trunc('minute', "timestamp") FROM ${rawTable(family)}`);
      }
      return 'rebuilding' as const;
    });
    if (outcome === 'rebuilding') for (const family of FAMILIES) this.onPendingChanged(family);
    if (outcome === 'rebuilding') this.log.warn({ tags: this.tags }, 'rollup tags changed (or first start with rollups): rollups are being rebuilt from raw rows; reads use raw rows meanwhile');
    return outcome;
  }
}

function activityRow(resolution: Resolution, row: StoredActivityRollup): ActivityRollupRow {
  return { resolution, bucket: row.bucket.getTime(), type: row.activity_type, partial: partialOfActivityRow(row) };
}

function mergeActivityRows(resolution: Resolution, bucket: number, rows: ActivityRollupRow[]): ActivityRollupRow[] {
  const merged = new Map<string, ActivityRollupRow>();
  for (const row of rows) {
    let target = merged.get(row.type);
    if (!target) {
      target = { resolution, bucket, type: row.type, partial: new Partial() };
      merged.set(row.type, target);
    }
    target.partial.merge(row.partial);
  }
  return [...merged.values()];
}

/** A family's table name: a constant of the registry, never input. */
const rawTable = (family: Family) => Prisma.raw(REGISTRY[family].table);
