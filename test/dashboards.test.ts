import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../src/core/db/sql.js';
import { BACKENDS, startTestServer, type TestServer } from './support/server.js';
import { connectSubscriptions, settle, type SubscriptionClient } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

// Dashboards as a caller meets them, on both databases: definitions with versions and conflicts, every widget
// type's data against the raw rows, variables, the product's JSON, the built-in dashboards, bad widgets, and
// live data shared by its viewers.

const HOUR = 3_600_000;
const MINUTE = 60_000;

const DASHBOARD_FIELDS = `id name description tags refreshInterval timeRange { relative from to } timeZone version createdAt updatedAt
  variables { name tag source label defaultValue }
  widgets { id type title position { x y w h } query { source metricNames activityTypes filter aggregation field interval groupByTag topN } options }`;
const CREATE = `mutation($input: DashboardInput!) { createDashboard(input: $input) { ${DASHBOARD_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: DashboardInput!, $version: Int!) { updateDashboard(id: $id, input: $input, version: $version) { ${DASHBOARD_FIELDS} } }`;
const DATA_FIELDS = `dashboardId version from to variables computedAt widgets { widgetId type title error { code message } data {
  __typename
  ... on MetricCardData { value previousValue change unit sparkline { t v } }
  ... on TimeSeriesData { series { name points { t v } } }
  ... on CategoryData { items { key value } }
  ... on TableData { columns rows }
  ... on HeatmapData { buckets times counts }
  ... on AlertListData { alerts { id ruleName severity } }
  ... on ActivityFeedData { activities { id userId activityType timestamp } }
} }`;
const DATA = `query($id: ID!, $timeRange: DashboardTimeRangeInput, $variables: JSON) { dashboardData(id: $id, timeRange: $timeRange, variables: $variables) { ${DATA_FIELDS} } }`;

type Issue = { path: string; index: number | null; field: string; message: string };
type Json = Record<string, unknown>;
interface WidgetResult {
  widgetId: string;
  type: string;
  error: { code: string; message: string } | null;
  data: Json & { __typename: string };
}
interface DashboardDataShape {
  version: number;
  widgets: WidgetResult[];
}

const close = (actual: number | null | undefined, expected: number, tolerance = 1e-9) => {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(Math.abs(expected) * tolerance + 1e-9);
};

