import { issue, isKnownTimeZone, jsonProblem, textProblem, type InputIssue } from '../../core/input.js';
import type { Family } from '../../core/records.js';
import type { Interval } from '../analytics/model.js';
import { TAG_KEY } from '../analytics/dimensions.js';

// A dashboard's definition as stored, exported and imported, and the checks every save runs. Widget data is
// computed in data.ts; nothing here reads the database.

export const WIDGET_TYPES = ['METRIC_CARD', 'TIME_SERIES', 'BAR_CHART', 'PIE_CHART', 'TABLE', 'HEATMAP', 'ALERT_LIST', 'ACTIVITY_FEED'] as const;
export type WidgetType = (typeof WIDGET_TYPES)[number];

export const WIDGET_SOURCES = ['SYSTEM', 'APPLICATION', 'USER', 'PERFORMANCE', 'ACTIVITY'] as const;
export type WidgetSource = (typeof WIDGET_SOURCES)[number];

export const FAMILY_OF_SOURCE: Record<WidgetSource, Family> = {
  SYSTEM: 'systemMetrics',
  APPLICATION: 'applicationMetrics',
  USER: 'userMetrics',
  PERFORMANCE: 'performanceMetrics',
  ACTIVITY: 'activities',
};

/** The aggregations a widget may ask for, named as the product names them. */
export const AGGREGATIONS = ['avg', 'sum', 'min', 'max', 'count', 'last', 'p50', 'p95', 'p99', 'rate', 'errorRate', 'uniqueUsers'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const WIDGET_INTERVALS = ['AUTO', 'MINUTE', 'HOUR', 'DAY'] as const;
export type WidgetInterval = (typeof WIDGET_INTERVALS)[number];

export const WIDGET_FIELDS = ['value', 'responseTimeMs'] as const;
export type WidgetField = (typeof WIDGET_FIELDS)[number];

export interface WidgetQuery {
  source: WidgetSource;
  metricNames: string[];
  activityTypes: string[];
  /** Tag conditions; a value `$name` is replaced by the variable's value when data is computed. */
  filter: Record<string, string | number | boolean>;
  aggregation: Aggregation;
  /** The numeric field aggregated: value, or responseTimeMs of performance metrics. */
  field: WidgetField;
  interval: WidgetInterval;
  groupByTag: string | null;
  topN: number | null;
}

export interface WidgetPosition {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Widget {
  id: string;
  type: WidgetType;
  title: string;
  position: WidgetPosition;
  query: WidgetQuery;
  options: Record<string, unknown>;
}

export interface DashboardVariable {
  /** Referenced as `$name` in widget filters. */
  name: string;
  /** The tag whose values are offered. */
  tag: string;
  /** The record family whose tag values are offered. */
  source: WidgetSource;
  label: string | null;
  /** The value used when a data request gives none; null: the condition is left out (all values). */
  defaultValue: string | null;
}

export type TimeRange = { relative: string } | { from: string; to: string };

export interface DashboardDefinition {
  name: string;
  description: string;
  tags: string[];
  refreshInterval: number;
  timeRange: TimeRange;
  timeZone: string;
  variables: DashboardVariable[];
  widgets: Widget[];
}

export interface DashboardRecord extends DashboardDefinition {
  id: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What a caller sends to create or replace a dashboard (GraphQL DashboardInput, or an import). */
export interface DashboardInput {
  name?: unknown;
  description?: unknown;
  tags?: unknown;
  refreshInterval?: unknown;
  timeRange?: unknown;
  timeZone?: unknown;
  variables?: unknown;
  widgets?: unknown;
}

export const LIMITS = {
  widgets: 50,
  variables: 20,
  tags: 20,
  metricNames: 20,
  topN: 1000,
  minRefreshSeconds: 1,
  maxRefreshSeconds: 86_400,
  maxRangeDays: 400,
};

export const DEFAULTS = { refreshInterval: 60, timeRange: { relative: '24h' } as TimeRange, timeZone: 'UTC' };

const RELATIVE = /^(\d{1,4})(m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a relative range such as 15m, 24h, 7d, 2w; null when the text is not one. */
export function relativeMs(text: string): number | null {
  const match = RELATIVE.exec(text);
  if (!match) return null;
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  return ms > 0 && ms <= LIMITS.maxRangeDays * 86_400_000 ? ms : null;
}

/**
 * The instants a time range stands for now. A relative range ends now (to the millisecond, so a write shows at
 * once) and starts at the beginning of its first bucket: its first hour when it spans more than six hours (its
 * charts have hourly or daily points), else its first minute. As in PostHog, the first point of a chart is then a
 * whole bucket rather than a dip, and the start is read from hour (or minute) rollups instead of the minutes and
 * raw rows of a partial hour.
 */
export function resolveRange(range: TimeRange, now = Date.now()): { from: Date; to: Date } {
  if ('relative' in range) {
    const length = relativeMs(range.relative) as number;
    const unit = length > 6 * 3_600_000 ? 3_600_000 : 60_000;
    return { from: new Date(Math.floor((now - length) / unit) * unit), to: new Date(now) };
  }
  return { from: new Date(range.from), to: new Date(range.to) };
}

/** Checks a time range given as { relative } or { from, to } (Date or ISO text); problems under `path`. */
export function checkTimeRange(value: unknown, path: string, issues: InputIssue[]): TimeRange | null {
  if (typeof value === 'string') value = { relative: value };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    issues.push(issue(path, 'must be { relative: "24h" } or { from, to }'));
    return null;
  }
  const { relative, from, to } = value as { relative?: unknown; from?: unknown; to?: unknown };
  if (relative !== undefined && relative !== null) {
    if (from != null || to != null) issues.push(issue(path, 'must be either relative or from and to, not both'));
    if (typeof relative !== 'string' || relativeMs(relative) === null) {
      issues.push(issue(`${path}.relative`, `must be a duration such as 15m, 24h, 7d or 2w (at most ${LIMITS.maxRangeDays} days)`));
      return null;
    }
    return { relative };
  }
  const instant = (given: unknown, field: string): Date | null => {
    const date = given instanceof Date ? given : typeof given === 'string' ? new Date(given) : null;
    if (!date || Number.isNaN(date.getTime())) {
      issues.push(issue(`${path}.${field}`, 'must be a date-time (RFC 3339)'));
      return null;
    }
    return date;
  };
  const start = instant(from, 'from');
  const end = instant(to, 'to');
  if (!start || !end) return null;
  if (start.getTime() >= end.getTime()) {
    issues.push(issue(`${path}.from`, 'must be before to'));
    return null;
  }
  if (end.getTime() - start.getTime() > LIMITS.maxRangeDays * 86_400_000) {
    issues.push(issue(`${path}.to`, `must be at most ${LIMITS.maxRangeDays} days after from`));
    return null;
  }
  return { from: start.toISOString(), to: end.toISOString() };
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,49}$/;
const VARIABLE_REFERENCE = /^\$([A-Za-z_][A-Za-z0-9_]{0,49})$/;

/** The variable a filter value refers to (`$host`), or null for a literal. */
export function variableOf(value: unknown): string | null {
  return typeof value === 'string' ? (VARIABLE_REFERENCE.exec(value)?.[1] ?? null) : null;
}

/** Measures that make sense on a source: the analytics layer's own rules, said in the widget's words. */
function aggregationProblem(source: WidgetSource, aggregation: Aggregation, field: WidgetField): string | null {
  if (source === 'ACTIVITY') return ['count', 'rate', 'uniqueUsers'].includes(aggregation) ? null : 'activities can be aggregated by count, rate or uniqueUsers only';
  if (aggregation === 'errorRate' && source !== 'PERFORMANCE') return 'errorRate needs statusCode: PERFORMANCE only';
  if (aggregation === 'uniqueUsers' && source !== 'USER') return 'uniqueUsers needs userId: USER metrics or ACTIVITY only';
  if (field === 'responseTimeMs' && source !== 'PERFORMANCE') return 'responseTimeMs exists on PERFORMANCE metrics only';
  return null;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function stringField(raw: Record<string, unknown>, key: string, path: string, issues: InputIssue[], options: { max: number; required?: boolean; fallback?: string }): string {
  const value = raw[key];
  if (value === undefined || value === null) {
    if (options.required) issues.push(issue(`${path}.${key}`, 'is required'));
    return options.fallback ?? '';
  }
  if (typeof value !== 'string') {
    issues.push(issue(`${path}.${key}`, 'must be a string'));
    return options.fallback ?? '';
  }
  const problem = textProblem(value) ?? (value.length > options.max ? `must be at most ${options.max} characters` : null);
  if (problem) issues.push(issue(`${path}.${key}`, problem));
  if (options.required && value.trim() === '') issues.push(issue(`${path}.${key}`, 'must not be empty'));
  return value;
}

function nameList(value: unknown, path: string, issues: InputIssue[], max: number): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issues.push(issue(path, 'must be a list of names'));
    return [];
  }
  if (value.length > max) issues.push(issue(path, `must hold at most ${max} names`));
  value.forEach((name, index) => {
    if (typeof name !== 'string' || !TAG_KEY.test(name)) issues.push(issue(`${path}[${index}]`, 'must be 1-100 characters of [A-Za-z0-9_.:/-]'));
  });
  return [...new Set(value.filter((name): name is string => typeof name === 'string'))];
}

function checkQuery(raw: unknown, type: WidgetType, path: string, variables: Set<string>, issues: InputIssue[]): WidgetQuery {
  const query = isRecord(raw) ? raw : {};
  if (raw !== undefined && raw !== null && !isRecord(raw)) issues.push(issue(path, 'must be an object'));
  const needsSource = type !== 'ALERT_LIST';
  let source = (query.source ?? (type === 'ACTIVITY_FEED' ? 'ACTIVITY' : type === 'HEATMAP' ? 'PERFORMANCE' : undefined)) as WidgetSource | undefined;
  if (source === undefined) {
    if (needsSource) issues.push(issue(`${path}.source`, `is required: one of ${WIDGET_SOURCES.join(', ')}`));
    source = 'SYSTEM';
  } else if (!(WIDGET_SOURCES as readonly string[]).includes(source)) {
    issues.push(issue(`${path}.source`, `must be one of ${WIDGET_SOURCES.join(', ')}`));
    source = 'SYSTEM';
  }
  const metricNames = nameList(query.metricNames, `${path}.metricNames`, issues, LIMITS.metricNames);
  const activityTypes = nameList(query.activityTypes, `${path}.activityTypes`, issues, LIMITS.metricNames);
  if (source === 'ACTIVITY' && metricNames.length > 0) issues.push(issue(`${path}.metricNames`, 'is for metric sources; ACTIVITY widgets use activityTypes'));
  if (source !== 'ACTIVITY' && activityTypes.length > 0) issues.push(issue(`${path}.activityTypes`, 'is for the ACTIVITY source only'));
  if (['METRIC_CARD', 'TIME_SERIES', 'TABLE'].includes(type) && source !== 'ACTIVITY' && metricNames.length === 0 && needsSource) {
    issues.push(issue(`${path}.metricNames`, 'must name at least one metric for a metric source'));
  }

  const filter: Record<string, string | number | boolean> = {};
  if (query.filter !== undefined && query.filter !== null) {
    if (!isRecord(query.filter)) issues.push(issue(`${path}.filter`, 'must be an object of tag conditions, e.g. { "host": "$host" }'));
    else {
      const entries = Object.entries(query.filter);
      if (entries.length > 32) issues.push(issue(`${path}.filter`, 'must have at most 32 conditions'));
      for (const [key, value] of entries) {
        if (!TAG_KEY.test(key)) issues.push(issue(`${path}.filter.${key}`, 'tag names are 1-100 characters of [A-Za-z0-9_.:/-]'));
        else if (source === 'ACTIVITY' && key !== 'userId') issues.push(issue(`${path}.filter.${key}`, 'activities have no tags: an ACTIVITY filter may only set userId'));
        else if (!['string', 'number', 'boolean'].includes(typeof value) || jsonProblem(value)) issues.push(issue(`${path}.filter.${key}`, 'must be a string, number or boolean'));
        else {
          const variable = variableOf(value);
          if (variable !== null && !variables.has(variable)) {
            issues.push(issue(`${path}.filter.${key}`, `refers to $${variable}, which is not one of the dashboard's variables (${[...variables].map((name) => `$${name}`).join(', ') || 'none'})`));
          }
          filter[key] = value as string | number | boolean;
        }
      }
    }
  }

  const defaultAggregation: Aggregation = source === 'ACTIVITY' ? 'count' : type === 'HEATMAP' ? 'count' : 'avg';
  let aggregation = (query.aggregation ?? defaultAggregation) as Aggregation;
  if (!(AGGREGATIONS as readonly string[]).includes(aggregation)) {
    issues.push(issue(`${path}.aggregation`, `must be one of ${AGGREGATIONS.join(', ')}`));
    aggregation = defaultAggregation;
  }
  let field = (query.field ?? (type === 'HEATMAP' && source === 'PERFORMANCE' ? 'responseTimeMs' : 'value')) as WidgetField;
  if (!(WIDGET_FIELDS as readonly string[]).includes(field)) {
    issues.push(issue(`${path}.field`, `must be one of ${WIDGET_FIELDS.join(', ')}`));
    field = 'value';
  }
  if (needsSource) {
    const problem = aggregationProblem(source, aggregation, field);
    if (problem) issues.push(issue(`${path}.${field === 'responseTimeMs' && source !== 'PERFORMANCE' ? 'field' : 'aggregation'}`, problem));
  }
  if (type === 'HEATMAP' && source === 'ACTIVITY') issues.push(issue(`${path}.source`, 'a HEATMAP shows a distribution of metric values: use a metric source'));
  let interval = (query.interval ?? 'AUTO') as WidgetInterval;
  if (!(WIDGET_INTERVALS as readonly string[]).includes(interval)) {
    issues.push(issue(`${path}.interval`, `must be one of ${WIDGET_INTERVALS.join(', ')}`));
    interval = 'AUTO';
  }
  let groupByTag: string | null = null;
  if (query.groupByTag !== undefined && query.groupByTag !== null) {
    if (typeof query.groupByTag !== 'string' || !TAG_KEY.test(query.groupByTag)) issues.push(issue(`${path}.groupByTag`, 'must be 1-100 characters of [A-Za-z0-9_.:/-]'));
    else groupByTag = query.groupByTag;
    if (source === 'ACTIVITY' && groupByTag !== null && !['activityType', 'userId'].includes(groupByTag)) {
      issues.push(issue(`${path}.groupByTag`, 'activities can be grouped by activityType or userId'));
    }
  }
  let topN: number | null = null;
  if (query.topN !== undefined && query.topN !== null) {
    if (typeof query.topN !== 'number' || !Number.isInteger(query.topN) || query.topN < 1 || query.topN > LIMITS.topN) {
      issues.push(issue(`${path}.topN`, `must be a whole number from 1 to ${LIMITS.topN}`));
    } else topN = query.topN;
  }
  return { source, metricNames, activityTypes, filter, aggregation, field, interval, groupByTag, topN };
}

function checkPosition(raw: unknown, path: string, index: number, issues: InputIssue[]): WidgetPosition {
  const fallback = { x: 0, y: index * 4, w: 6, h: 4 };
  if (raw === undefined || raw === null) return fallback;
  if (!isRecord(raw)) {
    issues.push(issue(path, 'must be { x, y, w, h }'));
    return fallback;
  }
  const position = { ...fallback };
  for (const key of ['x', 'y', 'w', 'h'] as const) {
    const value = raw[key];
    if (value === undefined || value === null) continue;
    const min = key === 'w' || key === 'h' ? 1 : 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 1000) issues.push(issue(`${path}.${key}`, `must be a whole number from ${min} to 1000`));
    else position[key] = value;
  }
  return position;
}

function checkWidget(raw: unknown, index: number, variables: Set<string>, ids: Set<string>, issues: InputIssue[]): Widget {
  const path = `input.widgets[${index}]`;
  const widget = isRecord(raw) ? raw : {};
  if (!isRecord(raw)) issues.push(issue(path, 'must be an object'));
  let type = widget.type as WidgetType;
  if (!(WIDGET_TYPES as readonly string[]).includes(type)) {
    issues.push(issue(`${path}.type`, `must be one of ${WIDGET_TYPES.join(', ')}`));
    type = 'METRIC_CARD';
  }
  let id = typeof widget.id === 'string' && widget.id !== '' ? widget.id : `w${index + 1}`;
  if (!/^[A-Za-z0-9_-]{1,50}$/.test(id)) issues.push(issue(`${path}.id`, 'must be 1-50 characters of [A-Za-z0-9_-]'));
  if (ids.has(id)) {
    if (typeof widget.id === 'string' && widget.id !== '') issues.push(issue(`${path}.id`, `repeats "${id}"`));
    else for (let n = index + 1; ids.has(id); n += 1) id = `w${n}`;
  }
  ids.add(id);
  const title = stringField(widget, 'title', path, issues, { max: 200, fallback: '' });
  const position = checkPosition(widget.position, `${path}.position`, index, issues);
  const query = checkQuery(widget.query, type, `${path}.query`, variables, issues);
  let options: Record<string, unknown> = {};
  if (widget.options !== undefined && widget.options !== null) {
    if (!isRecord(widget.options)) issues.push(issue(`${path}.options`, 'must be an object'));
    else {
      const problem = jsonProblem(widget.options);
      if (problem) issues.push(issue(`${path}.options`, problem));
      else if (JSON.stringify(widget.options).length > 16_384) issues.push(issue(`${path}.options`, 'must be at most 16 KiB of JSON'));
      else options = widget.options;
    }
  }
  if (type === 'HEATMAP' && options.buckets !== undefined) {
    const buckets = options.buckets;
    if (!Array.isArray(buckets) || buckets.length < 1 || buckets.length > 100 || !buckets.every((b, i) => typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > (buckets[i - 1] as number)))) {
      issues.push(issue(`${path}.options.buckets`, 'must be 1-100 increasing numbers (the upper bounds of the value buckets)'));
    }
  }
  return { id, type, title, position, query, options };
}

