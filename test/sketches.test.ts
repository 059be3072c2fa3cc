import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RELATIVE_ACCURACY,
  DistinctCountSketch,
  EXACT_LIMIT,
  hashId,
  QuantileSketch,
  SketchDecodeError,
} from '../src/modules/analytics/sketches/index.js';
import { FieldStats } from '../src/modules/analytics/rollups/partial.js';
import { seededRandom, type Random } from './support/prng.js';

// ---------------------------------------------------------------------------------------------------------------------
// Helpers

/** PostgreSQL's percentile_cont(q) over sorted values: interpolates between ranks floor and ceil of q·(n − 1). */
function percentileCont(sorted: Float64Array, q: number): { value: number; below: number; above: number; f: number } {
  const h = q * (sorted.length - 1);
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const below = sorted[lo] as number;
  const above = sorted[hi] as number;
  return { value: below + (h - lo) * (above - below), below, above, f: h - lo };
}

function sortedCopy(values: Float64Array): Float64Array {
  return values.slice().sort();
}

function logNormal(random: Random, n: number, mu = 5, sigma = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = 1 - random.next(); // (0, 1]
    const u2 = random.next();
    out[i] = Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
  }
  return out;
}

function pareto(random: Random, n: number, alpha = 1.5, xm = 10): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = xm / Math.pow(1 - random.next(), 1 / alpha);
  return out;
}

function sketchOf(values: Iterable<number>, options?: ConstructorParameters<typeof QuantileSketch>[0]): QuantileSketch {
  const sketch = new QuantileSketch(options);
  for (const v of values) sketch.add(v);
  return sketch;
}

/** Splits values (in order) into `parts` contiguous parts of random sizes, some possibly empty. */
function split(random: Random, values: Float64Array, parts: number): Float64Array[] {
  const cuts = Array.from({ length: parts - 1 }, () => random.int(0, values.length)).sort((a, b) => a - b);
  const out: Float64Array[] = [];
  let start = 0;
  for (const cut of [...cuts, values.length]) {
    out.push(values.subarray(start, cut));
    start = cut;
  }
  return out;
}

/** Sketches every part separately, serializes, deserializes and merges them. */
function mergedFromParts(parts: Float64Array[]): QuantileSketch {
  const buffers = parts.map((part) => sketchOf(part).serialize());
  const merged = new QuantileSketch();
  for (const buffer of buffers) merged.merge(QuantileSketch.deserialize(buffer));
  return merged;
}

