import type { Logger } from 'pino';
import type { Queryable } from '../../core/db/sql.js';
import { presentError } from '../../core/errors.js';
import { InputValidationError, invalidInput, issue, textProblem, type InputIssue } from '../../core/input.js';
import type { JsonValue } from '../../core/json.js';
import type { AggregateQuery, AggregateRow, Measure, MeasureFunction, ReadTrace } from '../analytics/model.js';
import { measureKey } from '../analytics/model.js';
import type { AnalyticsService } from '../analytics/service.js';
import type { RecordFilter } from '../records/filters.js';
import {
  bucketInterval,
  checkTimeRange,
  FAMILY_OF_SOURCE,
  resolveRange,
  variableOf,
  type DashboardRecord,
  type DashboardVariable,
  type TimeRange,
  type Widget,
  type WidgetQuery,
} from './model.js';
import { activityFeed, type FeedActivity } from './queries/activityFeed.js';

// Widget data: each widget type's shape, computed through the analytics layer (analytics.aggregate, served from
// the rollups), the alerting module's active alerts, and the activity list for the feed.

export interface Point {
  t: Date;
  v: number | null;
}

export interface AlertItem {
  id: string;
  ruleName: string;
  severity: string;
  status: string;
  value: number | null;
  summary: string | null;
  labels: Record<string, string>;
  startsAt: Date;
}

export type WidgetData =
  | { kind: 'MetricCardData'; value: number | null; previousValue: number | null; change: number | null; unit: string | null; sparkline: Point[] }
  | { kind: 'TimeSeriesData'; series: { name: string; points: Point[] }[] }
  | { kind: 'CategoryData'; items: { key: string; value: number | null }[] }
  | { kind: 'TableData'; columns: string[]; rows: (string | number | null)[][] }
  | { kind: 'HeatmapData'; buckets: number[]; times: Date[]; counts: number[][] }
  | { kind: 'AlertListData'; alerts: AlertItem[] }
  | { kind: 'ActivityFeedData'; activities: FeedActivity[] };

export interface WidgetError {
  code: string;
  message: string;
}

export interface WidgetResult {
  widgetId: string;
  type: Widget['type'];
  title: string;
  data: WidgetData | null;
  error: WidgetError | null;
}

export interface DashboardData {
  dashboardId: string;
  version: number;
  from: Date;
  to: Date;
  variables: Record<string, string>;
  computedAt: Date;
  widgets: WidgetResult[];
}

/** Where active alerts come from: the alerting module, when it is registered. */
export interface AlertSource {
  activeAlerts(): Promise<{ id: string; ruleName: string; severity: string; status: string; value: number | null; labels: Record<string, string>; annotations: Record<string, string>; startsAt: Date }[]>;
}

/** An active alert as dashboards list it. */
export function alertItem(alert: Awaited<ReturnType<AlertSource['activeAlerts']>>[number]): AlertItem {
  return {
    id: alert.id,
    ruleName: alert.ruleName,
    severity: alert.severity,
    status: alert.status,
    value: alert.value,
    summary: alert.annotations.summary ?? null,
    labels: alert.labels,
    startsAt: alert.startsAt,
  };
}

/** The value buckets of a heatmap when the widget names none: response times in milliseconds. */
export const DEFAULT_HEATMAP_BUCKETS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const HEATMAP_KNOTS: { fn: MeasureFunction; q: number }[] = [
  { fn: 'min', q: 0 },
  { fn: 'p50', q: 0.5 },
  { fn: 'p90', q: 0.9 },
  { fn: 'p95', q: 0.95 },
  { fn: 'p99', q: 0.99 },
  { fn: 'max', q: 1 },
];
const DEFAULT_TOP = 10;
const DEFAULT_FEED = 20;

