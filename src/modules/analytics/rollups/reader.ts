import { join, sql, type Queryable, type Sql } from '../../../core/db/sql.js';
import type { Family, MetricFamily } from '../../../core/records.js';
import { Prisma } from '../../../generated/prisma/client.js';
import type { RecordFilter } from '../../records/filters.js';
import { sqlConditions } from '../../records/filters.js';
import { INTERVALS, measureKey, percentileOf, type AggregateQuery, type AggregateRow } from '../model.js';
import { Partial } from './partial.js';
import { planRange, rawDuration, zonedDayStarts, zoneOffsetMinutes, type Plan } from './planner.js';
import { metricRollupColumns, partialOfActivityRow, partialOfMetricRow, type SketchNeeds, type StoredActivityRollup, type StoredMetricRollup } from './rows.js';
import { FULL_SLICE, TOTAL_SLICE, isMetricFamily, minuteHorizon, type Resolution } from './shape.js';
import { addActivityRecord, addMetricRecord, rangesSql, readActivityRecords, readMetricRecords, type Range } from './source.js';

// Serving an aggregate read from the rollups: plan the range (planner.ts), read the rollup rows of each
// resolution and the raw rows of what they do not cover, and merge everything per target bucket and group.
// Answers null when the read cannot be served from rollups (a filter or grouping outside the rollup tags, or
// too much not yet rolled up): the caller then runs it on raw rows.

/** Beyond this much raw time (pending minutes, edges), one raw GROUP BY is cheaper than merging raw rows here. */
const MAX_RAW_MS = 2 * 3_600_000;

export interface RollupRead {
  rows: AggregateRow[];
  /** With `withTotal`: every group of every bucket merged (null when empty). */
  total?: AggregateRow | null;
  /** Whether raw rows filled part of it. */
  mixed: boolean;
}

interface Group {
  bucket: number;
  groups: Record<string, string | null>;
  partial: Partial;
}

/** Maps a time to its target bucket start. */
type Bucketer = (time: number) => number;

function bucketer(query: AggregateQuery): Bucketer {
  const from = query.from.getTime();
  if (!query.interval) return () => from;
  if (query.interval !== 'DAY' || (query.timeZone ?? 'UTC') === 'UTC') {
    const width = INTERVALS[query.interval];
    return (time) => Math.floor(time / width) * width;
  }
  const starts = zonedDayStarts(from, query.to.getTime(), query.timeZone as string);
  return (time) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((starts[middle] as number) <= time) low = middle;
      else high = middle - 1;
    }
    return starts[low] as number;
  };
}

/** Resolutions able to make the query's buckets, coarsest first. */
function resolutionsFor(query: AggregateQuery): Resolution[] {
  switch (query.interval ?? null) {
    case 'MINUTE':
      return ['1m'];
    case 'HOUR':
      return ['1h', '1m'];
    case 'DAY': {
      const zone = query.timeZone ?? 'UTC';
      if (zone === 'UTC') return ['1d', '1h', '1m'];
      // Hour rollups make local days when the zone's offset is a whole number of hours over the range.
      const whole = [query.from.getTime(), query.to.getTime()].every((at) => zoneOffsetMinutes(zone, at) % 60 === 0);
      return whole ? ['1h', '1m'] : ['1m'];
    }
    default:
      return ['1d', '1h', '1m'];
  }
}


/** The sketches a read's measures need (percentiles per field, distinct users): only those are read and decoded. */
function sketchNeeds(query: AggregateQuery): SketchNeeds {
  const needs: SketchNeeds = { value: false, responseTime: false, users: false };
  for (const measure of query.measures) {
    if (measure.fn === 'uniqueUsers') needs.users = true;
    else if (percentileOf(measure.fn) !== null) {
      if (measure.field === 'responseTimeMs') needs.responseTime = true;
      else needs.value = true;
    }
  }
  return needs;
}

type Horizons = { [R in Resolution]?: number };

/** How long a family's pending minutes are shared by reads when no write of it is seen. */
const PENDING_TTL_MS = 1_000;
const MAX_PENDING_KEPT = 5_000;

/** How long the rollups' horizons (what retention pruned) are trusted before being read again. */
const HORIZON_TTL_MS = 60_000;

