import type { Family } from '../../core/records.js';
import type { RecordFilter } from '../records/filters.js';

// The analytics read contract: what dashboards, reports and alert rules ask of the records, whatever serves it
// (rollups, raw rows, or both). One query shape, one result shape.

/** Aggregations a measure may apply. */
export const MEASURE_FUNCTIONS = [
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'last',
  'lastTimestamp',
  'p50',
  'p90',
  'p95',
  'p99',
  'rate',
  'errorRate',
  'uniqueUsers',
] as const;
export type MeasureFunction = (typeof MEASURE_FUNCTIONS)[number];

// lastTimestamp: the timestamp (epoch milliseconds) of the record `last` reads.

/** Numeric fields a measure may read: `value` of metrics, `responseTimeMs` of performance metrics. */
export type MeasureField = 'value' | 'responseTimeMs';

export interface Measure {
  fn: MeasureFunction;
  /** For sum, avg, min, max, last, percentiles and rate of metrics. @default 'value' */
  field?: MeasureField;
  /** Key of the result value; default `fn`, or `fn(field)` when the field is not `value`. */
  as?: string;
}

/** Time buckets: fixed widths, cut in `timeZone` (days) or UTC (minutes, hours). */
export const INTERVALS = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 } as const;
export type Interval = keyof typeof INTERVALS;

export interface AggregateQuery {
  family: Family;
  /** Records' own conditions (metric names, activity types, tags, app, user, host, status code). from/to are ignored here. */
  filter?: RecordFilter;
  /** Half-open range [from, to). */
  from: Date;
  to: Date;
  /** One row per bucket of this width; null: one bucket for the whole range. */
  interval?: Interval | null;
  /** IANA zone in which DAY buckets are cut. @default 'UTC' */
  timeZone?: string;
  /**
   * Dimensions that split rows: tag keys, or a family's own keys (`metricName`, `appName`, `userId`, `host`,
   * `activityType`, `statusCode`). Records without a value for one fall in the group `null`.
   */
  groupBy?: string[];
  measures: Measure[];
  /** Keeps the `limit` groups with the largest (or smallest) value of one measure, over the whole range. */
  top?: { measure: string; limit: number; direction?: 'desc' | 'asc' };
  /**
   * Also the measures over the whole range and every group (`AggregateResult.total`): a card's value beside its
   * sparkline. From the same rollup rows when rollups serve the read (sketches merge exactly), else one more
   * raw query.
   */
  withTotal?: boolean;
}

export interface AggregateRow {
  /** Start of the bucket; with no interval, `from`. */
  bucketStart: Date;
  /** The value of each groupBy dimension. */
  groups: Record<string, string | null>;
  /** How many records fall in the row. */
  count: number;
  /** Each measure by its key; null when no record had the field (or, for rates, the bucket has no length). */
  values: Record<string, number | null>;
}

/** Which data served a read: rollups, raw rows, or rollups with raw rows for the open edges. */
export type ReadPath = 'rollup' | 'raw' | 'mixed';

export interface AggregateResult {
  rows: AggregateRow[];
  /** With `withTotal`: one row for the whole range (null when no record matched); undefined otherwise. */
  total?: AggregateRow | null;
  path: ReadPath;
  /** Served from the result cache. */
  cached: boolean;
}

export const measureKey = (measure: Measure): string => measure.as ?? (measure.field && measure.field !== 'value' ? `${measure.fn}(${measure.field})` : measure.fn);

/** The percentile a measure function asks for, or null. */
export function percentileOf(fn: MeasureFunction): number | null {
  let q = PERCENTILES.get(fn);
  if (q === undefined) {
    const match = /^p(\d\d)$/.exec(fn);
    q = match ? Number(match[1]) / 100 : null;
    PERCENTILES.set(fn, q);
  }
  return q;
}
/** percentileOf, remembered per function name (it is asked once per row and measure). */
const PERCENTILES = new Map<string, number | null>();

/** Beyond this, a count the rollups cannot serve stops counting (a connection's totalCountExact is then false). */
export const COUNT_CAP = 100_000;

/** One read as the response's `extensions.analytics` reports it. */
export interface ReadTrace {
  family: Family;
  path: ReadPath;
  cached: boolean;
  ms: number;
}
