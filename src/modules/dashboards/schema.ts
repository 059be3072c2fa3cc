import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { z } from 'zod';
import { invalidInput, parseInput, text } from '../../core/input.js';
import type { JsonValue } from '../../core/json.js';
import { traceOf } from '../analytics/reads.js';
import { ADMIN_ONLY, builder } from '../../schema/builder.js';
import type { Context } from '../../schema/context.js';
import { CONNECTION_SIZES } from '../../schema/helpers.js';
import { systemDashboard, userDashboard, type HostStatus, type SystemDashboardData, type UserDashboardData } from './builtins.js';
import { checkVariableValues, requestRange, type AlertItem, type DashboardData, type Point, type WidgetData, type WidgetResult } from './data.js';
import { AGGREGATIONS, relativeMs, WIDGET_INTERVALS, WIDGET_SOURCES, WIDGET_TYPES, type DashboardRecord, type DashboardVariable, type TimeRange, type Widget } from './model.js';
import { DashboardNotFoundError, dashboardId, type DashboardVersionRecord } from './service.js';
import type { FeedActivity } from './queries/activityFeed.js';

// ------------------------------------------------------------------------------------------------- enums

const WidgetTypeEnum = builder.enumType('WidgetType', {
  description: 'What a widget draws, and so the shape of its data.',
  values: {
    METRIC_CARD: { description: 'One number with the previous period and a sparkline (MetricCardData).' },
    TIME_SERIES: { description: 'Lines over time, one per group (TimeSeriesData).' },
    BAR_CHART: { description: 'Bars, one per group (CategoryData).' },
    PIE_CHART: { description: 'Slices, one per group (CategoryData).' },
    TABLE: { description: 'A table, one row per group (TableData).' },
    HEATMAP: { description: 'A distribution of values over time, from the quantile sketches (HeatmapData).' },
    ALERT_LIST: { description: 'The active alerts of the alerting module (AlertListData).' },
    ACTIVITY_FEED: { description: 'The newest user activities (ActivityFeedData).' },
  },
});
const WidgetSourceEnum = builder.enumType('WidgetSource', {
  description: 'The record family a widget reads.',
  values: {
    SYSTEM: { description: 'System metrics.' },
    APPLICATION: { description: 'Application metrics.' },
    USER: { description: 'User metrics.' },
    PERFORMANCE: { description: 'Performance metrics (responseTimeMs, statusCode).' },
    ACTIVITY: { description: 'User activities.' },
  },
});
const WidgetIntervalEnum = builder.enumType('WidgetInterval', {
  description: 'The time bucket of charts over time.',
  values: {
    AUTO: { description: 'Minutes up to 6 hours, hours up to 10 days, days beyond.' },
    MINUTE: { description: 'One bucket per minute (UTC).' },
    HOUR: { description: 'One bucket per hour (UTC).' },
    DAY: { description: "One bucket per day in the dashboard's time zone." },
  },
});
void WIDGET_TYPES;
void WIDGET_SOURCES;
void WIDGET_INTERVALS;

// ------------------------------------------------------------------------------------------------ objects

const TimeRangeObject = builder.objectRef<TimeRange>('DashboardTimeRange').implement({
  description: 'A relative range ending now (relative), or an absolute one (from and to).',
  fields: (t) => ({
    relative: t.string({ nullable: true, description: 'A duration ending now, such as 15m, 24h, 7d or 2w; null for an absolute range.', resolve: (r) => ('relative' in r ? r.relative : null) }),
    from: t.field({ type: 'DateTime', nullable: true, description: 'Start of an absolute range (inclusive); null for a relative one.', resolve: (r) => ('from' in r ? new Date(r.from) : null) }),
    to: t.field({ type: 'DateTime', nullable: true, description: 'End of an absolute range (exclusive); null for a relative one.', resolve: (r) => ('to' in r ? new Date(r.to) : null) }),
  }),
});

interface VariableParent {
  variable: DashboardVariable;
  dashboard: DashboardRecord;
}
const VariableObject = builder.objectRef<VariableParent>('DashboardVariable').implement({
  description: 'A template variable: widget filters use it as $name, and its values are offered from the tag values seen.',
  fields: (t) => ({
    name: t.string({ description: 'Its name, used as $name in widget filters.', resolve: (p) => p.variable.name }),
    tag: t.string({ description: 'The tag whose values it offers.', resolve: (p) => p.variable.tag }),
    source: t.field({ type: WidgetSourceEnum, description: 'The family whose tag values it offers.', resolve: (p) => p.variable.source }),
    label: t.string({ nullable: true, description: 'What a panel shows for it; null: its name.', resolve: (p) => p.variable.label }),
    defaultValue: t.string({ nullable: true, description: 'Its value when a data request gives none; null: the condition is left out (all values).', resolve: (p) => p.variable.defaultValue }),
    options: t.stringList({
      description: "The tag's values seen over the dashboard's time range, most frequent first (at most 100).",
      resolve: (p, _args, ctx) => {
        const { from, to } = requestRange(null, p.dashboard);
        return ctx.dashboards.engine.variableOptions(p.variable, from, to);
      },
    }),
  }),
});

