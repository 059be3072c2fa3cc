import type { ExponentialHistogramDataPoint, HistogramDataPoint } from './codec.js';

// Percentiles of an OTLP histogram point, estimated from its buckets the way Prometheus' histogram_quantile
// does: find the bucket holding the rank, interpolate linearly inside it. The point's min and max, when the
// sender recorded them, bound the open-ended first and last buckets and clamp the result, so a histogram whose
// observations all fall in one bucket still yields values inside what was observed.

/** One bucket of observations: values in (lower, upper], `count` of them. */
interface Bucket {
  lower: number;
  upper: number;
  count: number;
}

/** The percentiles stored for every histogram point (as SUMMARY records tagged `quantile`). */
export const STORED_QUANTILES = [0.5, 0.9, 0.95, 0.99] as const;

function quantileOf(buckets: readonly Bucket[], total: number, q: number, min: number | undefined, max: number | undefined): number | null {
  if (total <= 0) return null;
  const rank = q * total;
  let before = 0;
  for (const bucket of buckets) {
    if (bucket.count <= 0) continue;
    if (before + bucket.count >= rank) {
      let lower = Math.max(bucket.lower, min ?? Number.NEGATIVE_INFINITY);
      let upper = Math.min(bucket.upper, max ?? Number.POSITIVE_INFINITY);
      // Open-ended buckets without a recorded min or max: as Prometheus, take the finite edge (and 0 as the
      // lower edge of a first bucket that ends above 0).
      if (!Number.isFinite(lower)) lower = Number.isFinite(upper) ? (upper > 0 ? Math.min(0, upper) : upper) : 0;
      if (!Number.isFinite(upper)) upper = lower;
      const value = lower + (upper - lower) * ((rank - before) / bucket.count);
      return clamp(value, min, max);
    }
    before += bucket.count;
  }
  return clamp(buckets.findLast((bucket) => bucket.count > 0)?.upper ?? 0, min, max);
}

function clamp(value: number, min: number | undefined, max: number | undefined): number {
  let result = value;
  if (min !== undefined && Number.isFinite(min)) result = Math.max(result, min);
  if (max !== undefined && Number.isFinite(max)) result = Math.min(result, max);
  return result;
}

const countOf = (buckets: readonly Bucket[]) => buckets.reduce((sum, bucket) => sum + bucket.count, 0);

/** Explicit-bucket histogram: bucket i holds (bounds[i-1], bounds[i]]; the first and last are open-ended. */
export function explicitBuckets(point: HistogramDataPoint): Bucket[] {
  const bounds = point.explicitBounds;
  return point.bucketCounts.map((count, index) => ({
    lower: index === 0 ? Number.NEGATIVE_INFINITY : (bounds[index - 1] ?? Number.POSITIVE_INFINITY),
    upper: index < bounds.length ? (bounds[index] as number) : Number.POSITIVE_INFINITY,
    count,
  }));
}

/**
 * Exponential histogram: with base = 2^(2^-scale), positive bucket `offset + i` holds (base^k, base^(k+1)],
 * negative ones mirror them below zero, and the zero bucket holds values within zeroThreshold of 0. Listed in
 * ascending order of values.
 */
export function exponentialBuckets(point: ExponentialHistogramDataPoint): Bucket[] {
  const base = 2 ** (2 ** -(point.scale ?? 0));
  const threshold = point.zeroThreshold ?? 0;
  const negative = point.negative?.bucketCounts ?? [];
  const negativeOffset = point.negative?.offset ?? 0;
  const positive = point.positive?.bucketCounts ?? [];
  const positiveOffset = point.positive?.offset ?? 0;
  const buckets: Bucket[] = [];
  for (let i = negative.length - 1; i >= 0; i -= 1) {
    const k = negativeOffset + i;
    buckets.push({ lower: -(base ** (k + 1)), upper: -(base ** k), count: negative[i] ?? 0 });
  }
  buckets.push({ lower: -threshold, upper: threshold, count: point.zeroCount ?? 0 });
  positive.forEach((count, i) => {
    const k = positiveOffset + i;
    buckets.push({ lower: base ** k, upper: base ** (k + 1), count });
  });
  return buckets;
}

/** The stored percentiles of a histogram point, or null when it holds no observation. */
export function histogramQuantiles(
  buckets: readonly Bucket[],
  point: { count?: number; min?: number; max?: number },
): { quantile: number; value: number }[] | null {
  // The point's count is authoritative when the buckets are absent (a histogram without buckets is allowed).
  const bucketTotal = countOf(buckets);
  if (bucketTotal === 0) {
    const { min, max } = point;
    if (!point.count || min === undefined || max === undefined) return null;
    return STORED_QUANTILES.map((quantile) => ({ quantile, value: min + (max - min) * quantile }));
  }
  return STORED_QUANTILES.map((quantile) => ({ quantile, value: quantileOf(buckets, bucketTotal, quantile, point.min, point.max) as number }));
}
