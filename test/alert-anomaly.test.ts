import { beforeAll, describe, expect, it } from 'vitest';
import {
  ANOMALY_DEFAULTS,
  ewmaEstimate,
  madEstimate,
  MAD_TO_SIGMA,
  scanOptionsFromCondition,
  scanSeries,
  scoreAnomaly,
  seasonalNeighbours,
  zscoreEstimate,
  type AnomalyModel,
  type ScanOptions,
  type SeriesPoint,
} from '../src/modules/alerts/anomaly/index.js';
import { parseCondition, type AnomalyCondition } from '../src/modules/alerts/condition/index.js';
import { detect, figures, gaussian, mulberry32, POINTS_PER_DAY, STEP_MS, sum, type Figures, type Scenario } from './support/anomalyBench.js';

const DAY = 86_400_000;
const series = (values: number[], step = STEP_MS, t0 = 0): SeriesPoint[] => values.map((v, i) => ({ t: t0 + i * step, v }));
const at = (t: number, v: number): SeriesPoint => ({ t, v });

describe('estimates', () => {
  it('zscore: mean and sample standard deviation', () => {
    const e = zscoreEstimate([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(e.expected).toBe(5);
    expect(e.scale).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });

  it('mad: median and 1.4826·MAD, so z = 0.6745·(x − median)/MAD', () => {
    const values = [1, 2, 3, 4, 100, 6, 7];
    const e = madEstimate(values);
    expect(e.expected).toBe(4);
    expect(e.scale).toBeCloseTo(MAD_TO_SIGMA * 2, 12); // |x − 4| = 3 2 1 0 96 2 3 → MAD 2
    const z = scoreAnomaly(series(values), at(1e9, 10), { model: 'mad', minPoints: 3 }).score;
    expect(z).toBeCloseTo((0.6745 * (10 - 4)) / 2, 3);
    expect(madEstimate([1, 2, 3, 4]).expected).toBe(2.5);
  });

  it('mad: MAD 0 (most of the baseline on one value) falls back to 1.2533 × mean absolute deviation', () => {
    const e = madEstimate([0, 0, 0, 0, 0, 0, 0, 4]);
    expect(e.expected).toBe(0);
    expect(e.scale).toBeCloseTo(1.2533141373155001 * 0.5, 12);
  });

  it('ewma: follows the recent level; an isolated spike barely moves it (clipped updates)', () => {
    const steady = Array.from({ length: 200 }, (_, i) => 10 + (i % 2 === 0 ? 1 : -1));
    expect(ewmaEstimate(steady).expected).toBeCloseTo(10, 0);
    const shifted = [...steady, ...Array.from({ length: 150 }, (_, i) => 30 + (i % 2 === 0 ? 1 : -1))];
    expect(ewmaEstimate(shifted).expected).toBeCloseTo(30, 0);
    const spiked = [...steady.slice(0, 199), 1000];
    expect(ewmaEstimate(spiked).expected).toBeLessThan(10.5);
    expect(ewmaEstimate(spiked).scale).toBeLessThan(1.5);
    expect(ewmaEstimate([5]).expected).toBe(5);
  });
});

describe('scoreAnomaly', () => {
  const rng = mulberry32(42);
  const noise = series(Array.from({ length: POINTS_PER_DAY }, () => 100 + 2 * gaussian(rng)));
  const now = POINTS_PER_DAY * STEP_MS;

  it('score, expected value and band', () => {
    for (const model of ['zscore', 'ewma', 'mad'] as AnomalyModel[]) {
      const r = scoreAnomaly(noise, at(now, 112), { model });
      expect(r.expected).toBeGreaterThan(99);
      expect(r.expected).toBeLessThan(101);
      expect(r.scale).toBeGreaterThan(1.5);
      expect(r.scale).toBeLessThan(2.5);
      expect(r.score).toBeCloseTo((112 - r.expected) / r.scale, 12);
      expect(r.lower).toBeCloseTo(r.expected - 3 * r.scale, 12);
      expect(r.upper).toBeCloseTo(r.expected + 3 * r.scale, 12);
      expect(r).toMatchObject({ points: POINTS_PER_DAY, enoughData: true, anomalous: true });
      expect(scoreAnomaly(noise, at(now, r.expected + 1), { model }).anomalous).toBe(false);
    }
  });

  it('direction: up, down or both', () => {
    const high = at(now, 120);
    const low = at(now, 80);
    expect(scoreAnomaly(noise, high, { direction: 'up' }).anomalous).toBe(true);
    expect(scoreAnomaly(noise, low, { direction: 'up' }).anomalous).toBe(false);
    expect(scoreAnomaly(noise, low, { direction: 'down' }).anomalous).toBe(true);
    expect(scoreAnomaly(noise, high, { direction: 'down' }).anomalous).toBe(false);
    expect(scoreAnomaly(noise, low, { direction: 'both' }).anomalous).toBe(true);
    expect(scoreAnomaly(noise, at(now, 107), { threshold: 6 }).anomalous).toBe(false);
  });

  it('zero variance: the scale floor (1e-3·|expected|, at least 1e-9) keeps scores finite', () => {
    const flat = series(Array(50).fill(50));
    for (const model of ['zscore', 'ewma', 'mad'] as AnomalyModel[]) {
      expect(scoreAnomaly(flat, at(1e9, 50), { model })).toMatchObject({ score: 0, expected: 50, anomalous: false });
      const moved = scoreAnomaly(flat, at(1e9, 50.5), { model });
      expect(moved.scale).toBeCloseTo(0.05, 12);
      expect(moved.score).toBeCloseTo(10, 9);
      expect(moved.anomalous).toBe(true);
      expect(scoreAnomaly(flat, at(1e9, 50.1), { model }).anomalous).toBe(false); // 2 floor units
      const zeros = series(Array(50).fill(0));
      expect(scoreAnomaly(zeros, at(1e9, 0), { model }).score).toBe(0);
      expect(scoreAnomaly(zeros, at(1e9, 1), { model }).score).toBeCloseTo(1e9, 0); // 1 / 1e-9
      expect(scoreAnomaly(zeros, at(1e9, 1), { model, minScale: 0.5 }).score).toBe(2);
    }
  });

  it('not enough data: never anomalous; an empty baseline scores 0', () => {
    const short = noise.slice(0, ANOMALY_DEFAULTS.minPoints - 1);
    expect(scoreAnomaly(short, at(now, 1000))).toMatchObject({ enoughData: false, anomalous: false, points: 19 });
    expect(scoreAnomaly(short, at(now, 1000)).score).toBeGreaterThan(100);
    expect(scoreAnomaly(short, at(now, 1000), { minPoints: 19 }).anomalous).toBe(true);
    const empty = scoreAnomaly([], at(now, 5));
    expect(empty).toMatchObject({ score: 0, points: 0, enoughData: false, anomalous: false });
    expect(empty.expected).toBeNaN();
  });

  it('non-finite values are ignored in the baseline; a non-finite current value is not anomalous', () => {
    const dirty = [...noise, at(now - 1, NaN), at(now - 2, Infinity)];
    expect(scoreAnomaly(dirty, at(now, 100)).points).toBe(POINTS_PER_DAY);
    const r = scoreAnomaly(noise, at(now, NaN));
    expect(r.score).toBeNaN();
    expect(r.anomalous).toBe(false);
  });

  it('mad is robust to an earlier outlier in the baseline; zscore is not', () => {
    const polluted = noise.map((p, i) => (i === 100 ? { ...p, v: 100 + 2 * 1000 } : p)); // one point at 1000σ
    const current = at(now, 100 + 2 * 6); // 6σ
    const m = scoreAnomaly(polluted, current, { model: 'mad' });
    expect(Math.abs(m.expected - 100)).toBeLessThan(0.4);
    expect(m.scale).toBeGreaterThan(1.6);
    expect(m.scale).toBeLessThan(2.4);
    expect(m.score).toBeGreaterThan(4.5);
    expect(m.anomalous).toBe(true);
    const z = scoreAnomaly(polluted, current, { model: 'zscore' });
    expect(z.scale).toBeGreaterThan(50);
    expect(z.anomalous).toBe(false);
    expect(scoreAnomaly(polluted, current, { model: 'ewma' }).anomalous).toBe(true); // 188 points after the outlier
  });

  it('seasonality: only points at the same time of day/week (± 30 min) in earlier periods', () => {
    const t0 = Date.UTC(2024, 0, 1);
    const history = series(Array.from({ length: 15 * POINTS_PER_DAY }, (_, i) => i), STEP_MS, t0);
    const now = t0 + 15 * DAY + 12 * 3_600_000; // day 15, 12:00
    const baseline = history.filter((p) => p.t >= now - 14 * DAY);
    const daily = seasonalNeighbours(baseline, now, 'daily');
    expect(daily).toHaveLength(13 * 13 + 7); // 13 slots per earlier day (11:30–12:30), the oldest day cut at now − 14d
    expect(daily.every((p) => Math.abs(((now - p.t + DAY / 2) % DAY) - DAY / 2) <= 30 * 60_000)).toBe(true);
    expect(daily.some((p) => now - p.t < DAY / 2)).toBe(false); // nothing from the last hour of today
    const weekly = seasonalNeighbours(baseline, now, 'weekly');
    expect(weekly).toHaveLength(13 + 7);
    expect(seasonalNeighbours(baseline, now, 'none')).toHaveLength(baseline.length);
    expect(scoreAnomaly(baseline, at(now, 0), { seasonality: 'weekly', minPoints: 21 }).enoughData).toBe(false);
  });
});

describe('scanSeries', () => {
  it('seasonal scans select the same baseline as scoreAnomaly does', () => {
    const rng = mulberry32(3);
    const t0 = Date.UTC(2024, 0, 1);
    const points = series(Array.from({ length: 16 * POINTS_PER_DAY }, () => gaussian(rng)), STEP_MS, t0);
    const options = { seasonality: 'weekly', baselineMs: 14 * DAY, minPoints: 5 } as const;
    const scanned = scanSeries(points, { ...options, evaluateFrom: t0 + 15 * DAY });
    expect(scanned.length).toBe(POINTS_PER_DAY);
    for (const p of scanned.filter((_, i) => i % 37 === 0)) {
      const baseline = points.filter((q) => q.t >= p.t - options.baselineMs && q.t < p.t);
      expect(scoreAnomaly(baseline, p, options)).toEqual({ ...p, t: undefined, v: undefined, firing: undefined });
    }
    expect(() => scanSeries(points, { ...options, seasonalToleranceMs: 4 * DAY })).toThrow(RangeError);
  });

  it('fires after `for` consecutive anomalous points, and only then', () => {
    const values = Array.from({ length: 60 }, (_, i) => 10 + (i % 3) - 1);
    values[40] = 100;
    values[50] = 100;
    values[51] = 100;
    values[52] = 100;
    const scanned = scanSeries(series(values), { baselineMs: 30 * STEP_MS, forPoints: 2, minPoints: 10 });
    expect(scanned.filter((p) => p.anomalous).map((p) => p.t / STEP_MS)).toEqual([40, 50, 51, 52]);
    expect(scanned.filter((p) => p.firing).map((p) => p.t / STEP_MS)).toEqual([51, 52]);
    expect(scanned[5]!.enoughData).toBe(false); // the first 10 points have too short a baseline
  });

  it('uses [t − baseline, t) as each point’s baseline, sorts its input, and can skip a warm-up', () => {
    const points = series(Array.from({ length: 100 }, (_, i) => i));
    const scanned = scanSeries([...points].reverse(), { baselineMs: 10 * STEP_MS, minPoints: 3, evaluateFrom: 90 * STEP_MS });
    expect(scanned.map((p) => p.t / STEP_MS)).toEqual(Array.from({ length: 10 }, (_, i) => 90 + i));
    expect(scanned.every((p) => p.points === 10)).toBe(true);
    const sameTime = scanSeries([at(0, 1), at(0, 1), at(0, 1), at(0, 5)], { baselineMs: 1000, minPoints: 1 });
    expect(sameTime.map((p) => p.points)).toEqual([0, 0, 0, 0]);
  });

  it('scanOptionsFromCondition reads an anomaly(…) condition', () => {
    const c = parseCondition('anomaly(avg(cpu_usage[5m]), model=ewma, alpha=0.1, baseline=2d, threshold=4, direction=up, min_points=30)') as AnomalyCondition;
    expect(scanOptionsFromCondition(c, 3)).toEqual({
      model: 'ewma', alpha: 0.1, threshold: 4, direction: 'up', seasonality: 'none', minPoints: 30, baselineMs: 2 * DAY, forPoints: 3,
    });
    expect(scanOptionsFromCondition(parseCondition('anomaly(x)') as AnomalyCondition)).not.toHaveProperty('alpha');
  });
});

/**
 * Detection quality on seeded synthetic series: level 100, σ = 2, one point every 5 minutes, threshold 3 and
 * `for` = 2 points (the defaults but `for`), so the figures are reproducible; they are the ones in the README.
 */
describe('detection quality (seeded synthetic series, threshold 3, for = 2 points)', () => {
  const MODELS: AnomalyModel[] = ['zscore', 'ewma', 'mad'];
  const day = POINTS_PER_DAY;
  const oneDay: Omit<Scenario, 'seed'> = { noise: 'gaussian', warmup: day, span: 2 * day };
  const scenarios: { name: string; scenario: Omit<Scenario, 'seed'>; seeds: number; options?: Partial<ScanOptions>; single?: boolean }[] = [
    { name: 'clean gaussian', scenario: oneDay, seeds: 6, single: true },
    { name: 'clean student-t(3)', scenario: { ...oneDay, noise: 't3' }, seeds: 6, single: true },
    { name: 'spikes +6σ', scenario: { ...oneDay, inject: { kind: 'spike', size: 6 } }, seeds: 6 },
    { name: 'drops −6σ', scenario: { ...oneDay, inject: { kind: 'drop', size: 6 } }, seeds: 6 },
    { name: 'level shift +5σ', scenario: { ...oneDay, inject: { kind: 'shift', size: 5 } }, seeds: 6 },
    { name: 'spikes +6σ every 6 h', scenario: { ...oneDay, inject: { kind: 'spike', size: 6, every: 72 } }, seeds: 4 },
    { name: 'spikes +6σ, student-t(3)', scenario: { ...oneDay, noise: 't3', inject: { kind: 'spike', size: 6 } }, seeds: 6 },
    { name: 'daily pattern, spikes, no seasonality', scenario: { ...oneDay, daily: 10, inject: { kind: 'spike', size: 6 } }, seeds: 4 },
    {
      name: 'daily pattern, spikes, seasonality=daily',
      scenario: { ...oneDay, warmup: 7 * day, daily: 10, inject: { kind: 'spike', size: 6 } },
      seeds: 4,
      options: { seasonality: 'daily', baselineMs: 7 * DAY },
    },
    {
      name: 'weekly pattern, spikes, seasonality=weekly',
      scenario: { ...oneDay, warmup: 28 * day, daily: 10, weekend: 8, inject: { kind: 'spike', size: 6 } },
      seeds: 3,
      options: { seasonality: 'weekly', baselineMs: 28 * DAY },
    },
  ];

  const results = new Map<string, Figures>();
  const rows: Record<string, string | number>[] = [];
  beforeAll(() => {
    const pct = (x: number, digits = 1) => (Number.isNaN(x) ? '—' : `${(100 * x).toFixed(digits)} %`);
    for (const { name, scenario, seeds, options, single } of scenarios) {
      for (const model of MODELS) {
        const runs = Array.from({ length: seeds }, (_, i) =>
          detect({ ...scenario, seed: 1000 + i }, { model, baselineMs: DAY, threshold: 3, forPoints: 2, ...options }),
        );
        const total = sum(runs);
        const f = figures(total);
        results.set(`${name}/${model}`, f);
        // On clean noise, also the rate of single anomalous points (for = 1): what `for` filters out.
        const single1 = single
          ? figures(sum(Array.from({ length: seeds }, (_, i) => detect({ ...scenario, seed: 1000 + i }, { model, baselineMs: DAY, threshold: 3, forPoints: 1, ...options }))))
          : undefined;
        rows.push({
          scenario: name,
          model,
          events: total.events,
          alerts: total.alerts,
          recall: pct(f.recall),
          precision: pct(f.precision),
          'FP rate': pct(f.fpRate, 2),
          'FP rate, for=1': single1 ? pct(single1.fpRate, 2) : '',
        });
        if (single1) results.set(`${name}/${model}/for1`, single1);
      }
    }
  });
  const get = (name: string, model: AnomalyModel) => results.get(`${name}/${model}`)!;

  it('prints the figures', () => {
    console.table(rows);
    expect(rows).toHaveLength(scenarios.length * MODELS.length);
  });

  it('false-positive rate ≤ 1 % on clean noise, gaussian or heavy-tailed', () => {
    for (const model of MODELS) {
      expect(get('clean gaussian', model).fpRate, model).toBeLessThanOrEqual(0.01);
      expect(get('clean student-t(3)', model).fpRate, model).toBeLessThanOrEqual(0.01);
      // Without `for`, single points beyond 3σ: about 0.27 % for gaussian noise, more with heavy tails.
      expect(results.get(`clean gaussian/${model}/for1`)!.fpRate, model).toBeLessThanOrEqual(0.01);
      expect(results.get(`clean student-t(3)/${model}/for1`)!.fpRate, model).toBeLessThanOrEqual(0.05); // mad: the core of t(3) is narrower than its σ
    }
  });

  it('recall ≥ 90 % and precision ≥ 90 % on 6σ spikes, 6σ drops and 5σ level shifts', () => {
    for (const model of MODELS) {
      for (const name of ['spikes +6σ', 'drops −6σ', 'level shift +5σ', 'spikes +6σ, student-t(3)']) {
        const f = get(name, model);
        expect({ name, model, recall: f.recall >= 0.9, precision: f.precision >= 0.9, fp: f.fpRate <= 0.01 }).toEqual({
          name,
          model,
          recall: true,
          precision: true,
          fp: true,
        });
      }
    }
  });

  it('robustness: with frequent spikes in the baseline mad keeps its recall, zscore loses some', () => {
    expect(get('spikes +6σ every 6 h', 'mad').recall).toBeGreaterThanOrEqual(0.95);
    expect(get('spikes +6σ every 6 h', 'ewma').recall).toBeGreaterThanOrEqual(0.9);
    expect(get('spikes +6σ every 6 h', 'zscore').recall).toBeLessThan(get('spikes +6σ every 6 h', 'mad').recall);
  });

  it('seasonality: a daily pattern hides spikes from a flat baseline; comparing with the same hour finds them (best with mad)', () => {
    for (const model of MODELS) {
      const flat = get('daily pattern, spikes, no seasonality', model);
      const daily = get('daily pattern, spikes, seasonality=daily', model);
      const weekly = get('weekly pattern, spikes, seasonality=weekly', model);
      expect(flat.recall).toBeLessThan(0.5);
      expect([model, daily.recall >= 0.8, daily.fpRate <= 0.01, daily.recall > flat.recall]).toEqual([model, true, true, true]);
      expect([model, weekly.recall >= 0.6, weekly.fpRate <= 0.01, weekly.recall > flat.recall]).toEqual([model, true, true, true]);
    }
    expect(get('daily pattern, spikes, seasonality=daily', 'mad').recall).toBeGreaterThanOrEqual(0.9);
    expect(get('weekly pattern, spikes, seasonality=weekly', 'mad').recall).toBeGreaterThanOrEqual(0.9);
  });
});