const PositionObject = builder.simpleObject('WidgetPosition', {
  description: "A widget's place on the dashboard grid.",
  fields: (t) => ({
    x: t.int({ description: 'Column of its left edge.' }),
    y: t.int({ description: 'Row of its top edge.' }),
    w: t.int({ description: 'Width in columns.' }),
    h: t.int({ description: 'Height in rows.' }),
  }),
});

const QueryObject = builder.objectRef<Widget['query']>('WidgetQuery').implement({
  description: 'What a widget reads.',
  fields: (t) => ({
    source: t.field({ type: WidgetSourceEnum, description: 'The record family, or ACTIVITY.', resolve: (q) => q.source }),
    metricNames: t.stringList({ description: 'The metrics read (metric sources); empty: all.', resolve: (q) => q.metricNames }),
    activityTypes: t.stringList({ description: 'The activity types read (ACTIVITY); empty: all.', resolve: (q) => q.activityTypes }),
    filter: t.field({ type: 'JSON', description: 'Tag conditions (userId for ACTIVITY); a value $name is the variable name.', resolve: (q) => q.filter }),
    aggregation: t.string({ description: `The aggregation: one of ${AGGREGATIONS.join(', ')}.`, resolve: (q) => q.aggregation }),
    field: t.string({ description: 'The field aggregated: value, or responseTimeMs of performance metrics.', resolve: (q) => q.field }),
    interval: t.field({ type: WidgetIntervalEnum, description: 'The time bucket of charts over time.', resolve: (q) => q.interval }),
    groupByTag: t.string({ nullable: true, description: 'The tag (or activityType, userId) that splits series, bars, slices and rows; null: by metric name or activity type.', resolve: (q) => q.groupByTag }),
    topN: t.int({ nullable: true, description: 'How many groups (or alerts, activities) are kept, largest first; null: the widget type default.', resolve: (q) => q.topN }),
  }),
});

const PointObject = builder.objectRef<Point>('DataPoint').implement({
  description: 'One point of a series.',
  fields: (t) => ({
    t: t.field({ type: 'DateTime', description: 'The start of its time bucket.', resolve: (p) => p.t }),
    v: t.float({ nullable: true, description: 'The value; null when no record had one.', resolve: (p) => p.v }),
  }),
});
const SeriesObject = builder.objectRef<{ name: string; points: Point[] }>('DataSeries').implement({
  description: 'One line of a chart.',
  fields: (t) => ({
    name: t.string({ description: 'The group value (or the metric name) it stands for.', resolve: (s) => s.name }),
    points: t.field({ type: [PointObject], description: 'Its points in time order; buckets with no record are absent.', resolve: (s) => s.points }),
  }),
});
const CategoryItemObject = builder.objectRef<{ key: string; value: number | null }>('CategoryItem').implement({
  description: 'One bar or slice.',
  fields: (t) => ({
    key: t.string({ description: 'The group value.', resolve: (i) => i.key }),
    value: t.float({ nullable: true, description: 'Its aggregated value.', resolve: (i) => i.value }),
  }),
});
const AlertItemObject = builder.objectRef<AlertItem>('DashboardAlert').implement({
  description: 'An active alert as a dashboard lists it.',
  fields: (t) => ({
    id: t.id({ description: 'The alert id (see alerts).', resolve: (a) => a.id }),
    ruleName: t.string({ description: "The rule's name.", resolve: (a) => a.ruleName }),
    severity: t.string({ description: 'INFO, WARNING or CRITICAL.', resolve: (a) => a.severity }),
    status: t.string({ description: 'PENDING or FIRING.', resolve: (a) => a.status }),
    value: t.float({ nullable: true, description: 'The value at the latest evaluation.', resolve: (a) => a.value }),
    summary: t.string({ nullable: true, description: 'The rendered summary; null when none.', resolve: (a) => a.summary }),
    labels: t.field({ type: 'JSON', description: 'Its labels.', resolve: (a) => a.labels }),
    startsAt: t.field({ type: 'DateTime', description: 'When it started.', resolve: (a) => a.startsAt }),
  }),
});
const FeedActivityObject = builder.objectRef<FeedActivity>('FeedActivity').implement({
  description: 'One activity of a feed.',
  fields: (t) => ({
    id: t.id({ description: 'The activity record id.', resolve: (a) => a.id }),
    userId: t.string({ description: 'Who.', resolve: (a) => a.userId }),
    activityType: t.string({ description: 'What.', resolve: (a) => a.activityType }),
    description: t.string({ nullable: true, description: 'The description given; null when none.', resolve: (a) => a.description }),
    metadata: t.field({ type: 'JSON', nullable: true, description: 'The metadata given; null when none.', resolve: (a) => a.metadata as JsonValue }),
    timestamp: t.field({ type: 'DateTime', description: 'When.', resolve: (a) => a.timestamp }),
  }),
});

