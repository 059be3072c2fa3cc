import { DistinctCountSketch, QuantileSketch } from '../sketches/index.js';
import { percentileOf, type MeasureField, type MeasureFunction } from '../model.js';

// A mergeable partial aggregate: what one rollup row holds, what a raw record adds, and what several of them
// merge into. Count, sum, min, max, last and error counts merge exactly; percentiles merge through log-bucket
// sketches (within 0.5 % of percentile_cont, see sketches/), distinct users through HyperLogLog (within 2 %).

/**
 * What the statistics of one numeric field hold. The sketch is made on first use: with one or two values, min and
 * max are the values themselves, so such rows (most minute rows of a quiet platform) carry no sketch at all.
 */
export class FieldStats {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  private sketchOrNull: QuantileSketch | null = null;

  /** The values' sketch (rebuilt from min and max for one or two values). */
  get sketch(): QuantileSketch {
    if (!this.sketchOrNull) {
      this.sketchOrNull = new QuantileSketch();
      if (this.count >= 1) this.sketchOrNull.add(this.min);
      if (this.count === 2) this.sketchOrNull.add(this.max);
    }
    return this.sketchOrNull;
  }

  /** What a rollup row stores: nothing for up to two values (min and max say it all). */
  get storedSketch(): QuantileSketch | null {
    return this.count <= 2 ? null : this.sketch;
  }

  add(value: number): void {
    // Past two values a sketch is needed; it is made from the first two, then takes every value.
    if (this.count === 2 && !this.sketchOrNull) void this.sketch;
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.sketchOrNull?.add(value);
  }

  merge(other: FieldStats): void {
    if (other.count === 0) return;
    if (this.count === 0 && !other.sketchOrNull) {
      // Copying a small one keeps both sketch-free.
      this.count = other.count;
      this.sum = other.sum;
      this.min = other.min;
      this.max = other.max;
      return;
    }
    this.sketch.merge(other.sketch);
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** Restores stats stored in a rollup row. */
  static from(count: number, sum: number | null, min: number | null, max: number | null, sketch: Uint8Array | null): FieldStats {
    const stats = new FieldStats();
    if (count === 0) return stats;
    stats.count = count;
    stats.sum = sum ?? 0;
    stats.min = min ?? Number.POSITIVE_INFINITY;
    stats.max = max ?? Number.NEGATIVE_INFINITY;
    if (sketch) stats.sketchOrNull = QuantileSketch.deserialize(sketch);
    return stats;
  }

  value(fn: MeasureFunction): number | null {
    if (this.count === 0) return null;
    switch (fn) {
      case 'sum':
        return this.sum;
      case 'avg':
        return this.sum / this.count;
      case 'min':
        return this.min;
      case 'max':
        return this.max;
      default: {
        const q = percentileOf(fn);
        if (q === null) return null;
        // One or two values: percentile_cont exactly (the one value, or interpolated between the two).
        if (this.count === 1) return this.min;
        if (this.count === 2 && !this.sketchOrNull) return this.min + (this.max - this.min) * q;
        return this.sketch.quantile(q);
      }
    }
  }
}

/** The newest record of a group: by timestamp, then id (as the raw queries order them). */
export interface Last {
  value: number;
  timestamp: number;
  id: bigint;
}

export class Partial {
  /** Records in the group. */
  count = 0;
  /** `value` of metrics. */
  readonly value = new FieldStats();
  /** `responseTimeMs` of performance metrics (records without one are not counted here). */
  readonly responseTime = new FieldStats();
  /** Records with statusCode ≥ 500. */
  errors = 0;
  last: Last | null = null;
  /** Distinct userId (activities and user metrics), created on first use. */
  users: DistinctCountSketch | null = null;

  addLast(value: number, timestamp: number, id: bigint): void {
    const last = this.last;
    if (!last || timestamp > last.timestamp || (timestamp === last.timestamp && id > last.id)) this.last = { value, timestamp, id };
  }

  addUser(userId: string): void {
    (this.users ??= new DistinctCountSketch()).add(userId);
  }

  merge(other: Partial): this {
    this.count += other.count;
    this.value.merge(other.value);
    this.responseTime.merge(other.responseTime);
    this.errors += other.errors;
    if (other.last) this.addLast(other.last.value, other.last.timestamp, other.last.id);
    if (other.users) (this.users ??= new DistinctCountSketch()).merge(other.users);
    return this;
  }

  /** A measure's value before rates are divided by their bucket's seconds (see AnalyticsService). */
  measure(fn: MeasureFunction, field: MeasureField = 'value', activities = false): number | null {
    switch (fn) {
      case 'count':
        return this.count;
      case 'last':
        return this.last?.value ?? null;
      case 'lastTimestamp':
        return this.last?.timestamp ?? null;
      case 'errorRate':
        return this.count === 0 ? null : this.errors / this.count;
      case 'uniqueUsers':
        return this.users ? Math.round(this.users.estimate()) : 0;
      case 'rate':
        return activities ? this.count : this.value.count === 0 ? null : this.value.sum;
      default:
        return (field === 'responseTimeMs' ? this.responseTime : this.value).value(fn);
    }
  }
}
