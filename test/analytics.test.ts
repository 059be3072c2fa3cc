import { percentile } from './support/accuracy.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/gql.js';
import type {
  AnalyticsApplicationMetricStatsQuery,
  AnalyticsPerformanceTrendsQuery,
  ApplicationMetricFilter,
  PerformanceMetricFilter,
  PerformanceMetricInput,
  TrendInterval,
  UserActivityFilter,
} from './generated/graphql.js';
import { BACKENDS, startTestServer, type TestServer } from './support/server.js';

const SeedActivities = graphql(`
  mutation AnalyticsSeedActivities($input: [UserActivityInput!]!) { recordUserActivities(input: $input) { count } }
`);
const SeedSystemMetrics = graphql(`
  mutation AnalyticsSeedSystemMetrics($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }
`);
const SeedApplicationMetrics = graphql(`
  mutation AnalyticsSeedApplicationMetrics($input: [ApplicationMetricInput!]!) { recordApplicationMetrics(input: $input) { count } }
`);
const SeedPerformanceMetrics = graphql(`
  mutation AnalyticsSeedPerformanceMetrics($input: [PerformanceMetricInput!]!) { recordPerformanceMetrics(input: $input) { count } }
`);
const ActivityStats = graphql(`
  query AnalyticsActivityStats($filter: UserActivityFilter, $top: Int, $timeZone: String) {
    userActivityStats(filter: $filter, top: $top, timeZone: $timeZone) {
      totalActivities
      uniqueUsers
      byType { key count }
      byUser { key count }
      byDay { key count }
    }
  }
`);
const CurrentSystemMetrics = graphql(`
  query AnalyticsCurrentSystemMetrics($host: String) {
    currentSystemMetrics(host: $host) { id metricName value unit tags timestamp }
  }
`);
const ApplicationMetricStats = graphql(`
  query AnalyticsApplicationMetricStats($filter: ApplicationMetricFilter) {
    applicationMetricStats(filter: $filter) { appName metricName count sum avg min max last lastTimestamp }
  }
`);
const PerformanceTrends = graphql(`
  query AnalyticsPerformanceTrends($filter: PerformanceMetricFilter, $interval: TrendInterval!, $groupByTag: String) {
    performanceTrends(filter: $filter, interval: $interval, groupByTag: $groupByTag) {
      bucketStart group count avg p50 p95 p99 errorRate
    }
  }
`);

type Issue = { path: string; index: number | null; field: string; message: string };
type Stat = AnalyticsApplicationMetricStatsQuery['applicationMetricStats'][number];
type TrendPoint = AnalyticsPerformanceTrendsQuery['performanceTrends'][number];

/** PostgreSQL's percentile_cont: sort, take fractional rank p·(n−1), interpolate linearly between neighbours. */
function percentileCont(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const low = sorted[lower]!;
  const high = sorted[upper]!;
  return low + (rank - lower) * (high - low);
}

interface PerfRecord {
  responseTimeMs: number | null;
  statusCode: number | null;
}

/** The point performanceTrends should report for a bucket holding exactly `records`. */
function expectedPoint(bucketStart: string, group: string | null, records: PerfRecord[]): TrendPoint {
  const times = records.map((record) => record.responseTimeMs).filter((value): value is number => value !== null);
  return {
    bucketStart,
    group,
    count: records.length,
    avg: times.length === 0 ? null : times.reduce((sum, value) => sum + value, 0) / times.length,
    p50: percentileCont(times, 0.5),
    p95: percentileCont(times, 0.95),
    p99: percentileCont(times, 0.99),
    errorRate: records.filter((record) => record.statusCode !== null && record.statusCode >= 500).length / records.length,
  };
}

/**
 * The service rounds aggregates to 10 significant digits (README "Precision"); the expected values computed
 * here are rounded the same way, and both sides also absorb last-bit differences of summing in another order.
 */