type Shape<K extends WidgetData['kind']> = Extract<WidgetData, { kind: K }>;
const MetricCardData = builder.objectRef<Shape<'MetricCardData'>>('MetricCardData').implement({
  description: 'One number: its value over the range, over the previous period of the same length, the change, and a sparkline.',
  isTypeOf: (data) => (data as WidgetData).kind === 'MetricCardData',
  fields: (t) => ({
    value: t.float({ nullable: true, description: 'The aggregated value over the range; null when no record had one.', resolve: (d) => d.value }),
    previousValue: t.float({ nullable: true, description: 'The same over the previous period (the same length, just before).', resolve: (d) => d.previousValue }),
    change: t.float({ nullable: true, description: 'The change from the previous period, in percent; null when the previous value is null or 0.', resolve: (d) => d.change }),
    unit: t.string({ nullable: true, description: "The unit from the widget's options (options.unit); null when none.", resolve: (d) => d.unit }),
    sparkline: t.field({ type: [PointObject], description: 'The value per time bucket over the range.', resolve: (d) => d.sparkline }),
  }),
});
const TimeSeriesData = builder.objectRef<Shape<'TimeSeriesData'>>('TimeSeriesData').implement({
  description: 'Series of points over time, one per group: what line and area charts take.',
  isTypeOf: (data) => (data as WidgetData).kind === 'TimeSeriesData',
  fields: (t) => ({ series: t.field({ type: [SeriesObject], description: 'The series, by name.', resolve: (d) => d.series }) }),
});
const CategoryData = builder.objectRef<Shape<'CategoryData'>>('CategoryData').implement({
  description: 'Values per group, largest first: what pie and bar charts take.',
  isTypeOf: (data) => (data as WidgetData).kind === 'CategoryData',
  fields: (t) => ({ items: t.field({ type: [CategoryItemObject], description: 'The groups, largest value first.', resolve: (d) => d.items }) }),
});
const TableData = builder.objectRef<Shape<'TableData'>>('TableData').implement({
  description: 'A table: column names, and rows of values in the same order.',
  isTypeOf: (data) => (data as WidgetData).kind === 'TableData',
  fields: (t) => ({
    columns: t.stringList({ description: 'The group dimension, then the measures (count, and the aggregation).', resolve: (d) => d.columns }),
    rows: t.field({ type: 'JSON', description: 'One array per group, values in the order of columns, largest aggregation first.', resolve: (d) => d.rows as JsonValue }),
  }),
});
const HeatmapData = builder.objectRef<Shape<'HeatmapData'>>('HeatmapData').implement({
  description: 'A distribution over time: counts[i][j] values in time bucket times[i] and value bucket j.',
  isTypeOf: (data) => (data as WidgetData).kind === 'HeatmapData',
  fields: (t) => ({
    buckets: t.floatList({ description: 'Upper bounds of the value buckets; counts has one more column, for values above the last bound.', resolve: (d) => d.buckets }),
    times: t.field({ type: ['DateTime'], description: 'Start of each time bucket that holds values.', resolve: (d) => d.times }),
    counts: t.field({ type: t.listRef(t.listRef('Int', { nullable: false }), { nullable: false }), description: 'Per time bucket, the number of values in each value bucket (estimated from the quantile sketch; each row adds up to the exact count).', resolve: (d) => d.counts }),
  }),
});
const AlertListData = builder.objectRef<Shape<'AlertListData'>>('AlertListData').implement({
  description: 'The active alerts, most severe first.',
  isTypeOf: (data) => (data as WidgetData).kind === 'AlertListData',
  fields: (t) => ({ alerts: t.field({ type: [AlertItemObject], description: 'Active alerts; empty when none (or without the alerting module).', resolve: (d) => d.alerts }) }),
});
const ActivityFeedData = builder.objectRef<Shape<'ActivityFeedData'>>('ActivityFeedData').implement({
  description: 'The newest activities of the range.',
  isTypeOf: (data) => (data as WidgetData).kind === 'ActivityFeedData',
  fields: (t) => ({ activities: t.field({ type: [FeedActivityObject], description: 'Newest first.', resolve: (d) => d.activities }) }),
});