function floatSum(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

function relativeError(estimate: number, exact: number): number {
  return exact === 0 ? Math.abs(estimate) : Math.abs(estimate - exact) / Math.abs(exact);
}

const Q_GRID = Array.from({ length: 101 }, (_, i) => i / 100);

/**
 * Each estimated order statistic is within α of the true one, and percentile_cont interpolates between two of them,
 * so |estimate − exact| ≤ α·((1 − f)·|below| + f·|above|) (which is α·|exact| when both have the same sign).
 * The 1e-9 covers floating-point rounding in log/exp.
 */
function expectWithinGuarantee(sketch: QuantileSketch, sorted: Float64Array, alpha = DEFAULT_RELATIVE_ACCURACY): void {
  for (const q of Q_GRID) {
    const exact = percentileCont(sorted, q);
    const bound = (alpha + 1e-9) * ((1 - exact.f) * Math.abs(exact.below) + exact.f * Math.abs(exact.above));
    const estimate = sketch.quantile(q) as number;
    if (!(Math.abs(estimate - exact.value) <= bound)) {
      expect.fail(`q=${q}: estimate ${estimate}, exact ${exact.value}, allowed error ${bound}`);
    }
  }
}

/**
 * The merged sum is the sum of the parts' sums, not the float sum of the same additions in the same order (float
 * addition is not associative), so it may differ in the last bits. The sketch sums with compensation (error ≈ one
 * rounding of the total); the sequential reference itself may be off by up to ≈ n·2^−53 ≈ 1e-11 relative for
 * n = 100,000. 1e-9 relative is far above both, and far below what a lost or doubled value would cause.
 */
function expectSumClose(actual: number, values: Float64Array): void {
  const reference = floatSum(values);
  let magnitude = 0;
  for (const v of values) magnitude += Math.abs(v);
  expect(Math.abs(actual - reference)).toBeLessThanOrEqual(1e-9 * magnitude);
}

function expectExactAggregates(sketch: QuantileSketch, values: Float64Array, sorted: Float64Array): void {
  expect(sketch.count).toBe(values.length);
  expect(sketch.min).toBe(sorted[0]);
  expect(sketch.max).toBe(sorted[sorted.length - 1]);
  expectSumClose(sketch.sum, values);
}

/** Every strict prefix, the buffer plus a trailing byte and random byte strings must be rejected with a clear error. */
function expectRejectsTruncatedAndGarbage(buffer: Buffer, deserialize: (b: Uint8Array) => unknown, seed: number): void {
  for (let length = 0; length < buffer.length; length++) {
    expect(() => deserialize(buffer.subarray(0, length)), `prefix of ${length} bytes`).toThrow(SketchDecodeError);
  }
  expect(() => deserialize(Buffer.concat([buffer, Buffer.from([0])]))).toThrow(/trailing/);
  const random = seededRandom(seed);
  for (let k = 0; k < 2000; k++) {
    const garbage = Buffer.alloc(random.int(0, 64), 0);
    for (let i = 0; i < garbage.length; i++) garbage[i] = random.int(0, 255);
    // Half of them with a valid magic/version header, so the decoder has to go deeper to reject them.
    if (k % 2 === 0 && garbage.length >= 2) buffer.copy(garbage, 0, 0, Math.min(4, garbage.length));
    expect(() => deserialize(garbage)).toThrow(SketchDecodeError);
  }
}

/**
 * Single-byte corruption cannot always be detected (there is no checksum; the column is bytea in a database that has
 * its own), but whatever is accepted must be a well-formed sketch: re-serializing it gives back the same bytes.
 */
function expectCorruptionRejectedOrConsistent(
  buffer: Buffer,
  roundTrip: (b: Uint8Array) => Buffer,
): { rejected: number; accepted: number } {
  let rejected = 0;
  let accepted = 0;
  for (let i = 0; i < buffer.length; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const corrupt = Buffer.from(buffer);
      corrupt[i] = (corrupt[i] as number) ^ mask;
      let reencoded: Buffer;
      try {
        reencoded = roundTrip(corrupt);
      } catch (error) {
        expect(error).toBeInstanceOf(SketchDecodeError);
        rejected++;
        continue;
      }
      expect(reencoded.equals(corrupt), `byte ${i} ^ ${mask}`).toBe(true);
      accepted++;
    }
  }
  return { rejected, accepted };
}

// ---------------------------------------------------------------------------------------------------------------------
// Quantile sketch