export class RollupReader {
  private horizons: { loadedAt: number; value: Horizons } | null = null;
  private readonly pending = new Map<Family, { at: number; buckets: Promise<number[] | null> }>();
  /** Per metric family, the first minute stored with per-tag slices (rollup_state `minuteSlicesFrom:<family>`). */
  private minuteSlicesFrom: { [F in MetricFamily]?: number } = {};

  constructor(
    private readonly db: Queryable,
    /** INSIGHTS_ROLLUP_TAGS. */
    private readonly tags: readonly string[],
    private readonly minuteRetentionDays: number,
  ) {}

  /** The first bucket still kept per resolution (rollup_state `horizon:<resolution>`, written by prune-rollups). */
  private async horizonsNow(): Promise<Horizons> {
    if (this.horizons && Date.now() - this.horizons.loadedAt < HORIZON_TTL_MS) return this.horizons.value;
    const rows = await this.db.query<{ key: string; value: number }>(sql`/* rollups.horizons */
      SELECT key, (value #>> '{}')::float8 AS value FROM rollup_state WHERE key LIKE 'horizon:%' OR key LIKE 'minuteSlicesFrom:%'`);
    const value = Object.fromEntries(
      rows.filter((row) => row.key.startsWith('horizon:')).map((row) => [row.key.slice('horizon:'.length), row.value]),
    ) as Horizons;
    this.minuteSlicesFrom = Object.fromEntries(
      rows.filter((row) => row.key.startsWith('minuteSlicesFrom:')).map((row) => [row.key.slice('minuteSlicesFrom:'.length), row.value]),
    );
    this.horizons = { loadedAt: Date.now(), value };
    return value;
  }

  async read(query: AggregateQuery): Promise<RollupRead | null> {
    return isMetricFamily(query.family) ? this.readMetrics(query, query.family) : this.readActivities(query);
  }

  /**
   * A write of the family was committed (here, or on another instance: its live event), or this instance folded
   * some of its minutes in: the pending minutes remembered for it are stale.
   */
  forgetPending(family: Family): void {
    this.pending.delete(family);
  }

  /** Minutes of the range with writes not yet folded into the rollups. */
  private async pendingMinutes(family: Family, from: number, to: number): Promise<Set<number>> {
    const start = Math.floor(from / 60_000) * 60_000;
    const buckets = await this.familyPending(family);
    if (buckets) return new Set(buckets.filter((bucket) => bucket >= start && bucket < to));
    const rows = await this.db.query<{ bucket: number }>(sql`/* rollups.pendingMinutes */
      SELECT DISTINCT (extract(epoch FROM bucket) * 1000)::float8 AS bucket FROM rollup_invalidations
      WHERE family = ${family} AND bucket >= ${new Date(start)} AND bucket < ${new Date(to)}`);
    return new Set(rows.map((row) => row.bucket));
  }

  /**
   * Every pending minute of a family, shared by the reads of the next PENDING_TTL_MS (a dashboard's dozen reads
   * start together: one query, not twelve) and forgotten at the family's next write; null when there are too
   * many to keep (a backlog: each read then asks for its own range). Minutes folded meanwhile are read from raw
   * rows, which is still exact; only another instance's write is seen up to its live event later.
   */
  private familyPending(family: Family): Promise<number[] | null> {
    const now = Date.now();
    const known = this.pending.get(family);
    if (known && now - known.at < PENDING_TTL_MS) return known.buckets;
    const buckets = this.db
      .query<{ bucket: number }>(sql`/* rollups.familyPending */
        SELECT DISTINCT (extract(epoch FROM bucket) * 1000)::float8 AS bucket FROM rollup_invalidations
        WHERE family = ${family} LIMIT ${MAX_PENDING_KEPT + 1}`)
      .then((rows) => (rows.length > MAX_PENDING_KEPT ? null : rows.map((row) => row.bucket)));
    const entry = { at: now, buckets };
    this.pending.set(family, entry);
    // A write committed while the query ran may be missing from its answer: noteWrite drops the entry, so that
    // answer serves only the reads already waiting for it (they began before the write). A failure is not kept.
    buckets.catch(() => {
      if (this.pending.get(family) === entry) this.pending.delete(family);
    });
    return buckets;
  }