const WidgetDataUnion = builder.unionType('WidgetData', {
  description: "A widget's data, in the shape its type draws.",
  types: [MetricCardData, TimeSeriesData, CategoryData, TableData, HeatmapData, AlertListData, ActivityFeedData],
  resolveType: (data) => data.kind,
});

const WidgetErrorObject = builder.simpleObject('WidgetError', {
  description: 'Why a widget has no data.',
  fields: (t) => ({
    code: t.string({ description: 'The error code, as in extensions.code (BAD_USER_INPUT, UNAVAILABLE, INTERNAL_SERVER_ERROR).' }),
    message: t.string({ description: 'What went wrong.' }),
  }),
});

const WidgetResultObject = builder.objectRef<WidgetResult>('WidgetResult').implement({
  description: "One widget's data, or its error.",
  fields: (t) => ({
    widgetId: t.string({ description: 'The widget id.', resolve: (r) => r.widgetId }),
    type: t.field({ type: WidgetTypeEnum, description: 'The widget type.', resolve: (r) => r.type }),
    title: t.string({ description: 'The widget title.', resolve: (r) => r.title }),
    data: t.field({ type: WidgetDataUnion, nullable: true, description: 'Its data; null when it failed.', resolve: (r) => r.data }),
    error: t.field({ type: WidgetErrorObject, nullable: true, description: 'Why it failed; null when it did not.', resolve: (r) => r.error }),
  }),
});

const DashboardDataObject = builder.objectRef<DashboardData>('DashboardData').implement({
  description: "Every widget's data of a dashboard, computed at once.",
  fields: (t) => ({
    dashboardId: t.id({ description: 'The dashboard id.', resolve: (d) => d.dashboardId }),
    version: t.int({ description: 'The dashboard version computed.', resolve: (d) => d.version }),
    from: t.field({ type: 'DateTime', description: 'Start of the range (inclusive).', resolve: (d) => d.from }),
    to: t.field({ type: 'DateTime', description: 'End of the range (exclusive).', resolve: (d) => d.to }),
    variables: t.field({ type: 'JSON', description: 'The variable values given.', resolve: (d) => d.variables }),
    computedAt: t.field({ type: 'DateTime', description: 'When it was computed.', resolve: (d) => d.computedAt }),
    widgets: t.field({ type: [WidgetResultObject], description: 'One result per widget, in dashboard order.', resolve: (d) => d.widgets }),
  }),
});

const TimeRangeInput = builder.inputType('DashboardTimeRangeInput', {
  description: 'A relative range (relative) or an absolute one (from and to).',
  fields: (t) => ({
    relative: t.string({ description: 'A duration ending now: 15m, 24h, 7d, 2w (at most 400 days).' }),
    from: t.field({ type: 'DateTime', description: 'Start of an absolute range (inclusive).' }),
    to: t.field({ type: 'DateTime', description: 'End of an absolute range (exclusive).' }),
  }),
});

interface WidgetParent {
  widget: Widget;
  dashboard: DashboardRecord;
}
const WidgetObject = builder.objectRef<WidgetParent>('Widget').implement({
  description: 'A panel of a dashboard: what it reads, where it sits, and its data.',
  fields: (t) => ({
    id: t.string({ description: 'Unique within its dashboard.', resolve: (p) => p.widget.id }),
    type: t.field({ type: WidgetTypeEnum, description: 'What it draws.', resolve: (p) => p.widget.type }),
    title: t.string({ description: 'Its title.', resolve: (p) => p.widget.title }),
    position: t.field({ type: PositionObject, description: 'Its place on the grid.', resolve: (p) => p.widget.position }),
    query: t.field({ type: QueryObject, description: 'What it reads.', resolve: (p) => p.widget.query }),
    options: t.field({ type: 'JSON', description: 'Drawing options kept for the frontend (unit, colors, heatmap buckets).', resolve: (p) => p.widget.options as JsonValue }),
    data: t.field({
      type: WidgetDataUnion,
      description: "Its data over a range (the dashboard's when absent) with variable values.",
      args: {
        timeRange: t.arg({ type: TimeRangeInput, description: "The range; the dashboard's when absent." }),
        variables: t.arg({ type: 'JSON', description: 'Variable values, e.g. { "host": "web-1" }; absent ones take their default.' }),
      },
      resolve: (p, args, ctx) => {
        const { from, to } = requestRange(args.timeRange, p.dashboard);
        const variables = checkVariableValues(args.variables, p.dashboard.variables);
        return ctx.dashboards.engine.widgetData(p.dashboard, p.widget, { from, to, variables }, traceOf(ctx));
      },
    }),
  }),
});

