import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../src/core/db/sql.js';
import type { AggregateQuery, AggregateRow } from '../src/modules/analytics/model.js';
import { ADMIN_KEY, BACKENDS, startTestServer, type TestServer } from './support/server.js';

// Rollups against raw rows, on generated skewed data: counts, sums, extremes, means and error rates equal the
// raw GROUP BY (to the 10 significant digits the service reports), percentiles within 1 % of percentile_cont,
// distinct users within 2 %. Then what must never happen: a record missing from the rollups after concurrent
// writes, late data, or a restart between commit and roll-up.

/** A small seeded PRNG (mulberry32), so every run sees the same data. */
function prng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 9, 5, 0, 0, 0);
const ENDPOINTS = ['/api/orders', '/api/users', '/api/search', '/api/pages', '/health', '/api/projects'];
const HOSTS = ['web-1', 'web-2', 'web-3'];

function performanceRecords(count: number, seed: number, from: number, span: number) {
  const random = prng(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: count }, (_, index) => {
    const endpoint = ENDPOINTS[Math.floor(random() ** 2 * ENDPOINTS.length)] as string;
    // Log-normal latencies for most endpoints, Pareto for search: both heavy right tails.
    const responseTimeMs =
      endpoint === '/api/search' ? 20 / (1 - random()) ** (1 / 1.5) : Math.round(Math.exp(4.5 + 0.9 * gaussian()) * 1000) / 1000;
    return {
      metricName: index % 17 === 0 ? 'http_slow_path' : 'http_request',
      metricType: 'HISTOGRAM' as const,
      // Skewed and positive, like most gauges (the sketch's 1 % bound is relative: see README "Accuracy").
      value: Math.round(Math.exp(2 + 1.2 * gaussian()) * 100) / 100,
      responseTimeMs,
      statusCode: random() < 0.04 ? 503 : random() < 0.1 ? 404 : 200,
      tags: {
        endpoint,
        host: HOSTS[Math.floor(random() * HOSTS.length)] as string,
        method: endpoint === '/api/search' ? 'GET' : random() < 0.5 ? 'GET' : 'POST',
        ...(random() < 0.9 ? { app: random() < 0.7 ? 'shop' : 'admin' } : {}),
        region: random() < 0.5 ? 'eu' : 'us',
      },
      timestamp: new Date(from + Math.floor(random() * span)).toISOString(),
    };
  });
}

function activityRecords(count: number, seed: number, users: number, from: number, span: number) {
  const random = prng(seed);
  const types = ['login', 'PAGE_UPDATE', 'PROJECT_CREATE', 'PROJECT_PUBLISH', 'logout'];
  return Array.from({ length: count }, () => ({
    userId: `user-${Math.floor(users * random() ** 1.7)}`,
    activityType: types[Math.floor(random() ** 1.5 * types.length)] as string,
    timestamp: new Date(from + Math.floor(random() * span)).toISOString(),
  }));
}

const PERF_MEASURES: AggregateQuery['measures'] = [
  { fn: 'count' },
  { fn: 'sum' },
  { fn: 'min' },
  { fn: 'max' },
  { fn: 'avg' },
  { fn: 'last' },
  { fn: 'avg', field: 'responseTimeMs' },
  { fn: 'min', field: 'responseTimeMs' },
  { fn: 'max', field: 'responseTimeMs' },
  { fn: 'p50', field: 'responseTimeMs' },
  { fn: 'p95', field: 'responseTimeMs' },
  { fn: 'p99', field: 'responseTimeMs' },
  { fn: 'p50' },
  { fn: 'p95' },
  { fn: 'errorRate' },
  { fn: 'rate' },
];

const keyOf = (row: AggregateRow) => `${row.bucketStart.toISOString()} ${JSON.stringify(row.groups)}`;

/** Rollup rows against raw rows: exact where exact, percentiles within 1 %, distinct users within 2 %. */
function expectSameAggregates(rolled: AggregateRow[], raw: AggregateRow[]): void {
  expect(rolled.map(keyOf)).toEqual(raw.map(keyOf));
  rolled.forEach((row, index) => {
    const expected = raw[index] as AggregateRow;
    expect(row.count, keyOf(row)).toBe(expected.count);
    for (const [key, value] of Object.entries(expected.values)) {
      const actual = row.values[key];
      const where = `${keyOf(row)} ${key}`;
      if (value === null) expect(actual, where).toBeNull();
      else if (/^p\d\d/.test(key)) expect(Math.abs((actual as number) - value), where).toBeLessThanOrEqual(Math.abs(value) * 0.01 + 1e-9);
      else if (key === 'uniqueUsers') expect(Math.abs((actual as number) - value), where).toBeLessThanOrEqual(value * 0.02);
      else expect(actual, where).toBe(value);
    }
  });
}