function checkVariables(raw: unknown, issues: InputIssue[]): DashboardVariable[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    issues.push(issue('input.variables', 'must be a list'));
    return [];
  }
  if (raw.length > LIMITS.variables) issues.push(issue('input.variables', `must hold at most ${LIMITS.variables} variables`));
  const names = new Set<string>();
  return raw.map((value, index) => {
    const path = `input.variables[${index}]`;
    const variable = isRecord(value) ? value : {};
    if (!isRecord(value)) issues.push(issue(path, 'must be an object'));
    const name = stringField(variable, 'name', path, issues, { max: 50, required: true });
    if (name && !VARIABLE_NAME.test(name)) issues.push(issue(`${path}.name`, 'must be 1-50 characters of [A-Za-z0-9_], not starting with a digit'));
    else if (names.has(name)) issues.push(issue(`${path}.name`, `repeats "${name}"`));
    names.add(name);
    const tag = typeof variable.tag === 'string' ? variable.tag : name;
    if (!TAG_KEY.test(tag)) issues.push(issue(`${path}.tag`, 'must be 1-100 characters of [A-Za-z0-9_.:/-]'));
    let source = (variable.source ?? 'SYSTEM') as WidgetSource;
    if (!(WIDGET_SOURCES as readonly string[]).includes(source) || source === 'ACTIVITY') {
      issues.push(issue(`${path}.source`, 'must be one of SYSTEM, APPLICATION, USER, PERFORMANCE (the family whose tag values are offered)'));
      source = 'SYSTEM';
    }
    const label = variable.label === undefined || variable.label === null ? null : stringField(variable, 'label', path, issues, { max: 200 });
    const defaultValue = variable.defaultValue === undefined || variable.defaultValue === null ? null : stringField(variable, 'defaultValue', path, issues, { max: 1000 });
    return { name, tag, source, label, defaultValue };
  });
}

