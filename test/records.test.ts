import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/gql.js';
import type { SystemMetricFilter, SystemMetricsPageQuery } from './generated/graphql.js';
import { BACKENDS, startTestServer, type TestServer } from './support/server.js';

const RecordSystemMetric = graphql(`
  mutation RecordSystemMetric($input: SystemMetricInput!) {
    recordSystemMetric(input: $input) { id metricName metricType value unit tags dimensions timestamp createdAt }
  }
`);
const RecordApplicationMetric = graphql(`
  mutation RecordApplicationMetric($input: ApplicationMetricInput!) {
    recordApplicationMetric(input: $input) { id appName metricName metricType value unit tags metadata timestamp createdAt }
  }
`);
const RecordUserMetric = graphql(`
  mutation RecordUserMetric($input: UserMetricInput!) {
    recordUserMetric(input: $input) { id userId sessionId metricName metricType value unit tags timestamp createdAt }
  }
`);
const RecordPerformanceMetric = graphql(`
  mutation RecordPerformanceMetric($input: PerformanceMetricInput!) {
    recordPerformanceMetric(input: $input) {
      id metricName metricType value unit responseTimeMs statusCode tags dimensions timestamp createdAt
    }
  }
`);
const RecordUserActivity = graphql(`
  mutation RecordUserActivity($input: UserActivityInput!) {
    recordUserActivity(input: $input) {
      id userId activityType description ipAddress userAgent referrer metadata timestamp createdAt
    }
  }
`);
const RecordBatches = graphql(`
  mutation RecordBatches(
    $system: [SystemMetricInput!]!
    $application: [ApplicationMetricInput!]!
    $user: [UserMetricInput!]!
    $performance: [PerformanceMetricInput!]!
    $activities: [UserActivityInput!]!
  ) {
    recordSystemMetrics(input: $system) { count }
    recordApplicationMetrics(input: $application) { count }
    recordUserMetrics(input: $user) { count }
    recordPerformanceMetrics(input: $performance) { count }
    recordUserActivities(input: $activities) { count }
  }
`);
const Ingest = graphql(`
  mutation Ingest($input: IngestInput!) { ingest(input: $input) { count } }
`);
const ById = graphql(`
  query ById($system: ID!, $application: ID!, $user: ID!, $performance: ID!, $activity: ID!) {
    systemMetric(id: $system) { id metricName }
    applicationMetric(id: $application) { id appName }
    userMetric(id: $user) { id userId }
    performanceMetric(id: $performance) { id statusCode }
    userActivity(id: $activity) { id activityType }
  }
`);
const SystemMetricsPage = graphql(`
  query SystemMetricsPage($filter: SystemMetricFilter, $first: Int, $after: String) {
    systemMetrics(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id metricName value tags timestamp } }
    }
  }
`);
const FamilyLists = graphql(`
  query FamilyLists(
    $application: ApplicationMetricFilter
    $user: UserMetricFilter
    $performance: PerformanceMetricFilter
    $activity: UserActivityFilter
  ) {
    applicationMetrics(filter: $application) { totalCount edges { node { appName metricName value } } }
    userMetrics(filter: $user) { totalCount edges { node { userId sessionId metricName value } } }
    performanceMetrics(filter: $performance) { totalCount edges { node { metricName statusCode value } } }
    userActivities(filter: $activity) { totalCount edges { node { userId activityType } } }
  }
`);

const at = (minute: number) => new Date(Date.UTC(2026, 0, 10, 12, minute)).toISOString();