const DashboardObject = builder.objectRef<DashboardRecord>('Dashboard').implement({
  description: 'A stored dashboard: its settings, variables and widgets. Every version is kept.',
  fields: (t) => ({
    id: t.id({ description: 'The dashboard id (a UUID).', resolve: (d) => d.id }),
    name: t.string({ description: 'Its name.', resolve: (d) => d.name }),
    description: t.string({ description: 'What it shows; empty when none.', resolve: (d) => d.description }),
    tags: t.stringList({ description: 'Labels to find it by.', resolve: (d) => d.tags }),
    refreshInterval: t.int({ description: 'Seconds between live refreshes.', resolve: (d) => d.refreshInterval }),
    timeRange: t.field({ type: TimeRangeObject, description: 'Its default time range.', resolve: (d) => d.timeRange }),
    timeZone: t.string({ description: 'The IANA time zone in which days are cut.', resolve: (d) => d.timeZone }),
    variables: t.field({ type: [VariableObject], description: 'Its template variables.', resolve: (d) => d.variables.map((variable) => ({ variable, dashboard: d })) }),
    widgets: t.field({ type: [WidgetObject], description: 'Its widgets, in order.', resolve: (d) => d.widgets.map((widget) => ({ widget, dashboard: d })) }),
    version: t.int({ description: 'Increases with every change; pass it to updateDashboard.', resolve: (d) => d.version }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was created.', resolve: (d) => d.createdAt }),
    updatedAt: t.field({ type: 'DateTime', description: 'When it was last changed.', resolve: (d) => d.updatedAt }),
  }),
});

const VersionObject = builder.objectRef<DashboardVersionRecord>('DashboardVersion').implement({
  description: 'One saved version of a dashboard.',
  fields: (t) => ({
    version: t.int({ description: 'Its number, from 1.', resolve: (v) => v.version }),
    definition: t.field({ type: 'JSON', description: 'The whole definition as saved (the dashboard key of exportDashboard).', resolve: (v) => v.definition as unknown as JsonValue }),
    createdBy: t.string({ description: 'The API key (name) that saved it.', resolve: (v) => v.createdBy }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was saved.', resolve: (v) => v.createdAt }),
  }),
});

const HostStatusObject = builder.objectRef<HostStatus>('HostStatus').implement({
  description: "A host's latest cpu, memory and disk usage over the last hour.",
  fields: (t) => ({
    host: t.string({ description: 'The host (tags.host).', resolve: (h) => h.host }),
    cpuUsage: t.float({ nullable: true, description: 'Latest cpu_usage, in percent; null when none in the last hour.', resolve: (h) => h.cpuUsage }),
    memoryUsage: t.float({ nullable: true, description: 'Latest memory_usage, in percent; null when none.', resolve: (h) => h.memoryUsage }),
    diskUsage: t.float({ nullable: true, description: 'Latest disk_usage, in percent (the last disk reported); null when none.', resolve: (h) => h.diskUsage }),
  }),
});

const SystemDashboardObject = builder.objectRef<SystemDashboardData>('SystemDashboard').implement({
  description: "The product's system dashboard.",
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Start of the last hour.', resolve: (d) => d.from }),
    to: t.field({ type: 'DateTime', description: 'Now.', resolve: (d) => d.to }),
    hosts: t.field({ type: [HostStatusObject], description: 'Current cpu, memory and disk per host.', resolve: (d) => d.hosts }),
    activeUsers: t.int({ description: 'Distinct users with an activity in the last hour.', resolve: (d) => d.activeUsers }),
    averageResponseTimeMs: t.float({ nullable: true, description: 'Average response time over the last hour; null without requests.', resolve: (d) => d.averageResponseTimeMs }),
    errorRate: t.float({ nullable: true, description: 'Share (0-1) of requests answered 5xx in the last hour; null without requests.', resolve: (d) => d.errorRate }),
    requestsPerMinute: t.float({ description: 'Performance records per minute over the last hour.', resolve: (d) => d.requestsPerMinute }),
    activeAlerts: t.field({ type: [AlertItemObject], description: 'The active alerts.', resolve: (d) => d.activeAlerts }),
    performanceTrends: t.field({ type: TimeSeriesData, description: 'Hourly average and p95 response time and request count over the last 24 hours.', resolve: (d) => ({ kind: 'TimeSeriesData' as const, series: d.performanceTrends }) }),
  }),
});

