/**
 * Reads the current value of every enabled rule's series through services.analytics.aggregate, batching rules
 * that read the same family, window, filter and grouping into one call: their metric names go into one
 * `metricNames` filter (the rows grouped by metricName as well) and their measures into one measure list.
 * 1,000 rules over a handful of metrics and windows cost a handful of queries, not 1,000.
 */
import type { Logger } from 'pino';
import { MAX_AGGREGATE_ROWS } from '../../analytics/service.js';
import type { AggregateRow, Measure } from '../../analytics/index.js';
import type { AnalyticsService } from '../../analytics/service.js';
import type { Family } from '../../../core/records.js';
import type { RecordFilter } from '../../records/filters.js';
import { mergeValues, type SeriesRead } from './plan.js';

/** One series of a rule at this evaluation. */
export interface SeriesValue {
  /** Alert labels that identify the series (the rule's groupBy, and more for latest/percentiles with matchers). */
  labels: Record<string, string>;
  value: number;
}

export type ReadOutcome = { ok: true; series: SeriesValue[] } | { ok: false; error: string };

export interface ReadRequest {
  id: string;
  read: SeriesRead;
}

interface Batch {
  family: Family;
  windowSeconds: number;
  filter: RecordFilter;
  groupBy: string[];
  byMetric: boolean;
  metricNames: Set<string>;
  measures: Map<string, Measure>;
  requests: ReadRequest[];
}

/** Most metric names and measures in one call (the analytics filter and measure limits). */
const MAX_NAMES = 100;
const MAX_MEASURES = 20;
/** Calls in flight at once: a share of the connection pool, the rest is left to requests. */
const CONCURRENCY = 4;

export interface ReadStats {
  batches: number;
  queries: number;
}

