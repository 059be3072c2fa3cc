/**
 * Reports end to end on both backends: exact figures of a seeded day (new and active users, previous-period
 * changes), a Europe/Paris day, one report per period, bad input refused with nothing written, the downloads
 * (content types, CSV parsed back, JSON), reportReady over WebSocket, and the HTML in headless Chromium.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../src/core/db/sql.js';
import { seedReportDay, generate, getReport, settled, figure, type ReportResult } from './support/reports.js';
import { connectSubscriptions, liveSubscribers } from './support/subscriptions.js';
import { ADMIN_KEY, BACKENDS, startTestServer, type TestServer } from './support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACT_DIR = path.join(os.tmpdir(), 'insights-reports');

/** Splits the report CSV into its tables (a row naming the table, the header, the rows, an empty line). */
function csvTables(text: string): Map<string, string[][]> {
  const records = parse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][];
  const tables = new Map<string, string[][]>();
  let current: string[][] | null = null;
  for (const record of records) {
    if (record.length === 1 && record[0] === '') current = null;
    else if (record.length === 1 && current === null) tables.set(record[0] as string, (current = []));
    else current?.push(record);
  }
  return tables;
}

describe.each(BACKENDS)('reports on %s', (backend) => {
  let server: TestServer;
  let utc: ReportResult;

  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'reports', env: { INSIGHTS_PUBLIC_URL: 'https://insights.example.com/' } });
    await seedReportDay(server);
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('returns PENDING at once, then announces READY over WebSocket with exactly the expected figures', async () => {
    const subscriptions = connectSubscriptions(server.url);
    try {
      await subscriptions.connected;
      const live = liveSubscribers(server);
      const ready = subscriptions.subscribe<{ reportReady: { id: string; status: string; type: string } }>(
        'subscription { reportReady(types: [DAILY]) { id status type } }',
      );
      const weekly = subscriptions.subscribe<{ reportReady: { id: string } }>('subscription { reportReady(types: [WEEKLY]) { id } }');
      await live.registered(2);
      const requested = await generate(server, { type: 'DAILY', from: '2024-01-15T12:00:00Z', timeZone: 'UTC' });
      expect(requested.status).toBe('PENDING');
      expect(requested.summary).toBeNull();
      expect(requested.artifacts).toEqual([]);
      expect(requested.periodStart).toBe('2024-01-15T00:00:00.000Z');
      expect(requested.periodEnd).toBe('2024-01-16T00:00:00.000Z');
      // Generation takes what the machine gives it: wait for the report itself, then for its announcement.
      expect((await settled(server, requested.id, 50_000)).status).toBe('READY');
      const [event] = await ready.waitFor(1);
      expect(event!.reportReady).toEqual({ id: requested.id, status: 'READY', type: 'DAILY' });
      expect(weekly.events).toEqual([]);
    } finally {
      await subscriptions.dispose();
    }
    const [first] = await server.query(
      `query { reports(filter: { types: [DAILY] }) { totalCount edges { node { id } } } }` as never,
    ).then((data) => (data as { reports: { edges: { node: { id: string } }[] } }).reports.edges.map((edge) => edge.node.id));
    utc = await getReport(server, first!);
    expect(utc.status).toBe('READY');
    expect(utc.attempts).toBe(1);
    expect(utc.readyAt).not.toBeNull();

    const { users, projects, activities, performance, hosts, alerts } = utc.summary;
    expect(users).toEqual({
      newUsers: figure(1, 3), // u3 (u2's back-filled activity of 10 January makes it an old user); u1, u4, u5
      activeUsers: figure(4, 3),
      dau: figure(4, 3),
      wau: figure(6, 4),
      mau: figure(6, 5),
      stickiness: figure(4 / 6, 3 / 5),
      totalUsers: figure(6, 5),
    });
    expect(users.stickiness.value).toBeCloseTo(0.6666666667, 9);
    expect(projects).toEqual({ created: figure(2, 1), published: figure(1, 0), totalCreated: figure(3, 1) });
    expect(activities).toEqual([
      { type: 'login', count: 4, previous: 3, change: 1, changeRatio: 1 / 3 },
      { type: 'PROJECT_CREATE', count: 2, previous: 1, change: 1, changeRatio: 1 },
      { type: 'PROJECT_PUBLISH', count: 1, previous: 0, change: 1, changeRatio: null },
    ]);
    expect(performance.totalRequests).toEqual(figure(8, 2));
    expect(performance.avgResponseMs).toEqual(figure(264.375, 200));
    // Percentiles: exact (percentile_cont) on raw rows; rollups may serve them from sketches, within 2 %.
    const near = (actual: number | null, expected: number) => expect(Math.abs((actual as number) - expected) / expected).toBeLessThan(0.02);
    near(performance.p95ResponseMs.value, 790);
    near(performance.p95ResponseMs.previous, 290);
    near(performance.p99ResponseMs.value, 958);
    expect(performance.errorRate).toEqual(figure(0.25, 0));
    expect(performance.slowestEndpoints.map((e: { endpoint: string; requests: number }) => [e.endpoint, e.requests])).toEqual([
      ['/api/orders', 4],
      ['/api/users', 2],
      ['/health', 1],
    ]);
    near(performance.slowestEndpoints[0].p95Ms, 385);
    near(performance.slowestEndpoints[0].p99Ms, 397);
    expect(performance.topErrorEndpoints).toEqual([
      { endpoint: '/api/orders', errors: 1, requests: 4, errorRate: 0.25 },
      { endpoint: '/api/users', errors: 1, requests: 2, errorRate: 0.5 },
    ]);
    expect(hosts).toEqual([
      { host: 'db-1', cpuAvg: 40, cpuMax: 40, memoryAvg: null, memoryMax: null, diskAvg: null, diskMax: null },
      { host: 'web-1', cpuAvg: 20, cpuMax: 30, memoryAvg: 60, memoryMax: 70, diskAvg: 85, diskMax: 90 },
    ]);
    // No alerting module: the section is left out, not shown as zeros.
    // The alerting module is present: its section is there, empty (no rule fired on the seeded day).
    expect(alerts).toEqual([]);
    // The hourly series covers the whole day, empty hours included.
    const points = (utc.data as { performance: { timeSeries: { granularity: string; points: { requests: number }[] } } }).performance.timeSeries;
    expect(points.granularity).toBe('HOUR');
    expect(points.points).toHaveLength(24);
    expect(points.points.reduce((sum, point) => sum + point.requests, 0)).toBe(8);

    // The figures match direct queries of the stored rows.
    const [direct] = await server.app.services.db.query<{ activities: number; users: number; requests: number }>(sql`
      SELECT (SELECT count(*) FROM user_activities WHERE timestamp >= '2024-01-15T00:00:00Z' AND timestamp < '2024-01-16T00:00:00Z')::int AS activities,
             (SELECT count(DISTINCT user_id) FROM user_activities WHERE timestamp >= '2024-01-15T00:00:00Z' AND timestamp < '2024-01-16T00:00:00Z')::int AS users,
             (SELECT count(*) FROM performance_metrics WHERE timestamp >= '2024-01-15T00:00:00Z' AND timestamp < '2024-01-16T00:00:00Z')::int AS requests`);
    expect(direct).toEqual({ activities: 7, users: users.activeUsers.value, requests: performance.totalRequests.value });
  });

  it('keeps one report per period: asking again returns the READY one', async () => {
    const again = await generate(server, { type: 'DAILY', from: '2024-01-15T23:00:00Z', timeZone: 'UTC' });
    expect(again.id).toBe(utc.id);
    expect(again.status).toBe('READY');
    const [count] = await server.app.services.db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM reports WHERE type = 'DAILY' AND time_zone = 'UTC'`);
    expect(count!.n).toBe(1);
  });

  it('cuts a Europe/Paris day at Paris midnight, not UTC midnight, and follows daylight saving', async () => {
    const paris = await settled(server, (await generate(server, { type: 'DAILY', from: '2024-01-15T12:00:00Z', timeZone: 'Europe/Paris' })).id);
    expect(paris.status).toBe('READY');
    expect(paris.id).not.toBe(utc.id);
    expect([paris.periodStart, paris.periodEnd, paris.timeZone]).toEqual(['2024-01-14T23:00:00.000Z', '2024-01-15T23:00:00.000Z', 'Europe/Paris']);
    // u5 (23:30 UTC on the 14th) is in the Paris 15th, u3 (23:59 UTC on the 15th) is not.
    expect(paris.summary.users.newUsers).toEqual(figure(1, 2));
    expect(paris.summary.users.activeUsers).toEqual(figure(4, 2));
    expect(paris.summary.activities[0]).toEqual({ type: 'login', count: 4, previous: 2, change: 2, changeRatio: 1 });
    expect(paris.artifacts.map((a: { fileName: string }) => a.fileName)).toContain('insights-report-daily-2024-01-15.html');

    const springForward = await generate(server, { type: 'DAILY', from: '2024-03-31T12:00:00Z', timeZone: 'Europe/Paris' });
    expect(Date.parse(springForward.periodEnd) - Date.parse(springForward.periodStart)).toBe(23 * 3_600_000);
    const week = await generate(server, { type: 'WEEKLY', from: '2024-01-17T12:00:00Z', timeZone: 'Europe/Paris' });
    expect([week.periodStart, week.periodEnd]).toEqual(['2024-01-14T23:00:00.000Z', '2024-01-21T23:00:00.000Z']); // Monday to Monday
    const month = await generate(server, { type: 'MONTHLY', from: '2024-03-15T00:00:00Z', timeZone: 'Europe/Paris' });
    expect([month.periodStart, month.periodEnd]).toEqual(['2024-02-29T23:00:00.000Z', '2024-03-31T22:00:00.000Z']);
    for (const id of [springForward.id, week.id, month.id]) expect((await settled(server, id)).status).toBe('READY');
  });

  it('refuses bad input with the field named, and writes nothing', async () => {
    const count = async () =>
      (await server.app.services.db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM reports`))[0]!.n;
    const before = await count();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ type: 'CUSTOM', from: '2024-01-15T00:00:00Z' }, 'input.to', /required/],
      [{ type: 'CUSTOM', from: '2024-01-15T00:00:00Z', to: '2024-01-14T00:00:00Z' }, 'input.from', /before to/],
      [{ type: 'CUSTOM', from: '2023-01-01T00:00:00Z', to: '2024-06-01T00:00:00Z' }, 'input.to', /366 days/],
      [{ type: 'DAILY', from: '2024-01-15T00:00:00Z', to: '2024-01-16T00:00:00Z' }, 'input.to', /only for CUSTOM/],
      [{ type: 'DAILY', from: new Date(Date.now() + 60_000).toISOString() }, 'input.from', /not ended yet/],
      [{ type: 'DAILY', timeZone: 'Mars/Olympus' }, 'input.timeZone', /IANA/],
      [{ type: 'CUSTOM', from: '1990-01-01T00:00:00Z', to: '1990-01-02T00:00:00Z' }, 'input.from', /from 2000/],
    ];
    for (const [input, field, message] of cases) {
      const result = await server.request(
        `mutation($input: GenerateReportInput!) { generateReport(input: $input) { id } }` as never,
        { input } as never,
      );
      expect(result.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe('BAD_USER_INPUT');
      const issues = result.errors?.[0]?.extensions?.issues as { path: string; message: string }[];
      expect(issues.map((problem) => problem.path)).toContain(field);
      expect(issues.find((problem) => problem.path === field)!.message).toMatch(message);
    }
    const unknown = await server.request(`{ report(id: "abc") { id } }` as never);
    expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await server.request(`{ report(id: "999999") { id } }` as never)).data).toEqual({ report: null });
    expect(await count()).toBe(before);
  });

  it('serves the files with their content types, to Bearer and browser (Basic) sign-in alike', async () => {
    expect(utc.artifacts.map((a: { format: string; url: string }) => [a.format, a.url])).toEqual([
      ['HTML', `https://insights.example.com/reports/${utc.id}.html`],
      ['CSV', `https://insights.example.com/reports/${utc.id}.csv`],
      ['JSON', `https://insights.example.com/reports/${utc.id}.json`],
    ]);
    const get = (suffix: string, headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}` }) =>
      fetch(`${server.url}/reports/${suffix}`, { headers });

    const html = await get(`${utc.id}.html`, { authorization: `Basic ${Buffer.from(`me:${ADMIN_KEY}`).toString('base64')}` });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-disposition')).toBe('inline; filename="insights-report-daily-2024-01-15.html"');
    const page = await html.text();
    expect(page).toContain('<svg');
    expect(Number(html.headers.get('content-length'))).toBe(Buffer.byteLength(page));
    expect(utc.artifacts[0].sizeBytes).toBe(Buffer.byteLength(page));

    const csv = await get(`${utc.id}.csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(csv.headers.get('content-disposition')).toBe('attachment; filename="insights-report-daily-2024-01-15.csv"');
    const tables = csvTables(await csv.text());
    expect([...tables.keys()]).toEqual(['report', 'users', 'projects', 'activities', 'performance', 'slowest_endpoints', 'error_endpoints', 'requests_timeseries', 'hosts', 'host_timeseries', 'alerts']);
    expect(tables.get('users')![0]).toEqual(['metric', 'value', 'previous', 'change_absolute', 'change_relative']);
    expect(tables.get('users')!.find((row) => row[0] === 'newUsers')).toEqual(['newUsers', '1', '3', '-2', String(-2 / 3)]);
    expect(tables.get('activities')!.slice(1)).toEqual([
      ['login', '4', '3', '1', String(1 / 3)],
      ['PROJECT_CREATE', '2', '1', '1', '1'],
      ['PROJECT_PUBLISH', '1', '0', '1', ''],
    ]);

    const json = await get(`${utc.id}.json`);
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json.headers.get('content-disposition')).toBe('attachment; filename="insights-report-daily-2024-01-15.json"');
    expect(await json.json()).toEqual(utc.data);

    const anonymous = await get(`${utc.id}.html`, {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
    const missing = await get('999999.csv');
    expect(missing.status).toBe(404);
    expect((await missing.json()).errors[0].message).toBe('No report has id 999999');
    expect((await get(`${utc.id}.pdf`)).status).toBe(404);
    expect((await get('%E0%A4%A.html')).status).toBe(404);
  });

  // One browser run is enough: the file is the same on both backends.
  if (backend === 'postgres') it('opens the HTML in headless Chromium: charts drawn, page not blank', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: run \`apt-get install -y chromium\`, then the tests again.`);
    const response = await fetch(`${server.url}/reports/${utc.id}.html`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    mkdirSync(ARTIFACT_DIR, { recursive: true });
    const file = path.join(ARTIFACT_DIR, `report-${utc.id}.html`);
    writeFileSync(file, await response.text());
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${file}`, { waitUntil: 'load' });
      expect(requests).toEqual([`file://${file}`]);
      const charts = await page.locator('svg').evaluateAll((svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          return { label: svg.getAttribute('aria-label'), width: box.width, height: box.height, shapes: svg.querySelectorAll('path,rect,text').length };
        }),
      );
      expect(charts.map((chart) => chart.label).sort()).toEqual(['Activities by type', 'CPU use per host', 'Memory use per host', 'Requests and error rate per hour']);
      for (const chart of charts) {
        expect(chart.width, `${chart.label} width`).toBeGreaterThan(300);
        expect(chart.height, `${chart.label} height`).toBeGreaterThan(100);
        expect(chart.shapes, `${chart.label} shapes`).toBeGreaterThan(10);
      }
      expect(await page.evaluate(() => document.body.innerText)).toContain('/api/orders');
      const screenshot = await page.screenshot({ path: path.join(ARTIFACT_DIR, `report-${utc.id}.png`), fullPage: true });
      // A blank page compresses to a few kilobytes; figures, tables and charts do not.
      expect(screenshot.byteLength).toBeGreaterThan(60_000);
    } finally {
      await browser.close();
    }
  });
});