const UserDashboardObject = builder.objectRef<UserDashboardData>('UserDashboard').implement({
  description: "The product's dashboard of one user over a period ending now.",
  fields: (t) => ({
    userId: t.string({ description: 'The user.', resolve: (d) => d.userId }),
    period: t.string({ description: 'The period, such as 7d.', resolve: (d) => d.period }),
    from: t.field({ type: 'DateTime', description: 'Start of the period.', resolve: (d) => d.from }),
    to: t.field({ type: 'DateTime', description: 'Now.', resolve: (d) => d.to }),
    totalActivities: t.int({ description: 'Activities in the period.', resolve: (d) => d.totalActivities }),
    projectsCreated: t.int({ description: 'PROJECT_CREATE activities.', resolve: (d) => d.projectsCreated }),
    pagesModified: t.int({ description: 'PAGE_UPDATE activities.', resolve: (d) => d.pagesModified }),
    timeSpentSeconds: t.float({ description: 'The sum of metadata.time_spent_seconds.', resolve: (d) => d.timeSpentSeconds }),
    activeDays: t.int({ description: 'UTC days with at least one activity.', resolve: (d) => d.activeDays }),
    timeline: t.field({ type: TimeSeriesData, description: 'Activities per UTC day.', resolve: (d) => ({ kind: 'TimeSeriesData' as const, series: [{ name: 'activities', points: d.timeline }] }) }),
    mostUsedFeatures: t.field({ type: CategoryData, description: 'Activity types by count, at most 10.', resolve: (d) => ({ kind: 'CategoryData' as const, items: d.topFeatures }) }),
    productivityScore: t.float({ description: 'From 0 to 100, as the README defines it (activity, output, focus and consistency).', resolve: (d) => d.productivityScore }),
  }),
});

// ------------------------------------------------------------------------------------------------- inputs

const PositionInput = builder.inputType('WidgetPositionInput', {
  description: "A widget's place on the grid.",
  fields: (t) => ({
    x: t.int({ required: true, description: 'Column of its left edge (0-1000).' }),
    y: t.int({ required: true, description: 'Row of its top edge (0-1000).' }),
    w: t.int({ required: true, description: 'Width in columns (1-1000).' }),
    h: t.int({ required: true, description: 'Height in rows (1-1000).' }),
  }),
});
const QueryInput = builder.inputType('WidgetQueryInput', {
  description: 'What a widget reads; checked on save.',
  fields: (t) => ({
    source: t.field({ type: WidgetSourceEnum, description: 'The record family, or ACTIVITY; HEATMAP defaults to PERFORMANCE and ACTIVITY_FEED to ACTIVITY.' }),
    metricNames: t.stringList({ description: 'Metrics to read (metric sources, at most 20).' }),
    activityTypes: t.stringList({ description: 'Activity types to read (ACTIVITY, at most 20).' }),
    filter: t.field({ type: 'JSON', description: 'Tag conditions, e.g. { "host": "$host", "environment": "production" }; ACTIVITY takes userId only.' }),
    aggregation: t.string({ description: `One of ${AGGREGATIONS.join(', ')}; default avg (count for ACTIVITY).` }),
    field: t.string({ description: 'The field aggregated: value (default) or responseTimeMs (PERFORMANCE; the HEATMAP default).' }),
    interval: t.field({ type: WidgetIntervalEnum, description: 'Time bucket of charts over time; default AUTO.' }),
    groupByTag: t.string({ description: 'The tag that splits groups (activityType or userId for ACTIVITY).' }),
    topN: t.int({ description: 'How many groups (alerts, activities) to keep, 1-1000.' }),
  }),
});
const WidgetInput = builder.inputType('WidgetInput', {
  description: 'A widget of a dashboard.',
  fields: (t) => ({
    id: t.string({ description: 'Unique within the dashboard (1-50 of [A-Za-z0-9_-]); default w<position>.' }),
    type: t.field({ type: WidgetTypeEnum, required: true, description: 'What it draws.' }),
    title: t.string({ description: 'Its title (at most 200 characters).' }),
    position: t.field({ type: PositionInput, description: 'Its place; default stacked in order.' }),
    query: t.field({ type: QueryInput, description: 'What it reads (ALERT_LIST needs none).' }),
    options: t.field({ type: 'JSON', description: 'Drawing options kept for the frontend: unit, colors; HEATMAP buckets (increasing upper bounds).' }),
  }),
});
const VariableInput = builder.inputType('DashboardVariableInput', {
  description: 'A template variable.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Its name (1-50 of [A-Za-z0-9_]), used as $name in widget filters.' }),
    tag: t.string({ description: 'The tag whose values it offers; default its name.' }),
    source: t.field({ type: WidgetSourceEnum, description: 'The metric family whose tag values it offers; default SYSTEM.' }),
    label: t.string({ description: 'What a panel shows for it.' }),
    defaultValue: t.string({ description: 'Its value when a data request gives none; absent: the condition is left out.' }),
  }),
});
const DashboardInputType = builder.inputType('DashboardInput', {
  description: 'A whole dashboard definition (an update replaces the previous one).',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Its name (1-200 characters).' }),
    description: t.string({ description: 'What it shows (at most 4,000 characters).' }),
    tags: t.stringList({ description: 'Labels to find it by (at most 20).' }),
    refreshInterval: t.int({ description: 'Seconds between live refreshes, 1-86400; default 60.' }),
    timeRange: t.field({ type: TimeRangeInput, description: 'Its default time range; default the last 24h.' }),
    timeZone: t.string({ description: 'IANA time zone in which days are cut; default UTC.' }),
    variables: t.field({ type: [VariableInput], description: 'Template variables (at most 20).' }),
    widgets: t.field({ type: [WidgetInput], description: 'Widgets in order (at most 50).' }),
  }),
});
const DashboardFilter = builder.inputType('DashboardFilter', {
  description: 'Which dashboards to list: every given condition must hold.',
  fields: (t) => ({
    search: t.string({ description: 'Text found in the name or description (case-insensitive).' }),
    tags: t.stringList({ description: 'Tags the dashboard must all have.' }),
  }),
});

