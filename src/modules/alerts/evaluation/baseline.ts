/**
 * The trailing baselines of ANOMALY rules, read as bucketed series through services.analytics.aggregate
 * (interval MINUTE, or HOUR for baselines over two days without seasonality) and kept per rule between ticks:
 * a bucket that is complete (ended more than a minute ago) is read once, so after the first tick each tick
 * reads only the newest minutes. With daily/weekly seasonality only the slots around the same time of day/week
 * in earlier periods are read.
 *
 * A baseline point is the rule's window value at each step boundary t (the window (t − w, t] rounded to whole
 * steps), computed from the buckets: exact for count, sum, min, max, avg, rate and error_rate (buckets carry
 * their record counts); for latest/last and percentiles, which do not merge, the point is the value of the step
 * ending at t.
 */
import type { Logger } from 'pino';
import type { AnalyticsService } from '../../analytics/service.js';
import { MAX_AGGREGATE_ROWS } from '../../analytics/service.js';
import type { Interval } from '../../analytics/model.js';
import { SEASON_PERIOD_MS, SEASONAL_TOLERANCE_MS, type SeriesPoint } from '../anomaly/index.js';
import type { AnomalyOptions } from '../condition/index.js';
import { mergeValues, type SeriesRead } from './plan.js';

/** A bucket is final (never read again) once it ended this long ago: records may arrive a little late. */
const SETTLE_MS = 60_000;
const STEP_MS: Record<'MINUTE' | 'HOUR', number> = { MINUTE: 60_000, HOUR: 3_600_000 };

interface BucketValue {
  value: number;
  count: number;
}

interface RuleBaseline {
  version: number;
  interval: 'MINUTE' | 'HOUR';
  /** bucket start → series key → value */
  buckets: Map<number, Map<string, BucketValue>>;
  labels: Map<string, Record<string, string>>;
  /** Final bucket starts already read: [from, to) ranges. */
  covered: [number, number][];
}

export class BaselineStore {
  private readonly rules = new Map<string, RuleBaseline>();

  constructor(
    private readonly analytics: AnalyticsService,
    private readonly log: Logger,
  ) {}

  /** Drops what is kept for rules that are gone or were changed. */
  retain(ids: Set<string>): void {
    for (const id of this.rules.keys()) if (!ids.has(id)) this.rules.delete(id);
  }

  /** The baseline points of each series of the rule (by series key: its labels as canonical JSON). */
  async points(ruleId: string, version: number, read: SeriesRead, options: AnomalyOptions, now: Date): Promise<Map<string, SeriesPoint[]>> {
    const interval: 'MINUTE' | 'HOUR' = options.seasonality === 'none' && options.baseline.seconds > 2 * 86_400 ? 'HOUR' : 'MINUTE';
    let state = this.rules.get(ruleId);
    if (!state || state.version !== version || state.interval !== interval) {
      state = { version, interval, buckets: new Map(), labels: new Map(), covered: [] };
      this.rules.set(ruleId, state);
    }
    const step = STEP_MS[interval];
    const windowSteps = Math.max(1, Math.ceil((read.windowSeconds * 1000) / step));
    const nowMs = now.getTime();
    const lastEnd = Math.floor(nowMs / step) * step;
    const baselineMs = options.baseline.seconds * 1000;

    // Point times (step ends) the model may use, and the bucket starts they need.
    const pointRanges: [number, number][] = [];
    if (options.seasonality === 'none') pointRanges.push([Math.ceil((nowMs - baselineMs) / step) * step, lastEnd]);
    else {
      const period = SEASON_PERIOD_MS[options.seasonality];
      for (let back = period; back <= baselineMs; back += period) {
        const center = nowMs - back;
        pointRanges.push([Math.ceil((center - SEASONAL_TOLERANCE_MS) / step) * step, Math.floor((center + SEASONAL_TOLERANCE_MS) / step) * step]);
      }
    }
    const bucketRanges = mergeRanges(pointRanges.map(([from, to]) => [from - windowSteps * step, to] as [number, number]));
    const oldest = bucketRanges[0]?.[0] ?? lastEnd;
    for (const start of state.buckets.keys()) if (start < oldest) state.buckets.delete(start);
    state.covered = state.covered.filter(([, to]) => to > oldest);

    for (const [from, to] of bucketRanges) {
      for (const [missingFrom, missingTo] of subtract([from, to], state.covered)) await this.fetch(state, read, interval, missingFrom, missingTo, 0);
    }
    const settled = Math.floor((nowMs - SETTLE_MS) / step) * step;
    state.covered = mergeRanges([...state.covered, ...bucketRanges.map(([from, to]) => [from, Math.min(to, settled)] as [number, number]).filter(([from, to]) => to > from)]);

    const points = new Map<string, SeriesPoint[]>();
    for (const [from, to] of pointRanges) {
      for (let end = from; end <= to && end <= lastEnd; end += step) {
        for (const [key, value] of this.windowValues(state, read, end, windowSteps, step)) {
          let list = points.get(key);
          if (!list) points.set(key, (list = []));
          list.push({ t: end, v: value });
        }
      }
    }
    return points;
  }

