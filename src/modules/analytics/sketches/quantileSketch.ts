/**
 * Mergeable quantile sketch with relative-error guarantees (DDSketch, Masson et al., VLDB 2019).
 *
 * A value v > 0 falls into bucket i = ceil(log_γ(v)), γ = (1 + α)/(1 − α), i.e. (γ^(i−1), γ^i]; the bucket's
 * representative γ^i·(1 − α) = 2γ^i/(γ + 1) is within relative error α of every value in it. Negative values go to a
 * second store keyed by |v|, exact zeros to a plain counter. Count, sum, min and max are kept exactly alongside.
 *
 * Merging adds bin counts, so merging sketches built from parts gives the same bins as one sketch of the whole.
 *
 * Size bound: each store (positive, negative) spans at most `maxBins` consecutive indices (default 2048). When a new
 * value would widen the span past that, the lowest bins (the smallest magnitudes) are folded into the lowest kept
 * bin, as DDSketch's "collapsing lowest" store does. With α = 0.005 one bin is a factor γ ≈ 1.01 wide, so 2048 bins
 * cover a ratio of γ^2048 ≈ 8·10^8 (almost 9 decades) between the smallest and the largest magnitude of one sign:
 * e.g. 0.01 ms … 8·10^6 ms. Only beyond that does anything collapse, and then only order statistics whose magnitude is
 * more than ≈ 8·10^8 times smaller than the largest magnitude lose accuracy (they are over-estimated in magnitude, and
 * still clamped into [min, max]); high quantiles, count, sum, min and max are unaffected. The final bins depend only on
 * the multiset of values added, not on the order of adds and merges.
 */
import { ByteReader, ByteWriter, SketchDecodeError } from './encoding.js';

export interface QuantileSketchOptions {
  /** Relative accuracy α of every order statistic, 1e-4 ≤ α ≤ 0.5. Default 0.005 (0.5 %). */
  relativeAccuracy?: number;
  /** Maximum span of bins per store (positive values, negative values), 16 … 65536. Default 2048. */
  maxBins?: number;
}

/**
 * α = 0.005: every estimated order statistic is within 0.5 % of the true one, and percentile_cont interpolates between
 * two such estimates of the same sign, so the result is within 0.5 % too: half the 1 % budget, leaving margin for
 * floating-point noise. Costs ≈ 230 bins per decade of data range.
 */
export const DEFAULT_RELATIVE_ACCURACY = 0.005;
export const DEFAULT_MAX_BINS = 2048;

const MIN_RELATIVE_ACCURACY = 1e-4;
const MAX_RELATIVE_ACCURACY = 0.5;
const MIN_MAX_BINS = 16;
const MAX_MAX_BINS = 65536;

const MAGIC = 0x51; // 'Q'
const VERSION = 1;

const EMPTY = new Float64Array(0);

/** Counts per bin index over a contiguous window of at most `maxBins` indices (collapsing the lowest). */
class BinStore {
  counts: Float64Array = EMPTY;
  /** Bin index of counts[0]. */
  offset = 0;
  /** Lowest and highest index that may hold a non-zero count (both hold one unless empty). */
  lo = 0;
  hi = -1;
  total = 0;

  constructor(readonly maxBins: number) {}

  get isEmpty(): boolean {
    return this.total === 0;
  }

  add(index: number, n: number): void {
    if (this.total === 0) {
      this.reserve(index, index);
      this.lo = this.hi = index;
    } else if (index > this.hi) {
      const floor = index - this.maxBins + 1;
      let folded = 0;
      if (floor > this.lo) {
        const end = Math.min(this.hi, floor - 1);
        for (let i = this.lo; i <= end; i++) {
          folded += this.counts[i - this.offset] as number;
          this.counts[i - this.offset] = 0;
        }
        this.lo = floor;
      }
      this.reserve(this.lo, index);
      this.hi = index;
      if (folded > 0) (this.counts[this.lo - this.offset] as number) += folded;
    } else if (index < this.lo) {
      const floor = this.hi - this.maxBins + 1; // ≤ lo, since the span never exceeds maxBins
      if (index < floor) index = floor;
      if (index < this.lo) {
        this.reserve(index, this.hi);
        this.lo = index;
      }
    }
    (this.counts[index - this.offset] as number) += n;
    this.total += n;
  }