// ----------------------------------------------------------------------------------------------- helpers

const actorOf = (ctx: Context) => ({ keyId: ctx.principal.keyId, keyName: ctx.principal.keyName });
function notFound(error: unknown): never {
  if (error instanceof DashboardNotFoundError) throw invalidInput('id', 'no dashboard has this id');
  throw error;
}
async function load(ctx: Context, id: string): Promise<DashboardRecord> {
  const dashboard = await ctx.dashboards.get(dashboardId(id));
  if (!dashboard) throw invalidInput('id', 'no dashboard has this id');
  return dashboard;
}
const filterSchema = z.object({ search: text(200).nullish(), tags: z.array(text(100)).max(20).nullish() });
const PERIOD = z.string().refine((value) => relativeMs(value) !== null, { message: 'must be a duration such as 1d, 7d, 30d (at most 400 days)' });
const USER = text(255).refine((value) => value.length > 0, { message: 'must not be empty' });

// ------------------------------------------------------------------------------------------------ fields

builder.queryFields((t) => ({
  dashboards: t.connection(
    {
      type: DashboardObject,
      description: 'Dashboards by name.',
      args: { filter: t.arg({ type: DashboardFilter, description: 'Which dashboards; all when absent.' }) },
      resolve: (_root, args, ctx) => {
        for (const argument of ['after', 'before'] as const) {
          const cursor = args[argument];
          if (cursor && !/^OffsetConnection:\d{1,9}$/.test(Buffer.from(cursor, 'base64').toString('utf8'))) throw invalidInput(argument, 'must be a cursor returned by this connection');
        }
        const filter = parseInput(filterSchema, args.filter ?? {}, 'filter');
        return resolveOffsetConnection({ args, ...CONNECTION_SIZES }, ({ limit, offset }) => ctx.dashboards.list(filter, limit, offset));
      },
    },
    { name: 'DashboardConnection', description: 'A page of dashboards.' },
    { name: 'DashboardEdge', description: 'One dashboard and its cursor.' },
  ),
  dashboard: t.field({
    type: DashboardObject,
    nullable: true,
    description: 'One dashboard; null when no dashboard has this id.',
    args: { id: t.arg.id({ required: true, description: 'The dashboard id.' }) },
    resolve: (_root, args, ctx) => ctx.dashboards.get(dashboardId(String(args.id))),
  }),
  dashboardVersions: t.field({
    type: [VersionObject],
    description: 'Every saved version of a dashboard, newest first.',
    args: { id: t.arg.id({ required: true, description: 'The dashboard id.' }) },
    resolve: async (_root, args, ctx) => ctx.dashboards.versions((await load(ctx, String(args.id))).id),
  }),
  dashboardData: t.field({
    type: DashboardDataObject,
    description: "Every widget's data in one call, computed concurrently; a widget that fails carries its own error.",
    args: {
      id: t.arg.id({ required: true, description: 'The dashboard id.' }),
      timeRange: t.arg({ type: TimeRangeInput, description: "The range; the dashboard's when absent." }),
      variables: t.arg({ type: 'JSON', description: 'Variable values, e.g. { "host": "web-1" }; absent ones take their default.' }),
    },
    resolve: async (_root, args, ctx) => {
      const dashboard = await load(ctx, String(args.id));
      const { from, to } = requestRange(args.timeRange, dashboard);
      const variables = checkVariableValues(args.variables, dashboard.variables);
      return ctx.dashboards.engine.dashboardData(dashboard, { from, to, variables }, traceOf(ctx));
    },
  }),
  exportDashboard: t.field({
    type: 'JSON',
    description: 'A dashboard as JSON that importDashboard takes on another installation.',
    args: { id: t.arg.id({ required: true, description: 'The dashboard id.' }) },
    resolve: async (_root, args, ctx) => ctx.dashboards.exportJson(await load(ctx, String(args.id))),
  }),
  systemDashboard: t.field({
    type: SystemDashboardObject,
    description: "The product's system dashboard: hosts, active users, requests, errors and alerts of the last hour, and trends.",
    resolve: (_root, _args, ctx) => systemDashboard(ctx.analytics, ctx.dashboards.alerts, Date.now(), traceOf(ctx)),
  }),
  userDashboard: t.field({
    type: UserDashboardObject,
    description: "The product's dashboard of one user over a period ending now.",
    args: {
      userId: t.arg.string({ required: true, description: 'The user.' }),
      period: t.arg.string({ defaultValue: '7d', description: 'A duration ending now, such as 1d, 7d or 30d; default 7d.' }),
    },
    resolve: (_root, args, ctx) =>
      userDashboard(ctx.analytics, ctx.db, parseInput(USER, args.userId, 'userId'), parseInput(PERIOD, args.period ?? '7d', 'period'), Date.now(), traceOf(ctx)),
  }),
}));

