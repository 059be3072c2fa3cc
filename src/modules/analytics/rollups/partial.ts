import { DistinctCountSketch, QuantileSketch } from '../sketches/index.js';
import { MEASURE_FUNCTIONS, percentileOf, type MeasureField, type MeasureFunction } from '../model.js';

/** The percentiles measures offer (p50, p90, p95, p99). */
const PERCENTILES = MEASURE_FUNCTIONS.map(percentileOf).filter((q): q is number => q !== null);

// A mergeable partial aggregate: what one rollup row holds, what a raw record adds, and what several of them
// merge into. Count, sum, min, max, last and error counts merge exactly; percentiles merge through log-bucket
// sketches (within 0.5 % of percentile_cont, see sketches/), distinct users through HyperLogLog (within 2 %).

/**
 * What the statistics of one numeric field hold. The sketch is made on first use: with one or two values, min and
 * max are the values themselves, so such rows (most minute rows of a quiet platform) carry no sketch at all. A
 * sketch read from a rollup row stays serialized until something merges into it: a group served by one row (most
 * reads) answers its percentiles straight from the bytes.
 */
export class FieldStats {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  /** The sketch, once built or decoded. */
  private decoded: QuantileSketch | null = null;
  /** The sketch as a rollup row stores it, until it is decoded (never both set). Bytes are never changed, so shared. */
  private encoded: Uint8Array | null = null;
  /**
   * The stored sketch was not read (the read asked for no percentile of this field): count, sum, min and max hold,
   * percentiles would be wrong, so asking for one is a programming error.
   */
  private unloaded = false;
  /** Percentiles answered from `encoded` (which never changes while it is kept). */
  private percentiles: Map<number, number | null> | null = null;

  /** The values' sketch, decoded if need be (rebuilt from min and max for one or two values). */
  get sketch(): QuantileSketch {
    if (!this.decoded) {
      if (this.encoded) {
        this.decoded = QuantileSketch.deserialize(this.encoded);
        this.encoded = null;
        this.percentiles = null;
      } else {
        this.decoded = new QuantileSketch();
        if (this.count >= 1) this.decoded.add(this.min);
        if (this.count === 2) this.decoded.add(this.max);
      }
    }
    return this.decoded;
  }

  private get hasSketch(): boolean {
    return this.decoded !== null || this.encoded !== null;
  }

  /** What a rollup row stores: nothing for up to two values (min and max say it all). */
  storedSketch(): Uint8Array | null {
    if (this.count <= 2) return null;
    if (this.unloaded) throw new Error('FieldStats: a rollup row read without its sketch cannot be written back');
    return this.encoded ?? this.sketch.serialize();
  }

  add(value: number): void {
    // Past two values a sketch is needed; it is made from the first two, then takes every value.
    if (this.count >= 2 && !this.unloaded) void this.sketch;
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.decoded?.add(value);
  }

  merge(other: FieldStats): void {
    this.combine(other, false);
  }

  /** Merges `other` and may keep its sketch as is: for a FieldStats that is dropped right after (a decoded row). */
  absorb(other: FieldStats): void {
    this.combine(other, true);
  }

  private combine(other: FieldStats, consume: boolean): void {
    if (other.count === 0) return;
    if (this.count === 0) {
      // Into an empty one: a copy (a small one stays sketch-free; bytes are shared; a sketch is cloned, or taken).
      this.count = other.count;
      this.sum = other.sum;
      this.min = other.min;
      this.max = other.max;
      this.unloaded = other.unloaded;
      this.encoded = other.encoded;
      this.percentiles = other.percentiles;
      this.decoded = other.decoded && !consume ? other.decoded.clone() : other.decoded;
      return;
    }
    if (this.unloaded || other.unloaded) {
      // Percentiles not asked for: count, sum, min and max are all that is kept.
      this.unloaded = true;
      this.decoded = null;
      this.encoded = null;
      this.percentiles = null;
    } else {
      // This one's sketch (made from its min and max if it has none yet), before they change, then the other's.
      this.sketch.merge(other.hasSketch ? other.sketch : other.smallSketch());
    }
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** The sketch of one or two values, without keeping it. */
  private smallSketch(): QuantileSketch {
    const sketch = new QuantileSketch().add(this.min);
    if (this.count === 2) sketch.add(this.max);
    return sketch;
  }

  /** Restores stats stored in a rollup row. */
  static from(count: number, sum: number | null, min: number | null, max: number | null, sketch: Uint8Array | null | undefined): FieldStats {
    const stats = new FieldStats();
    if (count === 0) return stats;
    stats.count = count;
    stats.sum = sum ?? 0;
    stats.min = min ?? Number.POSITIVE_INFINITY;
    stats.max = max ?? Number.NEGATIVE_INFINITY;
    // undefined: the column was not read (see reader.ts); null: the row has no sketch (two values at most).
    if (sketch === undefined) stats.unloaded = count > 2;
    else if (sketch) stats.encoded = sketch;
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
        if (this.count === 2 && !this.hasSketch) return this.min + (this.max - this.min) * q;
        if (this.unloaded) throw new Error(`FieldStats: ${fn} asked of rollup rows read without their sketch`);
        if (this.encoded) {
          // The dashboard percentiles at once, in one pass over the bytes (a read usually asks for several).
          if (!this.percentiles) {
            const values = QuantileSketch.quantilesOfSerialized(this.encoded, PERCENTILES);
            this.percentiles = new Map(PERCENTILES.map((p, index) => [p, values[index] ?? null]));
          }
          const known = this.percentiles.get(q);
          if (known !== undefined) return known;
          return QuantileSketch.quantilesOfSerialized(this.encoded, [q])[0] ?? null;
        }
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
    return this.combine(other, false);
  }

  /** Merges a partial that is dropped right after (a decoded rollup row): its sketches may be taken as they are. */
  absorb(other: Partial): this {
    return this.combine(other, true);
  }

  private combine(other: Partial, consume: boolean): this {
    this.count += other.count;
    if (consume) {
      this.value.absorb(other.value);
      this.responseTime.absorb(other.responseTime);
    } else {
      this.value.merge(other.value);
      this.responseTime.merge(other.responseTime);
    }
    this.errors += other.errors;
    if (other.last) this.addLast(other.last.value, other.last.timestamp, other.last.id);
    if (other.users) {
      if (!this.users) this.users = consume ? other.users : other.users.clone();
      else this.users.merge(other.users);
    }
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