  /** Makes counts cover [a, b] (b − a < maxBins); every non-zero count must already lie within [a, b]. */
  private reserve(a: number, b: number): void {
    const oldLength = this.counts.length;
    if (a >= this.offset && b < this.offset + oldLength) return;
    const needed = b - a + 1;
    const length = Math.max(needed, Math.min(2 * this.maxBins, Math.max(64, 2 * needed, 2 * oldLength)));
    const offset = a - Math.floor((length - needed) / 2);
    const counts = new Float64Array(length);
    const from = Math.max(this.offset, offset);
    const to = Math.min(this.offset + oldLength, offset + length);
    if (to > from) counts.set(this.counts.subarray(from - this.offset, to - this.offset), from - offset);
    this.counts = counts;
    this.offset = offset;
  }

  mergeFrom(other: BinStore): void {
    if (other.total === 0) return;
    if (this.total === 0 && other.hi - other.lo < this.maxBins) {
      this.copyFrom(other);
      return;
    }
    const lo = Math.min(this.lo, other.lo);
    const hi = Math.max(this.hi, other.hi);
    if (this.total > 0 && hi - lo < this.maxBins) {
      // The union fits: one reservation, then the counts are added in place (no collapsing can happen).
      this.reserve(lo, hi);
      for (let i = other.lo; i <= other.hi; i++) (this.counts[i - this.offset] as number) += other.counts[i - other.offset] as number;
      this.lo = lo;
      this.hi = hi;
      this.total += other.total;
      return;
    }
    // Highest first: the first add fixes the top of the window, so collapsing (if any) happens once.
    for (let i = other.hi; i >= other.lo; i--) {
      const c = other.counts[i - other.offset] as number;
      if (c > 0) this.add(i, c);
    }
  }

  copyFrom(other: BinStore): void {
    // Only the live window is copied (the other's array may hold spare room on both sides).
    this.counts = other.counts.slice(other.lo - other.offset, other.hi - other.offset + 1);
    this.offset = other.lo;
    this.lo = other.lo;
    this.hi = other.hi;
    this.total = other.total;
  }

  get binCount(): number {
    let n = 0;
    for (let i = this.lo; i <= this.hi; i++) if ((this.counts[i - this.offset] as number) > 0) n++;
    return n;
  }

  /** Sparse bins: count of bins, first index (zigzag), first count, then (index delta ≥ 1, count ≥ 1) pairs. */
  write(out: ByteWriter): void {
    out.varint(this.total === 0 ? 0 : this.binCount);
    let previous: number | undefined;
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.counts[i - this.offset] as number;
      if (!(c > 0)) continue;
      if (previous === undefined) out.zigzag(i);
      else out.varint(i - previous);
      out.varint(c);
      previous = i;
    }
  }

  read(input: ByteReader, minIndex: number, maxIndex: number): void {
    const bins = readSparse(input, minIndex, maxIndex, this.maxBins, SCRATCH_A);
    if (bins.length === 0) return;
    const lo = bins.indices[0] as number;
    const hi = bins.indices[bins.length - 1] as number;
    this.counts = new Float64Array(hi - lo + 1);
    this.offset = lo;
    for (let k = 0; k < bins.length; k++) this.counts[(bins.indices[k] as number) - lo] = bins.counts[k] as number;
    this.lo = lo;
    this.hi = hi;
    this.total = bins.total;
  }
}

/** Bins as serialized: increasing indices and their counts (reused buffers, valid until the next read into them). */
interface SparseBins {
  indices: Float64Array;
  counts: Float64Array;
  length: number;
  total: number;
}

const sparseBins = (): SparseBins => ({ indices: new Float64Array(256), counts: new Float64Array(256), length: 0, total: 0 });
/** Scratch (single-threaded, never re-entered): A for BinStore.read and positive bins, B for negative bins. */
const SCRATCH_A = sparseBins();
const SCRATCH_B = sparseBins();