  labelsOf(ruleId: string, key: string): Record<string, string> | undefined {
    return this.rules.get(ruleId)?.labels.get(key);
  }

  private async fetch(state: RuleBaseline, read: SeriesRead, interval: Interval, from: number, to: number, depth: number): Promise<void> {
    const measures = read.measure.fn === 'count' ? [read.measure] : [read.measure, { fn: 'count' as const, as: '__count' }];
    const result = await this.analytics.aggregate({
      family: read.family,
      filter: read.metricName ? { ...read.filter, metricName: read.metricName } : read.filter,
      from: new Date(from),
      to: new Date(to),
      interval,
      groupBy: read.queryGroupBy,
      measures,
    });
    if (result.rows.length >= MAX_AGGREGATE_ROWS) {
      const step = STEP_MS[interval as 'MINUTE' | 'HOUR'];
      const middle = from + Math.max(1, Math.floor((to - from) / step / 2)) * step;
      if (middle >= to || depth > 12) {
        this.log.warn({ family: read.family }, 'anomaly baseline has too many series; part of it is left out');
        return;
      }
      await this.fetch(state, read, interval, from, middle, depth + 1);
      await this.fetch(state, read, interval, middle, to, depth + 1);
      return;
    }
    // Re-read buckets replace what was kept (the newest, unsettled ones change between ticks).
    const fresh = new Map<number, Map<string, { value: number; count: number }[]>>();
    for (const row of result.rows) {
      if (read.postFilter && !read.postFilter((dimension) => row.groups[dimension] ?? undefined)) continue;
      const value = row.values[read.measureKey];
      if (value === null || value === undefined || !Number.isFinite(value)) continue;
      const labels: Record<string, string> = {};
      for (const { label, dimension } of read.seriesLabels) {
        const group = row.groups[dimension];
        if (group !== null && group !== undefined && group !== '') labels[label] = group;
      }
      const key = JSON.stringify(read.seriesLabels.map(({ label }) => labels[label] ?? null));
      state.labels.set(key, labels);
      const start = row.bucketStart.getTime();
      let series = fresh.get(start);
      if (!series) fresh.set(start, (series = new Map()));
      let parts = series.get(key);
      if (!parts) series.set(key, (parts = []));
      parts.push({ value, count: read.measure.fn === 'count' ? value : (row.values.__count ?? row.count) });
    }
    for (let start = from; start < to; start += STEP_MS[interval as 'MINUTE' | 'HOUR']) state.buckets.delete(start);
    for (const [start, series] of fresh) {
      const merged = new Map<string, BucketValue>();
      for (const [key, parts] of series) {
        merged.set(key, { value: mergeValues(read.merge, parts), count: parts.reduce((total, part) => total + part.count, 0) });
      }
      state.buckets.set(start, merged);
    }
  }

  /** The window value of each series for the window ending at `end`. */
  private windowValues(state: RuleBaseline, read: SeriesRead, end: number, windowSteps: number, step: number): Map<string, number> {
    const parts = new Map<string, { value: number; count: number }[]>();
    const first = read.merge === 'none' ? end - step : end - windowSteps * step;
    for (let start = first; start < end; start += step) {
      const bucket = state.buckets.get(start);
      if (!bucket) continue;
      for (const [key, value] of bucket) {
        let list = parts.get(key);
        if (!list) parts.set(key, (list = []));
        list.push(value);
      }
    }
    const values = new Map<string, number>();
    for (const [key, list] of parts) {
      // Rates are per second of each bucket: the window's rate is their mean over all its buckets (empty ones 0).
      const value = read.measure.fn === 'rate' ? list.reduce((total, part) => total + part.value, 0) / windowSteps : mergeValues(read.merge, list);
      if (Number.isFinite(value)) values.set(key, value * read.scale);
    }
    return values;
  }
}

function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = ranges.filter(([from, to]) => to > from).sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [from, to] of sorted) {
    const last = merged[merged.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged;
}

/** [from, to) minus the covered ranges. */
function subtract([from, to]: [number, number], covered: [number, number][]): [number, number][] {
  let pieces: [number, number][] = [[from, to]];
  for (const [a, b] of covered) {
    pieces = pieces.flatMap(([x, y]) => {
      if (b <= x || a >= y) return [[x, y] as [number, number]];
      const out: [number, number][] = [];
      if (a > x) out.push([x, a]);
      if (b < y) out.push([b, y]);
      return out;
    });
  }
  return pieces;
}
