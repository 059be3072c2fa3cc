/**
 * Formatting shared by the HTML, text and e-mail renderers: numbers, dates in the report's time zone,
 * HTML escaping, and the catalogue of headline figures (label, unit, which direction is good).
 */
import type { Change, Metric, ReportData, ReportType } from './types.js';

// ---------------------------------------------------------------------------------------------- escaping

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Removes line breaks and other control characters (for one-line contexts such as a mail subject). */
export function oneLine(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------- numbers

export type ValueKind = 'count' | 'ms' | 'ratio';
/** Which way a figure should move: decides the colour of its change arrow. */
export type Polarity = 'up-is-good' | 'down-is-good' | 'neutral';

const LOCALE = 'en-US';
const intFmt = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const dec1Fmt = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });

export const DASH = '—';

export function formatCount(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return DASH;
  return Number.isInteger(n) ? intFmt.format(n) : dec1Fmt.format(n);
}

export function formatMs(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return DASH;
  return `${Math.abs(n) < 10 ? dec1Fmt.format(n) : intFmt.format(n)} ms`;
}

/** A share (0–1) as a percentage: two decimals under 1 %, one above. */
export function formatPercent(share: number | null): string {
  if (share === null || !Number.isFinite(share)) return DASH;
  const pct = share * 100;
  const digits = pct !== 0 && Math.abs(pct) < 1 ? 2 : 1;
  return `${new Intl.NumberFormat(LOCALE, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(pct)}%`;
}

/** A value that is already a percentage (0–100), e.g. cpu use. */
export function formatPct100(pct: number | null): string {
  if (pct === null || !Number.isFinite(pct)) return DASH;
  return `${new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(pct)}%`;
}

export function formatValue(kind: ValueKind, n: number | null): string {
  switch (kind) {
    case 'count':
      return formatCount(n);
    case 'ms':
      return formatMs(n);
    case 'ratio':
      return formatPercent(n);
  }
}

function signed(text: string, n: number): string {
  if (n > 0) return `+${text}`;
  if (n < 0) return `−${text.replace(/^-/, '')}`; // a real minus sign
  return text;
}

/** The absolute change in the figure's unit; a ratio's change is given in percentage points. */
export function formatAbsoluteChange(kind: ValueKind, n: number | null): string {
  if (n === null || !Number.isFinite(n)) return DASH;
  switch (kind) {
    case 'count':
      return signed(formatCount(Math.abs(n)), n);
    case 'ms':
      return signed(formatMs(Math.abs(n)), n);
    case 'ratio': {
      const pp = Math.abs(n * 100);
      const digits = pp !== 0 && pp < 1 ? 2 : 1;
      return signed(`${new Intl.NumberFormat(LOCALE, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(pp)} pp`, n);
    }
  }
}

export function formatRelativeChange(change: Change): string {
  if (change.relative === null || !Number.isFinite(change.relative)) {
    return change.absolute !== null && change.absolute > 0 ? 'new' : DASH;
  }
  const pct = Math.abs(change.relative * 100);
  return signed(`${new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(pct)}%`, change.relative);
}

export type Trend = 'up' | 'down' | 'flat' | 'unknown';
export type Tone = 'good' | 'bad' | 'neutral';

export function trendOf(change: Change): Trend {
  if (change.absolute === null) return 'unknown';
  if (change.absolute > 0) return 'up';
  if (change.absolute < 0) return 'down';
  return 'flat';
}

export function toneOf(trend: Trend, polarity: Polarity): Tone {
  if (trend === 'up') return polarity === 'up-is-good' ? 'good' : polarity === 'down-is-good' ? 'bad' : 'neutral';
  if (trend === 'down') return polarity === 'down-is-good' ? 'good' : polarity === 'up-is-good' ? 'bad' : 'neutral';
  return 'neutral';
}

export const ARROWS: Record<Trend, string> = { up: '▲', down: '▼', flat: '▶', unknown: '•' };

// ------------------------------------------------------------------------------------------------ dates