describe.each(BACKENDS)('dashboards (%s)', (backend) => {
  let server: TestServer;
  /** Two hours, two days ago, on whole hours: the widgets' absolute range (rolled up before it is read). */
  const base = Math.floor((Date.now() - 2 * 86_400_000) / HOUR) * HOUR;
  const range = { from: new Date(base).toISOString(), to: new Date(base + 2 * HOUR).toISOString() };
  const db = () => server.app.services.db;
  const api = async <T = Json>(query: string, variables?: Json): Promise<T> => server.query<T, Json>(query as never, variables);

  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'dashboards', env: { INSIGHTS_REAL_TIME_UPDATE_INTERVAL: '1' } });
    const performance = [];
    for (let minute = -60; minute < 120; minute += 1) {
      for (const [index, endpoint] of ['/api/orders', '/api/users'].entries()) {
        if (minute % (index + 2) !== 0) continue;
        performance.push({
          metricName: 'http_request',
          metricType: 'HISTOGRAM',
          value: 1,
          responseTimeMs: 20 + ((((minute * 37 + index * 11) % 400) + 400) % 400) + (minute % 17 === 0 ? 2000 : 0),
          statusCode: minute % 13 === 0 ? 503 : 200,
          tags: { endpoint },
          timestamp: new Date(base + minute * MINUTE + 5_000).toISOString(),
        });
      }
    }
    const system = [];
    for (let minute = 0; minute < 120; minute += 5) {
      for (const [index, host] of ['web-1', 'web-2'].entries()) {
        if (host === 'web-2' && minute % 10 !== 0) continue;
        system.push({ metricName: 'cpu_usage', metricType: 'GAUGE', value: 10 + index * 30 + (minute % 7), unit: 'percent', tags: { host }, timestamp: new Date(base + minute * MINUTE).toISOString() });
      }
    }
    const activities = [];
    for (let index = 0; index < 40; index += 1) {
      activities.push({
        userId: `u${index % 6}`,
        activityType: ['login', 'PAGE_UPDATE', 'PROJECT_CREATE'][index % 3],
        timestamp: new Date(base + index * 3 * MINUTE + 1_000).toISOString(),
      });
    }
    await api(`mutation($input: [PerformanceMetricInput!]!) { recordPerformanceMetrics(input: $input) { count } }`, { input: performance });
    await api(`mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }`, { input: system });
    await api(`mutation($input: [UserActivityInput!]!) { recordUserActivities(input: $input) { count } }`, { input: activities });
    await server.app.services.rollups.refresh();
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
  });

  it('creates, lists, updates with versions, refuses a stale version with CONFLICT, restores and deletes', async () => {
    const input = { name: 'Ops', description: 'Operations overview', tags: ['ops', 'team-a'], refreshInterval: 30, timeRange: { relative: '24h' }, widgets: [{ type: 'ALERT_LIST', title: 'Alerts' }] };
    const { createDashboard: created } = await api<{ createDashboard: Json & { id: string; version: number } }>(CREATE, { input });
    expect(created).toMatchObject({ name: 'Ops', version: 1, refreshInterval: 30, timeRange: { relative: '24h', from: null, to: null }, timeZone: 'UTC', tags: ['ops', 'team-a'] });
    expect((created.widgets as Json[])[0]).toMatchObject({ id: 'w1', type: 'ALERT_LIST', title: 'Alerts', position: { x: 0, y: 0, w: 6, h: 4 } });

    const { updateDashboard: second } = await api<{ updateDashboard: Json }>(UPDATE, { id: created.id, version: 1, input: { ...input, name: 'Ops v2' } });
    expect(second).toMatchObject({ name: 'Ops v2', version: 2 });

    const stale = await server.request<unknown, Json>(UPDATE, { id: created.id, version: 1, input: { ...input, name: 'Ops stale' } });
    expect(stale.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', currentVersion: 2 });
    const { dashboard: after } = await api<{ dashboard: Json }>(`query($id: ID!) { dashboard(id: $id) { name version } }`, { id: created.id });
    expect(after).toEqual({ name: 'Ops v2', version: 2 });

    const { dashboardVersions } = await api<{ dashboardVersions: { version: number; definition: Json; createdBy: string }[] }>(
      `query($id: ID!) { dashboardVersions(id: $id) { version definition createdBy createdAt } }`,
      { id: created.id },
    );
    expect(dashboardVersions.map((version) => [version.version, version.definition.name])).toEqual([
      [2, 'Ops v2'],
      [1, 'Ops'],
    ]);

    const { restoreDashboardVersion } = await api<{ restoreDashboardVersion: Json }>(`mutation($id: ID!) { restoreDashboardVersion(id: $id, version: 1) { name version } }`, { id: created.id });
    expect(restoreDashboardVersion).toEqual({ name: 'Ops', version: 3 });

    const list = await api<{ dashboards: { edges: { node: { id: string; name: string } }[] } }>(
      `query($filter: DashboardFilter) { dashboards(first: 10, filter: $filter) { edges { node { id name } } } }`,
      { filter: { search: 'operations', tags: ['ops'] } },
    );
    expect(list.dashboards.edges.map((edge) => edge.node.id)).toEqual([created.id]);
    const cursor = await server.request<unknown, Json>(`{ dashboards(first: 1, after: "T2Zmc2V0Q29ubmVjdGlvbjp4") { edges { cursor } } }`);
    expect((cursor.errors![0]!.extensions!.issues as Issue[])[0]!.path).toBe('after');
    const none = await api<{ dashboards: { edges: unknown[] } }>(`{ dashboards(first: 10, filter: { tags: ["ops", "nope"] }) { edges { node { id } } } }`);
    expect(none.dashboards.edges).toEqual([]);

    const audit = await db().query<{ action: string }>(sql`SELECT action FROM audit_events WHERE target_id = ${created.id} ORDER BY id`);
    expect(audit.map((row) => row.action)).toEqual(['dashboard.created', 'dashboard.updated', 'dashboard.restored']);

    await api(`mutation($id: ID!) { deleteDashboard(id: $id) { id } }`, { id: created.id });
    expect((await api<{ dashboard: unknown }>(`query($id: ID!) { dashboard(id: $id) { id } }`, { id: created.id })).dashboard).toBeNull();
    const missing = await server.request<unknown, Json>(UPDATE, { id: created.id, version: 3, input });
    expect(missing.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it("computes every widget type's data equal to the raw rows, through the rollups", async () => {
    const { createDashboard } = await api<{ createDashboard: { id: string } }>(CREATE, {
      input: {
        name: 'Every widget',
        timeRange: range,
        widgets: [
          { id: 'card', type: 'METRIC_CARD', query: { source: 'PERFORMANCE', metricNames: ['http_request'], aggregation: 'avg', field: 'responseTimeMs', interval: 'HOUR' }, options: { unit: 'ms' } },
          { id: 'cpu', type: 'TIME_SERIES', query: { source: 'SYSTEM', metricNames: ['cpu_usage'], aggregation: 'avg', groupByTag: 'host', interval: 'HOUR' } },
          { id: 'bars', type: 'BAR_CHART', query: { source: 'PERFORMANCE', aggregation: 'count', groupByTag: 'endpoint' } },
          { id: 'pie', type: 'PIE_CHART', query: { source: 'ACTIVITY', aggregation: 'count' } },
          { id: 'table', type: 'TABLE', query: { source: 'PERFORMANCE', metricNames: ['http_request'], aggregation: 'p95', field: 'responseTimeMs', groupByTag: 'endpoint' } },
          { id: 'heat', type: 'HEATMAP', query: { interval: 'HOUR' }, options: { buckets: [50, 100, 250, 500, 1000] } },
          { id: 'alerts', type: 'ALERT_LIST' },
          { id: 'feed', type: 'ACTIVITY_FEED', query: { activityTypes: ['PAGE_UPDATE', 'login'], topN: 5 } },
        ],
      },
    });
    const response = await server.request<{ dashboardData: DashboardDataShape }, Json>(DATA, { id: createDashboard.id });
    expect(response.errors).toBeUndefined();
    const paths = (response as unknown as { extensions: { analytics: { path: string }[] } }).extensions.analytics.map((read) => read.path);
    expect(paths).toContain('rollup');
    const widgets = Object.fromEntries(response.data!.dashboardData.widgets.map((widget) => [widget.widgetId, widget]));
    for (const widget of Object.values(widgets)) expect(widget.error, widget.widgetId).toBeNull();
    const from = new Date(range.from);
    const to = new Date(range.to);

    // METRIC_CARD: the range, the period before it, the change, the hourly sparkline.
    const avg = async (start: Date, end: Date) =>
      (await db().query<{ v: number }>(sql`SELECT avg(response_time_ms)::float8 AS v FROM performance_metrics WHERE "timestamp" >= ${start} AND "timestamp" < ${end}`))[0]!.v;
    const card = widgets.card!.data;
    expect(card.__typename).toBe('MetricCardData');
    close(card.value as number, await avg(from, to));
    close(card.previousValue as number, await avg(new Date(base - 2 * HOUR), from));
    close(card.change as number, Math.round((((card.value as number) - (card.previousValue as number)) / (card.previousValue as number)) * 10_000) / 100, 1e-6);
    expect(card.unit).toBe('ms');
    const sparkline = card.sparkline as { t: string; v: number }[];
    expect(sparkline.map((point) => point.t)).toEqual([range.from, new Date(base + HOUR).toISOString()]);
    close(sparkline[1]!.v, await avg(new Date(base + HOUR), to));

    // TIME_SERIES: one series per host, hourly averages.
    const cpuRows = await db().query<{ host: string; hour: Date; v: number }>(sql`
      SELECT tags ->> 'host' AS host, date_trunc('hour', "timestamp") AS hour, avg(value)::float8 AS v FROM system_metrics
      WHERE metric_name = 'cpu_usage' AND "timestamp" >= ${from} AND "timestamp" < ${to} GROUP BY 1, 2 ORDER BY 1, 2`);
    const series = widgets.cpu!.data.series as { name: string; points: { t: string; v: number }[] }[];
    expect(series.map((s) => s.name)).toEqual(['web-1', 'web-2']);
    for (const row of cpuRows) {
      const point = series.find((s) => s.name === row.host)!.points.find((p) => p.t === new Date(row.hour).toISOString());
      close(point!.v, row.v);
    }
    expect(series.flatMap((s) => s.points)).toHaveLength(cpuRows.length);

    // BAR_CHART and PIE_CHART: counts per group, largest first.
    const perEndpoint = await db().query<{ key: string; value: number }>(sql`
      SELECT tags ->> 'endpoint' AS key, count(*)::float8 AS value FROM performance_metrics
      WHERE "timestamp" >= ${from} AND "timestamp" < ${to} GROUP BY 1 ORDER BY 2 DESC, 1`);
    expect(widgets.bars!.data).toEqual({ __typename: 'CategoryData', items: perEndpoint });
    const perType = await db().query<{ key: string; value: number }>(sql`
      SELECT activity_type AS key, count(*)::float8 AS value FROM user_activities
      WHERE "timestamp" >= ${from} AND "timestamp" < ${to} GROUP BY 1 ORDER BY 2 DESC, 1`);
    expect(widgets.pie!.data).toEqual({ __typename: 'CategoryData', items: perType });

    // TABLE: count exact, p95 within the sketches' 1 %.
    const table = widgets.table!.data as unknown as { columns: string[]; rows: [string, number, number][] };
    expect(table.columns).toEqual(['endpoint', 'count', 'p95(responseTimeMs)']);
    const p95s = await db().query<{ key: string; count: number; p95: number }>(sql`
      SELECT tags ->> 'endpoint' AS key, count(*)::int AS count, percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms)::float8 AS p95
      FROM performance_metrics WHERE "timestamp" >= ${from} AND "timestamp" < ${to} GROUP BY 1`);
    expect(table.rows).toHaveLength(2);
    for (const [key, count, p95] of table.rows) {
      const expected = p95s.find((row) => row.key === key)!;
      expect(count).toBe(expected.count);
      close(p95, expected.p95, 0.01);
    }

    // HEATMAP: hourly columns, each adding up to the hour's exact count; its buckets as asked.
    const heat = widgets.heat!.data as unknown as { buckets: number[]; times: string[]; counts: number[][] };
    const perHour = await db().query<{ hour: Date; count: number; below: number }>(sql`
      SELECT date_trunc('hour', "timestamp") AS hour, count(*)::int AS count, count(*) FILTER (WHERE response_time_ms <= 1000)::int AS below
      FROM performance_metrics WHERE "timestamp" >= ${from} AND "timestamp" < ${to} GROUP BY 1 ORDER BY 1`);
    expect(heat.buckets).toEqual([50, 100, 250, 500, 1000]);
    expect(heat.times).toEqual(perHour.map((row) => new Date(row.hour).toISOString()));
    heat.counts.forEach((column, index) => {
      expect(column).toHaveLength(6);
      expect(column.reduce((sum, n) => sum + n, 0)).toBe(perHour[index]!.count);
      // Values above 1,000 ms (the slow outliers) are past the p95 knot: the estimate keeps them in the last column.
      expect(column[5]).toBeGreaterThan(0);
      expect(Math.abs(column.slice(0, 5).reduce((sum, n) => sum + n, 0) - perHour[index]!.below)).toBeLessThanOrEqual(Math.ceil(perHour[index]!.count * 0.05));
    });

    // ALERT_LIST: what activeAlerts says.
    const { activeAlerts } = await api<{ activeAlerts: { id: string }[] }>(`{ activeAlerts { id } }`);
    expect((widgets.alerts!.data.alerts as { id: string }[]).map((alert) => alert.id)).toEqual(activeAlerts.map((alert) => alert.id));

    // ACTIVITY_FEED: the newest of the range.
    const newest = await db().query<{ id: string }>(sql`
      SELECT id::text AS id FROM user_activities WHERE "timestamp" >= ${from} AND "timestamp" < ${to} AND activity_type IN ('PAGE_UPDATE', 'login')
      ORDER BY "timestamp" DESC, id DESC LIMIT 5`);
    expect((widgets.feed!.data.activities as { id: string }[]).map((activity) => activity.id)).toEqual(newest.map((row) => row.id));

    // A widget that fails carries its own error; the others still come (the feed's table is briefly out of reach).
    await db().query(sql`ALTER TABLE user_activities RENAME TO user_activities_away`);
    let partial: DashboardDataShape;
    try {
      ({ dashboardData: partial } = await api<{ dashboardData: DashboardDataShape }>(DATA, { id: createDashboard.id }));
    } finally {
      await db().query(sql`ALTER TABLE user_activities_away RENAME TO user_activities`);
    }
    const outcome = Object.fromEntries(partial.widgets.map((widget) => [widget.widgetId, widget]));
    expect(outcome.feed!.data).toBeNull();
    expect(outcome.feed!.error).toEqual({ code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error.' });
    expect(outcome.bars!).toMatchObject({ error: null, data: { items: perEndpoint } });

    // One widget on its own gives the same data.
    const one = await api<{ dashboard: { widgets: { id: string; data: Json }[] } }>(
      `query($id: ID!) { dashboard(id: $id) { widgets { id data { ... on CategoryData { items { key value } } } } } }`,
      { id: createDashboard.id },
    );
    expect(one.dashboard.widgets.find((widget) => widget.id === 'bars')!.data).toEqual({ items: perEndpoint });
  });

  it('substitutes variables, offers their values, and gives no data for a value that matches nothing', async () => {
    const { createDashboard } = await api<{ createDashboard: { id: string } }>(CREATE, {
      input: {
        name: 'Per host',
        timeRange: range,
        variables: [{ name: 'host', tag: 'host', source: 'SYSTEM', label: 'Host' }],
        widgets: [{ id: 'cpu', type: 'TIME_SERIES', query: { source: 'SYSTEM', metricNames: ['cpu_usage'], aggregation: 'max', groupByTag: 'host', filter: { host: '$host' }, interval: 'HOUR' } }],
      },
    });
    const id = createDashboard.id;
    const names = async (variables?: Json) => {
      const { dashboardData } = await api<{ dashboardData: DashboardDataShape }>(DATA, { id, variables });
      return (dashboardData.widgets[0]!.data.series as { name: string; points: { v: number }[] }[]).map((s) => [s.name, s.points.map((p) => p.v)]);
    };
    const maxima = await db().query<{ v: number }>(sql`
      SELECT max(value)::float8 AS v FROM system_metrics WHERE tags ->> 'host' = 'web-2' AND "timestamp" >= ${new Date(range.from)} AND "timestamp" < ${new Date(range.to)}
      GROUP BY date_trunc('hour', "timestamp") ORDER BY date_trunc('hour', "timestamp")`);
    expect(await names({ host: 'web-2' })).toEqual([['web-2', maxima.map((row) => row.v)]]);
    expect(await names({ host: 'no-such-host' })).toEqual([]);
    expect((await names()).map(([name]) => name)).toEqual(['web-1', 'web-2']);

    const { dashboard } = await api<{ dashboard: { variables: { options: string[] }[] } }>(`query($id: ID!) { dashboard(id: $id) { variables { name options } } }`, { id });
    expect(dashboard.variables[0]!.options).toEqual(['web-1', 'web-2']);

    const nul = await server.request<unknown, Json>(DATA, { id, variables: { host: 'web\u0000' } });
    expect((nul.errors![0]!.extensions!.issues as Issue[])[0]).toMatchObject({ path: 'variables.host', message: 'must not contain NUL characters' });
    const unknown = await server.request<unknown, Json>(DATA, { id, variables: { hots: 'web-1' } });
    expect(unknown.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect((unknown.errors![0]!.extensions!.issues as Issue[])[0]!.path).toBe('variables.hots');
  });

  it("imports the product's dashboard JSON, and exports a dashboard that imports back the same", async () => {
    const product = {
      dashboard: {
        name: 'Product overview',
        description: 'What the product team watches',
        refresh_interval: 30,
        time_range: '7d',
        widgets: [
          { type: 'metric_card', title: 'Activities', query: { source: 'activity', aggregation: 'count' } },
          { type: 'time_series', title: 'Response time', query: { source: 'performance', metric: 'http_request', aggregation: 'p95', field: 'responseTimeMs', interval: 'hour' } },
          { type: 'pie_chart', title: 'Activities by type', query: { source: 'activity', group_by: 'activityType' } },
        ],
      },
    };
    const { importDashboard } = await api<{ importDashboard: Json & { id: string } }>(`mutation($json: JSON!) { importDashboard(json: $json) { ${DASHBOARD_FIELDS} } }`, { json: product });
    expect(importDashboard).toMatchObject({ name: 'Product overview', refreshInterval: 30, timeRange: { relative: '7d' }, version: 1 });
    expect((importDashboard.widgets as { type: string; query: Json }[]).map((widget) => widget.type)).toEqual(['METRIC_CARD', 'TIME_SERIES', 'PIE_CHART']);
    expect((importDashboard.widgets as { query: Json }[])[1]!.query).toMatchObject({ source: 'PERFORMANCE', metricNames: ['http_request'], aggregation: 'p95', interval: 'HOUR' });
    const { dashboardData } = await api<{ dashboardData: DashboardDataShape }>(DATA, { id: importDashboard.id, timeRange: range });
    expect(dashboardData.widgets.map((widget) => [widget.data.__typename, widget.error])).toEqual([
      ['MetricCardData', null],
      ['TimeSeriesData', null],
      ['CategoryData', null],
    ]);
    expect(dashboardData.widgets[0]!.data.value).toBe(40);

    const { exportDashboard } = await api<{ exportDashboard: Json }>(`query($id: ID!) { exportDashboard(id: $id) }`, { id: importDashboard.id });
    const { importDashboard: copy } = await api<{ importDashboard: Json }>(`mutation($json: JSON!) { importDashboard(json: $json) { ${DASHBOARD_FIELDS} } }`, { json: exportDashboard });
    const strip = (dashboard: Json) => ({ ...dashboard, id: null, createdAt: null, updatedAt: null });
    expect(strip(copy)).toEqual(strip(importDashboard));

    const bad = await server.request<unknown, Json>(`mutation($json: JSON!) { importDashboard(json: $json) { id } }`, { json: { dashboard: { name: 'x', widgets: [{ type: 'gauge' }] } } });
    expect((bad.errors![0]!.extensions!.issues as Issue[])[0]).toMatchObject({ path: 'input.widgets[0].type', index: 0 });
  });

  it('refuses bad widgets naming the widget index and field, and writes nothing', async () => {
    const count = async () => (await db().query<{ n: number }>(sql`SELECT count(*)::int AS n FROM dashboards`))[0]!.n;
    const before = await count();
    const result = await server.request<unknown, Json>(CREATE, {
      input: {
        name: 'Broken',
        variables: [{ name: 'host' }],
        widgets: [
          { type: 'TIME_SERIES', query: { source: 'SYSTEM', metricNames: ['cpu_usage'], aggregation: 'errorRate' } },
          { type: 'BAR_CHART', query: { source: 'PERFORMANCE', aggregation: 'median' } },
          { type: 'TABLE', query: { source: 'SYSTEM', metricNames: ['cpu_usage'], filter: { host: '$hots' }, topN: 0 } },
          { type: 'METRIC_CARD', query: { source: 'SYSTEM' } },
        ],
      },
    });
    expect(result.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const issues = (result.errors![0]!.extensions!.issues as Issue[]).map((issue) => [issue.path, issue.index]);
    expect(issues).toEqual([
      ['input.widgets[0].query.aggregation', 0],
      ['input.widgets[1].query.aggregation', 1],
      ['input.widgets[2].query.filter.host', 2],
      ['input.widgets[2].query.topN', 2],
      ['input.widgets[3].query.metricNames', 3],
    ]);
    expect(result.errors![0]!.message).toContain('refers to $hots');
    expect(await count()).toBe(before);
  });

  it('computes the built-in system and user dashboards', async () => {
    const now = Date.now();
    const at = (ago: number) => new Date(now - ago).toISOString();
    const system = [
      ...['h-a', 'h-b'].flatMap((host, index) => [
        { metricName: 'cpu_usage', metricType: 'GAUGE', value: 5, tags: { host }, timestamp: at(40 * MINUTE) },
        { metricName: 'cpu_usage', metricType: 'GAUGE', value: 50 + index, tags: { host }, timestamp: at(10 * MINUTE) },
        { metricName: 'memory_usage', metricType: 'GAUGE', value: 60 + index, tags: { host }, timestamp: at(10 * MINUTE) },
        { metricName: 'disk_usage', metricType: 'GAUGE', value: 70 + index, tags: { host, mount: '/' }, timestamp: at(10 * MINUTE) },
      ]),
    ];
    const requests = [100, 200, 300, 400, 500, 600].map((responseTimeMs, index) => ({
      metricName: 'http_request',
      metricType: 'HISTOGRAM',
      value: 1,
      responseTimeMs,
      statusCode: index === 0 ? 500 : 200,
      tags: { endpoint: '/api/built-in' },
      timestamp: at((index + 1) * MINUTE),
    }));
    const activities = [
      { userId: 'builtin-1', activityType: 'PROJECT_CREATE', timestamp: at(30 * MINUTE) },
      { userId: 'builtin-1', activityType: 'PROJECT_CREATE', timestamp: at(25 * HOUR) },
      ...[1, 2, 3].map((n) => ({ userId: 'builtin-1', activityType: 'PAGE_UPDATE', metadata: { time_spent_seconds: 600 }, timestamp: at(n * 20 * MINUTE) })),
      { userId: 'builtin-1', activityType: 'login', metadata: { time_spent_seconds: 'lots' }, timestamp: at(25 * HOUR) },
      { userId: 'builtin-2', activityType: 'login', timestamp: at(5 * MINUTE) },
      { userId: 'builtin-3', activityType: 'login', timestamp: at(2 * HOUR) },
    ];
    await api(`mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }`, { input: system });
    await api(`mutation($input: [PerformanceMetricInput!]!) { recordPerformanceMetrics(input: $input) { count } }`, { input: requests });
    await api(`mutation($input: [UserActivityInput!]!) { recordUserActivities(input: $input) { count } }`, { input: activities });

    const { systemDashboard } = await api<{ systemDashboard: Json }>(`{ systemDashboard {
      hosts { host cpuUsage memoryUsage diskUsage } activeUsers averageResponseTimeMs errorRate requestsPerMinute
      activeAlerts { id } performanceTrends { series { name points { t v } } } } }`);
    expect(systemDashboard).toMatchObject({
      hosts: [
        { host: 'h-a', cpuUsage: 50, memoryUsage: 60, diskUsage: 70 },
        { host: 'h-b', cpuUsage: 51, memoryUsage: 61, diskUsage: 71 },
      ],
      activeUsers: 2,
      averageResponseTimeMs: 350,
      requestsPerMinute: 0.1,
      activeAlerts: [],
    });
    close(systemDashboard.errorRate as number, 1 / 6, 1e-9);
    const trends = (systemDashboard.performanceTrends as { series: { name: string; points: { v: number }[] }[] }).series;
    expect(trends.map((s) => s.name)).toEqual(['avg(responseTimeMs)', 'p95(responseTimeMs)', 'requests']);
    expect(trends[2]!.points.reduce((sum, point) => sum + point.v, 0)).toBe(6);

    const { userDashboard } = await api<{ userDashboard: Json }>(`{ userDashboard(userId: "builtin-1") {
      userId period totalActivities projectsCreated pagesModified timeSpentSeconds activeDays productivityScore
      timeline { series { name points { t v } } } mostUsedFeatures { items { key value } } } }`);
    // UTC days with an activity of builtin-1: two, or three when the last hour straddles midnight.
    const days = new Set(activities.filter((a) => a.userId === 'builtin-1').map((a) => a.timestamp.slice(0, 10))).size;
    // Score over 7 days: 25·(6/140) + 35·((5·2 + 3)/35) + 20·(1800/100800) + 20·(days/7); with 2 days 1.07 + 13 + 0.36 + 5.71 = 20.1.
    const score = Math.round((25 * (6 / 140) + 35 * (13 / 35) + 20 * (1800 / 100_800) + 20 * (days / 7)) * 10) / 10;
    if (days === 2) expect(score).toBe(20.1);
    expect(userDashboard).toMatchObject({
      userId: 'builtin-1',
      period: '7d',
      totalActivities: 6,
      projectsCreated: 2,
      pagesModified: 3,
      timeSpentSeconds: 1800,
      activeDays: days,
      productivityScore: score,
      mostUsedFeatures: { items: [{ key: 'PAGE_UPDATE', value: 3 }, { key: 'PROJECT_CREATE', value: 2 }, { key: 'login', value: 1 }] },
    });
    const timeline = (userDashboard.timeline as { series: { points: { v: number }[] }[] }).series[0]!.points;
    expect(timeline.map((point) => point.v).reduce((a, b) => a + b, 0)).toBe(6);

    const bad = await server.request<unknown, Json>(`{ userDashboard(userId: "builtin-1", period: "a week") { totalActivities } }`);
    expect((bad.errors![0]!.extensions!.issues as Issue[])[0]!.path).toBe('period');
  });

  it('sends live data first, again after a relevant write, never when nothing changed, computed once for every viewer', async () => {
    const { createDashboard } = await api<{ createDashboard: { id: string } }>(CREATE, {
      input: {
        name: 'Live',
        refreshInterval: 3600,
        timeRange: { relative: '1h' },
        widgets: [{ id: 'logins', type: 'METRIC_CARD', query: { source: 'ACTIVITY', activityTypes: ['live_login'], aggregation: 'count', interval: 'HOUR' } }],
      },
    });
    const feeds = server.app.services.dashboards.feeds;
    const clients: SubscriptionClient[] = [connectSubscriptions(server.url), connectSubscriptions(server.url)];
    try {
      const subscription = `subscription($id: ID!) { dashboardUpdated(id: $id) { version widgets { widgetId data { ... on MetricCardData { value } } } } }`;
      type Event = { dashboardUpdated: { widgets: { data: { value: number } }[] } };
      const computedBefore = feeds.computations;
      const viewers = [0, 1, 2].map((index) => clients[index % 2]!.subscribe<Event>(subscription, { id: createDashboard.id }));
      await Promise.all(viewers.map((viewer) => viewer.waitFor(1)));
      for (const viewer of viewers) expect(viewer.events[0]!.dashboardUpdated.widgets[0]!.data.value).toBe(0);
      expect(feeds.computations - computedBefore).toBe(1);
      expect(feeds.subscriberCount()).toBe(3);

      await api(`mutation($input: UserActivityInput!) { recordUserActivity(input: $input) { id } }`, { input: { userId: 'live-1', activityType: 'live_login' } });
      await Promise.all(viewers.map((viewer) => viewer.waitFor(2)));
      for (const viewer of viewers) expect(viewer.events[1]!.dashboardUpdated.widgets[0]!.data.value).toBe(1);
      expect(feeds.computations - computedBefore).toBe(2);

      // A write of the family its widgets read, that changes none of them: recomputed once, sent to nobody.
      await api(`mutation($input: UserActivityInput!) { recordUserActivity(input: $input) { id } }`, { input: { userId: 'live-1', activityType: 'other' } });
      await waitUntil(() => feeds.computations - computedBefore === 3, 'the recomputation after an unrelated activity');
      await settle(300);
      for (const viewer of viewers) expect(viewer.events).toHaveLength(2);
      for (const viewer of viewers) viewer.stop();
      await waitUntil(() => feeds.feedCount === 0, 'the feed to close with its last viewer');
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });
});