describe.each(BACKENDS)('rollups on %s', (backend) => {
  let server: TestServer;
  const services = () => server.app.services;
  const ingest = async (family: 'performanceMetrics' | 'activities', items: unknown[]) => {
    for (let offset = 0; offset < items.length; offset += 1000) {
      await services().ingestor.ingest({ lists: [{ family, items: items.slice(offset, offset + 1000), path: 'seed', indexed: true }] });
    }
  };
  const both = async (query: AggregateQuery) => {
    await services().rollups.refresh();
    const rolled = await services().analytics.aggregate(query, { cache: false });
    const raw = await services().analytics.aggregate(query, { rollups: false });
    expect(raw.path).toBe('raw');
    return { rolled, raw };
  };

  beforeAll(async () => {
    // A slow maintainer: these tests fold writes in themselves (refresh()), at the moments they choose.
    server = await startTestServer(backend, {
      label: 'rollups',
      env: {
        INSIGHTS_ROLLUP_REFRESH_INTERVAL: '1h',
        INSIGHTS_ROLLUP_TAGS: 'endpoint,method,app,host',
        INSIGHTS_COUNT_CAP: '30',
        // The data is weeks old: keep its minutes (by default they are kept 14 days).
        INSIGHTS_ROLLUP_MINUTE_RETENTION_DAYS: '400',
      },
    });
    await ingest('performanceMetrics', performanceRecords(5_000, 7, START, 2 * DAY));
    await ingest('activities', activityRecords(3_000, 11, 400, START, 2 * DAY));
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
  });

  it('serves whole ranges from rollups with the raw answers, by hour, by UTC and local day, and in one bucket', async () => {
    const base = { family: 'performanceMetrics' as const, from: new Date(START), to: new Date(START + 2 * DAY), measures: PERF_MEASURES };
    for (const shape of [
      { interval: 'HOUR' as const },
      { interval: 'DAY' as const },
      { interval: 'DAY' as const, timeZone: 'Europe/Paris' },
      { interval: null },
      { interval: 'MINUTE' as const, from: new Date(START + 5 * HOUR), to: new Date(START + 6 * HOUR) },
    ]) {
      const { rolled, raw } = await both({ ...base, ...shape });
      expect(rolled.path, JSON.stringify(shape)).toBe('rollup');
      expectSameAggregates(rolled.rows, raw.rows);
    }
  });

  it('gives the whole range beside the buckets (withTotal), equal to a one-bucket read, from rollups and raw rows', async () => {
    const metrics = { family: 'performanceMetrics' as const, from: new Date(START + 3 * HOUR + 7_000), to: new Date(START + 2 * DAY - 11_000), measures: PERF_MEASURES };
    const activities = { family: 'activities' as const, from: metrics.from, to: metrics.to, measures: [{ fn: 'count' as const }, { fn: 'uniqueUsers' as const }, { fn: 'rate' as const }] };
    const bases: AggregateQuery[] = [metrics, activities, { ...metrics, groupBy: ['endpoint'], top: { measure: 'count', limit: 2 } }, { ...activities, filter: { userId: 'user-7' } }];
    for (const base of bases) {
      await services().rollups.refresh();
      const whole = { ...base, groupBy: [], top: undefined, interval: null };
      for (const rollups of [true, false]) {
        const withTotal = await services().analytics.aggregate({ ...base, interval: 'HOUR', withTotal: true }, { cache: false, rollups });
        const [one] = (await services().analytics.aggregate(whole, { cache: false, rollups })).rows;
        const where = `${base.family} ${JSON.stringify(base.groupBy ?? null)} rollups ${rollups}`;
        // The range's sub-minute edges come from raw rows: a mixed read.
        expect(withTotal.path, where).toBe(rollups ? 'mixed' : 'raw');
        expect(one, where).toBeDefined();
        expect(withTotal.total, where).toEqual(one);
        expect(withTotal.rows.length, where).toBeGreaterThan(1);
      }
    }
    // Kept in the result cache with the buckets.
    const first = await services().analytics.aggregate({ ...metrics, interval: 'HOUR', withTotal: true });
    const again = await services().analytics.aggregate({ ...metrics, interval: 'HOUR', withTotal: true });
    expect(again.cached).toBe(true);
    expect(again.total).toEqual(first.total);
    expect(again.total?.count).toBeGreaterThan(1000);
    // Nothing in the range: no total row.
    const empty = await services().analytics.aggregate({ ...metrics, from: new Date(START - DAY), to: new Date(START - HOUR), interval: 'HOUR', withTotal: true }, { cache: false });
    expect(empty.total).toBeNull();
  });

  it('groups and filters by rollup tags (one tag, several, and with a metric and app filter)', async () => {
    const base = { family: 'performanceMetrics' as const, from: new Date(START), to: new Date(START + 2 * DAY), measures: PERF_MEASURES };
    const shapes: Partial<AggregateQuery>[] = [
      { groupBy: ['endpoint'], interval: 'DAY' as const },
      { groupBy: ['endpoint', 'host'], interval: null },
      { groupBy: ['app'], interval: 'HOUR' as const, filter: { metricName: 'http_request' } },
      { groupBy: ['method'], interval: null, filter: { tags: { endpoint: '/api/search', host: 'web-2' } } },
      { groupBy: ['metricName'], interval: null, filter: { tags: { app: 'shop' } } },
      { groupBy: [], interval: 'DAY' as const, filter: { tags: { endpoint: '/api/orders' } } },
    ];
    for (const shape of shapes) {
      const { rolled, raw } = await both({ ...base, ...shape });
      expect(rolled.path, JSON.stringify(shape)).toBe('rollup');
      expectSameAggregates(rolled.rows, raw.rows);
    }
  });

  it('adds raw rows for unaligned edges, and reads a tag outside INSIGHTS_ROLLUP_TAGS from raw rows', async () => {
    const query: AggregateQuery = {
      family: 'performanceMetrics',
      from: new Date(START + 5 * HOUR + 17 * 60_000 + 12_345),
      to: new Date(START + DAY + 3 * HOUR + 59_999),
      interval: 'HOUR',
      groupBy: ['endpoint'],
      measures: PERF_MEASURES,
    };
    const { rolled, raw } = await both(query);
    expect(rolled.path).toBe('mixed');
    expectSameAggregates(rolled.rows, raw.rows);
    const region = await services().analytics.aggregate({ ...query, groupBy: ['region'] }, { cache: false });
    expect(region.path).toBe('raw');
  });

  it('counts activities, distinct users (within 2 %), top users and types, and days in a time zone', async () => {
    const base = { family: 'activities' as const, from: new Date(START), to: new Date(START + 2 * DAY) };
    for (const shape of [
      { measures: [{ fn: 'count' as const }, { fn: 'uniqueUsers' as const }, { fn: 'rate' as const }], interval: null },
      { measures: [{ fn: 'count' as const }, { fn: 'uniqueUsers' as const }], interval: 'DAY' as const, timeZone: 'America/New_York' },
      { measures: [{ fn: 'count' as const }, { fn: 'uniqueUsers' as const }], groupBy: ['activityType'], interval: 'HOUR' as const },
      { measures: [{ fn: 'count' as const }], groupBy: ['userId'], interval: null, top: { measure: 'count', limit: 20 } },
      { measures: [{ fn: 'count' as const }], filter: { userId: 'user-3' }, interval: 'DAY' as const },
      { measures: [{ fn: 'uniqueUsers' as const }], filter: { activityTypes: ['login', 'logout'] }, interval: null },
    ]) {
      const { rolled, raw } = await both({ ...base, ...shape });
      expect(rolled.path, JSON.stringify(shape)).toBe('rollup');
      expectSameAggregates(rolled.rows, raw.rows);
    }
    // Enough users that the estimate is an HyperLogLog one, not an exact set.
    const { rolled } = await both({ ...base, measures: [{ fn: 'uniqueUsers' }] });
    expect(rolled.rows[0]?.values.uniqueUsers).toBeGreaterThan(150);
  });

  it('loses nothing to concurrent writes, late records or refreshes running meanwhile', async () => {
    const window = { family: 'performanceMetrics' as const, from: new Date(START + 10 * DAY), to: new Date(START + 11 * DAY), measures: [{ fn: 'count' as const }, { fn: 'sum' as const }] };
    const batches = Array.from({ length: 8 }, (_, index) => performanceRecords(150, 100 + index, START + 10 * DAY, DAY));
    // Writers and the maintainer race: every batch must end up in the rollups exactly once.
    await Promise.all([
      ...batches.map((batch) => ingest('performanceMetrics', batch)),
      services().rollups.refresh(),
      services().rollups.refresh(),
    ]);
    // A late record, days older than the data around it, lands in its own old bucket.
    await ingest('performanceMetrics', [{ ...performanceRecords(1, 999, START + 10 * DAY + 5 * HOUR, 1)[0], value: 1000 }]);
    const { rolled, raw } = await both({ ...window, interval: 'HOUR' });
    expect(rolled.path).toBe('rollup');
    expect(rolled.rows.reduce((sum, row) => sum + row.count, 0)).toBe(8 * 150 + 1);
    expectSameAggregates(rolled.rows, raw.rows);
    expect(await services().rollups.pendingCount()).toBe(0);
  });

  it('sees a write at once although reads share the pending minutes they looked up (one lookup per second)', async () => {
    const day = START + 24 * DAY;
    const query = { family: 'performanceMetrics' as const, from: new Date(day), to: new Date(day + DAY), interval: null, measures: [{ fn: 'count' as const }] };
    await ingest('performanceMetrics', performanceRecords(20, 77, day + HOUR, HOUR));
    await services().rollups.refresh();
    const read = async () => (await services().analytics.aggregate(query, { cache: false })).rows[0]?.count;
    // Several reads at once, as a dashboard's: all served from the rollups, nothing pending.
    const first = await Promise.all([read(), read(), read()]);
    expect(first).toEqual([20, 20, 20]);
    // A write to a minute already folded in: the next read has it, within the second the lookup is kept.
    await ingest('performanceMetrics', performanceRecords(1, 78, day + HOUR + 60_000, 1));
    expect(await read()).toBe(21);
    await services().rollups.refresh();
    expect(await read()).toBe(21);
  });

  it('folds in after a restart what was committed before it and never rolled up', async () => {
    const day = START + 20 * DAY;
    await ingest('performanceMetrics', performanceRecords(300, 42, day, 4 * HOUR));
    // Stopped before the maintainer ran: the invalidations were committed with the records.
    const pending = await services().rollups.pendingCount(['performanceMetrics']);
    expect(pending).toBeGreaterThan(0);
    await server.restart();
    const query = { family: 'performanceMetrics' as const, from: new Date(day), to: new Date(day + DAY), interval: null, measures: [{ fn: 'count' as const }] };
    // Before it is folded in, reads are still exact (raw rows for the pending minutes).
    expect((await services().analytics.aggregate(query, { cache: false })).rows[0]?.count).toBe(300);
    const { rolled } = await both(query);
    expect(rolled.path).toBe('rollup');
    expect(rolled.rows[0]?.count).toBe(300);
  });

  it('lets the timer fold a minute once its writes pause for an interval, or once they have gone on for twelve', async () => {
    // The interval here is 1 h: "paused" means no write for an hour, "waited" means twelve hours. The pending
    // writes are aged on the database's clock, which is the one the maintainer compares with.
    const day = START + 22 * DAY;
    const pendingMinutes = async () =>
      (await services().db.query<{ m: number }>(sql`
        SELECT count(DISTINCT bucket)::int AS m FROM rollup_invalidations
        WHERE family = 'performanceMetrics' AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + DAY)}`))[0]?.m;
    const age = (minute: number, by: string) =>
      services().db.query(sql`UPDATE rollup_invalidations SET at = at - ${by}::interval
        WHERE family = 'performanceMetrics' AND bucket = ${new Date(minute)}`);
    const minutes = [day + 10 * 60_000, day + 20 * 60_000, day + 30 * 60_000];
    const write = (minute: number) =>
      ingest('performanceMetrics', performanceRecords(5, minute / 60_000, minute, 60_000));
    for (const minute of minutes) await write(minute);
    await services().rollups.refresh({ settledOnly: true });
    expect(await pendingMinutes()).toBe(3); // all three still being written
    await age(minutes[0]!, '61 minutes'); // paused for more than an interval: folded
    await write(minutes[1]!);
    await age(minutes[1]!, '30 minutes'); // written 30 min ago and now: neither paused nor waited long enough
    await write(minutes[2]!);
    await age(minutes[2]!, '30 minutes');
    await write(minutes[2]!);
    await services().db.query(sql`UPDATE rollup_invalidations SET at = at - interval '12 hours 1 minute'
      WHERE family = 'performanceMetrics' AND bucket = ${new Date(minutes[2]!)} AND id = (
        SELECT min(id) FROM rollup_invalidations WHERE family = 'performanceMetrics' AND bucket = ${new Date(minutes[2]!)})`);
    const stats = await services().rollups.refresh({ settledOnly: true });
    expect(stats.minutes).toBe(2); // the paused one, and the one written for over twelve intervals
    expect(await pendingMinutes()).toBe(1);
    const [left] = await services().db.query<{ bucket: Date }>(sql`
      SELECT DISTINCT bucket FROM rollup_invalidations WHERE family = 'performanceMetrics' AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + DAY)}`);
    expect(left?.bucket.getTime()).toBe(minutes[1]);
    // Reads are exact meanwhile, and an explicit refresh folds the rest.
    const query = { family: 'performanceMetrics' as const, from: new Date(day), to: new Date(day + DAY), interval: null, measures: [{ fn: 'count' as const }] };
    expect((await services().analytics.aggregate(query, { cache: false })).rows[0]?.count).toBe(30);
    const { rolled } = await both(query);
    expect(rolled.path).toBe('rollup');
    expect(rolled.rows[0]?.count).toBe(30);
    expect(await pendingMinutes()).toBe(0);
  });

  it('reads one-tag minute slices, full-slice minutes where an older version stored no others, and rebuild brings those', async () => {
    const day = START + DAY;
    const marker = day + 4 * HOUR;
    const query: AggregateQuery = {
      family: 'performanceMetrics',
      from: new Date(day + 3 * HOUR + 7 * 60_000),
      to: new Date(day + 5 * HOUR + 11 * 60_000),
      interval: 'MINUTE',
      groupBy: ['endpoint'],
      measures: PERF_MEASURES,
    };
    const minuteRows = (slice: string, before: boolean) =>
      services().db.query<{ n: number }>(sql`
        SELECT count(*)::int AS n FROM metric_rollups WHERE family = 'performanceMetrics' AND resolution = '1m' AND slice = ${slice}
          AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + DAY)} AND (bucket < ${new Date(marker)}) = ${before}`).then((rows) => rows[0]?.n ?? 0);
    const expectExact = async () => {
      const { rolled, raw } = await both(query);
      expect(rolled.path).toBe('rollup');
      expect(rolled.rows.length).toBeGreaterThan(60);
      expectSameAggregates(rolled.rows, raw.rows);
    };
    await services().rollups.refresh();
    expect(await minuteRows('endpoint', true)).toBeGreaterThan(0);
    await expectExact();
    // An upgraded database: minutes before the marker were stored with the total and the full slice only. And
    // the minutes after it lose their full slice here, so an exact answer shows they were read by tag.
    await services().db.query(sql`DELETE FROM metric_rollups WHERE family = 'performanceMetrics' AND resolution = '1m'
      AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + DAY)}
      AND ((bucket < ${new Date(marker)} AND slice NOT IN ('', '*')) OR (bucket >= ${new Date(marker)} AND slice = '*'))`);
    await services().db.query(sql`UPDATE rollup_state SET value = to_jsonb(${marker}::float8) WHERE key = 'minuteSlicesFrom:performanceMetrics'`);
    await server.restart();
    expect([await minuteRows('endpoint', true), await minuteRows('*', false)]).toEqual([0, 0]);
    await expectExact();
    // Rebuilding the day stores every slice again, and moves the marker back to its start.
    await services().rollups.rebuild(new Date(day), new Date(day + DAY), ['performanceMetrics']);
    const [state] = await services().db.query<{ value: number }>(sql`
      SELECT (value #>> '{}')::float8 AS value FROM rollup_state WHERE key = 'minuteSlicesFrom:performanceMetrics'`);
    expect(state?.value).toBe(day);
    expect(await minuteRows('endpoint', true)).toBeGreaterThan(0);
    expect(await minuteRows('*', false)).toBeGreaterThan(0);
    await server.restart();
    await expectExact();
    // A database no server has opened since the upgrade (no marker): a rebuild from the command line up to an
    // hour ahead sets it, then moves it back.
    await services().db.query(sql`DELETE FROM rollup_state WHERE key = 'minuteSlicesFrom:performanceMetrics'`);
    await services().rollups.rebuild(new Date(day + HOUR), new Date(Date.now() + 2 * HOUR), ['performanceMetrics']);
    const [moved] = await services().db.query<{ value: number }>(sql`
      SELECT (value #>> '{}')::float8 AS value FROM rollup_state WHERE key = 'minuteSlicesFrom:performanceMetrics'`);
    expect(moved?.value).toBe(day + HOUR);
  });

  it('rebuild recomputes a range from raw rows, even after rollups were damaged', async () => {
    const day = START + DAY;
    await services().db.query(sql`DELETE FROM metric_rollups WHERE family = 'performanceMetrics' AND bucket >= ${new Date(day)} AND bucket < ${new Date(day + DAY)}`);
    const stats = await services().rollups.rebuild(new Date(day), new Date(day + DAY), ['performanceMetrics']);
    expect(stats.minutes).toBeGreaterThan(100);
    const { rolled, raw } = await both({ family: 'performanceMetrics', from: new Date(day), to: new Date(day + DAY), interval: 'HOUR', measures: PERF_MEASURES });
    expect(rolled.path).toBe('rollup');
    expectSameAggregates(rolled.rows, raw.rows);
  });

  it('counts connections exactly from rollups when the filter allows, and up to INSIGHTS_COUNT_CAP otherwise', async () => {
    await services().rollups.refresh();
    const from = new Date(START + 3 * HOUR + 7_000).toISOString();
    const to = new Date(START + DAY + 5 * HOUR + 11).toISOString();
    const [exact] = await services().db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM performance_metrics WHERE "timestamp" >= ${new Date(from)} AND "timestamp" < ${new Date(to)} AND tags @> '{"endpoint": "/api/orders"}'`);
    const rolled = await server.request<{ performanceMetrics: { totalCount: number; totalCountExact: boolean } }, unknown>(
      `query($from: DateTime, $to: DateTime) { performanceMetrics(first: 1, filter: { from: $from, to: $to, tags: { endpoint: "/api/orders" } }) { totalCount totalCountExact } }`,
      { from, to },
    );
    expect(rolled.data?.performanceMetrics).toEqual({ totalCount: exact?.n, totalCountExact: true });
    expect(rolled.data?.performanceMetrics.totalCount).toBeGreaterThan(50);
    // statusCode is not a rollup key: counted on raw rows, up to the cap (30 here).
    const capped = await server.request<{ performanceMetrics: { totalCount: number; totalCountExact: boolean } }, unknown>(
      `{ performanceMetrics(filter: { statusCode: 200 }) { totalCountExact totalCount } }`,
    );
    expect(capped.data?.performanceMetrics).toEqual({ totalCount: 30, totalCountExact: false });
    const small = await server.request<{ performanceMetrics: { totalCount: number; totalCountExact: boolean } }, unknown>(
      `{ performanceMetrics(filter: { statusCode: 200, metricName: "nothing-such" }) { totalCount totalCountExact } }`,
    );
    expect(small.data?.performanceMetrics).toEqual({ totalCount: 0, totalCountExact: true });
  });

  it('reports which path served each analytics read in the response extensions', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({
        query: `query($from: DateTime!, $to: DateTime!) { performanceTrends(interval: HOUR, filter: { from: $from, to: $to }) { count } }`,
        variables: { from: new Date(START).toISOString(), to: new Date(START + DAY).toISOString() },
      }),
    });
    const body = (await response.json()) as { extensions?: { analytics?: { family: string; path: string; cached: boolean; ms: number }[] } };
    expect(body.extensions?.analytics).toEqual([{ family: 'performanceMetrics', path: 'rollup', cached: false, ms: expect.any(Number) }]);
  });

  it('serves repeated reads from the cache until a write to the family, and says which path served a read', async () => {
    const now = Date.now();
    const query: AggregateQuery = { family: 'performanceMetrics', from: new Date(now - HOUR), to: new Date(now + HOUR), interval: null, measures: [{ fn: 'count' }] };
    const first = await services().analytics.aggregate(query);
    expect(first.cached).toBe(false);
    const second = await services().analytics.aggregate(query);
    expect(second).toMatchObject({ cached: true, rows: first.rows });
    await ingest('performanceMetrics', performanceRecords(3, 5, now - 1_000, 10));
    const third = await services().analytics.aggregate(query);
    expect(third.cached).toBe(false);
    expect((third.rows[0]?.count ?? 0) - (first.rows[0]?.count ?? 0)).toBe(3);
  });
});