  private async plan(query: AggregateQuery, resolutions: Resolution[]): Promise<Plan | null> {
    const from = query.from.getTime();
    const to = query.to.getTime();
    const [dirty, stored] = await Promise.all([this.pendingMinutes(query.family, from, to), this.horizonsNow()]);
    // Minutes older than their retention are not built (nor read), whatever pruning has reached yet.
    const horizons: Horizons = { ...stored, '1m': Math.max(stored['1m'] ?? Number.NEGATIVE_INFINITY, minuteHorizon(this.minuteRetentionDays)) };
    const plan = planRange(from, to, resolutions, dirty, horizons);
    // Nothing rolled up in the range (fresh data, or a short range): one exact GROUP BY over raw rows is better.
    if (Object.values(plan.rollups).every((ranges) => ranges.length === 0)) return null;
    return rawDuration(plan) > MAX_RAW_MS ? null : plan;
  }

  // ---- metrics ----------------------------------------------------------------------------------------------------

  private async readMetrics(query: AggregateQuery, family: MetricFamily): Promise<RollupRead | null> {
    const filter: RecordFilter = query.filter ?? {};
    // Fields the rollups do not key: such reads go to raw rows.
    if (filter.statusCode != null || filter.userId != null || filter.sessionId != null) return null;
    const tagFilter: Record<string, string> = {};
    for (const [key, value] of Object.entries(filter.tags ?? {})) tagFilter[key] = String(value);
    if (filter.host != null) {
      if (family !== 'systemMetrics') return null;
      if (tagFilter.host !== undefined && tagFilter.host !== filter.host) return { rows: [], mixed: false };
      tagFilter.host = filter.host;
    }
    const groupBy = query.groupBy ?? [];
    const groupTags = groupBy.filter((dimension) => dimension !== 'metricName' && !(dimension === 'appName' && family === 'applicationMetrics'));
    const keys = new Set([...Object.keys(tagFilter), ...groupTags]);
    if ([...keys].some((key) => !this.tags.includes(key))) return null;
    const slice = keys.size === 0 ? TOTAL_SLICE : keys.size === 1 ? ([...keys][0] as string) : FULL_SLICE;
    const plan = await this.plan(query, resolutionsFor(query));
    if (!plan) return null;
    const names = [...(filter.metricName ? [filter.metricName] : []), ...(filter.metricNames ?? [])];
    const conditions: Sql[] = [sql`family = ${family}`];
    if (names.length > 0) conditions.push(sql`metric_name = ANY(${names}::text[])`);
    if (filter.appName != null) conditions.push(sql`app_name = ${filter.appName}`);
    const tagCondition = Object.keys(tagFilter).length > 0 ? sql` AND dims::jsonb @> ${JSON.stringify(tagFilter)}::jsonb` : Prisma.empty;
    const toBucket = bucketer(query);
    const columns = metricRollupColumns(sketchNeeds(query));
    const merged = new Map<string, Group>();
    const groupOf = (bucket: number, values: Record<string, string | null>) => {
      const key = `${bucket}\u0001${groupBy.map((dimension) => values[dimension] ?? '\u0000').join('\u0001')}`;
      let group = merged.get(key);
      if (!group) {
        group = { bucket, groups: values, partial: new Partial() };
        merged.set(key, group);
      }
      return group.partial;
    };
    // Minutes stored before per-tag slices were kept for them (an upgrade) have only the total and the full
    // slice: a one-tag read of those merges full-slice rows.
    const perSlice = (Object.entries(plan.rollups) as [Resolution, Range[]][]).flatMap(([resolution, ranges]): [Resolution, string, Range[]][] => {
      if (resolution !== '1m' || slice === TOTAL_SLICE || slice === FULL_SLICE) return [[resolution, slice, ranges]];
      const from = this.minuteSlicesFrom[family] ?? Number.POSITIVE_INFINITY;
      const before = ranges.filter(([start]) => start < from).map(([start, end]): Range => [start, Math.min(end, from)]);
      const after = ranges.filter(([, end]) => end > from).map(([start, end]): Range => [Math.max(start, from), end]);
      return [[resolution, FULL_SLICE, before], [resolution, slice, after]];
    });
    // Every resolution in one statement (one round trip; each branch is its own index range scan).
    const branches = perSlice
      .filter(([, , ranges]) => ranges.length > 0)
      .map(
        ([resolution, stored, ranges]) => sql`(SELECT ${columns} FROM metric_rollups
          WHERE resolution = ${resolution} AND slice = ${stored} AND ${join(conditions, ' AND ')} AND (${rangesSql(ranges, 'bucket')})${tagCondition})`,
      );
    // Awaited together: a rollup read failing first must not leave the raw read's rejection unhandled.
    const [rollupRows, records] = await Promise.all([
      branches.length > 0 ? this.db.query<StoredMetricRollup>(sql`/* rollups.readMetricRollups */ ${join(branches, ' UNION ALL ')}`) : [],
      readMetricRecords(this.db, family, plan.raw, this.tags, this.rawConditions(query, family)),
    ]);
    for (const row of rollupRows) {
      const values: Record<string, string | null> = {};
      const dims = groupTags.length > 0 ? (JSON.parse(row.dims) as Record<string, string>) : {};
      for (const dimension of groupBy) {
        values[dimension] = dimension === 'metricName' ? row.metric_name : dimension === 'appName' && family === 'applicationMetrics' ? row.app_name : (dims[dimension] ?? null);
      }
      groupOf(toBucket(row.bucket.getTime()), values).absorb(partialOfMetricRow(row));
    }
    for (const record of records) {
      const values: Record<string, string | null> = {};
      for (const dimension of groupBy) {
        if (dimension === 'metricName') values[dimension] = record.metric;
        else if (dimension === 'appName' && family === 'applicationMetrics') values[dimension] = record.app;
        else values[dimension] = record.tags[this.tags.indexOf(dimension)] ?? null;
      }
      // Tag filters on raw rows compare text, as the rollups do (the SQL containment below compares JSON types).
      if (!Object.entries(tagFilter).every(([key, value]) => record.tags[this.tags.indexOf(key)] === value)) continue;
      addMetricRecord(groupOf(toBucket(record.ts), values), record);
    }
    return { ...this.finish(query, merged, false), mixed: plan.raw.length > 0 };
  }

