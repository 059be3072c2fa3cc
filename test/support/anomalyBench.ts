/**
 * Seeded synthetic series and detection scoring for the anomaly tests (test/alert-anomaly.test.ts).
 * Everything is deterministic: mulberry32 PRNG, Box–Muller gaussians, Student-t(3) for heavy tails.
 */
import { scanSeries, type ScanOptions, type SeriesPoint } from '../../src/modules/alerts/anomaly/index.js';

export const STEP_MS = 5 * 60_000;
export const POINTS_PER_DAY = 288;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rng: () => number): number {
  let u = rng();
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Student-t with 3 degrees of freedom, scaled to unit variance (its variance is 3). */
export function studentT3(rng: () => number): number {
  const z = gaussian(rng);
  let chi2 = 0;
  for (let i = 0; i < 3; i++) chi2 += gaussian(rng) ** 2;
  return z / Math.sqrt(chi2 / 3) / Math.sqrt(3);
}

export type EventKind = 'spike' | 'drop' | 'shift';
export interface InjectedEvent {
  kind: EventKind;
  /** Index of the first affected point. */
  start: number;
  /** Points affected (a shift lasts to the end of the series). */
  length: number;
  /** Indices after start during which an alert is attributed to this event. */
  influence: number;
}

export interface Scenario {
  seed: number;
  noise: 'gaussian' | 't3';
  /** Points of history before the evaluated span (the baseline). */
  warmup: number;
  /** Evaluated points. */
  span: number;
  /** Anomalies: spikes/drops of `size` σ lasting 3 points, one in each `every` points (default 144: twice a day), or one level shift. */
  inject?: { kind: EventKind; size: number; every?: number };
  /** Daily sinusoid amplitude, in σ. */
  daily?: number;
  /** Weekend offset (Saturday and Sunday), in σ. */
  weekend?: number;
}

const LEVEL = 100;
const SIGMA = 2;
/** 2024-01-01T00:00Z, a Monday. */
const T0 = Date.UTC(2024, 0, 1);

export function generate(s: Scenario): { series: SeriesPoint[]; events: InjectedEvent[] } {
  const rng = mulberry32(s.seed);
  const n = s.warmup + s.span;
  const series: SeriesPoint[] = [];
  for (let i = 0; i < n; i++) {
    const t = T0 + i * STEP_MS;
    let v = LEVEL + SIGMA * (s.noise === 'gaussian' ? gaussian(rng) : studentT3(rng));
    if (s.daily) v += s.daily * SIGMA * Math.sin((2 * Math.PI * (t % 86_400_000)) / 86_400_000);
    if (s.weekend) {
      const day = new Date(t).getUTCDay();
      if (day === 0 || day === 6) v -= s.weekend * SIGMA;
    }
    series.push({ t, v });
  }
  const events: InjectedEvent[] = [];
  const inject = s.inject;
  if (inject) {
    const delta = inject.size * SIGMA * (inject.kind === 'drop' ? -1 : 1);
    if (inject.kind === 'shift') {
      const start = s.warmup + Math.floor(s.span / 4) + Math.floor(rng() * (s.span / 4));
      for (let i = start; i < n; i++) series[i]!.v += delta;
      events.push({ kind: 'shift', start, length: n - start, influence: POINTS_PER_DAY });
    } else {
      const every = inject.every ?? 144;
      // Spikes also land in the warm-up, so baselines hold earlier anomalies as they would in production.
      for (let base = 0; base + every <= n; base += every) {
        const start = base + 6 + Math.floor(rng() * (every - 12));
        for (let i = start; i < start + 3; i++) series[i]!.v += delta;
        if (start >= s.warmup) events.push({ kind: inject.kind, start, length: 3, influence: 3 + 2 });
      }
    }
  }
  return { series, events };
}

export interface Detection {
  events: number;
  detected: number;
  alerts: number;
  trueAlerts: number;
  /** Evaluated points outside any event's influence. */
  quietPoints: number;
  falsePoints: number;
}

/** Scans the series and matches alert episodes (runs of firing points) with injected events. */
export function detect(scenario: Scenario, options: ScanOptions): Detection {
  const { series, events } = generate(scenario);
  const evaluated = scanSeries(series, { ...options, evaluateFrom: series[scenario.warmup]!.t });
  // Index by series position; the warm-up is history only and is not scored.
  const scanned = (i: number) => evaluated[i - scenario.warmup];
  const influenced = new Uint8Array(series.length);
  for (const e of events) for (let i = e.start; i < Math.min(series.length, e.start + e.influence); i++) influenced[i] = 1;
  const result: Detection = { events: events.length, detected: 0, alerts: 0, trueAlerts: 0, quietPoints: 0, falsePoints: 0 };
  for (const e of events) {
    const end = e.kind === 'shift' ? e.start + 12 : e.start + e.length; // a shift must be caught within an hour
    if (evaluated.slice(e.start - scenario.warmup, end - scenario.warmup).some((p) => p.firing)) result.detected++;
  }
  for (let i = scenario.warmup; i < series.length; i++) {
    const firing = scanned(i)!.firing;
    if (!influenced[i]) {
      result.quietPoints++;
      if (firing) result.falsePoints++;
    }
    if (firing && !(i > scenario.warmup && scanned(i - 1)!.firing)) {
      result.alerts++;
      if (influenced[i]) result.trueAlerts++;
    }
  }
  return result;
}

export function sum(list: Detection[]): Detection {
  return list.reduce((a, b) => ({
    events: a.events + b.events,
    detected: a.detected + b.detected,
    alerts: a.alerts + b.alerts,
    trueAlerts: a.trueAlerts + b.trueAlerts,
    quietPoints: a.quietPoints + b.quietPoints,
    falsePoints: a.falsePoints + b.falsePoints,
  }));
}

export interface Figures {
  recall: number;
  precision: number;
  fpRate: number;
}

export function figures(d: Detection): Figures {
  return {
    recall: d.events > 0 ? d.detected / d.events : NaN,
    precision: d.alerts > 0 ? d.trueAlerts / d.alerts : NaN,
    fpRate: d.quietPoints > 0 ? d.falsePoints / d.quietPoints : NaN,
  };
}