/** Measures that read a field (the others count records, or read the newest value). */
const READS_FIELD = new Set(['sum', 'avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'rate']);
export const measureOf = (query: Pick<WidgetQuery, 'aggregation' | 'field'>): Measure =>
  READS_FIELD.has(query.aggregation) && query.field !== 'value' ? { fn: query.aggregation, field: query.field } : { fn: query.aggregation };

/** The tag conditions of a widget with its variables substituted; null when a variable's value can match nothing. */
export function substitute(filter: WidgetQuery['filter'], values: Record<string, string>, variables: DashboardVariable[]): Record<string, string | number | boolean> {
  const tags: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(filter)) {
    const name = variableOf(value);
    if (name === null) {
      tags[key] = value;
      continue;
    }
    const given = values[name] ?? variables.find((variable) => variable.name === name)?.defaultValue ?? null;
    // No value and no default: the condition is left out, as Grafana's "All".
    if (given !== null && given !== '') tags[key] = given;
  }
  return tags;
}

/** Checks the `variables` argument of a data request against the dashboard's variables. */
export function checkVariableValues(raw: unknown, variables: DashboardVariable[], path = 'variables'): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidInput(path, 'must be an object of variable values, e.g. { "host": "web-1" }');
  const issues: InputIssue[] = [];
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!variables.some((variable) => variable.name === name)) {
      issues.push(issue(`${path}.${name}`, `is not a variable of this dashboard (${variables.map((variable) => variable.name).join(', ') || 'it has none'})`));
    } else if (value === null) continue;
    else if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') issues.push(issue(`${path}.${name}`, 'must be a string'));
    else if (String(value).length > 1000) issues.push(issue(`${path}.${name}`, 'must be at most 1000 characters'));
    else if (textProblem(String(value))) issues.push(issue(`${path}.${name}`, textProblem(String(value)) as string));
    else values[name] = String(value);
  }
  if (issues.length > 0) throw new InputValidationError(issues);
  return values;
}

/** The range of a data request: the caller's, else the dashboard's. */
export function requestRange(given: unknown, dashboard: Pick<DashboardRecord, 'timeRange'>, now = Date.now()): { from: Date; to: Date; range: TimeRange } {
  let range = dashboard.timeRange;
  if (given !== undefined && given !== null) {
    const issues: InputIssue[] = [];
    const checked = checkTimeRange(given, 'timeRange', issues);
    if (!checked) throw new InputValidationError(issues);
    range = checked;
  }
  return { ...resolveRange(range, now), range };
}

/** The estimated number of values at most `bound`, from percentiles: the distribution is linear between known ones. */
function countAtMost(knots: { value: number; q: number }[], bound: number, count: number): number {
  if (knots.length === 0) return 0;
  if (bound < (knots[0] as { value: number }).value) return 0;
  if (bound >= (knots[knots.length - 1] as { value: number }).value) return count;
  for (let index = 1; index < knots.length; index += 1) {
    const high = knots[index] as { value: number; q: number };
    if (bound < high.value) {
      const low = knots[index - 1] as { value: number; q: number };
      const q = low.q + ((high.q - low.q) * (bound - low.value)) / (high.value - low.value);
      return Math.round(q * count);
    }
  }
  return count;
}

export class WidgetEngine {
  constructor(
    private readonly analytics: AnalyticsService,
    private readonly db: Queryable,
    private readonly alerts: AlertSource | null,
    private readonly log: Logger,
  ) {}

  /** Every widget of a dashboard, computed concurrently; a widget that fails carries its error, the others their data. */
  async dashboardData(dashboard: DashboardRecord, request: { from: Date; to: Date; variables: Record<string, string> }, trace?: ReadTrace[]): Promise<DashboardData> {
    const widgets = await Promise.all(dashboard.widgets.map((widget) => this.widgetResult(dashboard, widget, request, trace)));
    return { dashboardId: dashboard.id, version: dashboard.version, from: request.from, to: request.to, variables: request.variables, computedAt: new Date(), widgets };
  }

  async widgetResult(dashboard: DashboardRecord, widget: Widget, request: { from: Date; to: Date; variables: Record<string, string> }, trace?: ReadTrace[]): Promise<WidgetResult> {
    const base = { widgetId: widget.id, type: widget.type, title: widget.title };
    try {
      return { ...base, data: await this.widgetData(dashboard, widget, request, trace), error: null };
    } catch (error) {
      const { error: shown, expected } = presentError(error);
      if (!expected) this.log.error({ err: error, dashboardId: dashboard.id, widgetId: widget.id }, 'dashboard widget failed');
      return { ...base, data: null, error: { code: String(shown.extensions.code ?? 'INTERNAL_SERVER_ERROR'), message: shown.message } };
    }
  }