function rounded(points: TrendPoint[]): TrendPoint[] {
  const round = (value: number | null | undefined) =>
    value === null || value === undefined ? null : value === 0 ? 0 : Number(value.toPrecision(10));
  return points.map((point) => ({
    ...point,
    avg: round(point.avg),
    p50: percentile(round(point.p50)) as number,
    p95: percentile(round(point.p95)) as number,
    p99: percentile(round(point.p99)) as number,
    errorRate: round(point.errorRate) as number,
  }));
}

/** Plain code-unit order (not locale order), so results compare the same on every machine. */
function byKey<T>(key: (item: T) => string) {
  return (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

function sortStats(stats: Stat[]): Stat[] {
  return [...stats].sort(byKey((stat) => `${stat.appName}\u0000${stat.metricName}`));
}

describe.each(BACKENDS)('analytics on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'analytics' });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  /**
   * Eight activities of three users over 1–3 March 2025 (UTC). Names carry `prefix`, so each test sees only its own.
   *   #  user  type      timestamp (UTC)         Auckland (UTC+13)   New York (UTC−5)
   *   1  u1    login     2025-03-01 08:00        03-01 21:00         03-01 03:00
   *   2  u1    view      2025-03-01 09:00        03-01 22:00         03-01 04:00
   *   3  u2    login     2025-03-01 10:00        03-01 23:00         03-01 05:00
   *   4  u1    view      2025-03-02 10:00        03-02 23:00         03-02 05:00
   *   5  u3    view      2025-03-02 23:30        03-03 12:30         03-02 18:30
   *   6  u2    purchase  2025-03-03 02:00        03-03 15:00         03-02 21:00
   *   7  u3    logout    2025-03-03 12:00        03-04 01:00         03-03 07:00
   *   8  u2    login     2025-03-03 15:00        03-04 04:00         03-03 10:00
   */
  async function seedActivities(prefix: string) {
    const rows: [string, string, string][] = [
      ['u1', 'login', '2025-03-01T08:00:00.000Z'],
      ['u1', 'view', '2025-03-01T09:00:00.000Z'],
      ['u2', 'login', '2025-03-01T10:00:00.000Z'],
      ['u1', 'view', '2025-03-02T10:00:00.000Z'],
      ['u3', 'view', '2025-03-02T23:30:00.000Z'],
      ['u2', 'purchase', '2025-03-03T02:00:00.000Z'],
      ['u3', 'logout', '2025-03-03T12:00:00.000Z'],
      ['u2', 'login', '2025-03-03T15:00:00.000Z'],
    ];
    const result = await server.query(SeedActivities, {
      input: rows.map(([user, type, timestamp]) => ({ userId: `${prefix}-${user}`, activityType: `${prefix}_${type}`, timestamp })),
    });
    expect(result.recordUserActivities.count).toBe(8);
    const type = (name: string) => `${prefix}_${name}`;
    const user = (name: string) => `${prefix}-${name}`;
    const all: UserActivityFilter = { activityTypes: ['login', 'view', 'purchase', 'logout'].map(type) };
    return { type, user, all };
  }

  describe('userActivityStats', () => {
    it('counts totals, unique users and breakdowns by type, user and UTC day', async () => {
      const { type, user, all } = await seedActivities('uas1');
      const stats = await server.query(ActivityStats, { filter: all });
      expect(stats.userActivityStats).toEqual({
        totalActivities: 8,
        uniqueUsers: 3,
        // Largest first; equal counts by key.
        byType: [
          { key: type('login'), count: 3 },
          { key: type('view'), count: 3 },
          { key: type('logout'), count: 1 },
          { key: type('purchase'), count: 1 },
        ],
        byUser: [
          { key: user('u1'), count: 3 },
          { key: user('u2'), count: 3 },
          { key: user('u3'), count: 2 },
        ],
        byDay: [
          { key: '2025-03-01', count: 3 },
          { key: '2025-03-02', count: 2 },
          { key: '2025-03-03', count: 3 },
        ],
      });
      // UTC is the default; naming it gives the same days.
      const utc = await server.query(ActivityStats, { filter: all, timeZone: 'UTC' });
      expect(utc.userActivityStats.byDay).toEqual(stats.userActivityStats.byDay);
      // Nothing matches: zeros and empty lists, not an error.
      const none = await server.query(ActivityStats, { filter: { activityType: type('never') } });
      expect(none.userActivityStats).toEqual({ totalActivities: 0, uniqueUsers: 0, byType: [], byUser: [], byDay: [] });
    });

    it('cuts days in the requested time zone', async () => {
      const { all } = await seedActivities('uas2');
      const auckland = await server.query(ActivityStats, { filter: all, timeZone: 'Pacific/Auckland' });
      // #4 (10:00 UTC) is still 2 March there; #5 (23:30 UTC on the 2nd) is already the 3rd; #7 and #8 the 4th.
      expect(auckland.userActivityStats.byDay).toEqual([
        { key: '2025-03-01', count: 3 },
        { key: '2025-03-02', count: 1 },
        { key: '2025-03-03', count: 2 },
        { key: '2025-03-04', count: 2 },
      ]);
      const newYork = await server.query(ActivityStats, { filter: all, timeZone: 'America/New_York' });
      // #6 (02:00 UTC on the 3rd) is still the evening of 2 March in New York.
      expect(newYork.userActivityStats.byDay).toEqual([
        { key: '2025-03-01', count: 3 },
        { key: '2025-03-02', count: 3 },
        { key: '2025-03-03', count: 2 },
      ]);
      // The zone changes only byDay.
      expect(newYork.userActivityStats.totalActivities).toBe(8);
      expect(auckland.userActivityStats.byType).toEqual(newYork.userActivityStats.byType);
    });

    it('filters by half-open time range, user and activity types', async () => {
      const { type, user, all } = await seedActivities('uas3');
      const stats = async (filter: UserActivityFilter) => (await server.query(ActivityStats, { filter })).userActivityStats;

      // [2 March, 3 March 02:00): #4 and #5; #6 sits exactly on `to` and is left out.
      expect(await stats({ ...all, from: '2025-03-02T00:00:00.000Z', to: '2025-03-03T02:00:00.000Z' })).toEqual({
        totalActivities: 2,
        uniqueUsers: 2,
        byType: [{ key: type('view'), count: 2 }],
        byUser: [
          { key: user('u1'), count: 1 },
          { key: user('u3'), count: 1 },
        ],
        byDay: [{ key: '2025-03-02', count: 2 }],
      });
      // `from` is inclusive: #6, #7, #8.
      const from = await stats({ ...all, from: '2025-03-03T02:00:00.000Z' });
      expect(from.totalActivities).toBe(3);
      expect(from.byDay).toEqual([{ key: '2025-03-03', count: 3 }]);

      expect(await stats({ ...all, userId: user('u2') })).toEqual({
        totalActivities: 3,
        uniqueUsers: 1,
        byType: [
          { key: type('login'), count: 2 },
          { key: type('purchase'), count: 1 },
        ],
        byUser: [{ key: user('u2'), count: 3 }],
        byDay: [
          { key: '2025-03-01', count: 1 },
          { key: '2025-03-03', count: 2 },
        ],
      });

      expect(await stats({ activityTypes: [type('login'), type('logout')] })).toEqual({
        totalActivities: 4,
        uniqueUsers: 3,
        byType: [
          { key: type('login'), count: 3 },
          { key: type('logout'), count: 1 },
        ],
        byUser: [
          { key: user('u2'), count: 2 },
          { key: user('u1'), count: 1 },
          { key: user('u3'), count: 1 },
        ],
        byDay: [
          { key: '2025-03-01', count: 2 },
          { key: '2025-03-03', count: 2 },
        ],
      });
      // activityType and activityTypes together mean either.
      const either = await stats({ activityType: type('purchase'), activityTypes: [type('logout')] });
      expect(either.byType).toEqual([
        { key: type('logout'), count: 1 },
        { key: type('purchase'), count: 1 },
      ]);
      // All conditions at once.
      const combined = await stats({ activityType: type('login'), userId: user('u2'), from: '2025-03-02T00:00:00.000Z' });
      expect(combined).toMatchObject({ totalActivities: 1, uniqueUsers: 1, byDay: [{ key: '2025-03-03', count: 1 }] });
    });

    it('keeps the `top` entries of byType and byUser only', async () => {
      const { type, user, all } = await seedActivities('uas4');
      const top1 = await server.query(ActivityStats, { filter: all, top: 1 });
      expect(top1.userActivityStats).toEqual({
        totalActivities: 8,
        uniqueUsers: 3,
        byType: [{ key: type('login'), count: 3 }],
        byUser: [{ key: user('u1'), count: 3 }],
        // byDay is not cut by `top`.
        byDay: [
          { key: '2025-03-01', count: 3 },
          { key: '2025-03-02', count: 2 },
          { key: '2025-03-03', count: 3 },
        ],
      });
      const top3 = await server.query(ActivityStats, { filter: all, top: 3 });
      expect(top3.userActivityStats.byType.map((entry) => entry.key)).toEqual([type('login'), type('view'), type('logout')]);
      expect(top3.userActivityStats.byUser).toHaveLength(3);
      const top1000 = await server.query(ActivityStats, { filter: all, top: 1000 });
      expect(top1000.userActivityStats.byType).toHaveLength(4);
    });

    it('refuses a bad top or time zone with BAD_USER_INPUT naming the argument', async () => {
      for (const [variables, argument] of [
        [{ top: 0 }, 'top'],
        [{ top: -5 }, 'top'],
        [{ top: 1001 }, 'top'],
        [{ timeZone: 'Mars/Olympus' }, 'timeZone'],
        [{ timeZone: '' }, 'timeZone'],
        [{ timeZone: "UTC'; SELECT 1; --" }, 'timeZone'],
      ] as const) {
        const response = await server.request(ActivityStats, variables);
        expect(response.status, JSON.stringify(variables)).toBeLessThan(500);
        expect(response.data ?? null).toBeNull();
        const error = response.errors?.[0];
        expect(error?.extensions?.code, JSON.stringify(variables)).toBe('BAD_USER_INPUT');
        expect(error?.message).toContain(argument);
        expect((error?.extensions?.issues as Issue[]).map((issue) => issue.path)).toEqual([argument]);
      }
    });

    it('accepts current IANA names and aliases such as Asia/Kolkata, Europe/Kyiv and Etc/UTC', async () => {
      const { all } = await seedActivities('uas5');
      for (const timeZone of ['Asia/Kolkata', 'Europe/Kyiv', 'Etc/UTC']) {
        const response = await server.request(ActivityStats, { filter: all, timeZone });
        expect(response.errors, timeZone).toBeUndefined();
        expect(response.data?.userActivityStats.totalActivities, timeZone).toBe(8);
      }
    });
  });

  describe('currentSystemMetrics', () => {
    it('reports the value with the newest timestamp per host and metric name, whatever the insert order', async () => {
      const at = (minute: number) => new Date(Date.UTC(2025, 4, 1, 9, minute)).toISOString();
      const gauge = { metricType: 'GAUGE' as const };
      await server.query(SeedSystemMetrics, {
        input: [
          { ...gauge, metricName: 'csm_cpu', value: 10, tags: { host: 'csm-a' }, timestamp: at(1) },
          { ...gauge, metricName: 'csm_cpu', value: 30, tags: { host: 'csm-a', core: 'all' }, unit: 'percent', timestamp: at(3) },
          { ...gauge, metricName: 'csm_cpu', value: 20, tags: { host: 'csm-a' }, timestamp: at(2) },
          { ...gauge, metricName: 'csm_mem', value: 100, tags: { host: 'csm-a' }, timestamp: at(1) },
          { ...gauge, metricName: 'csm_cpu', value: 1, tags: { host: 'csm-b' }, timestamp: at(5) },
          { ...gauge, metricName: 'csm_nohost', value: 7, timestamp: at(1) },
          { ...gauge, metricName: 'csm_nohost', value: 8, tags: { env: 'prod' }, timestamp: at(2) },
        ],
      });
      // Inserted later: an OLDER csm-a cpu value (must not win), a NEWER csm-a mem value (wins), an older no-host value.
      await server.query(SeedSystemMetrics, {
        input: [
          { ...gauge, metricName: 'csm_cpu', value: 99, tags: { host: 'csm-a' }, timestamp: at(0) },
          { ...gauge, metricName: 'csm_mem', value: 200, tags: { host: 'csm-a' }, timestamp: at(4) },
          { ...gauge, metricName: 'csm_nohost', value: 5, timestamp: at(0) },
        ],
      });

      const series = (rows: { metricName: string; value: number; tags: unknown; timestamp: string }[]) =>
        rows
          .filter((row) => row.metricName.startsWith('csm_'))
          .map((row) => ({ host: (row.tags as { host?: string }).host ?? null, metricName: row.metricName, value: row.value, timestamp: row.timestamp }))
          .sort(byKey((row) => `${row.host ?? '\uffff'}/${row.metricName}`));

      const everyHost = await server.query(CurrentSystemMetrics, {});
      expect(series(everyHost.currentSystemMetrics)).toEqual([
        { host: 'csm-a', metricName: 'csm_cpu', value: 30, timestamp: at(3) },
        { host: 'csm-a', metricName: 'csm_mem', value: 200, timestamp: at(4) },
        { host: 'csm-b', metricName: 'csm_cpu', value: 1, timestamp: at(5) },
        // Records without a host tag form a series of their own.
        { host: null, metricName: 'csm_nohost', value: 8, timestamp: at(2) },
      ]);
      // One row per (host, metric name) across the whole answer.
      const keys = everyHost.currentSystemMetrics.map((row) => `${(row.tags as { host?: string }).host ?? ''}/${row.metricName}`);
      expect(new Set(keys).size).toBe(keys.length);

      // With host: that host's series only, and the whole record as stored.
      const hostA = await server.query(CurrentSystemMetrics, { host: 'csm-a' });
      expect(hostA.currentSystemMetrics).toEqual([
        { id: expect.stringMatching(/^\d+$/), metricName: 'csm_cpu', value: 30, unit: 'percent', tags: { host: 'csm-a', core: 'all' }, timestamp: at(3) },
        { id: expect.stringMatching(/^\d+$/), metricName: 'csm_mem', value: 200, unit: null, tags: { host: 'csm-a' }, timestamp: at(4) },
      ]);
      const hostB = await server.query(CurrentSystemMetrics, { host: 'csm-b' });
      expect(hostB.currentSystemMetrics.map((row) => [row.metricName, row.value])).toEqual([['csm_cpu', 1]]);

      expect((await server.query(CurrentSystemMetrics, { host: 'csm-unknown' })).currentSystemMetrics).toEqual([]);
    });
  });

  describe('applicationMetricStats', () => {
    it('aggregates per application and metric name; last is the value with the newest timestamp', async () => {
      const at = (minute: number) => new Date(Date.UTC(2025, 4, 2, 10, minute)).toISOString();
      const counter = { metricType: 'COUNTER' as const };
      await server.query(SeedApplicationMetrics, {
        input: [
          { ...counter, appName: 'ams-shop', metricName: 'ams_views', value: 4, tags: { env: 'prod' }, timestamp: at(10) },
          { ...counter, appName: 'ams-shop', metricName: 'ams_views', value: 8, tags: { env: 'prod' }, timestamp: at(30) },
          { ...counter, appName: 'ams-shop', metricName: 'ams_views', value: 2, tags: { env: 'dev' }, timestamp: at(20) },
          { ...counter, appName: 'ams-shop', metricName: 'ams_latency', value: 1.5, timestamp: at(0) },
          { ...counter, appName: 'ams-shop', metricName: 'ams_latency', value: 2.5, timestamp: at(40) },
          { ...counter, appName: 'ams-blog', metricName: 'ams_views', value: 100, tags: { env: 'prod' }, timestamp: at(15) },
        ],
      });
      // Inserted last but the oldest of its series: counts in the aggregates, is not `last`.
      await server.query(SeedApplicationMetrics, {
        input: [{ ...counter, appName: 'ams-shop', metricName: 'ams_views', value: 16, tags: { env: 'dev' }, timestamp: at(0) }],
      });

      const stats = async (filter: ApplicationMetricFilter) =>
        sortStats((await server.query(ApplicationMetricStats, { filter })).applicationMetricStats);

      const shopViews = { appName: 'ams-shop', metricName: 'ams_views', count: 4, sum: 30, avg: 7.5, min: 2, max: 16, last: 8, lastTimestamp: at(30) };
      const shopLatency = { appName: 'ams-shop', metricName: 'ams_latency', count: 2, sum: 4, avg: 2, min: 1.5, max: 2.5, last: 2.5, lastTimestamp: at(40) };
      const blogViews = { appName: 'ams-blog', metricName: 'ams_views', count: 1, sum: 100, avg: 100, min: 100, max: 100, last: 100, lastTimestamp: at(15) };

      expect(await stats({ metricNames: ['ams_views', 'ams_latency'] })).toEqual([blogViews, shopLatency, shopViews]);
      expect(await stats({ appName: 'ams-shop' })).toEqual([shopLatency, shopViews]);
      expect(await stats({ metricName: 'ams_views' })).toEqual([blogViews, shopViews]);
      expect(await stats({ appName: 'ams-blog', metricName: 'ams_latency' })).toEqual([]);

      // [10:10, 10:30): shop views 4 (10:10) and 2 (10:20), blog 100 (10:15); no latency record falls inside.
      expect(await stats({ metricNames: ['ams_views', 'ams_latency'], from: at(10), to: at(30) })).toEqual([
        blogViews,
        { appName: 'ams-shop', metricName: 'ams_views', count: 2, sum: 6, avg: 3, min: 2, max: 4, last: 2, lastTimestamp: at(20) },
      ]);

      // Tags: subset match. dev views are 2 (10:20) and 16 (10:00).
      expect(await stats({ appName: 'ams-shop', tags: { env: 'dev' } })).toEqual([
        { appName: 'ams-shop', metricName: 'ams_views', count: 2, sum: 18, avg: 9, min: 2, max: 16, last: 2, lastTimestamp: at(20) },
      ]);
      expect(await stats({ metricName: 'ams_views', tags: { env: 'prod' } })).toEqual([
        blogViews,
        { appName: 'ams-shop', metricName: 'ams_views', count: 2, sum: 12, avg: 6, min: 4, max: 8, last: 8, lastTimestamp: at(30) },
      ]);
    });

    it('huge but finite values do not break applicationMetricStats', async () => {
      const seeded = await server.request(SeedApplicationMetrics, {
        input: [1, 2].map((n) => ({
          appName: 'ams-huge', metricName: 'ams_huge', metricType: 'GAUGE' as const, value: 1.7e308,
          timestamp: new Date(Date.UTC(2025, 4, 3, 0, n)).toISOString(),
        })),
      });
      expect(seeded.status).toBeLessThan(500);
      // Either the values are refused when recorded (a fix in validation) ...
      if (seeded.errors) {
        expect(seeded.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        return;
      }
      // ... or the stats over them still answer; an internal error is neither.
      const response = await server.request(ApplicationMetricStats, { filter: { appName: 'ams-huge' } });
      expect(response.status).toBeLessThan(500);
      expect(response.errors?.[0]?.extensions?.code).toBeUndefined();
      expect(response.data?.applicationMetricStats).toHaveLength(1);
    });
  });

  describe('performanceTrends', () => {
    const t = (time: string) => `2025-06-01T${time}Z`;
    // responseTimeMs, statusCode, endpoint tag, timestamp
    const records: Record<string, PerfRecord & { endpoint: string | null; timestamp: string }> = {
      r1: { responseTimeMs: 100, statusCode: 200, endpoint: '/a', timestamp: t('12:00:05.000') },
      r2: { responseTimeMs: 300, statusCode: 500, endpoint: '/b', timestamp: t('12:00:30.000') },
      r3: { responseTimeMs: 200, statusCode: 200, endpoint: '/a', timestamp: t('12:00:59.999') },
      r4: { responseTimeMs: 50, statusCode: 503, endpoint: '/a', timestamp: t('12:00:10.000') },
      r5: { responseTimeMs: 400, statusCode: 404, endpoint: '/b', timestamp: t('12:01:10.000') },
      r6: { responseTimeMs: 10, statusCode: 200, endpoint: '/a', timestamp: t('12:01:50.000') },
      // 12:02 has no records. r7 has no status (not an error), r8 no response time (counted, not in avg/percentiles).
      r7: { responseTimeMs: 1000, statusCode: null, endpoint: '/b', timestamp: t('12:03:00.000') },
      r8: { responseTimeMs: null, statusCode: 200, endpoint: '/a', timestamp: t('12:03:30.000') },
      r9: { responseTimeMs: 70, statusCode: 502, endpoint: null, timestamp: t('13:59:00.000') },
      r10: { responseTimeMs: 30, statusCode: 200, endpoint: '/a', timestamp: '2025-06-02T00:10:00.000Z' },
    };
    const pick = (...names: (keyof typeof records)[]) => names.map((name) => records[name]!);

    const trends = async (interval: TrendInterval, filter: PerformanceMetricFilter = {}, groupByTag?: string) => {
      const result = await server.query(PerformanceTrends, { interval, filter: { metricName: 'pt_http', ...filter }, groupByTag });
      const points = result.performanceTrends;
      // Oldest first.
      const starts = points.map((point) => Date.parse(point.bucketStart));
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      return points;
    };

    beforeAll(async () => {
      const input: PerformanceMetricInput[] = Object.values(records).map((record) => ({
        metricName: 'pt_http',
        metricType: 'HISTOGRAM',
        value: 1,
        responseTimeMs: record.responseTimeMs,
        statusCode: record.statusCode,
        tags: record.endpoint === null ? { region: 'eu' } : { endpoint: record.endpoint, region: 'eu' },
        timestamp: record.timestamp,
      }));
      // Another metric in the same minutes must not leak in.
      input.push({ metricName: 'pt_other', metricType: 'HISTOGRAM', value: 1, responseTimeMs: 5000, statusCode: 500, timestamp: t('12:00:00.000') });
      await server.query(SeedPerformanceMetrics, { input });
    });

    it('buckets by minute with count, mean, percentiles and error rate, leaving empty buckets out', async () => {
      const points = await trends('MINUTE');
      // Worked by hand for the first bucket: times 50, 100, 200, 300; ranks 1.5, 2.85, 2.97; 2 of 4 are 5xx.
      expect(points[0]).toEqual({
        bucketStart: t('12:00:00.000'),
        group: null,
        count: 4,
        avg: 162.5,
        p50: percentile(150),
        p95: percentile(285),
        p99: percentile(297),
        errorRate: 0.5,
      });
      expect(points).toEqual(
        rounded([
          expectedPoint(t('12:00:00.000'), null, pick('r1', 'r2', 'r3', 'r4')),
          expectedPoint(t('12:01:00.000'), null, pick('r5', 'r6')),
          expectedPoint(t('12:03:00.000'), null, pick('r7', 'r8')),
          expectedPoint(t('13:59:00.000'), null, pick('r9')),
          expectedPoint('2025-06-02T00:10:00.000Z', null, pick('r10')),
        ]),
      );
      expect(points[2]).toMatchObject({ count: 2, avg: 1000, p50: percentile(1000), p99: percentile(1000), errorRate: 0 });
      expect(points[3]).toMatchObject({ count: 1, errorRate: 1 });
    });

    it('buckets by hour and by day', async () => {
      expect(await trends('HOUR')).toEqual(
        rounded([
          expectedPoint(t('12:00:00.000'), null, pick('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8')),
          expectedPoint(t('13:00:00.000'), null, pick('r9')),
          expectedPoint('2025-06-02T00:00:00.000Z', null, pick('r10')),
        ]),
      );
      const days = await trends('DAY');
      expect(days).toEqual(
        rounded([
          expectedPoint('2025-06-01T00:00:00.000Z', null, pick('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9')),
          expectedPoint('2025-06-02T00:00:00.000Z', null, pick('r10')),
        ]),
      );
      // By hand: 9 records, 3 of them 5xx (r2, r4, r9); 8 response times, 2060 + 70 ms in all.
      expect(days[0]).toMatchObject({ count: 9, errorRate: 0.3333333333, avg: 266.25 });
    });

    it('splits buckets by a tag when grouping, with `group` set', async () => {
      const byEndpoint = await trends('HOUR', {}, 'endpoint');
      const sorted = [...byEndpoint].sort(byKey((point) => `${point.bucketStart}/${point.group ?? '\uffff'}`));
      expect(sorted).toEqual(
        rounded([
          expectedPoint(t('12:00:00.000'), '/a', pick('r1', 'r3', 'r4', 'r6', 'r8')),
          expectedPoint(t('12:00:00.000'), '/b', pick('r2', 'r5', 'r7')),
          // r9 has no endpoint tag: its own point with group null.
          expectedPoint(t('13:00:00.000'), null, pick('r9')),
          expectedPoint('2025-06-02T00:00:00.000Z', '/a', pick('r10')),
        ]),
      );
      expect(sorted[0]).toMatchObject({ group: '/a', count: 5, avg: 90, errorRate: 0.2 });

      // Grouping by a tag every record shares gives the ungrouped buckets, labelled.
      const byRegion = await trends('DAY', {}, 'region');
      expect(byRegion.map((point) => [point.group, point.count])).toEqual([
        ['eu', 9],
        ['eu', 1],
      ]);
      // A tag no record has: one null group per bucket.
      const byMissing = await trends('DAY', {}, 'pt_missing');
      expect(byMissing.map((point) => [point.group, point.count])).toEqual([
        [null, 9],
        [null, 1],
      ]);
    });

    it('honours the filter: time range, status code and tags', async () => {
      // [12:01, 12:03:30): r5, r6 | r7 (r8 at 12:03:30 is on `to`, left out).
      expect(await trends('MINUTE', { from: t('12:01:00.000'), to: t('12:03:30.000') })).toEqual(
        rounded([expectedPoint(t('12:01:00.000'), null, pick('r5', 'r6')), expectedPoint(t('12:03:00.000'), null, pick('r7'))]),
      );
      expect(await trends('DAY', { statusCode: 200 })).toEqual(
        rounded([
          expectedPoint('2025-06-01T00:00:00.000Z', null, pick('r1', 'r3', 'r6', 'r8')),
          expectedPoint('2025-06-02T00:00:00.000Z', null, pick('r10')),
        ]),
      );
      expect(await trends('MINUTE', { tags: { endpoint: '/b' } })).toEqual(
        rounded([
          expectedPoint(t('12:00:00.000'), null, pick('r2')),
          expectedPoint(t('12:01:00.000'), null, pick('r5')),
          expectedPoint(t('12:03:00.000'), null, pick('r7')),
        ]),
      );
      // metricNames widens the set: pt_other's 5000 ms / 500 joins the 12:00 bucket.
      const withOther = await trends('HOUR', { metricName: undefined, metricNames: ['pt_http', 'pt_other'], from: t('12:00:00.000'), to: t('13:00:00.000') });
      expect(withOther).toEqual(
        rounded([
          expectedPoint(t('12:00:00.000'), null, [
            ...pick('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8'),
            { responseTimeMs: 5000, statusCode: 500 },
          ]),
        ]),
      );
      expect(await trends('DAY', { metricName: 'pt_none' })).toEqual([]);
    });

    it('refuses an invalid groupByTag with BAD_USER_INPUT', async () => {
      for (const groupByTag of ['', 'end point', "endpoint'; DROP TABLE performance_metrics; --", 'x'.repeat(101), 'ünïcode']) {
        const response = await server.request(PerformanceTrends, { interval: 'HOUR', groupByTag });
        expect(response.status, groupByTag).toBeLessThan(500);
        expect(response.errors?.[0]?.extensions?.code, groupByTag).toBe('BAD_USER_INPUT');
        expect((response.errors?.[0]?.extensions?.issues as Issue[]).map((issue) => issue.path)).toEqual(['groupByTag']);
      }
      // Still answering afterwards.
      expect((await trends('DAY')).length).toBe(2);
    });
  });
});
