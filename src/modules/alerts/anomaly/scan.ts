/** Runs an anomaly rule over a whole series, as the evaluator would at each point (backtests, previews, tests). */
import { checkTolerance, scoreValues, type AnomalyScore, type AnomalyScoreOptions } from './models.js';
import { SEASON_PERIOD_MS, SEASONAL_TOLERANCE_MS, type SeriesPoint } from './types.js';

export interface ScanOptions extends AnomalyScoreOptions {
  /** Baseline length: the points in [t − baselineMs, t) are the baseline of the point at t. */
  baselineMs: number;
  /** The rule's `for`, in evaluations: fires once this many consecutive points are anomalous (default 1). */
  forPoints?: number;
  /** Points before this time are history only: not scored, not returned (default: score every point). */
  evaluateFrom?: number;
}

export interface ScanPoint extends AnomalyScore {
  t: number;
  v: number;
  /** Anomalous for forPoints consecutive evaluations, up to and including this one. */
  firing: boolean;
}

/** Scores each point of the series (from evaluateFrom on) against the points before it, like scoreAnomaly. */
export function scanSeries(series: readonly SeriesPoint[], options: ScanOptions): ScanPoint[] {
  const points = isSorted(series) ? series : [...series].sort((a, b) => a.t - b.t);
  const forPoints = Math.max(1, options.forPoints ?? 1);
  const from = options.evaluateFrom ?? -Infinity;
  const seasonality = options.seasonality ?? 'none';
  const tolerance = options.seasonalToleranceMs ?? SEASONAL_TOLERANCE_MS;
  checkTolerance(seasonality, tolerance);
  const out: ScanPoint[] = [];
  let lo = 0;
  let streak = 0;
  for (let i = 0; i < points.length; i++) {
    const current = points[i]!;
    if (current.t < from) continue;
    while (lo < i && points[lo]!.t < current.t - options.baselineMs) lo++;
    let hi = i;
    while (hi > lo && points[hi - 1]!.t >= current.t) hi--; // same timestamp: not part of its own baseline
    const values: number[] = [];
    if (seasonality === 'none') {
      for (let j = lo; j < hi; j++) if (Number.isFinite(points[j]!.v)) values.push(points[j]!.v);
    } else {
      // The same selection as seasonalNeighbours, by binary search in the sorted points: one slot per earlier period.
      const period = SEASON_PERIOD_MS[seasonality];
      for (let k = Math.floor((options.baselineMs + tolerance) / period); k >= 1; k--) {
        const centre = current.t - k * period;
        for (let j = lowerBound(points, centre - tolerance, lo, hi); j < hi && points[j]!.t <= centre + tolerance; j++) {
          if (Number.isFinite(points[j]!.v)) values.push(points[j]!.v);
        }
      }
    }
    const result: AnomalyScore = scoreValues(values, current.v, options);
    streak = result.anomalous ? streak + 1 : 0;
    out.push(Object.assign(result, { t: current.t, v: current.v, firing: streak >= forPoints }));
  }
  return out;
}

/** First index in [lo, hi) whose t is ≥ t (hi when none). */
function lowerBound(points: readonly SeriesPoint[], t: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isSorted(series: readonly SeriesPoint[]): boolean {
  for (let i = 1; i < series.length; i++) if (series[i]!.t < series[i - 1]!.t) return false;
  return true;
}