  async widgetData(dashboard: Pick<DashboardRecord, 'variables' | 'timeZone'>, widget: Widget, request: { from: Date; to: Date; variables: Record<string, string> }, trace?: ReadTrace[]): Promise<WidgetData> {
    const { query } = widget;
    const tags = substitute(query.filter, request.variables, dashboard.variables);
    const family = FAMILY_OF_SOURCE[query.source];
    const filter: RecordFilter = {};
    if (query.metricNames.length > 0) filter.metricNames = query.metricNames;
    if (query.activityTypes.length > 0) filter.activityTypes = query.activityTypes;
    if (query.source === 'ACTIVITY') {
      if (tags.userId !== undefined) filter.userId = String(tags.userId);
    } else if (Object.keys(tags).length > 0) filter.tags = tags;
    const aggregate = (extra: Omit<AggregateQuery, 'family' | 'filter' | 'timeZone'> & { from: Date; to: Date }) =>
      this.analytics.aggregate({ family, filter, timeZone: dashboard.timeZone, ...extra }, { trace });
    const read = (extra: Omit<AggregateQuery, 'family' | 'filter' | 'timeZone'> & { from: Date; to: Date }) => aggregate(extra).then((result) => result.rows);
    const { from, to } = request;
    const measure = measureOf(query);
    const key = measureKey(measure);
    const interval = bucketInterval(query.interval, to.getTime() - from.getTime());
    const defaultDimension = query.source === 'ACTIVITY' ? 'activityType' : 'metricName';

    switch (widget.type) {
      case 'METRIC_CARD': {
        const length = to.getTime() - from.getTime();
        // The value and the sparkline from one read (its total), the previous period from another.
        const [{ rows: spark, total }, before] = await Promise.all([
          aggregate({ from, to, interval, measures: [measure], withTotal: true }),
          read({ from: new Date(from.getTime() - length), to: from, measures: [measure] }),
        ]);
        const value = total?.values[key] ?? (query.aggregation === 'count' ? 0 : null);
        const previousValue = before[0]?.values[key] ?? (query.aggregation === 'count' ? 0 : null);
        const change = value !== null && previousValue !== null && previousValue !== 0 ? roundChange(((value - previousValue) / Math.abs(previousValue)) * 100) : null;
        const unit = typeof widget.options.unit === 'string' ? widget.options.unit : null;
        return { kind: 'MetricCardData', value, previousValue, change, unit, sparkline: spark.map((row) => ({ t: row.bucketStart, v: row.values[key] ?? null })) };
      }
      case 'TIME_SERIES': {
        const groupBy = query.groupByTag ? [query.groupByTag] : query.metricNames.length > 1 ? ['metricName'] : [];
        const rows = await read({ from, to, interval, groupBy, measures: [measure], ...(query.topN && groupBy.length > 0 ? { top: { measure: key, limit: query.topN } } : {}) });
        const series = new Map<string, Point[]>();
        const single = query.metricNames[0] ?? (query.activityTypes.length > 0 ? query.activityTypes.join(',') : 'activities');
        for (const row of rows) {
          const name = groupBy.length > 0 ? (row.groups[groupBy[0] as string] ?? '(none)') : single;
          let points = series.get(name);
          if (!points) series.set(name, (points = []));
          points.push({ t: row.bucketStart, v: row.values[key] ?? null });
        }
        return { kind: 'TimeSeriesData', series: [...series.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([name, points]) => ({ name, points })) };
      }
      case 'BAR_CHART':
      case 'PIE_CHART': {
        const dimension = query.groupByTag ?? defaultDimension;
        const rows = await read({ from, to, groupBy: [dimension], measures: [measure], top: { measure: key, limit: query.topN ?? DEFAULT_TOP } });
        return { kind: 'CategoryData', items: byValue(rows, key).map((row) => ({ key: row.groups[dimension] ?? '(none)', value: row.values[key] ?? null })) };
      }
      case 'TABLE': {
        const dimension = query.groupByTag ?? defaultDimension;
        const measures: Measure[] = query.aggregation === 'count' ? [measure] : [{ fn: 'count' }, measure];
        const rows = await read({ from, to, groupBy: [dimension], measures, top: { measure: key, limit: query.topN ?? 100 } });
        const columns = [dimension, ...measures.map(measureKey)];
        return { kind: 'TableData', columns, rows: byValue(rows, key).map((row) => [row.groups[dimension] ?? null, ...measures.map((m) => row.values[measureKey(m)] ?? null)]) };
      }
      case 'HEATMAP': {
        const field = query.field;
        const measures: Measure[] = HEATMAP_KNOTS.map((knot) => (field === 'value' ? { fn: knot.fn } : { fn: knot.fn, field }));
        const rows = await read({ from, to, interval, measures });
        const buckets = Array.isArray(widget.options.buckets) ? (widget.options.buckets as number[]) : DEFAULT_HEATMAP_BUCKETS;
        const counts = rows.map((row) => heatmapColumn(row, measures, buckets));
        return { kind: 'HeatmapData', buckets, times: rows.map((row) => row.bucketStart), counts };
      }
      case 'ALERT_LIST': {
        if (!this.alerts) return { kind: 'AlertListData', alerts: [] };
        const alerts = (await this.alerts.activeAlerts())
          .filter((alert) => Object.entries(tags).every(([label, value]) => alert.labels[label] === String(value)))
          .slice(0, query.topN ?? 100)
          .map(alertItem);
        return { kind: 'AlertListData', alerts };
      }
      case 'ACTIVITY_FEED': {
        const activities = await activityFeed(this.db, {
          from,
          to,
          activityTypes: query.activityTypes,
          userId: filter.userId ?? null,
          limit: query.topN ?? DEFAULT_FEED,
        });
        return { kind: 'ActivityFeedData', activities };
      }
    }
  }

