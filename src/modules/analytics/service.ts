import type { Logger } from 'pino';
import type { Database } from '../../core/db/database.js';
import { InputValidationError, isKnownTimeZone, issue, type InputIssue } from '../../core/input.js';
import { FAMILIES } from '../../core/records.js';
import { familyDimensions, TAG_KEY } from './dimensions.js';
import {
  INTERVALS,
  MEASURE_FUNCTIONS,
  measureKey,
  COUNT_CAP,
  type AggregateQuery,
  type AggregateResult,
  type AggregateRow,
  type Measure,
  type ReadTrace,
} from './model.js';
import { roundAggregate } from './precision.js';
import type { Family } from '../../core/records.js';
import type { RecordFilter } from '../records/filters.js';
import { aggregateRaw } from './queries/aggregateRaw.js';
import { countCapped } from './queries/countCapped.js';
import { rangeOf } from './reads.js';
import type { ResultCache } from './rollups/cache.js';
import type { RollupReader } from './rollups/reader.js';

/** Most rows one read returns (the newest buckets when a range holds more). */
export const MAX_AGGREGATE_ROWS = 10_000;

/**
 * Which measures make sense on which family. Metrics aggregate `value` (performance metrics also
 * `responseTimeMs`, and their error rate); activities are counted, per second, and by distinct user.
 */
function measureProblem(family: AggregateQuery['family'], measure: Measure): string | null {
  if (!(MEASURE_FUNCTIONS as readonly string[]).includes(measure.fn)) return `must be one of ${MEASURE_FUNCTIONS.join(', ')}`;
  const field = measure.field ?? 'value';
  if (field !== 'value' && field !== 'responseTimeMs') return 'field must be value or responseTimeMs';
  if (field === 'responseTimeMs' && family !== 'performanceMetrics') return 'responseTimeMs exists on performance metrics only';
  if (family === 'activities') {
    return ['count', 'rate', 'uniqueUsers'].includes(measure.fn) ? null : 'activities can be measured by count, rate or uniqueUsers only';
  if (measure.fn === 'lastTimestamp' && measure.field && measure.field !== 'value') return 'lastTimestamp reads the newest record; it takes no field';
  }
  if (measure.fn === 'errorRate' && family !== 'performanceMetrics') return 'errorRate needs statusCode: performance metrics only';
  if (measure.fn === 'uniqueUsers' && family !== 'userMetrics') return 'uniqueUsers needs userId: activities or user metrics only';
  return null;
}

/** Every problem with a query, named under `prefix` (the caller's argument: `query`, `widgets[2].query`). */
export function aggregateQueryIssues(query: AggregateQuery, prefix: string): InputIssue[] {
  const issues: InputIssue[] = [];
  const at = (path: string, message: string) => issues.push(issue(`${prefix}.${path}`, message));
  if (!(FAMILIES as readonly string[]).includes(query.family)) at('family', `must be one of ${FAMILIES.join(', ')}`);
  if (!(query.from instanceof Date) || Number.isNaN(query.from.getTime())) at('from', 'must be a date-time');
  if (!(query.to instanceof Date) || Number.isNaN(query.to.getTime())) at('to', 'must be a date-time');
  else if (query.from.getTime() >= query.to.getTime()) at('from', 'must be before to');
  if (query.interval && !(query.interval in INTERVALS)) at('interval', `must be one of ${Object.keys(INTERVALS).join(', ')}`);
  if (query.timeZone !== undefined && !isKnownTimeZone(query.timeZone)) at('timeZone', 'must be an IANA time zone such as UTC or Europe/Paris');
  if (query.measures.length === 0) at('measures', 'must hold at least one measure');
  if (query.measures.length > 20) at('measures', 'must hold at most 20 measures');
  const keys = new Set<string>();
  query.measures.forEach((measure, index) => {
    const problem = (FAMILIES as readonly string[]).includes(query.family) ? measureProblem(query.family, measure) : null;
    if (problem) at(`measures[${index}]`, problem);
    const key = measureKey(measure);
    if (keys.has(key)) at(`measures[${index}]`, `repeats ${key}`);
    keys.add(key);
  });
  const dimensions = (FAMILIES as readonly string[]).includes(query.family) ? familyDimensions(query.family) : [];
  (query.groupBy ?? []).forEach((dimension, index) => {
    if (!TAG_KEY.test(dimension)) at(`groupBy[${index}]`, 'must be 1-100 characters of [A-Za-z0-9_.:/-]');
    else if (query.family === 'activities' && !dimensions.includes(dimension)) {
      at(`groupBy[${index}]`, `activities can be grouped by ${dimensions.join(', ')}`);
    }
  });
  if ((query.groupBy ?? []).length > 5) at('groupBy', 'must name at most 5 dimensions');
  if (query.top) {
    if (!keys.has(query.top.measure)) at('top.measure', `must be the key of one of the measures (${[...keys].join(', ')})`);
    if (!Number.isInteger(query.top.limit) || query.top.limit < 1 || query.top.limit > 1000) at('top.limit', 'must be between 1 and 1000');
  }
  return issues;
}