function parts(iso: string, timeZone: string, options: Intl.DateTimeFormatOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', ...options }).formatToParts(new Date(iso))) {
    out[p.type] = p.value;
  }
  return out;
}

/** `2024-01-15`: the calendar date of an instant in the time zone. */
export function isoDate(iso: string, timeZone: string): string {
  const p = parts(iso, timeZone, { year: 'numeric', month: '2-digit', day: '2-digit' });
  return `${p.year}-${p.month}-${p.day}`;
}

/** `15 Jan 2024, 14:30`. */
export function formatDateTime(iso: string, timeZone: string): string {
  const p = parts(iso, timeZone, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return `${p.day} ${p.month} ${p.year}, ${p.hour}:${p.minute}`;
}

/** `15 Jan 2024`. */
export function formatDate(iso: string, timeZone: string): string {
  const p = parts(iso, timeZone, { year: 'numeric', month: 'short', day: 'numeric' });
  return `${p.day} ${p.month} ${p.year}`;
}

function isLocalMidnight(iso: string, timeZone: string): boolean {
  const p = parts(iso, timeZone, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return p.hour === '00' && p.minute === '00' && p.second === '00';
}

/** The last instant inside the half-open period. */
function lastInstant(periodEnd: string): string {
  return new Date(new Date(periodEnd).getTime() - 1).toISOString();
}

/** Whether the period covers whole local days (starts and ends at midnight in the time zone). */
function wholeDays(data: Pick<ReportData, 'periodStart' | 'periodEnd' | 'timeZone'>): boolean {
  return isLocalMidnight(data.periodStart, data.timeZone) && isLocalMidnight(data.periodEnd, data.timeZone);
}

/** For subjects and titles: `2024-01-15` for one day, `2024-01-15 to 2024-01-21` otherwise. */
export function periodShortLabel(data: Pick<ReportData, 'periodStart' | 'periodEnd' | 'timeZone'>): string {
  const { periodStart, periodEnd, timeZone } = data;
  if (wholeDays(data)) {
    const first = isoDate(periodStart, timeZone);
    const last = isoDate(lastInstant(periodEnd), timeZone);
    return first === last ? first : `${first} to ${last}`;
  }
  return `${formatDateTime(periodStart, timeZone)} to ${formatDateTime(periodEnd, timeZone)}`;
}

/** For headers: `Monday 15 January 2024` for one day, `15 Jan 2024 – 21 Jan 2024`, or with times. */
export function periodLongLabel(data: Pick<ReportData, 'periodStart' | 'periodEnd' | 'timeZone'>): string {
  const { periodStart, periodEnd, timeZone } = data;
  if (wholeDays(data)) {
    const last = lastInstant(periodEnd);
    if (isoDate(periodStart, timeZone) === isoDate(last, timeZone)) {
      const p = parts(periodStart, timeZone, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
      return `${p.weekday} ${p.day} ${p.month} ${p.year}`;
    }
    return `${formatDate(periodStart, timeZone)} – ${formatDate(last, timeZone)}`;
  }
  return `${formatDateTime(periodStart, timeZone)} – ${formatDateTime(periodEnd, timeZone)}`;
}

/** An axis label for a time bucket. */
export function bucketLabel(iso: string, timeZone: string, granularity: 'HOUR' | 'DAY', multiDay: boolean): string {
  if (granularity === 'DAY') {
    const p = parts(iso, timeZone, { month: 'short', day: 'numeric' });
    return `${p.day} ${p.month}`;
  }
  const p = parts(iso, timeZone, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return multiDay ? `${p.day} ${p.month} ${p.hour}:${p.minute}` : `${p.hour}:${p.minute}`;
}

export function spansSeveralDays(isos: readonly string[], timeZone: string): boolean {
  const first = isos[0];
  const last = isos[isos.length - 1];
  return first !== undefined && last !== undefined && isoDate(first, timeZone) !== isoDate(last, timeZone);
}

const TYPE_WORDS: Record<ReportType, string> = { DAILY: 'daily', WEEKLY: 'weekly', MONTHLY: 'monthly', CUSTOM: 'custom' };
const PREVIOUS_WORDS: Record<ReportType, string> = {
  DAILY: 'previous day',
  WEEKLY: 'previous week',
  MONTHLY: 'previous month',
  CUSTOM: 'previous period',
};

export function typeWord(type: ReportType): string {
  return TYPE_WORDS[type];
}

export function previousWord(type: ReportType): string {
  return PREVIOUS_WORDS[type];
}

/** `Insights daily report — 2024-01-15 (Europe/Paris)`. */
export function reportTitle(data: ReportData): string {
  return oneLine(`Insights ${typeWord(data.type)} report — ${periodShortLabel(data)} (${data.timeZone})`);
}

// ------------------------------------------------------------------------------- headline figure catalogue

export interface MetricDef {
  key: string;
  label: string;
  kind: ValueKind;
  polarity: Polarity;
  get(data: ReportData): Metric;
}

export const USER_METRICS: readonly MetricDef[] = [
  { key: 'newUsers', label: 'New users', kind: 'count', polarity: 'up-is-good', get: (d) => d.users.newUsers },
  { key: 'activeUsers', label: 'Active users', kind: 'count', polarity: 'up-is-good', get: (d) => d.users.activeUsers },
  { key: 'dau', label: 'DAU', kind: 'count', polarity: 'up-is-good', get: (d) => d.users.dau },
  { key: 'wau', label: 'WAU', kind: 'count', polarity: 'up-is-good', get: (d) => d.users.wau },
  { key: 'mau', label: 'MAU', kind: 'count', polarity: 'up-is-good', get: (d) => d.users.mau },
  { key: 'stickiness', label: 'Stickiness (DAU/MAU)', kind: 'ratio', polarity: 'up-is-good', get: (d) => d.users.stickiness },
  { key: 'totalUsers', label: 'Total users seen', kind: 'count', polarity: 'up-is-good', get: (d) => d.users.totalUsers },
];

export const PROJECT_METRICS: readonly MetricDef[] = [
  { key: 'created', label: 'Projects created', kind: 'count', polarity: 'up-is-good', get: (d) => d.projects.created },
  { key: 'published', label: 'Projects published', kind: 'count', polarity: 'up-is-good', get: (d) => d.projects.published },
  { key: 'totalCreated', label: 'Total projects', kind: 'count', polarity: 'up-is-good', get: (d) => d.projects.totalCreated },
];

export const PERFORMANCE_METRICS: readonly MetricDef[] = [
  { key: 'totalRequests', label: 'Requests', kind: 'count', polarity: 'neutral', get: (d) => d.performance.totalRequests },
  { key: 'avgResponseMs', label: 'Avg response time', kind: 'ms', polarity: 'down-is-good', get: (d) => d.performance.avgResponseMs },
  { key: 'p95ResponseMs', label: 'p95 response time', kind: 'ms', polarity: 'down-is-good', get: (d) => d.performance.p95ResponseMs },
  { key: 'p99ResponseMs', label: 'p99 response time', kind: 'ms', polarity: 'down-is-good', get: (d) => d.performance.p99ResponseMs },
  { key: 'errorRate', label: 'Error rate', kind: 'ratio', polarity: 'down-is-good', get: (d) => d.performance.errorRate },
];

function find(defs: readonly MetricDef[], key: string): MetricDef {
  const def = defs.find((d) => d.key === key);
  if (!def) throw new Error(`unknown metric ${key}`);
  return def;
}

/** The figures of the summary cards at the top of the report. */
export const SUMMARY_METRICS: readonly MetricDef[] = [
  find(USER_METRICS, 'activeUsers'),
  find(USER_METRICS, 'newUsers'),
  find(USER_METRICS, 'stickiness'),
  find(PROJECT_METRICS, 'created'),
  find(PERFORMANCE_METRICS, 'totalRequests'),
  find(PERFORMANCE_METRICS, 'p95ResponseMs'),
  find(PERFORMANCE_METRICS, 'errorRate'),
  find(PROJECT_METRICS, 'published'),
];