  /** The read's own conditions on raw rows (names, app), without tags: those are compared as text in JS. */
  private rawConditions(query: AggregateQuery, family: MetricFamily): Sql[] {
    const filter = query.filter ?? {};
    return sqlConditions({ metricName: filter.metricName, metricNames: filter.metricNames, appName: filter.appName }, family);
  }

  // ---- activities -------------------------------------------------------------------------------------------------

  private async readActivities(query: AggregateQuery): Promise<RollupRead | null> {
    const filter = query.filter ?? {};
    const groupBy = query.groupBy ?? [];
    const types = [...(filter.activityType ? [filter.activityType] : []), ...(filter.activityTypes ?? [])];
    const byUser = filter.userId != null || groupBy.includes('userId');
    if (byUser) return this.readActivitiesByUser(query, types);
    if (groupBy.some((dimension) => dimension !== 'activityType')) return null;
    const plan = await this.plan(query, resolutionsFor(query));
    if (!plan) return null;
    const perType = groupBy.includes('activityType') || types.length > 0;
    const needsUsers = sketchNeeds(query).users;
    const toBucket = bucketer(query);
    const merged = new Map<string, Group>();
    const groupOf = (bucket: number, type: string) => {
      const values: Record<string, string | null> = groupBy.includes('activityType') ? { activityType: type } : {};
      const key = `${bucket}\u0001${groupBy.includes('activityType') ? type : ''}`;
      let group = merged.get(key);
      if (!group) {
        group = { bucket, groups: values, partial: new Partial() };
        merged.set(key, group);
      }
      return group.partial;
    };
    const typeCondition = perType
      ? types.length > 0
        ? sql`activity_type = ANY(${types}::text[])`
        : sql`activity_type <> ''`
      : sql`activity_type = ''`;
    const branches = (Object.entries(plan.rollups) as [Resolution, Range[]][])
      .filter(([, ranges]) => ranges.length > 0)
      .map(
        ([resolution, ranges]) => sql`(SELECT bucket, activity_type, count::float8 AS count${needsUsers ? sql`, users` : Prisma.empty} FROM activity_rollups
          WHERE resolution = ${resolution} AND ${typeCondition} AND (${rangesSql(ranges, 'bucket')}))`,
      );
    const [rollupRows, rawRecords] = await Promise.all([
      branches.length > 0 ? this.db.query<StoredActivityRollup>(sql`/* rollups.readActivityRollups */ ${join(branches, ' UNION ALL ')}`) : [],
      readActivityRecords(this.db, plan.raw, types.length > 0 ? [sql`activity_type = ANY(${types}::text[])`] : []),
    ]);
    for (const row of rollupRows) groupOf(toBucket(row.bucket.getTime()), row.activity_type).absorb(partialOfActivityRow(row));
    for (const record of rawRecords) addActivityRecord(groupOf(toBucket(record.ts), record.type), record);
    return { ...this.finish(query, merged, true), mixed: plan.raw.length > 0 };
  }

