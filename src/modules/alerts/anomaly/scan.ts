/** Runs an anomaly rule over a whole series, as the evaluator would at each point (backtests, previews, tests). */
import { scoreAnomaly, type AnomalyScore, type AnomalyScoreOptions } from './models.js';
import type { SeriesPoint } from './types.js';

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

export function scanSeries(series: readonly SeriesPoint[], options: ScanOptions): ScanPoint[] {
  const points = isSorted(series) ? series : [...series].sort((a, b) => a.t - b.t);
  const forPoints = Math.max(1, options.forPoints ?? 1);
  const out: ScanPoint[] = [];
  let lo = 0;
  let streak = 0;
  const from = options.evaluateFrom ?? -Infinity;
  for (let i = 0; i < points.length; i++) {
    const current = points[i]!;
    if (current.t < from) continue;
    while (lo < i && points[lo]!.t < current.t - options.baselineMs) lo++;
    let hi = i;
    while (hi > lo && points[hi - 1]!.t >= current.t) hi--; // same timestamp: not part of its own baseline
    const result = scoreAnomaly(hi - lo === points.length ? points : points.slice(lo, hi), current, options);
    streak = result.anomalous ? streak + 1 : 0;
    out.push({ ...result, t: current.t, v: current.v, firing: streak >= forPoints });
  }
  return out;
}

function isSorted(series: readonly SeriesPoint[]): boolean {
  for (let i = 1; i < series.length; i++) if (series[i]!.t < series[i - 1]!.t) return false;
  return true;
}