/**
 * Reads over the records for dashboards, reports and alert rules: aggregates per time bucket and group.
 * Values are rounded to 10 significant digits (precision.ts); rates are per second of their bucket (the
 * whole range with no interval).
 */
export class AnalyticsService {
  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly reader: RollupReader,
    readonly cache: ResultCache,
    private readonly options: { countCap: number; cache: boolean } = { countCap: COUNT_CAP, cache: true },
  ) {}

  /**
   * One aggregate read: from the cache, else from the rollups (with raw rows for what they do not cover yet),
   * else, when the rollups cannot serve it, one GROUP BY over raw rows. Which one served it is in `path`
   * and `cached`, and in a debug log line.
   */
  async aggregate(query: AggregateQuery, options: { cache?: boolean; rollups?: boolean; trace?: ReadTrace[] } = {}): Promise<AggregateResult> {
    const issues = aggregateQueryIssues(query, 'query');
    if (issues.length > 0) throw new InputValidationError(issues);
    const started = performance.now();
    const useCache = this.options.cache && options.cache !== false && options.rollups !== false;
    const cached = useCache ? await this.cache.get(query) : null;
    let result: AggregateResult;
    if (cached) {
      result = { ...cached, cached: true };
    } else {
      const rolled = options.rollups === false ? null : await this.reader.read(query);
      const rows = rolled ? rolled.rows : await aggregateRaw(this.db, query, MAX_AGGREGATE_ROWS);
      result = { rows: this.finish(query, rows), path: rolled ? (rolled.mixed ? 'mixed' : 'rollup') : 'raw', cached: false };
      if (query.withTotal) {
        // The whole range as one bucket, all groups together: rates per second of the range, no top.
        const whole: AggregateQuery = { ...query, interval: null, groupBy: [], top: undefined, withTotal: false };
        const total = rolled ? (rolled.total ?? null) : ((await aggregateRaw(this.db, whole, 1))[0] ?? null);
        result.total = total ? (this.finish(whole, [total])[0] ?? null) : null;
      }
      if (useCache) await this.cache.set(query, { rows: result.rows, total: result.total, path: result.path });
    }
    const ms = Math.round((performance.now() - started) * 10) / 10;
    options.trace?.push({ family: query.family, path: result.path, cached: result.cached, ms });
    this.log.debug({ family: query.family, interval: query.interval ?? null, path: result.path, cached: result.cached, rows: result.rows.length, ms }, 'analytics read');
    return result;
  }

  /**
   * How many records match a connection's filter. Exact, from the rollups (with raw rows for the open edges),
   * when the filter can be read from them (time range, metric names, rollup tags, app, host, activity types or
   * a user); otherwise counted on raw rows up to the cap (INSIGHTS_COUNT_CAP) and reported as not exact beyond it, so that a count
   * never scans millions of rows.
   */
  async countRecords(family: Family, filter: RecordFilter): Promise<{ count: number; exact: boolean }> {
    const range = await rangeOf(this.db, family, filter);
    if (!range) return { count: 0, exact: true };
    // An open end is closed by the first or last record: widening it to a whole UTC day counts the same records
    // (there are none beyond), and lets day rollups serve the edge days instead of hours, minutes and raw rows.
    const day = 86_400_000;
    const from = filter.from ? range.from : new Date(Math.floor(range.from.getTime() / day) * day);
    const to = filter.to ? range.to : new Date(Math.ceil(range.to.getTime() / day) * day);
    const query: AggregateQuery = { family, filter: { ...filter, from: undefined, to: undefined }, from, to, measures: [{ fn: 'count' }] };
    const rolled = await this.reader.read(query);
    if (rolled) return { count: rolled.rows.reduce((sum, row) => sum + row.count, 0), exact: true };
    const count = await countCapped(this.db, family, filter, this.options.countCap);
    return { count: Math.min(count, this.options.countCap), exact: count <= this.options.countCap };
  }

  /** Rates per second, rounding, one order for every path (bucket, then groups), the newest rows, and the top groups. */
  private finish(query: AggregateQuery, unordered: AggregateRow[]): AggregateRow[] {
    const rows = sortRows(unordered, query.groupBy ?? []).slice(-MAX_AGGREGATE_ROWS);
    const width = query.interval ? INTERVALS[query.interval] : query.to.getTime() - query.from.getTime();
    for (const row of rows) {
      for (const measure of query.measures) {
        const key = measureKey(measure);
        let value = row.values[key] ?? null;
        if (measure.fn === 'rate' && value !== null) value = value / (bucketSeconds(query, row.bucketStart, width) || Number.NaN);
        if (value !== null && !Number.isFinite(value)) value = null;
        row.values[key] = measure.fn === 'count' || measure.fn === 'uniqueUsers' || measure.fn === 'lastTimestamp' ? value : roundAggregate(value);
      }
    }
    return query.top ? topGroups(rows, query.top, query.groupBy ?? []) : rows;
  }
}