describe('QuantileSketch', () => {
  const distributions = [
    { name: 'log-normal(μ=5, σ=1)', generate: (r: Random, n: number) => logNormal(r, n) },
    { name: 'Pareto(α=1.5, xm=10)', generate: (r: Random, n: number) => pareto(r, n) },
  ];
  const sizes = [1, 2, 10, 1_000, 100_000];

  for (const [d, distribution] of distributions.entries()) {
    for (const n of sizes) {
      it(`${distribution.name}, n=${n}: p50/p95/p99 within 1 % of percentile_cont, whole and merged from parts`, () => {
        const random = seededRandom(1000 * d + n);
        const values = distribution.generate(random, n);
        const sorted = sortedCopy(values);

        const whole = sketchOf(values);
        const parts = split(random, values, random.int(50, 200));
        const merged = mergedFromParts(parts);

        for (const sketch of [whole, merged]) {
          for (const q of [0.5, 0.95, 0.99]) {
            const exact = percentileCont(sorted, q).value;
            expect(relativeError(sketch.quantile(q) as number, exact), `p${q * 100}`).toBeLessThanOrEqual(0.01);
          }
          expectWithinGuarantee(sketch, sorted);
          expectExactAggregates(sketch, values, sorted);
        }
        // Same bins, count, min and max: the merged answers are identical, not just close.
        expect(merged.quantiles(Q_GRID)).toEqual(whole.quantiles(Q_GRID));
        if (n === 1) expect(whole.quantile(0.5)).toBe(values[0]);
        if (n === 2) expect(whole.quantile(0.5)).toBe(((values[0] as number) + (values[1] as number)) / 2);
        expect(whole.quantile(0)).toBe(sorted[0]);
        expect(whole.quantile(1)).toBe(sorted[n - 1]);
      });
    }
  }

  it('an empty sketch answers null (as percentile_cont, min and max over no rows) and rejects bad input', () => {
    const empty = new QuantileSketch();
    expect([empty.count, empty.sum, empty.min, empty.max, empty.quantile(0.5)]).toEqual([0, 0, null, null, null]);
    expect(() => empty.add(Number.NaN)).toThrow(RangeError);
    expect(() => empty.add(Infinity)).toThrow(RangeError);
    expect(() => empty.quantile(1.5)).toThrow(RangeError);
    expect(() => empty.quantile(Number.NaN)).toThrow(RangeError);
    expect(() => new QuantileSketch({ relativeAccuracy: 0 })).toThrow(RangeError);
    expect(() => new QuantileSketch({ maxBins: 3 })).toThrow(RangeError);
    const coarser = new QuantileSketch({ relativeAccuracy: 0.01 });
    expect(() => new QuantileSketch().merge(coarser)).toThrow(/relativeAccuracy/);
  });

  it('negative, zero and positive values mixed: quantiles within the guarantee, merges with negatives correct', () => {
    const random = seededRandom(42);
    const values = new Float64Array(20_000);
    for (let i = 0; i < values.length; i++) {
      const kind = random.next();
      const magnitude = Math.exp(3 + 1.5 * (random.next() + random.next() + random.next() - 1.5));
      values[i] = kind < 0.35 ? -magnitude : kind < 0.45 ? 0 : magnitude;
    }
    const sorted = sortedCopy(values);
    const whole = sketchOf(values);
    expectWithinGuarantee(whole, sorted);
    expectExactAggregates(whole, values, sorted);

    // Negatives only, zeros only and positives only, merged in every order, and many random parts.
    const negatives = sketchOf(values.filter((v) => v < 0));
    const zeros = sketchOf(values.filter((v) => v === 0));
    const positives = sketchOf(values.filter((v) => v > 0));
    const orders = [
      [negatives, zeros, positives],
      [positives, negatives, zeros],
      [zeros, positives, negatives],
    ];
    for (const order of orders) {
      const merged = new QuantileSketch();
      for (const part of order) merged.merge(QuantileSketch.deserialize(part.serialize()));
      expect(merged.quantiles(Q_GRID)).toEqual(whole.quantiles(Q_GRID));
      expectExactAggregates(merged, values, sorted);
    }
    const intoNegatives = negatives.clone().merge(positives).merge(zeros);
    expect(intoNegatives.quantiles(Q_GRID)).toEqual(whole.quantiles(Q_GRID));
    expect(negatives.count + zeros.count + positives.count).toBe(values.length); // merge left its argument alone

    const fromParts = mergedFromParts(split(random, values, 120));
    expect(fromParts.quantiles(Q_GRID)).toEqual(whole.quantiles(Q_GRID));
    expectExactAggregates(fromParts, values, sorted);

    // Only negative values: the low quantiles are the most negative ones.
    const onlyNegative = sketchOf([-1, -10, -100, -1000, -10000]);
    const merged = new QuantileSketch().merge(onlyNegative).merge(sketchOf([-100000]));
    expect(merged.min).toBe(-100000);
    expect(merged.max).toBe(-1);
    expect(relativeError(merged.quantile(0.2) as number, -10000)).toBeLessThanOrEqual(DEFAULT_RELATIVE_ACCURACY);
    expect(relativeError(merged.quantile(0.6) as number, -100)).toBeLessThanOrEqual(DEFAULT_RELATIVE_ACCURACY);

    // −0 counts as zero and never shows up as a minimum of −0.
    const withNegativeZero = sketchOf([-0, 5]);
    expect(Object.is(withNegativeZero.min, 0)).toBe(true);
  });

  it('answers quantiles from serialized bytes exactly as the deserialized sketch does, and checks the bytes', () => {
    const random = seededRandom(7);
    const samples: number[][] = [
      [],
      [3],
      [0, 0, 0],
      [-5, -1, 0, 2, 8],
      Array.from({ length: 5_000 }, () => (random.next() < 0.3 ? -1 : 1) * Math.exp(4 * random.next())),
      Array.from({ length: 2_000 }, () => 20 / Math.pow(1 - random.next(), 1 / 1.5)),
    ];
    for (const values of samples) {
      const bytes = sketchOf(values).serialize();
      const decoded = QuantileSketch.deserialize(bytes);
      expect(QuantileSketch.quantilesOfSerialized(bytes, Q_GRID)).toEqual(decoded.quantiles(Q_GRID));
      expect(QuantileSketch.quantilesOfSerialized(bytes, [0.99, 0.5])).toEqual(decoded.quantiles([0.99, 0.5]));
    }
    const bytes = sketchOf([1, 2, 3]).serialize();
    expect(() => QuantileSketch.quantilesOfSerialized(bytes.subarray(0, bytes.length - 1), [0.5])).toThrow(SketchDecodeError);
    expect(() => QuantileSketch.quantilesOfSerialized(Buffer.from('garbage'), [0.5])).toThrow(SketchDecodeError);
    expect(() => QuantileSketch.quantilesOfSerialized(bytes, [1.5])).toThrow(RangeError);
  });

  it('bins are capped: the lowest collapse, high quantiles and exact aggregates survive, order does not matter', () => {
    const random = seededRandom(7);
    // Integers spread log-uniformly over 1 … 10^6 (≈ 1,400 bins at α = 0.005): integer sums are exact in any order.
    const values = new Float64Array(30_000);
    for (let i = 0; i < values.length; i++) values[i] = Math.round(Math.exp(random.next() * Math.log(1e6)));
    const sorted = sortedCopy(values);
    const capped = sketchOf(values, { maxBins: 64 });
    expect(capped.binCount).toBeLessThanOrEqual(64);
    expectExactAggregates(capped, values, sorted);
    expect(capped.sum).toBe(floatSum(values));
    // γ^64 ≈ 1.9: the top 64 bins reach down to ≈ max/1.9, which covers p99 (≈ 10^6 · 10^−0.06).
    for (const q of [0.99, 0.995, 1]) {
      const exact = percentileCont(sorted, q).value;
      expect(relativeError(capped.quantile(q) as number, exact)).toBeLessThanOrEqual(DEFAULT_RELATIVE_ACCURACY + 1e-9);
    }
    // Collapsed low quantiles are over-estimated, but stay within [min, max].
    const p10 = capped.quantile(0.1) as number;
    expect(p10).toBeGreaterThan(percentileCont(sorted, 0.1).value * 1.5);
    expect(p10).toBeLessThanOrEqual(sorted[sorted.length - 1] as number);

    const bytes = capped.serialize();
    const reversed = sketchOf(values.slice().reverse(), { maxBins: 64 });
    expect(reversed.serialize().equals(bytes)).toBe(true);
    const merged = new QuantileSketch({ maxBins: 64 });
    for (const part of split(random, values, 80)) merged.merge(sketchOf(part, { maxBins: 64 }));
    expect(merged.serialize().equals(bytes)).toBe(true);
  });

  it('one absurd value cannot blow a row up', () => {
    const random = seededRandom(99);
    const sketch = sketchOf(pareto(random, 50_000));
    sketch.add(1e300).add(1e-300).add(-1e300).add(-1e-300).add(Number.MIN_VALUE).add(Number.MAX_VALUE);
    expect(sketch.binCount).toBeLessThanOrEqual(2 * 2048);
    expect(sketch.serialize().length).toBeLessThan(2 * 2048 * 4 + 64);
    expect(sketch.max).toBe(Number.MAX_VALUE);
    expect(sketch.min).toBe(-1e300);
    const copy = QuantileSketch.deserialize(sketch.serialize());
    expect(copy.quantiles(Q_GRID)).toEqual(sketch.quantiles(Q_GRID));
  });

  it('serialization round-trips byte for byte and is compact', () => {
    const random = seededRandom(5);
    const sketches = [
      new QuantileSketch(),
      sketchOf([0]),
      sketchOf([-3.5]),
      sketchOf([1, 2, 3, 0, -7, -7, 1e-9]),
      sketchOf(logNormal(random, 10_000)),
      sketchOf(pareto(random, 1000), { relativeAccuracy: 0.02, maxBins: 100 }),
    ];
    for (const sketch of sketches) {
      const bytes = sketch.serialize();
      const copy = QuantileSketch.deserialize(bytes);
      expect(copy.serialize().equals(bytes)).toBe(true);
      expect(copy.relativeAccuracy).toBe(sketch.relativeAccuracy);
      expect(copy.maxBins).toBe(sketch.maxBins);
      expect([copy.count, copy.sum, copy.min, copy.max]).toEqual([sketch.count, sketch.sum, sketch.min, sketch.max]);
      expect(copy.quantiles(Q_GRID)).toEqual(sketch.quantiles(Q_GRID));
    }
    expect(sketches[0]?.serialize().length).toBe(15); // header only (maxBins 2048 takes two varint bytes)
    // 10,000 log-normal values: a few hundred bins at about 2–3 bytes each.
    const big = sketches[4] as QuantileSketch;
    expect(big.serialize().length).toBeLessThan(40 + 3 * big.binCount);
  });

  it('rejects garbage, truncated and inconsistent buffers with a clear error', () => {
    const random = seededRandom(11);
    const values = [...logNormal(random, 60), 0, 0, ...logNormal(random, 40).map((v) => -v)];
    const buffer = sketchOf(values).serialize();
    expectRejectsTruncatedAndGarbage(buffer, (b) => QuantileSketch.deserialize(b), 12);
    expect(() => QuantileSketch.deserialize(new DistinctCountSketch().serialize())).toThrow(/magic/);
    expect(() => QuantileSketch.deserialize('nope' as unknown as Uint8Array)).toThrow(SketchDecodeError);
    const wrongVersion = Buffer.from(buffer);
    wrongVersion[1] = 2;
    expect(() => QuantileSketch.deserialize(wrongVersion)).toThrow(/version 2/);
    const { rejected } = expectCorruptionRejectedOrConsistent(buffer, (b) => QuantileSketch.deserialize(b).serialize());
    expect(rejected).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Distinct count

interface Population {
  size: number;
  add(sketch: DistinctCountSketch, user: number): void;
}

/** Users 0 … n−1 as string ids, hashed with the real hash. */
function stringUsers(n: number, prefix: string): Population {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  return { size: n, add: (sketch, user) => sketch.add(ids[user] as string) };
}

/**
 * Users 0 … n−1 with random 64-bit hashes from the seeded PRNG (no SHA-256 cost). Two of a million colliding has a
 * probability below 10^-7.
 */
function hashedUsers(n: number, seed: number): Population {
  const random = seededRandom(seed);
  const high = new Uint32Array(n);
  const low = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    high[i] = random.next() * 2 ** 32;
    low[i] = random.next() * 2 ** 32;
  }
  return { size: n, add: (sketch, user) => sketch.addHash(high[user] as number, low[user] as number) };
}

function sketchUsers(population: Population): DistinctCountSketch {
  const sketch = new DistinctCountSketch();
  for (let user = 0; user < population.size; user++) population.add(sketch, user);
  return sketch;
}

/**
 * 100 parts: part k holds a contiguous slice of the users (so every user is somewhere) plus, for a quarter as many
 * again, users drawn at random from the whole population (so parts overlap).
 */
function partsWithOverlap(population: Population, random: Random, parts = 100): DistinctCountSketch[] {
  const n = population.size;
  const out: DistinctCountSketch[] = [];
  for (let k = 0; k < parts; k++) {
    const sketch = new DistinctCountSketch();
    const from = Math.floor((k * n) / parts);
    const to = Math.floor(((k + 1) * n) / parts);
    for (let user = from; user < to; user++) population.add(sketch, user);
    const extra = Math.ceil((to - from) / 4) + (n > 1 ? 1 : 0);
    for (let e = 0; e < extra; e++) population.add(sketch, random.int(0, n - 1));
    out.push(sketch);
  }
  return out;
}

describe('DistinctCountSketch', () => {
  const cardinalities = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

  for (const n of cardinalities) {
    const title = `${n} distinct: within 2 % (exact ≤ ${EXACT_LIMIT}), also from 100 overlapping parts`;
    it(title, () => {
      const random = seededRandom(n);
      const population = n >= 1_000_000 ? hashedUsers(n, n) : stringUsers(n, `user-${n}`);
      const whole = sketchUsers(population);
      const merged = new DistinctCountSketch();
      for (const part of partsWithOverlap(population, random)) {
        merged.merge(DistinctCountSketch.deserialize(part.serialize()));
      }

      for (const sketch of [whole, merged]) {
        if (n <= EXACT_LIMIT) {
          expect(sketch.isExact).toBe(true);
          expect(sketch.estimate()).toBe(n);
        } else {
          expect(sketch.isExact).toBe(false);
          expect(relativeError(sketch.estimate(), n)).toBeLessThanOrEqual(0.02);
        }
      }
      // Registers are a max over the set's hashes, so the union of the parts serializes exactly like the whole.
      expect(merged.serialize().equals(whole.serialize())).toBe(true);
      const copy = DistinctCountSketch.deserialize(whole.serialize());
      expect(copy.estimate()).toBe(whole.estimate());
    });
  }

  it('is unbiased with the expected spread (RMSE ≈ 1.04/√m = 0.81 %) over many seeds, mid-range included', () => {
    for (const n of [300, 3_000, 30_000, 200_000]) {
      const errors: number[] = [];
      for (let seed = 1; seed <= 12; seed++) {
        errors.push((sketchUsers(hashedUsers(n, seed * 7919 + n)).estimate() - n) / n);
      }
      const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
      const rmse = Math.sqrt(errors.reduce((a, b) => a + b * b, 0) / errors.length);
      expect(Math.abs(mean), `mean error at n=${n}`).toBeLessThan(0.008);
      expect(rmse, `RMSE at n=${n}`).toBeLessThan(0.0125);
    }
  });

  it('counts exactly up to EXACT_LIMIT, through merges of overlapping exact parts, then switches form', () => {
    const random = seededRandom(3);
    const merged = new DistinctCountSketch();
    const seen = new Set<number>();
    for (let part = 0; part < 100 && seen.size < EXACT_LIMIT; part++) {
      const sketch = new DistinctCountSketch();
      for (let k = 0; k < 4; k++) {
        const user = random.int(0, 300);
        if (seen.size >= EXACT_LIMIT && !seen.has(user)) continue;
        seen.add(user);
        sketch.add(`u${user}`);
      }
      merged.merge(DistinctCountSketch.deserialize(sketch.serialize()));
      expect(merged.estimate()).toBe(seen.size);
      expect(merged.form).toBe('exact');
    }
    expect(seen.size).toBe(EXACT_LIMIT);
    merged.add('u-new');
    expect(merged.form).toBe('sparse');
    expect(Math.abs(merged.estimate() - (EXACT_LIMIT + 1))).toBeLessThanOrEqual(2);
    expect(merged.add('u-new').add('u0').estimate()).toBe(merged.estimate()); // duplicates change nothing
  });

  it('merges across forms (exact, sparse, dense) in any order to the same sketch', () => {
    const population = stringUsers(40_000, 'cross');
    const slice = (from: number, to: number) => {
      const sketch = new DistinctCountSketch();
      for (let user = from; user < to; user++) population.add(sketch, user);
      return sketch;
    };
    const exact = slice(0, 50);
    const sparse = slice(25, 1_000);
    const dense = slice(900, 40_000);
    expect([exact.form, sparse.form, dense.form]).toEqual(['exact', 'sparse', 'dense']);
    const expected = slice(0, 40_000).serialize();
    const orders = [
      [exact, sparse, dense],
      [dense, sparse, exact],
      [sparse, exact, dense],
      [sparse, dense, exact],
    ];
    for (const order of orders) {
      const merged = new DistinctCountSketch();
      for (const part of order) merged.merge(part);
      expect(merged.serialize().equals(expected)).toBe(true);
    }
    expect(dense.clone().merge(dense).serialize().equals(dense.serialize())).toBe(true); // idempotent
    expect([exact.estimate(), sparse.form, dense.form]).toEqual([50, 'sparse', 'dense']); // arguments untouched
    expect(() => new DistinctCountSketch().merge(new DistinctCountSketch({ precision: 12 }))).toThrow(/precision/);
  });

  it('has a fixed hash: first 8 bytes of SHA-256 of the UTF-8 id, big-endian', () => {
    // Same as `printf 'user-1' | sha256sum` and PostgreSQL's substring(sha256(convert_to(id, 'UTF8')) from 1 for 8).
    expect(hashId('')).toBe(0xe3b0c44298fc1c14n);
    expect(hashId('user-1')).toBe(0xc6c289e49e9c05b2n);
    expect(hashId('ü')).toBe(0x607474ca475a9724n);
    const viaHash = new DistinctCountSketch().addHash(0xc6c289e4, 0x9e9c05b2).serialize();
    expect(new DistinctCountSketch().add('user-1').serialize().equals(viaHash)).toBe(true);
  });

  it('serialization round-trips in every form, with the documented sizes', () => {
    const sizes: Record<number, number> = {};
    for (const n of [0, 10, 1_000, 100_000]) {
      const sketch = sketchUsers(stringUsers(n, 'size'));
      const bytes = sketch.serialize();
      sizes[n] = bytes.length;
      const copy = DistinctCountSketch.deserialize(bytes);
      expect(copy.serialize().equals(bytes)).toBe(true);
      expect(copy.estimate()).toBe(sketch.estimate());
      expect(copy.precision).toBe(14);
    }
    expect(sizes[0]).toBe(5); // header + count 0
    expect(sizes[10]).toBe(5 + 8 * 10); // exact: 8 bytes per hash
    expect(sizes[1_000]).toBeLessThan(2_500); // sparse: ≈ 2 bytes per non-zero register
    expect(sizes[100_000]).toBe(4 + 12_288); // dense: 16,384 registers × 6 bits
    const small = new DistinctCountSketch({ precision: 8 });
    for (let i = 0; i < 5_000; i++) small.add(`p8-${i}`);
    expect(DistinctCountSketch.deserialize(small.serialize()).precision).toBe(8);
  });

  it('rejects garbage, truncated and inconsistent buffers with a clear error', () => {
    const exact = sketchUsers(stringUsers(20, 'bad')).serialize();
    const sparse = sketchUsers(stringUsers(300, 'bad')).serialize();
    const dense = sketchUsers(stringUsers(30_000, 'bad')).serialize();
    expect([exact[3], sparse[3], dense[3]]).toEqual([0, 1, 2]);
    expectRejectsTruncatedAndGarbage(exact, (b) => DistinctCountSketch.deserialize(b), 21);
    expectRejectsTruncatedAndGarbage(sparse, (b) => DistinctCountSketch.deserialize(b), 22);
    for (let length = 0; length < dense.length; length += 97) {
      expect(() => DistinctCountSketch.deserialize(dense.subarray(0, length))).toThrow(/truncated/);
    }
    expect(() => DistinctCountSketch.deserialize(new QuantileSketch().serialize())).toThrow(/magic/);

    const tamper = (buffer: Buffer, at: number, value: number) => {
      const copy = Buffer.from(buffer);
      copy[at] = value;
      return copy;
    };
    expect(() => DistinctCountSketch.deserialize(tamper(exact, 1, 9))).toThrow(/version 9/);
    expect(() => DistinctCountSketch.deserialize(tamper(exact, 2, 30))).toThrow(/precision 30/);
    expect(() => DistinctCountSketch.deserialize(tamper(exact, 3, 7))).toThrow(/form 7/);
    // Exact hashes out of order: swap the first two.
    const swapped = Buffer.from(exact);
    exact.copy(swapped, 5, 13, 21);
    exact.copy(swapped, 13, 5, 13);
    expect(() => DistinctCountSketch.deserialize(swapped)).toThrow(/increasing/);
    // A dense register above 64 − p + 1 = 51 (all six bits set).
    expect(() => DistinctCountSketch.deserialize(tamper(dense, 4, 0xff))).toThrow(/out of range/);

    const roundTrip = (b: Uint8Array) => DistinctCountSketch.deserialize(b).serialize();
    const { rejected } = expectCorruptionRejectedOrConsistent(sparse, roundTrip);
    expect(rejected).toBeGreaterThan(0);
    expectCorruptionRejectedOrConsistent(exact, roundTrip);
  });
});

describe('FieldStats (a rollup row field: count, sum, min, max and a sketch kept serialized until merged)', () => {
  const statsOf = (values: number[]) => {
    const stats = new FieldStats();
    for (const value of values) stats.add(value);
    return stats;
  };
  /** As a rollup row stores it and a read gets it back: no sketch for two values or fewer. */
  const stored = (stats: FieldStats, loaded = true) =>
    FieldStats.from(stats.count, stats.count ? stats.sum : null, stats.count ? stats.min : null, stats.count ? stats.max : null, loaded ? stats.storedSketch() : undefined);
  const QS = ['p50', 'p95', 'p99'] as const;

  it('merges small, serialized and decoded parts in any order into what one FieldStats of all values holds', () => {
    const random = seededRandom(11);
    const parts = [[5], [1, 9], Array.from({ length: 300 }, () => Math.exp(5 * random.next())), [2, 3, 4], [], [7], Array.from({ length: 50 }, () => 100 * random.next())];
    const whole = statsOf(parts.flat());
    for (const order of [parts, [...parts].reverse(), [parts[3], parts[0], parts[6], parts[1], parts[2], parts[5], parts[4]] as number[][]]) {
      for (const consume of [false, true]) {
        const merged = new FieldStats();
        for (const part of order) (consume ? merged.absorb.bind(merged) : merged.merge.bind(merged))(stored(statsOf(part)));
        expect([merged.count, merged.sum, merged.min, merged.max]).toEqual([whole.count, expect.closeTo(whole.sum, 6), whole.min, whole.max]);
        for (const fn of QS) expect(merged.value(fn)).toBe(whole.value(fn));
        expect(Buffer.from(merged.storedSketch() as Uint8Array)).toEqual(Buffer.from(whole.storedSketch() as Uint8Array));
      }
    }
  });

  it('a merge leaves its argument alone; a row read without its sketch sums but refuses percentiles', () => {
    const row = stored(statsOf([1, 2, 3, 4, 5]));
    const before = QS.map((fn) => row.value(fn));
    const target = new FieldStats();
    target.merge(row);
    target.add(1000);
    target.merge(stored(statsOf([500, 600, 700])));
    expect(QS.map((fn) => row.value(fn))).toEqual(before);
    expect(row.count).toBe(5);

    const unloaded = new FieldStats();
    unloaded.absorb(stored(statsOf([1, 2, 3]), false));
    unloaded.merge(stored(statsOf([10, 20, 30])));
    expect([unloaded.count, unloaded.sum, unloaded.min, unloaded.max, unloaded.value('avg')]).toEqual([6, 66, 1, 30, 11]);
    expect(() => unloaded.value('p50')).toThrow(/without their sketch/);
    // Two values or fewer need no sketch: their percentiles stay exact.
    const small = new FieldStats();
    small.absorb(stored(statsOf([4, 8]), false));
    expect(small.value('p50')).toBe(6);
  });
});