/** Reads one store's bins into `into`, checking them as it goes. */
function readSparse(input: ByteReader, minIndex: number, maxIndex: number, maxBins: number, into: SparseBins): SparseBins {
  into.length = 0;
  into.total = 0;
  const bins = input.varint();
  if (bins === 0) return into;
  // Each bin takes at least two bytes; checked before allocating anything.
  if (bins > maxBins || bins * 2 > input.remaining) input.fail(`implausible number of bins ${bins}`);
  if (into.indices.length < bins) {
    into.indices = new Float64Array(Math.max(bins, 2 * into.indices.length));
    into.counts = new Float64Array(into.indices.length);
  }
  const { indices, counts } = into;
  let index = 0;
  let total = 0;
  for (let k = 0; k < bins; k++) {
    if (k === 0) index = input.zigzag();
    else {
      const delta = input.varint();
      if (delta < 1) input.fail('bin indices not increasing');
      index += delta;
    }
    const c = input.varint();
    if (c < 1) input.fail('empty bin');
    if (index < minIndex || index > maxIndex) input.fail(`bin index ${index} out of range`);
    indices[k] = index;
    counts[k] = c;
    total += c;
  }
  const lo = indices[0] as number;
  const hi = indices[bins - 1] as number;
  if (hi - lo + 1 > maxBins) input.fail(`bins span ${hi - lo + 1} indices, more than maxBins ${maxBins}`);
  if (total > Number.MAX_SAFE_INTEGER) input.fail('count out of range');
  into.length = bins;
  into.total = total;
  return into;
}

export class QuantileSketch {
  readonly relativeAccuracy: number;
  readonly maxBins: number;
  private readonly gamma: number;
  private readonly lnGamma: number;
  private readonly invLnGamma: number;
  private readonly lnRepresentativeFactor: number;
  private readonly positive: BinStore;
  private readonly negative: BinStore;
  private zeroCount = 0;
  // Neumaier-compensated sum: sum + compensation is the total, accurate to about one rounding.
  private sumHigh = 0;
  private sumCompensation = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;

  constructor(options: QuantileSketchOptions = {}) {
    const alpha = options.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY;
    const maxBins = options.maxBins ?? DEFAULT_MAX_BINS;
    if (!(alpha >= MIN_RELATIVE_ACCURACY && alpha <= MAX_RELATIVE_ACCURACY)) {
      throw new RangeError(
        `relativeAccuracy must be within [${MIN_RELATIVE_ACCURACY}, ${MAX_RELATIVE_ACCURACY}], got ${alpha}`,
      );
    }
    if (!Number.isInteger(maxBins) || maxBins < MIN_MAX_BINS || maxBins > MAX_MAX_BINS) {
      throw new RangeError(`maxBins must be an integer within [${MIN_MAX_BINS}, ${MAX_MAX_BINS}], got ${maxBins}`);
    }
    this.relativeAccuracy = alpha;
    this.maxBins = maxBins;
    this.gamma = (1 + alpha) / (1 - alpha);
    this.lnGamma = Math.log(this.gamma);
    this.invLnGamma = 1 / this.lnGamma;
    this.lnRepresentativeFactor = Math.log(1 - alpha);
    this.positive = new BinStore(maxBins);
    this.negative = new BinStore(maxBins);
  }