builder.mutationFields((t) => ({
  createDashboard: t.field({
    type: DashboardObject,
    ...ADMIN_ONLY,
    description: 'Creates a dashboard (version 1); recorded in the audit trail. A bad widget is refused naming its index and field.',
    args: { input: t.arg({ type: DashboardInputType, required: true, description: 'The dashboard.' }) },
    resolve: (_root, args, ctx) => ctx.dashboards.create(actorOf(ctx), args.input),
  }),
  updateDashboard: t.field({
    type: DashboardObject,
    ...ADMIN_ONLY,
    description: 'Replaces a dashboard, based on the version read: a dashboard changed since is refused with CONFLICT and nothing is written.',
    args: {
      id: t.arg.id({ required: true, description: 'The dashboard id.' }),
      input: t.arg({ type: DashboardInputType, required: true, description: 'The whole new definition.' }),
      version: t.arg.int({ required: true, description: 'The version the change is based on.' }),
    },
    resolve: (_root, args, ctx) => ctx.dashboards.update(actorOf(ctx), dashboardId(String(args.id)), args.input, args.version).catch(notFound),
  }),
  deleteDashboard: t.field({
    type: DashboardObject,
    ...ADMIN_ONLY,
    description: 'Deletes a dashboard and its versions, and returns it as it was; its live subscribers get NOT_FOUND.',
    args: { id: t.arg.id({ required: true, description: 'The dashboard id.' }) },
    resolve: (_root, args, ctx) => ctx.dashboards.delete(actorOf(ctx), dashboardId(String(args.id))).catch(notFound),
  }),
  restoreDashboardVersion: t.field({
    type: DashboardObject,
    ...ADMIN_ONLY,
    description: 'Brings back a saved version as a new version (the history is kept).',
    args: {
      id: t.arg.id({ required: true, description: 'The dashboard id.' }),
      version: t.arg.int({ required: true, description: 'The version to bring back.' }),
    },
    resolve: (_root, args, ctx) => ctx.dashboards.restore(actorOf(ctx), dashboardId(String(args.id)), args.version).catch(notFound),
  }),
  importDashboard: t.field({
    type: DashboardObject,
    ...ADMIN_ONLY,
    description: "Creates a dashboard from exportDashboard's JSON, or from the product's dashboard JSON ({ dashboard, widgets } with refresh_interval, time_range and lowercase widget types).",
    args: { json: t.arg({ type: 'JSON', required: true, description: 'The JSON document.' }) },
    resolve: (_root, args, ctx) => ctx.dashboards.import(actorOf(ctx), args.json),
  }),
}));

builder.subscriptionFields((t) => ({
  dashboardUpdated: t.field({
    type: DashboardDataObject,
    description:
      "A dashboard's data: first at once, then at every refreshInterval and sooner when records its widgets read arrive, " +
      'never more often than INSIGHTS_REAL_TIME_UPDATE_INTERVAL and never when nothing changed. Computed once per refresh for all subscribers of the same arguments.',
    args: {
      id: t.arg.id({ required: true, description: 'The dashboard id.' }),
      timeRange: t.arg({ type: TimeRangeInput, description: "The range; the dashboard's when absent (a relative range slides)." }),
      variables: t.arg({ type: 'JSON', description: 'Variable values, e.g. { "host": "web-1" }.' }),
    },
    subscribe: async (_root, args, ctx) => {
      const dashboard = await load(ctx, String(args.id));
      const range = args.timeRange ? requestRange(args.timeRange, dashboard).range : null;
      const variables = checkVariableValues(args.variables, dashboard.variables);
      return ctx.dashboards.feeds.subscribe(dashboard, range, variables);
    },
    resolve: (data) => data,
  }),
}));