  /** The values a variable offers: its tag's values seen in the range, most frequent first (at most 100). */
  async variableOptions(variable: DashboardVariable, from: Date, to: Date): Promise<string[]> {
    const { rows } = await this.analytics.aggregate({
      family: FAMILY_OF_SOURCE[variable.source],
      from,
      to,
      groupBy: [variable.tag],
      measures: [{ fn: 'count' }],
      top: { measure: 'count', limit: 100 },
    });
    return byValue(rows, 'count')
      .map((row) => row.groups[variable.tag])
      .filter((value): value is string => value !== null && value !== undefined);
  }
}

const roundChange = (value: number) => Math.round(value * 100) / 100;

/** Rows by a measure, largest first, then by group (a stable order for equal values). */
function byValue(rows: AggregateRow[], key: string): AggregateRow[] {
  return [...rows].sort((a, b) => (b.values[key] ?? Number.NEGATIVE_INFINITY) - (a.values[key] ?? Number.NEGATIVE_INFINITY) || JSON.stringify(a.groups).localeCompare(JSON.stringify(b.groups)));
}

/**
 * One time bucket of a heatmap: how many values fall in each value bucket (`≤ buckets[0]`, …, `> last`). The
 * distribution comes from the bucket's merged quantile sketch (min, p50, p90, p95, p99, max, each within 0.5 %),
 * linear between those; the counts add up to the bucket's exact count.
 */
function heatmapColumn(row: AggregateRow, measures: Measure[], buckets: number[]): number[] {
  const knots: { value: number; q: number }[] = [];
  HEATMAP_KNOTS.forEach((knot, index) => {
    const value = row.values[measureKey(measures[index] as Measure)];
    if (value === null || value === undefined) return;
    const previous = knots[knots.length - 1];
    // Equal percentiles make a step: keep the highest rank at that value.
    if (previous && value <= previous.value) previous.q = knot.q;
    else knots.push({ value, q: knot.q });
  });
  const counted = row.count;
  const counts: number[] = [];
  let below = 0;
  for (const bound of buckets) {
    const atMost = countAtMost(knots, bound, counted);
    counts.push(atMost - below);
    below = atMost;
  }
  counts.push(counted - below);
  return counts;
}

export type { JsonValue };