export async function readSeries(
  analytics: AnalyticsService,
  requests: readonly ReadRequest[],
  now: Date,
  log: Logger,
): Promise<{ outcomes: Map<string, ReadOutcome>; stats: ReadStats }> {
  const batches = new Map<string, Batch>();
  for (const request of requests) {
    const { read } = request;
    const byMetric = read.metricName !== null;
    const key = [read.family, read.windowSeconds, read.sourceKind === 'metric' ? 'metric' : read.sourceKind, stableJson(read.filter), read.queryGroupBy.join(',')].join('|');
    let batch = batches.get(key);
    if (!batch) {
      batch = {
        family: read.family,
        windowSeconds: read.windowSeconds,
        filter: read.filter,
        groupBy: byMetric ? [...read.queryGroupBy, 'metricName'] : read.queryGroupBy,
        byMetric,
        metricNames: new Set(),
        measures: new Map(),
        requests: [],
      };
      batches.set(key, batch);
    }
    if (read.metricName !== null) batch.metricNames.add(read.metricName);
    batch.measures.set(read.measureKey, read.measure);
    batch.requests.push(request);
  }

  // Each call: a chunk of metric names × a chunk of measures. Rows are indexed by (metric, measure key).
  type Call = { batch: Batch; names: string[] | null; measures: Measure[] };
  const calls: Call[] = [];
  for (const batch of batches.values()) {
    const names = batch.byMetric ? chunk([...batch.metricNames].sort(), MAX_NAMES) : [null];
    const measures = chunk([...batch.measures.values()], MAX_MEASURES);
    for (const nameChunk of names) for (const measureChunk of measures) calls.push({ batch, names: nameChunk, measures: measureChunk });
  }

  const rowsOf = new Map<Batch, Map<string, AggregateRow[]>>();
  const failures = new Map<Batch, Map<string, string>>();
  const fail = (batch: Batch, metric: string, error: string) => {
    let failed = failures.get(batch);
    if (!failed) failures.set(batch, (failed = new Map()));
    failed.set(metric, error);
  };
  let queries = 0;
  const from = new Date(now.getTime() + 1);
  const run = async (call: Call): Promise<void> => {
    const { batch } = call;
    queries += 1;
    let rows: AggregateRow[];
    try {
      const result = await analytics.aggregate({
        family: batch.family,
        filter: call.names ? { ...batch.filter, metricNames: call.names } : batch.filter,
        // The window is now − w < timestamp ≤ now; aggregate reads [from, to).
        from: new Date(from.getTime() - batch.windowSeconds * 1000),
        to: from,
        interval: null,
        groupBy: batch.groupBy,
        measures: call.measures,
      });
      rows = result.rows;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.warn({ err: error, family: batch.family }, 'alert rule read failed');
      for (const name of call.names ?? ['']) fail(batch, name, message);
      return;
    }
    if (rows.length >= MAX_AGGREGATE_ROWS) {
      // Truncated: fewer metric names per call, down to one; one metric over the limit is an error of its rules.
      if (call.names && call.names.length > 1) {
        const half = Math.ceil(call.names.length / 2);
        await Promise.all([run({ ...call, names: call.names.slice(0, half) }), run({ ...call, names: call.names.slice(half) })]);
        return;
      }
      for (const name of call.names ?? ['']) fail(batch, name, `more than ${MAX_AGGREGATE_ROWS} series in one window; narrow the condition with matchers or fewer groupBy labels`);
      return;
    }
    let index = rowsOf.get(batch);
    if (!index) rowsOf.set(batch, (index = new Map()));
    for (const row of rows) {
      const metric = batch.byMetric ? (row.groups.metricName ?? '') : '';
      for (const measure of call.measures) {
        const key = `${metric}\u0000${keyOf(measure)}`;
        let list = index.get(key);
        if (!list) index.set(key, (list = []));
        list.push(row);
      }
    }
  };
  await pool(calls, CONCURRENCY, run);

  const outcomes = new Map<string, ReadOutcome>();
  for (const batch of batches.values()) {
    const index = rowsOf.get(batch);
    const failed = failures.get(batch);
    for (const request of batch.requests) {
      const metric = request.read.metricName ?? '';
      const error = failed?.get(metric);
      if (error !== undefined) {
        outcomes.set(request.id, { ok: false, error });
        continue;
      }
      outcomes.set(request.id, { ok: true, series: seriesOf(request.read, index?.get(`${metric}\u0000${request.read.measureKey}`) ?? []) });
    }
  }
  return { outcomes, stats: { batches: batches.size, queries } };
}

/** The rule's series from its rows: matchers on the rows' groups, then rows of one series merged. */
export function seriesOf(read: SeriesRead, rows: readonly AggregateRow[]): SeriesValue[] {
  const parts = new Map<string, { labels: Record<string, string>; values: { value: number; count: number }[] }>();
  for (const row of rows) {
    if (read.postFilter && !read.postFilter((dimension) => row.groups[dimension] ?? undefined)) continue;
    const value = row.values[read.measureKey];
    if (value === null || value === undefined || !Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const { label, dimension } of read.seriesLabels) {
      const group = row.groups[dimension];
      if (group !== null && group !== undefined && group !== '') labels[label] = group;
    }
    const key = JSON.stringify(read.seriesLabels.map(({ label }) => labels[label] ?? null));
    let entry = parts.get(key);
    if (!entry) parts.set(key, (entry = { labels, values: [] }));
    entry.values.push({ value, count: row.count });
  }
  const series: SeriesValue[] = [];
  for (const { labels, values } of parts.values()) {
    const merged = mergeValues(read.merge, values);
    if (Number.isFinite(merged)) series.push({ labels, value: merged * read.scale });
  }
  if (series.length === 0 && read.zeroWhenEmpty && read.seriesLabels.length === 0) series.push({ labels: {}, value: 0 });
  return series;
}

const keyOf = (measure: Measure) => (measure.field && measure.field !== 'value' ? `${measure.fn}(${measure.field})` : measure.fn);

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let index = 0; index < items.length; index += size) chunks.push(items.slice(index, index + size));
  return chunks;
}

/** Runs `work` on every item with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(workers);
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, inner]) => inner !== undefined && inner !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${stableJson(inner)}`).join(',')}}`;
}
