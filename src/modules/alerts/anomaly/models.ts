/**
 * Anomaly scoring: given a trailing baseline series and the current value, how many "standard deviations"
 * the current value is from what the baseline leads one to expect. Pure functions (see ../README.md).
 */
import { mean, medianInPlace, stddev } from './stats.js';
import {
  ANOMALY_DEFAULTS,
  SEASON_PERIOD_MS,
  SEASONAL_TOLERANCE_MS,
  type AnomalyDirection,
  type AnomalyModel,
  type Seasonality,
  type SeriesPoint,
} from './types.js';

/** What a model makes of a baseline: the expected value and the scale (a standard deviation, before the floor). */
export interface Estimate {
  expected: number;
  scale: number;
}

/** MAD → standard deviation of a normal distribution: 1 / Φ⁻¹(3/4) = 1.4826 (so z = 0.6745·(x − median)/MAD). */
export const MAD_TO_SIGMA = 1.482602218505602;
/** Mean absolute deviation → standard deviation of a normal distribution: √(π/2). */
export const MEAN_AD_TO_SIGMA = 1.2533141373155001;

/** zscore: mean and sample standard deviation. */
export function zscoreEstimate(values: readonly number[]): Estimate {
  const m = mean(values);
  return { expected: m, scale: stddev(values, m) };
}

/**
 * mad: median and 1.4826·MAD. When more than half the baseline sits on one value (MAD = 0, e.g. a counter
 * that is mostly 0), the scale falls back to 1.2533·(mean absolute deviation from the median).
 */
export function madEstimate(values: readonly number[]): Estimate {
  // One scratch copy: the median reorders it, then it holds the absolute deviations.
  const scratch = Float64Array.from(values);
  const center = medianInPlace(scratch);
  let sumAbs = 0;
  for (let i = 0; i < scratch.length; i++) {
    const d = Math.abs(values[i]! - center);
    scratch[i] = d;
    sumAbs += d;
  }
  const m = medianInPlace(scratch);
  const scale = m > 0 ? MAD_TO_SIGMA * m : MEAN_AD_TO_SIGMA * (values.length > 0 ? sumAbs / values.length : NaN);
  return { expected: center, scale };
}

/** ewma: each update's deviation is clipped to ±EWMA_CLIP scale units (see ewmaEstimate). */
export const EWMA_CLIP = 3;

/**
 * ewma: exponentially weighted mean and variance (the incremental form of West 1979 / Finch 2009) over values
 * in time order, started from the plain mean and variance of the first min(n, 10) values. Each update's
 * deviation is clipped to ±3 current scale units (a Huber-type update), so an earlier spike in the baseline
 * (or the first points of the anomaly itself) does not inflate the variance and hide what follows; a lasting
 * level shift is still absorbed, since the clipped variance grows by (1 − α)(1 + 9α) per step.
 */
export function ewmaEstimate(values: readonly number[], alpha: number = ANOMALY_DEFAULTS.alpha): Estimate {
  const n = values.length;
  if (n === 0) return { expected: NaN, scale: NaN };
  const head = values.slice(0, Math.min(n, 10));
  let m = mean(head);
  let variance = stddev(head, m) ** 2;
  for (let i = head.length; i < n; i++) {
    const limit = EWMA_CLIP * Math.sqrt(variance);
    let diff = values[i]! - m;
    if (limit > 0) diff = Math.max(-limit, Math.min(limit, diff));
    m += alpha * diff;
    variance = (1 - alpha) * (variance + alpha * diff * diff);
  }
  return { expected: m, scale: Math.sqrt(variance) };
}

export interface AnomalyScoreOptions {
  model?: AnomalyModel;
  /** |z| above which the point is anomalous (default 3). */
  threshold?: number;
  direction?: AnomalyDirection;
  /** daily / weekly: keep only baseline points at the same time of day / week in earlier periods. */
  seasonality?: Seasonality;
  /** Fewer usable baseline points: enoughData false (default 20). */
  minPoints?: number;
  /** EWMA smoothing factor (default 0.05). */
  alpha?: number;
  /** Half-width of the seasonal "same hour" slot (default 30 min). */
  seasonalToleranceMs?: number;
  /** Smallest scale used, in the series' unit (default 0: only the built-in floors apply). */
  minScale?: number;
}

export interface AnomalyScore {
  /** z = (value − expected) / scale; 0 when the baseline is empty, NaN when the value is not finite. */
  score: number;
  expected: number;
  /** expected ∓ threshold·scale: the band outside which a value is anomalous (for direction both). */
  lower: number;
  upper: number;
  /** The scale used, after the floor. */
  scale: number;
  /** Baseline points the model used (after the seasonal selection). */
  points: number;
  /** points ≥ minPoints. Without it, nothing is anomalous. */
  enoughData: boolean;
  /** enoughData and the score beyond the threshold on the direction's side. */
  anomalous: boolean;
}

