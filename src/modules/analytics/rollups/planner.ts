import { RESOLUTION_MS, type Resolution } from './shape.js';
import type { Range } from './source.js';

// How a time range is served: the coarsest rollup resolution wherever a whole, clean bucket of it fits, finer
// ones at the edges, and raw rows for what no rollup covers: the sub-minute edges of the range, and minutes with
// a pending invalidation (written, not yet folded in), together with every coarser bucket that holds one.

export interface Plan {
  /** Ranges served by each resolution (bucket-aligned). */
  rollups: Partial<Record<Resolution, Range[]>>;
  /** Ranges read from raw rows. */
  raw: Range[];
}

const push = (ranges: Range[], start: number, end: number) => {
  if (start >= end) return;
  const last = ranges[ranges.length - 1];
  if (last && last[1] === start) ranges[ranges.length - 1] = [last[0], end];
  else ranges.push([start, end]);
};

/**
 * Covers [from, to) with the given resolutions, coarsest first (each must divide the next coarser one).
 * `dirty` holds the pending minutes (epoch ms, minute-aligned); a bucket that contains one is split into finer ones.
 */
export function planRange(
  from: number,
  to: number,
  resolutions: readonly Resolution[],
  dirty: ReadonlySet<number>,
  /** Per resolution, the first bucket still kept (older ones were pruned by retention). */
  horizons: Partial<Record<Resolution, number>> = {},
): Plan {
  const plan: Plan = { rollups: {}, raw: [] };
  const sortedDirty = [...dirty].sort((a, b) => a - b);
  const hasDirty = (start: number, end: number) => {
    // Binary search for the first dirty minute ≥ start.
    let low = 0;
    let high = sortedDirty.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((sortedDirty[middle] as number) < start) low = middle + 1;
      else high = middle;
    }
    return low < sortedDirty.length && (sortedDirty[low] as number) < end;
  };
  const cover = (start: number, end: number, level: number): void => {
    if (start >= end) return;
    const resolution = resolutions[level];
    if (resolution === undefined) {
      push(plan.raw, start, end);
      return;
    }
    const width = RESOLUTION_MS[resolution];
    const alignedStart = Math.ceil(start / width) * width;
    const alignedEnd = Math.floor(end / width) * width;
    if (alignedStart >= alignedEnd) {
      cover(start, end, level + 1);
      return;
    }
    cover(start, alignedStart, level + 1);
    const ranges = (plan.rollups[resolution] ??= []);
    const horizon = horizons[resolution] ?? Number.NEGATIVE_INFINITY;
    for (let bucket = alignedStart; bucket < alignedEnd; bucket += width) {
      if (bucket < horizon || hasDirty(bucket, bucket + width)) cover(bucket, bucket + width, level + 1);
      else push(ranges, bucket, bucket + width);
    }
    cover(alignedEnd, end, level + 1);
  };
  cover(from, to, 0);
  return plan;
}

export const rawDuration = (plan: Plan) => plan.raw.reduce((sum, [start, end]) => sum + (end - start), 0);

/** Minutes between whole-hour and whole-minute offsets: which rollups can make local days of a time zone. */
export function zoneOffsetMinutes(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((local - Math.floor(at / 1000) * 1000) / 60_000);
}

/** Local midnights (as instants) of `timeZone` from the day holding `from` up to `to`. */
export function zonedDayStarts(from: number, to: number, timeZone: string): number[] {
  if (timeZone === 'UTC') {
    const starts: number[] = [];
    for (let day = Math.floor(from / 86_400_000) * 86_400_000; day < to; day += 86_400_000) starts.push(day);
    return starts;
  }
  const midnightOf = (localDay: number) => {
    // localDay: epoch ms of the local date's midnight as if it were UTC; correct for the offset (twice, for DST).
    let instant = localDay - zoneOffsetMinutes(timeZone, localDay) * 60_000;
    instant = localDay - zoneOffsetMinutes(timeZone, instant) * 60_000;
    return instant;
  };
  const firstLocal = Math.floor((from + zoneOffsetMinutes(timeZone, from) * 60_000) / 86_400_000) * 86_400_000;
  const starts: number[] = [];
  for (let localDay = firstLocal; ; localDay += 86_400_000) {
    const start = midnightOf(localDay);
    if (start >= to) break;
    starts.push(start);
    if (starts.length > 20_000) break;
  }
  return starts;
}
