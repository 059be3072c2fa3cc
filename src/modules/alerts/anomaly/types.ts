/**
 * Types and defaults shared by the anomaly scoring functions and the condition grammar's `anomaly(…)` form.
 * Pure data: no I/O, nothing from the rest of the service.
 */

/** zscore: mean and standard deviation of the baseline. ewma: exponentially weighted mean and variance.
 *  mad: median and median absolute deviation (robust to outliers in the baseline). */
export type AnomalyModel = 'zscore' | 'ewma' | 'mad';
export const ANOMALY_MODELS: readonly AnomalyModel[] = ['zscore', 'ewma', 'mad'];

/** Which side of the expected value counts: both, only above (up) or only below (down). */
export type AnomalyDirection = 'both' | 'up' | 'down';
export const ANOMALY_DIRECTIONS: readonly AnomalyDirection[] = ['both', 'up', 'down'];

/** none: the whole trailing baseline. daily / weekly: only baseline points at the same time of day / of week
 *  (within ± SEASONAL_TOLERANCE_MS) in earlier days / weeks. */
export type Seasonality = 'none' | 'daily' | 'weekly';
export const SEASONALITIES: readonly Seasonality[] = ['none', 'daily', 'weekly'];

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;
export const SEASON_PERIOD_MS: Record<Exclude<Seasonality, 'none'>, number> = { daily: DAY_MS, weekly: WEEK_MS };
/** "The same hour": a seasonal neighbour lies within ±30 minutes of the current time of day/week. */
export const SEASONAL_TOLERANCE_MS = 30 * 60_000;

export const ANOMALY_DEFAULTS = {
  model: 'mad' as AnomalyModel,
  threshold: 3,
  direction: 'both' as AnomalyDirection,
  seasonality: 'none' as Seasonality,
  /** Fewer baseline points than this: enoughData is false and nothing fires. */
  minPoints: 20,
  /** EWMA smoothing factor (weight of the newest point); 0.05 ≈ a memory of 2/α − 1 = 39 points. */
  alpha: 0.05,
  /** Baseline length, in seconds, per seasonality: 1 day, 7 days (7 same-hour slots), 28 days (4 same-hour slots). */
  baselineSeconds: { none: 86_400, daily: 7 * 86_400, weekly: 28 * 86_400 } as Record<Seasonality, number>,
  /** Scale floor relative to |expected| (see scale floor in the README). */
  relativeScaleFloor: 1e-3,
  /** Absolute scale floor: the smallest scale ever used. */
  absoluteScaleFloor: 1e-9,
} as const;

/** One point of a series: t in epoch milliseconds, v the value. */
export interface SeriesPoint {
  t: number;
  v: number;
}