/** Baseline points at the same time of day/week as `at`, in earlier periods (k ≥ 1 periods back, ± tolerance). */
export function seasonalNeighbours(baseline: readonly SeriesPoint[], at: number, seasonality: Seasonality, toleranceMs = SEASONAL_TOLERANCE_MS): SeriesPoint[] {
  if (seasonality === 'none') return baseline.slice();
  checkTolerance(seasonality, toleranceMs);
  return baseline.filter((p) => isSeasonalNeighbour(p.t, at, SEASON_PERIOD_MS[seasonality], toleranceMs));
}

/** The slots of successive periods must not overlap: tolerance < period / 2. */
export function checkTolerance(seasonality: Seasonality, toleranceMs: number): void {
  if (seasonality !== 'none' && !(toleranceMs >= 0 && toleranceMs < SEASON_PERIOD_MS[seasonality] / 2)) {
    throw new RangeError(`seasonalToleranceMs must be from 0 to less than half the ${seasonality} period`);
  }
}

function isSeasonalNeighbour(t: number, at: number, period: number, toleranceMs: number): boolean {
  const back = at - t;
  const k = Math.round(back / period);
  return k >= 1 && Math.abs(back - k * period) <= toleranceMs;
}

/** The finite baseline values the model uses, in time order. */
function baselineValues(baseline: readonly SeriesPoint[], at: number, seasonality: Seasonality, toleranceMs: number): number[] {
  checkTolerance(seasonality, toleranceMs);
  const period = seasonality === 'none' ? 0 : SEASON_PERIOD_MS[seasonality];
  const values: number[] = [];
  let sorted = true;
  let last = -Infinity;
  for (const p of baseline) {
    if (!Number.isFinite(p.v) || (period > 0 && !isSeasonalNeighbour(p.t, at, period, toleranceMs))) continue;
    values.push(p.v);
    if (p.t < last) sorted = false;
    last = p.t;
  }
  if (sorted) return values;
  const kept = baseline.filter((p) => Number.isFinite(p.v) && (period === 0 || isSeasonalNeighbour(p.t, at, period, toleranceMs)));
  return kept.sort((a, b) => a.t - b.t).map((p) => p.v);
}

/**
 * Scores `current` against its trailing `baseline` (points before current.t; any order; non-finite values are
 * ignored). Scale floor: max(model scale, minScale, 1e-3·|expected|, 1e-9), so a flat baseline gives a large but
 * finite score for any real change, and exactly 0 for the same value.
 */
export function scoreAnomaly(baseline: readonly SeriesPoint[], current: SeriesPoint, options: AnomalyScoreOptions = {}): AnomalyScore {
  const values = baselineValues(baseline, current.t, options.seasonality ?? 'none', options.seasonalToleranceMs ?? SEASONAL_TOLERANCE_MS);
  return scoreValues(values, current.v, options);
}

/**
 * The same as scoreAnomaly for a baseline already reduced to its values: finite, in time order, seasonal
 * selection done (options.seasonality is not applied here).
 */
export function scoreValues(values: readonly number[], value: number, options: AnomalyScoreOptions = {}): AnomalyScore {
  const model = options.model ?? ANOMALY_DEFAULTS.model;
  const threshold = options.threshold ?? ANOMALY_DEFAULTS.threshold;
  const direction = options.direction ?? ANOMALY_DEFAULTS.direction;
  const minPoints = options.minPoints ?? ANOMALY_DEFAULTS.minPoints;
  const points = values.length;
  if (points === 0) {
    return { score: 0, expected: NaN, lower: NaN, upper: NaN, scale: NaN, points, enoughData: false, anomalous: false };
  }
  const estimate = model === 'zscore' ? zscoreEstimate(values) : model === 'mad' ? madEstimate(values) : ewmaEstimate(values, options.alpha);
  const scale = Math.max(
    Number.isFinite(estimate.scale) ? estimate.scale : 0,
    options.minScale ?? 0,
    ANOMALY_DEFAULTS.relativeScaleFloor * Math.abs(estimate.expected),
    ANOMALY_DEFAULTS.absoluteScaleFloor,
  );
  const score = Number.isFinite(value) ? (value - estimate.expected) / scale : NaN;
  const enoughData = points >= minPoints;
  const beyond = direction === 'up' ? score > threshold : direction === 'down' ? score < -threshold : Math.abs(score) > threshold;
  return {
    score,
    expected: estimate.expected,
    lower: estimate.expected - threshold * scale,
    upper: estimate.expected + threshold * scale,
    scale,
    points,
    enoughData,
    anomalous: enoughData && beyond,
  };
}