const compareText = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);

/** By bucket, then by each group value (in code-point order, nulls last). */
function sortRows(rows: AggregateRow[], groupBy: string[]): AggregateRow[] {
  return rows.sort((a, b) => {
    const time = a.bucketStart.getTime() - b.bucketStart.getTime();
    if (time !== 0) return time;
    for (const dimension of groupBy) {
      const order = compareText(a.groups[dimension] ?? null, b.groups[dimension] ?? null);
      if (order !== 0) return order;
    }
    return 0;
  });
}

/** Seconds a bucket covers within the query's range (the first and last buckets may be cut by it). */
function bucketSeconds(query: AggregateQuery, bucketStart: Date, width: number): number {
  const start = Math.max(bucketStart.getTime(), query.from.getTime());
  const end = Math.min(query.interval ? bucketStart.getTime() + width : query.to.getTime(), query.to.getTime());
  return Math.max(0, end - start) / 1000;
}

/**
 * Keeps the rows of the `limit` groups ranked first by one measure: its value summed over the buckets for counts
 * and sums, its largest for the others (with no interval there is one bucket, so it is the value itself).
 */
function topGroups(rows: AggregateRow[], top: NonNullable<AggregateQuery['top']>, groupBy: string[]): AggregateRow[] {
  const groupKey = (row: AggregateRow) => JSON.stringify(groupBy.map((dimension) => row.groups[dimension] ?? null));
  const scores = new Map<string, number>();
  const additive = /^(count|sum|uniqueUsers)/.test(top.measure);
  for (const row of rows) {
    const value = row.values[top.measure];
    if (value === null || value === undefined) continue;
    const key = groupKey(row);
    const previous = scores.get(key);
    scores.set(key, previous === undefined ? value : additive ? previous + value : Math.max(previous, value));
  }
  const direction = top.direction === 'asc' ? 1 : -1;
  const kept = new Set(
    [...scores.entries()]
      .sort((a, b) => direction * (a[1] - b[1]) || a[0].localeCompare(b[0]))
      .slice(0, top.limit)
      .map(([key]) => key),
  );
  return rows.filter((row) => kept.has(groupKey(row)));
}