/** Checks a whole dashboard definition; every problem at once, each naming its field (`input.widgets[2].query.aggregation`). */
export function checkDashboard(input: DashboardInput): { definition: DashboardDefinition | null; issues: InputIssue[] } {
  const issues: InputIssue[] = [];
  const raw = input as Record<string, unknown>;
  const name = stringField(raw, 'name', 'input', issues, { max: 200, required: true });
  const description = stringField(raw, 'description', 'input', issues, { max: 4000 });
  const tags = nameList(input.tags, 'input.tags', issues, LIMITS.tags);
  let refreshInterval = DEFAULTS.refreshInterval;
  if (input.refreshInterval !== undefined && input.refreshInterval !== null) {
    const value = input.refreshInterval;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < LIMITS.minRefreshSeconds || value > LIMITS.maxRefreshSeconds) {
      issues.push(issue('input.refreshInterval', `must be a whole number of seconds from ${LIMITS.minRefreshSeconds} to ${LIMITS.maxRefreshSeconds}`));
    } else refreshInterval = value;
  }
  const timeRange = input.timeRange === undefined || input.timeRange === null ? DEFAULTS.timeRange : checkTimeRange(input.timeRange, 'input.timeRange', issues);
  const timeZone = input.timeZone === undefined || input.timeZone === null ? DEFAULTS.timeZone : String(input.timeZone);
  if (!isKnownTimeZone(timeZone)) issues.push(issue('input.timeZone', 'must be an IANA time zone such as UTC or Europe/Paris'));
  const variables = checkVariables(input.variables, issues);
  const variableNames = new Set(variables.map((variable) => variable.name));
  let widgets: Widget[] = [];
  if (input.widgets !== undefined && input.widgets !== null) {
    if (!Array.isArray(input.widgets)) issues.push(issue('input.widgets', 'must be a list'));
    else {
      if (input.widgets.length > LIMITS.widgets) issues.push(issue('input.widgets', `must hold at most ${LIMITS.widgets} widgets`));
      const ids = new Set<string>();
      widgets = input.widgets.map((widget, index) => checkWidget(widget, index, variableNames, ids, issues));
    }
  }
  if (issues.length > 0 || !timeRange) return { definition: null, issues };
  return { definition: { name, description, tags, refreshInterval, timeRange, timeZone, variables, widgets }, issues };
}

/** The bucket width a widget's interval stands for over a range: AUTO keeps a chart to about 30-300 points. */
export function bucketInterval(interval: WidgetInterval, rangeMs: number): Interval {
  if (interval !== 'AUTO') return interval;
  if (rangeMs <= 6 * 3_600_000) return 'MINUTE';
  if (rangeMs <= 10 * 86_400_000) return 'HOUR';
  return 'DAY';
}