  /** Bin index of a finite magnitude m > 0. */
  private indexOf(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) * this.invLnGamma);
  }

  /** γ^i·(1 − α): within α of every magnitude in bin i. */
  private representative(index: number): number {
    return Math.exp(index * this.lnGamma + this.lnRepresentativeFactor);
  }

  private addToSum(v: number): void {
    const t = this.sumHigh + v;
    if (Math.abs(this.sumHigh) >= Math.abs(v)) this.sumCompensation += this.sumHigh - t + v;
    else this.sumCompensation += v - t + this.sumHigh;
    this.sumHigh = t;
  }

  /** Adds one value; it must be a finite number. */
  add(value: number): this {
    if (!Number.isFinite(value)) throw new RangeError(`QuantileSketch.add: value must be finite, got ${value}`);
    if (value > 0) this.positive.add(this.indexOf(value), 1);
    else if (value < 0) this.negative.add(this.indexOf(-value), 1);
    else {
      value = 0; // no −0 in min/max
      this.zeroCount++;
    }
    this.addToSum(value);
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
    return this;
  }

  /** Adds everything in `other` (which is left unchanged). Both must have the same relativeAccuracy. */
  merge(other: QuantileSketch): this {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new RangeError(
        `QuantileSketch.merge: relativeAccuracy differs (${this.relativeAccuracy} vs ${other.relativeAccuracy})`,
      );
    }
    if (other.count === 0) return this;
    if (other === this) other = other.clone();
    this.positive.mergeFrom(other.positive);
    this.negative.mergeFrom(other.negative);
    this.zeroCount += other.zeroCount;
    this.addToSum(other.sumHigh);
    this.addToSum(other.sumCompensation);
    if (other.minValue < this.minValue) this.minValue = other.minValue;
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
    return this;
  }

  clone(): QuantileSketch {
    const copy = new QuantileSketch({ relativeAccuracy: this.relativeAccuracy, maxBins: this.maxBins });
    copy.positive.copyFrom(this.positive);
    copy.negative.copyFrom(this.negative);
    copy.zeroCount = this.zeroCount;
    copy.sumHigh = this.sumHigh;
    copy.sumCompensation = this.sumCompensation;
    copy.minValue = this.minValue;
    copy.maxValue = this.maxValue;
    return copy;
  }

  get count(): number {
    return this.negative.total + this.zeroCount + this.positive.total;
  }

  /** Sum of the values (0 when empty); compensated, so merges in any order agree to about one rounding. */
  get sum(): number {
    return this.sumHigh + this.sumCompensation;
  }

  /** Exact smallest value, null when empty. */
  get min(): number | null {
    return this.count === 0 ? null : this.minValue;
  }

  /** Exact largest value, null when empty. */
  get max(): number | null {
    return this.count === 0 ? null : this.maxValue;
  }

  /** Number of non-empty bins (positive and negative stores). */
  get binCount(): number {
    return this.positive.binCount + this.negative.binCount;
  }

  /** Estimate of the order statistic of 0-based rank k (0 ≤ k < count), clamped into [min, max]. */
  private valueAtRank(k: number, n: number): number {
    if (k <= 0) return this.minValue;
    if (k >= n - 1) return this.maxValue;
    let rest = k;
    let estimate: number | undefined;
    const neg = this.negative;
    if (rest < neg.total) {
      for (let i = neg.hi; i >= neg.lo; i--) {
        const c = neg.counts[i - neg.offset] as number;
        if (rest < c) {
          estimate = -this.representative(i);
          break;
        }
        rest -= c;
      }
    } else {
      rest -= neg.total;
      if (rest < this.zeroCount) estimate = 0;
      else {
        rest -= this.zeroCount;
        const pos = this.positive;
        for (let i = pos.lo; i <= pos.hi; i++) {
          const c = pos.counts[i - pos.offset] as number;
          if (rest < c) {
            estimate = this.representative(i);
            break;
          }
          rest -= c;
        }
      }
    }
    if (estimate === undefined) return this.maxValue; // unreachable: counts add up to n
    return Math.min(this.maxValue, Math.max(this.minValue, estimate));
  }

  /**
   * Estimate of PostgreSQL's percentile_cont(q): with h = q·(n − 1), interpolates linearly between the estimated
   * order statistics of rank floor(h) and ceil(h). Ranks 0 and n − 1 are the exact min and max, so q = 0, q = 1 and
   * n = 1 are exact. Null when the sketch is empty (as percentile_cont over no rows).
   */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`QuantileSketch.quantile: q must be within [0, 1], got ${q}`);
    const n = this.count;
    if (n === 0) return null;
    const h = q * (n - 1);
    const below = Math.floor(h);
    const a = this.valueAtRank(below, n);
    if (h === below) return a;
    const b = this.valueAtRank(below + 1, n);
    return a + (h - below) * (b - a);
  }

  quantiles(qs: readonly number[]): (number | null)[] {
    return qs.map((q) => this.quantile(q));
  }

  /**
   * Layout (version 1), varints are unsigned LEB128, f64 little-endian:
   *   u8 0x51 'Q', u8 version = 1, f64 relativeAccuracy, varint maxBins, varint zeroCount,
   *   positive store, negative store (keyed by |v|): varint binCount, then if > 0: zigzag firstIndex, varint count,
   *     and (varint indexDelta ≥ 1, varint count ≥ 1) for each further bin, in increasing index order,
   *   and, only when count > 0: f64 sum, f64 min, f64 max.
   * The same sketch state always gives the same bytes.
   */
  serialize(): Buffer {
    const span = this.positive.hi - this.positive.lo + this.negative.hi - this.negative.lo + 2;
    const out = new ByteWriter(48 + 3 * span);
    out.u8(MAGIC);
    out.u8(VERSION);
    out.f64(this.relativeAccuracy);
    out.varint(this.maxBins);
    out.varint(this.zeroCount);
    this.positive.write(out);
    this.negative.write(out);
    if (this.count > 0) {
      out.f64(this.sum);
      out.f64(this.minValue);
      out.f64(this.maxValue);
    }
    return out.finish();
  }

  /** Parses `serialize()` output; throws SketchDecodeError on anything else (garbage, truncation, inconsistency). */
  static deserialize(bytes: Uint8Array): QuantileSketch {
    const input = new ByteReader(bytes, 'QuantileSketch.deserialize');
    if (input.u8() !== MAGIC) input.fail('not a serialized QuantileSketch (bad magic byte)');
    const version = input.u8();
    if (version !== VERSION) input.fail(`unsupported version ${version}`);
    const alpha = input.f64();
    if (!(alpha >= MIN_RELATIVE_ACCURACY && alpha <= MAX_RELATIVE_ACCURACY)) {
      input.fail(`invalid relativeAccuracy ${alpha}`);
    }
    const maxBins = input.varint();
    if (maxBins < MIN_MAX_BINS || maxBins > MAX_MAX_BINS) input.fail(`invalid maxBins ${maxBins}`);
    const sketch = new QuantileSketch({ relativeAccuracy: alpha, maxBins });
    sketch.zeroCount = input.varint();
    const minIndex = sketch.indexOf(Number.MIN_VALUE);
    const maxIndex = sketch.indexOf(Number.MAX_VALUE);
    sketch.positive.read(input, minIndex, maxIndex);
    sketch.negative.read(input, minIndex, maxIndex);
    const n = sketch.count;
    if (n > Number.MAX_SAFE_INTEGER) input.fail('count out of range');
    if (n > 0) {
      const sum = input.f64();
      const min = input.f64();
      const max = input.f64();
      if (Number.isNaN(sum)) input.fail('sum is NaN');
      if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) input.fail(`invalid min/max ${min}/${max}`);
      sketch.checkConsistency(input, min, max);
      sketch.sumHigh = sum;
      sketch.minValue = min;
      sketch.maxValue = max;
    }
    input.end();
    return sketch;
  }

  /**
   * `QuantileSketch.deserialize(bytes).quantiles(qs)` without building the sketch: one pass over the serialized bins
   * into reused buffers, then one walk for all of `qs`. Reads that take one rollup row per group (most of them) answer
   * their percentiles this way, with no allocation per row. The bytes are checked as deserialize checks them, except
   * min and max against the bins.
   */
  static quantilesOfSerialized(bytes: Uint8Array, qs: readonly number[]): (number | null)[] {
    for (const q of qs) if (!(q >= 0 && q <= 1)) throw new RangeError(`QuantileSketch.quantile: q must be within [0, 1], got ${q}`);
    const input = new ByteReader(bytes, 'QuantileSketch.quantilesOfSerialized');
    if (input.u8() !== MAGIC) input.fail('not a serialized QuantileSketch (bad magic byte)');
    const version = input.u8();
    if (version !== VERSION) input.fail(`unsupported version ${version}`);
    const alpha = input.f64();
    if (!(alpha >= MIN_RELATIVE_ACCURACY && alpha <= MAX_RELATIVE_ACCURACY)) input.fail(`invalid relativeAccuracy ${alpha}`);
    const maxBins = input.varint();
    if (maxBins < MIN_MAX_BINS || maxBins > MAX_MAX_BINS) input.fail(`invalid maxBins ${maxBins}`);
    const zeroCount = input.varint();
    const lnGamma = Math.log((1 + alpha) / (1 - alpha));
    const invLnGamma = 1 / lnGamma;
    const minIndex = Math.ceil(Math.log(Number.MIN_VALUE) * invLnGamma);
    const maxIndex = Math.ceil(Math.log(Number.MAX_VALUE) * invLnGamma);
    const pos = readSparse(input, minIndex, maxIndex, maxBins, SCRATCH_A);
    const neg = readSparse(input, minIndex, maxIndex, maxBins, SCRATCH_B);
    const n = neg.total + zeroCount + pos.total;
    if (n === 0) {
      input.end();
      return qs.map(() => null);
    }
    input.f64(); // sum
    const min = input.f64();
    const max = input.f64();
    if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) input.fail(`invalid min/max ${min}/${max}`);
    input.end();
    // The order statistics the quantiles interpolate between (ranks floor(h) and ceil(h), h = q·(n − 1)), found in
    // one walk over the bins in increasing value order: negative bins by decreasing magnitude, zeros, positive bins.
    // A handful of ranks: sorted and deduplicated by insertion, with their values beside them (no Set, no Map).
    const ranks: number[] = [];
    for (const q of qs) {
      for (const rank of [Math.floor(q * (n - 1)), Math.ceil(q * (n - 1))]) {
        let at = ranks.length;
        while (at > 0 && (ranks[at - 1] as number) > rank) at -= 1;
        if (ranks[at - 1] !== rank) ranks.splice(at, 0, rank);
      }
    }
    const rankValues = new Array<number>(ranks.length).fill(0);
    const lnFactor = Math.log(1 - alpha);
    let next = 0;
    let seen = 0; // values before the current bin
    // Written as plain loops with no closure per bin: this runs once per rollup row of a read, and a closure per
    // bin cost some 40 KB of garbage per call.
    const settle = (count: number, value: number) => {
      while (next < ranks.length && (ranks[next] as number) < seen + count) {
        const rank = ranks[next] as number;
        rankValues[next] = rank <= 0 ? min : rank >= n - 1 ? max : Math.min(max, Math.max(min, value));
        next += 1;
      }
      seen += count;
    };
    for (let b = neg.length - 1; b >= 0 && next < ranks.length; b--) {
      const count = neg.counts[b] as number;
      if ((ranks[next] as number) >= seen + count) {
        seen += count;
        continue;
      }
      settle(count, -Math.exp((neg.indices[b] as number) * lnGamma + lnFactor));
    }
    if (next < ranks.length) settle(zeroCount, 0);
    for (let b = 0; b < pos.length && next < ranks.length; b++) {
      const count = pos.counts[b] as number;
      if ((ranks[next] as number) >= seen + count) {
        seen += count;
        continue;
      }
      settle(count, Math.exp((pos.indices[b] as number) * lnGamma + lnFactor));
    }
    const valueAt = (rank: number) => rankValues[ranks.indexOf(rank)] as number;
    return qs.map((q) => {
      const h = q * (n - 1);
      const below = Math.floor(h);
      const a = valueAt(below);
      if (h === below) return a;
      return a + (h - below) * (valueAt(below + 1) - a);
    });
  }

  /** min and max must agree with the bins (to within one bin, in case Math.log ever rounds differently). */
  private checkConsistency(input: ByteReader, min: number, max: number): void {
    const pos = this.positive;
    const neg = this.negative;
    if (pos.isEmpty !== !(max > 0)) input.fail('max disagrees with the positive bins');
    if (neg.isEmpty !== !(min < 0)) input.fail('min disagrees with the negative bins');
    if (this.zeroCount > 0 && !(min <= 0 && max >= 0)) input.fail('min/max disagree with the zero count');
    if ((min === 0 || max === 0) && this.zeroCount === 0) input.fail('min/max disagree with the zero count');
    if (max > 0 && Math.abs(this.indexOf(max) - pos.hi) > 1) input.fail('max disagrees with the highest positive bin');
    if (min < 0 && Math.abs(this.indexOf(-min) - neg.hi) > 1) input.fail('min disagrees with the highest negative bin');
    if (min > 0 && this.indexOf(min) > pos.lo + 1) input.fail('min disagrees with the lowest positive bin');
    if (max < 0 && this.indexOf(-max) > neg.lo + 1) input.fail('max disagrees with the lowest negative bin');
  }
}

export { SketchDecodeError };