  /**
   * Activities per user (a userId filter, or grouping by userId) come from the hourly and daily per-user counts,
   * which hold counts only: with an activity type as well, or another measure, the read goes to raw rows.
   */
  private async readActivitiesByUser(query: AggregateQuery, types: string[]): Promise<RollupRead | null> {
    const filter = query.filter ?? {};
    const groupBy = query.groupBy ?? [];
    if (types.length > 0 || groupBy.some((dimension) => dimension !== 'userId')) return null;
    if (query.measures.some((measure) => !['count', 'rate', 'uniqueUsers'].includes(measure.fn))) return null;
    const resolutions = resolutionsFor(query).filter((resolution) => resolution !== '1m');
    if (resolutions.length === 0) return null;
    const plan = await this.plan(query, resolutions);
    if (!plan) return null;
    const toBucket = bucketer(query);
    const merged = new Map<string, Group>();
    const grouped = groupBy.includes('userId');
    const add = (bucket: number, user: string, count: number) => {
      const key = `${bucket}\u0001${grouped ? user : ''}`;
      let group = merged.get(key);
      if (!group) {
        group = { bucket, groups: grouped ? { userId: user } : {}, partial: new Partial() };
        merged.set(key, group);
      }
      group.partial.count += count;
      if (count > 0) group.partial.addUser(user);
    };
    const userCondition = filter.userId != null ? sql` AND user_id = ${filter.userId}` : Prisma.empty;
    const reads = (Object.entries(plan.rollups) as [Resolution, Range[]][])
      .filter(([, ranges]) => ranges.length > 0)
      .map(([resolution, ranges]) =>
        // With one bucket for the whole range, the counts are summed per user by the database.
        query.interval
          ? this.db.query<{ bucket: Date | null; user_id: string; count: number }>(sql`/* rollups.readActivityUserRollups */
              SELECT bucket, user_id, count::float8 AS count FROM activity_user_rollups
              WHERE resolution = ${resolution} AND (${rangesSql(ranges, 'bucket')})${userCondition}`)
          : this.db.query<{ bucket: Date | null; user_id: string; count: number }>(sql`/* rollups.sumActivityUserRollups */
              SELECT NULL::timestamptz AS bucket, user_id, sum(count)::float8 AS count FROM activity_user_rollups
              WHERE resolution = ${resolution} AND (${rangesSql(ranges, 'bucket')})${userCondition}
              GROUP BY user_id`),
      );
    const [rollupRows, rawRecords] = await Promise.all([
      Promise.all(reads),
      readActivityRecords(this.db, plan.raw, filter.userId != null ? [sql`user_id = ${filter.userId}`] : []),
    ]);
    for (const rows of rollupRows) {
      for (const row of rows) add(row.bucket ? toBucket(row.bucket.getTime()) : query.from.getTime(), row.user_id, row.count);
    }
    for (const record of rawRecords) add(toBucket(record.ts), record.user, 1);
    return { ...this.finish(query, merged, true), mixed: plan.raw.length > 0 };
  }

  // ---- results ----------------------------------------------------------------------------------------------------

  private finish(query: AggregateQuery, merged: Map<string, Group>, activities: boolean): Pick<RollupRead, 'rows' | 'total'> {
    const groupBy = query.groupBy ?? [];
    const values = (partial: Partial) =>
      Object.fromEntries(query.measures.map((measure) => [measureKey(measure), partial.measure(measure.fn, measure.field, activities)]));
    const rows = [...merged.values()]
      .filter((group) => group.partial.count > 0)
      .map((group) => ({
        bucketStart: new Date(group.bucket),
        groups: Object.fromEntries(groupBy.map((dimension) => [dimension, group.groups[dimension] ?? null])),
        count: group.partial.count,
        values: values(group.partial),
      }));
    if (!query.withTotal) return { rows };
    const total = new Partial();
    for (const group of merged.values()) total.merge(group.partial);
    return { rows, total: total.count > 0 ? { bucketStart: query.from, groups: {}, count: total.count, values: values(total) } : null };
  }
}