describe.each(BACKENDS)('records on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'records' });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('records one of each family and returns it as stored', async () => {
    const before = Date.now();
    const system = await server.query(RecordSystemMetric, {
      input: { metricName: 'cpu_usage', metricType: 'GAUGE', value: 42.5, unit: 'percent', tags: { host: 'web-1' }, dimensions: { cores: 4 } },
    });
    expect(system.recordSystemMetric).toMatchObject({
      metricName: 'cpu_usage', metricType: 'GAUGE', value: 42.5, unit: 'percent', tags: { host: 'web-1' }, dimensions: { cores: 4 },
    });
    expect(system.recordSystemMetric.id).toMatch(/^\d+$/);
    // No timestamp given: it defaults to receipt.
    expect(Date.parse(system.recordSystemMetric.timestamp)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(system.recordSystemMetric.createdAt)).toBeGreaterThanOrEqual(before - 5);

    const application = await server.query(RecordApplicationMetric, {
      input: { appName: 'shop', metricName: 'page_views', metricType: 'COUNTER', value: 3, metadata: { page: '/home' }, timestamp: at(1) },
    });
    expect(application.recordApplicationMetric).toMatchObject({ appName: 'shop', value: 3, metadata: { page: '/home' }, timestamp: at(1), tags: {} });

    const user = await server.query(RecordUserMetric, {
      input: { userId: 'user-1', sessionId: 'sess-1', metricName: 'clicks', metricType: 'COUNTER', value: 7, unit: 'count' },
    });
    expect(user.recordUserMetric).toMatchObject({ userId: 'user-1', sessionId: 'sess-1', value: 7, unit: 'count' });

    const performance = await server.query(RecordPerformanceMetric, {
      input: { metricName: 'http_request', metricType: 'HISTOGRAM', value: 1, responseTimeMs: 123.4, statusCode: 503, tags: { endpoint: '/api' } },
    });
    expect(performance.recordPerformanceMetric).toMatchObject({ responseTimeMs: 123.4, statusCode: 503, tags: { endpoint: '/api' } });

    const activity = await server.query(RecordUserActivity, {
      input: {
        userId: 'user-1', activityType: 'login', description: 'Signed in', ipAddress: '2001:db8::1',
        userAgent: 'Mozilla/5.0', referrer: 'https://example.com/', metadata: { method: 'sso' }, timestamp: at(2),
      },
    });
    expect(activity.recordUserActivity).toMatchObject({
      userId: 'user-1', activityType: 'login', ipAddress: '2001:db8::1', metadata: { method: 'sso' }, timestamp: at(2),
    });

    const byId = await server.query(ById, {
      system: system.recordSystemMetric.id,
      application: application.recordApplicationMetric.id,
      user: user.recordUserMetric.id,
      performance: performance.recordPerformanceMetric.id,
      activity: activity.recordUserActivity.id,
    });
    expect(byId).toEqual({
      systemMetric: { id: system.recordSystemMetric.id, metricName: 'cpu_usage' },
      applicationMetric: { id: application.recordApplicationMetric.id, appName: 'shop' },
      userMetric: { id: user.recordUserMetric.id, userId: 'user-1' },
      performanceMetric: { id: performance.recordPerformanceMetric.id, statusCode: 503 },
      userActivity: { id: activity.recordUserActivity.id, activityType: 'login' },
    });
  });

  it('answers null for an unknown id and BAD_USER_INPUT for a malformed one', async () => {
    const missing = await server.query(ById, { system: '999999', application: '999999', user: '999999', performance: '999999', activity: '999999' });
    expect(Object.values(missing)).toEqual([null, null, null, null, null]);
    const malformed = await server.request(ById, { system: 'abc', application: '1', user: '1', performance: '1', activity: '1' });
    expect(malformed.status).toBeLessThan(500);
    expect(malformed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(malformed.errors?.[0]?.message).toContain('id');
  });

  it('stores batches of every family and an ingest across families', async () => {
    const batches = await server.query(RecordBatches, {
      system: [1, 2, 3].map((n) => ({ metricName: 'batch_metric', metricType: 'GAUGE' as const, value: n, tags: { host: 'batch' } })),
      application: [{ appName: 'batch-app', metricName: 'm', metricType: 'GAUGE', value: 1 }],
      user: [{ userId: 'batch-user', metricName: 'm', metricType: 'GAUGE', value: 1 }, { userId: 'batch-user', metricName: 'm', metricType: 'GAUGE', value: 2 }],
      performance: [{ metricName: 'batch_perf', metricType: 'SUMMARY', value: 1, statusCode: 200 }],
      activities: [{ userId: 'batch-user', activityType: 'batch_test' }],
    });
    expect(batches).toEqual({
      recordSystemMetrics: { count: 3 },
      recordApplicationMetrics: { count: 1 },
      recordUserMetrics: { count: 2 },
      recordPerformanceMetrics: { count: 1 },
      recordUserActivities: { count: 1 },
    });
    const ingested = await server.query(Ingest, {
      input: {
        activities: [{ userId: 'ingest-user', activityType: 'ingest_test' }],
        systemMetrics: [{ metricName: 'ingest_metric', metricType: 'GAUGE', value: 1 }],
        applicationMetrics: [{ appName: 'ingest-app', metricName: 'm', metricType: 'COUNTER', value: 1 }],
        userMetrics: [{ userId: 'ingest-user', metricName: 'm', metricType: 'GAUGE', value: 1 }],
        performanceMetrics: [{ metricName: 'ingest_perf', metricType: 'GAUGE', value: 1 }],
      },
    });
    expect(ingested.ingest.count).toBe(5);
    const lists = await server.query(FamilyLists, {
      application: { appName: 'ingest-app' },
      user: { userId: 'ingest-user' },
      performance: { metricName: 'ingest_perf' },
      activity: { userId: 'ingest-user' },
    });
    expect(lists.applicationMetrics.totalCount).toBe(1);
    expect(lists.userMetrics.totalCount).toBe(1);
    expect(lists.performanceMetrics.totalCount).toBe(1);
    expect(lists.userActivities.edges.map((edge) => edge.node.activityType)).toEqual(['ingest_test']);
  });

  it('stores a batch holding every awkward character and number exactly as given (COPY text escapes on PostgreSQL)', async () => {
    // Each field of a PostgreSQL batch travels in COPY's text format, where tab, newline, carriage return and
    // backslash delimit or escape, `\N` means null and `\.` alone on a line ends the data.
    const awkward = ['tab\there', 'line\nbreak', 'carriage\rreturn', 'back\\slash', '\\.', '\\N', '\\\\N', 'quote " and \' and `', 'accents é ü ß, CJK 漢字, emoji 🚀', '{"looks":"like json"}', ' spaced '];
    const activities = awkward.map((text, index) => ({
      userId: `copy-user-${index % 2}`,
      activityType: 'copy_escapes',
      description: text,
      userAgent: `${text}\t${index}`,
      referrer: index === 3 ? null : `https://example.com/${encodeURIComponent(text)}`,
      metadata: { text, nested: { list: [text, index, true, null], [text.slice(0, 20) || 'empty']: 'key' } },
      timestamp: at(index),
    }));
    const values = [0.1 + 0.2, 1e-7, -123456.789, 5e-324, 1e99, -1e100, 0, -0.5, 2 ** 53 + 2, 1 / 3, 42];
    const metrics = values.map((value, index) => ({
      appName: 'copy-app', metricName: 'copy_values', metricType: 'GAUGE' as const, value, unit: (awkward[index] as string).slice(0, 20),
      tags: { text: awkward[index] as string, n: index }, timestamp: at(index),
    }));
    const stored = await server.query(
      graphql(`mutation CopyEscapes($activities: [UserActivityInput!]!, $metrics: [ApplicationMetricInput!]!) {
        recordUserActivities(input: $activities) { count }
        recordApplicationMetrics(input: $metrics) { count }
      }`),
      { activities, metrics },
    );
    expect(stored).toEqual({ recordUserActivities: { count: awkward.length }, recordApplicationMetrics: { count: values.length } });
    const read = await server.query(
      graphql(`query CopyEscapesRead {
        userActivities(filter: { activityTypes: ["copy_escapes"] }, first: 100) {
          edges { node { userId activityType description userAgent referrer metadata timestamp } }
        }
        applicationMetrics(filter: { appName: "copy-app" }, first: 100) { edges { node { value unit tags timestamp } } }
      }`),
      {},
    );
    // Newest first: reverse to the order written.
    expect(read.userActivities.edges.map((edge) => edge.node).reverse()).toEqual(activities);
    expect(read.applicationMetrics.edges.map((edge) => edge.node).reverse()).toEqual(
      metrics.map(({ value, unit, tags, timestamp }) => ({ value, unit, tags, timestamp })),
    );
  });

  it('pages newest first with cursors and a stable totalCount', async () => {
    const input = Array.from({ length: 25 }, (_, i) => ({
      metricName: 'paged_metric', metricType: 'GAUGE' as const, value: i, tags: { host: 'pager' }, timestamp: at(i),
    }));
    await server.query(graphql(`mutation SeedPaged($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }`), { input });
    const seen: number[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: SystemMetricsPageQuery = await server.query(SystemMetricsPage, { filter: { metricName: 'paged_metric' }, first: 10, after });
      expect(page.systemMetrics.totalCount).toBe(25);
      seen.push(...page.systemMetrics.edges.map((edge) => edge.node.value));
      pages += 1;
      if (!page.systemMetrics.pageInfo.hasNextPage) break;
      after = page.systemMetrics.pageInfo.endCursor ?? null;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i));
  });

  it('filters by half-open time range, names, tags and family keys', async () => {
    await server.query(RecordBatches, {
      system: [
        { metricName: 'f_cpu', metricType: 'GAUGE', value: 1, tags: { host: 'a', env: 'prod' }, timestamp: at(0) },
        { metricName: 'f_cpu', metricType: 'GAUGE', value: 2, tags: { host: 'b', env: 'prod' }, timestamp: at(10) },
        { metricName: 'f_mem', metricType: 'GAUGE', value: 3, tags: { host: 'a', env: 'dev' }, timestamp: at(20) },
      ],
      application: [
        { appName: 'f-app-1', metricName: 'f_views', metricType: 'COUNTER', value: 1 },
        { appName: 'f-app-2', metricName: 'f_views', metricType: 'COUNTER', value: 2 },
      ],
      user: [
        { userId: 'f-u1', sessionId: 'f-s1', metricName: 'f_clicks', metricType: 'COUNTER', value: 1 },
        { userId: 'f-u1', sessionId: 'f-s2', metricName: 'f_clicks', metricType: 'COUNTER', value: 2 },
        { userId: 'f-u2', sessionId: 'f-s3', metricName: 'f_clicks', metricType: 'COUNTER', value: 3 },
      ],
      performance: [
        { metricName: 'f_http', metricType: 'HISTOGRAM', value: 1, statusCode: 200 },
        { metricName: 'f_http', metricType: 'HISTOGRAM', value: 2, statusCode: 500 },
      ],
      activities: [
        { userId: 'f-u1', activityType: 'f_login' },
        { userId: 'f-u1', activityType: 'f_view' },
        { userId: 'f-u2', activityType: 'f_logout' },
      ],
    });
    const values = async (filter: SystemMetricFilter) =>
      (await server.query(SystemMetricsPage, { filter, first: 100 })).systemMetrics.edges.map((edge) => edge.node.value);
    expect(await values({ metricNames: ['f_cpu', 'f_mem'] })).toEqual([3, 2, 1]);
    expect(await values({ metricNames: ['f_cpu', 'f_mem'], from: at(0), to: at(20) })).toEqual([2, 1]);
    expect(await values({ metricNames: ['f_cpu', 'f_mem'], from: at(10) })).toEqual([3, 2]);
    expect(await values({ metricName: 'f_cpu', tags: { env: 'prod' } })).toEqual([2, 1]);
    expect(await values({ metricNames: ['f_cpu', 'f_mem'], tags: { host: 'a', env: 'dev' } })).toEqual([3]);
    expect(await values({ metricNames: ['f_cpu', 'f_mem'], host: 'b' })).toEqual([2]);

    const lists = await server.query(FamilyLists, {
      application: { appName: 'f-app-2' },
      user: { userId: 'f-u1', sessionId: 'f-s2' },
      performance: { metricName: 'f_http', statusCode: 500 },
      activity: { activityTypes: ['f_login', 'f_logout'] },
    });
    expect(lists.applicationMetrics.edges.map((edge) => edge.node.value)).toEqual([2]);
    expect(lists.userMetrics.edges.map((edge) => edge.node.value)).toEqual([2]);
    expect(lists.performanceMetrics.edges.map((edge) => edge.node.value)).toEqual([2]);
    expect(lists.userActivities.totalCount).toBe(2);
    const single = await server.query(FamilyLists, { activity: { activityType: 'f_view', userId: 'f-u1' } });
    expect(single.userActivities.edges).toEqual([{ node: { userId: 'f-u1', activityType: 'f_view' } }]);
  });
});
