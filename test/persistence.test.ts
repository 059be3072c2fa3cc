import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/gql.js';
import { startTestServer, type TestServer } from './support/server.js';

const PersistSeed = graphql(`
  mutation PersistSeed(
    $system: SystemMetricInput!
    $application: ApplicationMetricInput!
    $user: UserMetricInput!
    $performance: PerformanceMetricInput!
    $activity: UserActivityInput!
    $batch: [SystemMetricInput!]!
  ) {
    recordSystemMetric(input: $system) { id metricName metricType value unit tags dimensions timestamp createdAt }
    recordApplicationMetric(input: $application) { id appName metricName metricType value unit tags metadata timestamp createdAt }
    recordUserMetric(input: $user) { id userId sessionId metricName metricType value unit tags timestamp createdAt }
    recordPerformanceMetric(input: $performance) {
      id metricName metricType value unit responseTimeMs statusCode tags dimensions timestamp createdAt
    }
    recordUserActivity(input: $activity) {
      id userId activityType description ipAddress userAgent referrer metadata timestamp createdAt
    }
    recordSystemMetrics(input: $batch) { count }
  }
`);
const PersistRead = graphql(`
  query PersistRead($system: ID!, $application: ID!, $user: ID!, $performance: ID!, $activity: ID!) {
    systemMetric(id: $system) { id metricName metricType value unit tags dimensions timestamp createdAt }
    applicationMetric(id: $application) { id appName metricName metricType value unit tags metadata timestamp createdAt }
    userMetric(id: $user) { id userId sessionId metricName metricType value unit tags timestamp createdAt }
    performanceMetric(id: $performance) {
      id metricName metricType value unit responseTimeMs statusCode tags dimensions timestamp createdAt
    }
    userActivity(id: $activity) {
      id userId activityType description ipAddress userAgent referrer metadata timestamp createdAt
    }
  }
`);
const PersistBatch = graphql(`
  query PersistBatch {
    systemMetrics(filter: { metricName: "persist_batch" }, first: 100) {
      totalCount
      edges { node { id metricName value tags timestamp createdAt } }
    }
  }
`);

const at = (second: number) => new Date(Date.UTC(2026, 1, 3, 4, 5, second, 678)).toISOString();

describe('persistence on pglite', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite', { label: 'persistence' });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('keeps every family, with ids, values and timestamps, across a restart on the same data directory', async () => {
    const dataDir = server.app.services.config.database.dataDir;
    const seeded = await server.query(PersistSeed, {
      system: {
        metricName: 'persist_cpu', metricType: 'GAUGE', value: 12.345678901234, unit: 'percent',
        tags: { host: 'web-1', region: 'eu' }, dimensions: { cores: 8, nested: { list: [1, 'two', null, true] } }, timestamp: at(1),
      },
      application: {
        appName: 'persist-app', metricName: 'orders', metricType: 'COUNTER', value: 1e15, unit: 'count',
        tags: { tier: 'gold' }, metadata: { 'ünïcødé': 'välue ✓', empty: {} }, timestamp: at(2),
      },
      user: { userId: 'persist-user', sessionId: 'persist-session', metricName: 'scroll', metricType: 'HISTOGRAM', value: -0.5, timestamp: at(3) },
      performance: {
        metricName: 'persist_http', metricType: 'SUMMARY', value: 0, responseTimeMs: 0.001, statusCode: 418,
        tags: { endpoint: '/teapot' }, dimensions: { method: 'BREW' }, timestamp: at(4),
      },
      // No timestamp: stamped at receipt, and that stamp must survive too.
      activity: {
        userId: 'persist-user', activityType: 'purchase', description: 'Bought "tea" & biscuits', ipAddress: '192.0.2.7',
        userAgent: 'curl/8.0', referrer: 'https://example.com/?q=a&b=c', metadata: { total: 9.99 },
      },
      batch: [0, 1, 2].map((n) => ({ metricName: 'persist_batch', metricType: 'GAUGE' as const, value: n, tags: { n: String(n) }, timestamp: at(10 + n) })),
    });
    expect(seeded.recordSystemMetrics.count).toBe(3);
    const ids = {
      system: seeded.recordSystemMetric.id,
      application: seeded.recordApplicationMetric.id,
      user: seeded.recordUserMetric.id,
      performance: seeded.recordPerformanceMetric.id,
      activity: seeded.recordUserActivity.id,
    };
    const before = await server.query(PersistRead, ids);
    // What was read back before the restart is what the mutations returned.
    expect(before).toEqual({
      systemMetric: seeded.recordSystemMetric,
      applicationMetric: seeded.recordApplicationMetric,
      userMetric: seeded.recordUserMetric,
      performanceMetric: seeded.recordPerformanceMetric,
      userActivity: seeded.recordUserActivity,
    });
    expect(before.systemMetric?.timestamp).toBe(at(1));
    const batchBefore = await server.query(PersistBatch, {});
    expect(batchBefore.systemMetrics.totalCount).toBe(3);

    await server.restart();
    expect(server.app.services.config.database.dataDir).toBe(dataDir);
    expect(server.app.services.db.kind).toBe('pglite');

    expect(await server.query(PersistRead, ids)).toEqual(before);
    expect(await server.query(PersistBatch, {})).toEqual(batchBefore);

    // New writes after the restart get new, larger ids in every family.
    const after = await server.query(PersistSeed, {
      system: { metricName: 'persist_cpu', metricType: 'GAUGE', value: 1 },
      application: { appName: 'persist-app', metricName: 'orders', metricType: 'COUNTER', value: 1 },
      user: { userId: 'persist-user', metricName: 'scroll', metricType: 'HISTOGRAM', value: 1 },
      performance: { metricName: 'persist_http', metricType: 'SUMMARY', value: 1 },
      activity: { userId: 'persist-user', activityType: 'purchase' },
      batch: [{ metricName: 'persist_batch', metricType: 'GAUGE', value: 3 }],
    });
    const batchIds = batchBefore.systemMetrics.edges.map((edge) => BigInt(edge.node.id));
    const pairs: [string, string][] = [
      [ids.system, after.recordSystemMetric.id],
      [ids.application, after.recordApplicationMetric.id],
      [ids.user, after.recordUserMetric.id],
      [ids.performance, after.recordPerformanceMetric.id],
      [ids.activity, after.recordUserActivity.id],
    ];
    for (const [old, fresh] of pairs) expect(BigInt(fresh)).toBeGreaterThan(BigInt(old));
    const newest = BigInt(after.recordSystemMetric.id);
    for (const id of batchIds) expect(newest).not.toBe(id);
    expect(newest).toBeGreaterThan(batchIds.reduce((max, id) => (id > max ? id : max), 0n));

    // The old rows are untouched by the new writes.
    expect(await server.query(PersistRead, ids)).toEqual(before);
    expect((await server.query(PersistBatch, {})).systemMetrics.totalCount).toBe(4);
  });
});
