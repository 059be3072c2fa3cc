/**
 * A daily report with known numbers (15 January 2024 in Europe/Paris), for the renderer tests and for looking
 * at the output by hand (`npx tsx test/support/reportFixture.ts /tmp/report.html`).
 */
import { computeChange, metric, type ReportData } from '../../src/modules/reports/render/types.js';

/** Markup that must come out as text wherever the data is shown. */
export const XSS = `<script>alert("x")</script><img src="https://evil.example/x.png" onerror="alert(1)">`;

const START = Date.parse('2024-01-14T23:00:00.000Z'); // 2024-01-15 00:00 in Europe/Paris
const HOUR = 3_600_000;

/** The fixture's hourly requests: a day curve peaking in the afternoon. */
export const HOURLY_REQUESTS = Array.from({ length: 24 }, (_, h) => Math.round(400 + 900 * Math.max(0, Math.sin(((h - 6) / 24) * 2 * Math.PI)) + 37 * (h % 5)));
/** Failed requests per hour: a small background, and an incident at 14:00–15:00. */
export const HOURLY_ERRORS = HOURLY_REQUESTS.map((r, h) => (h === 14 ? Math.round(r * 0.085) : h === 15 ? Math.round(r * 0.03) : Math.round(r * 0.004)));
export const TOTAL_REQUESTS = HOURLY_REQUESTS.reduce((a, b) => a + b, 0);
export const TOTAL_ERRORS = HOURLY_ERRORS.reduce((a, b) => a + b, 0);

export function fixtureReport(options: { xss?: boolean } = {}): ReportData {
  const x = options.xss ? XSS : '';
  const hosts = ['api-1.prod.internal', 'api-2.prod.internal', `db-1.prod.internal${x}`];
  const activity = (type: string, count: number, previous: number | null) => ({ type, count, previous, change: computeChange(count, previous) });
  return {
    id: `rep_2024-01-15_daily${x}`,
    type: 'DAILY',
    periodStart: new Date(START).toISOString(),
    periodEnd: new Date(START + 24 * HOUR).toISOString(),
    timeZone: 'Europe/Paris',
    generatedAt: '2024-01-15T23:05:12.000Z',
    users: {
      newUsers: metric(87, 95),
      activeUsers: metric(1234, 1100),
      dau: metric(1234, 1100),
      wau: metric(4321, 4210),
      mau: metric(9876, 9650),
      stickiness: metric(1234 / 9876, 1100 / 9650),
      totalUsers: metric(25_000, 24_913),
    },
    projects: {
      created: metric(42, 35),
      published: metric(17, 20),
      totalCreated: metric(3456, 3414),
    },
    activities: [
      activity('PAGE_VIEW', 18_250, 17_100),
      activity('API_CALL', 9_420, 9_980),
      activity('LOGIN', 1_377, 1_250),
      activity('FILE_UPLOAD', 611, 540),
      activity('COMMENT', 402, 402),
      activity('PROJECT_CREATE', 42, 35),
      activity('PROJECT_PUBLISH', 17, 20),
      activity(`EXPORT${x}`, 9, 0),
    ],
    performance: {
      totalRequests: metric(TOTAL_REQUESTS, 21_870),
      avgResponseMs: metric(84.3, 91.7),
      p95ResponseMs: metric(412, 388),
      p99ResponseMs: metric(1_250, 1_310),
      errorRate: metric(TOTAL_ERRORS / TOTAL_REQUESTS, 0.0061),
      slowestEndpoints: [
        { endpoint: 'POST /graphql exportProject', requests: 182, p95Ms: 4_820, p99Ms: 7_310, errorRate: 0.0165 },
        { endpoint: 'POST /graphql analyticsOverview', requests: 1_904, p95Ms: 2_140, p99Ms: 3_980, errorRate: 0.0042 },
        { endpoint: 'POST /ingest/batch', requests: 5_512, p95Ms: 1_210, p99Ms: 2_450, errorRate: 0.0127 },
        { endpoint: 'POST /graphql searchProjects', requests: 2_210, p95Ms: 980, p99Ms: 1_620, errorRate: 0.0009 },
        { endpoint: `GET /reports/${x}latest`, requests: 77, p95Ms: 870, p99Ms: 1_105, errorRate: 0 },
        { endpoint: 'POST /graphql projectActivity', requests: 3_340, p95Ms: 655, p99Ms: 1_020, errorRate: 0.0021 },
        { endpoint: 'POST /graphql me', requests: 6_120, p95Ms: 402, p99Ms: 690, errorRate: 0.0003 },
        { endpoint: 'POST /ingest/event', requests: 8_804, p95Ms: 310, p99Ms: 540, errorRate: 0.0048 },
        { endpoint: 'GET /healthz', requests: 2_880, p95Ms: 12, p99Ms: 31, errorRate: 0 },
        { endpoint: 'GET /metrics', requests: 1_440, p95Ms: 9.4, p99Ms: 18, errorRate: null },
      ],
      topErrorEndpoints: [
        { endpoint: 'POST /ingest/batch', errors: 70, requests: 5_512, errorRate: 70 / 5_512 },
        { endpoint: 'POST /ingest/event', errors: 42, requests: 8_804, errorRate: 42 / 8_804 },
        { endpoint: 'POST /graphql analyticsOverview', errors: 8, requests: 1_904, errorRate: 8 / 1_904 },
        { endpoint: 'POST /graphql projectActivity', errors: 7, requests: 3_340, errorRate: 7 / 3_340 },
        { endpoint: 'POST /graphql exportProject', errors: 3, requests: 182, errorRate: 3 / 182 },
      ],
      timeSeries: {
        granularity: 'HOUR',
        points: HOURLY_REQUESTS.map((requests, h) => ({
          bucketStart: new Date(START + h * HOUR).toISOString(),
          requests,
          errorRate: requests === 0 ? null : (HOURLY_ERRORS[h] ?? 0) / requests,
        })),
      },
    },
    system: {
      hosts: [
        { host: hosts[0]!, cpuAvg: 38.2, cpuMax: 81.5, memoryAvg: 61.0, memoryMax: 72.4, diskAvg: 44.1, diskMax: 44.9 },
        { host: hosts[1]!, cpuAvg: 35.7, cpuMax: 77.9, memoryAvg: 58.3, memoryMax: 69.8, diskAvg: 43.8, diskMax: 44.2 },
        { host: hosts[2]!, cpuAvg: 22.4, cpuMax: 93.1, memoryAvg: 83.5, memoryMax: 91.2, diskAvg: 71.0, diskMax: 76.3 },
      ],
      timeSeries: {
        granularity: 'HOUR',
        series: hosts.map((host, i) => ({
          host,
          points: HOURLY_REQUESTS.map((r, h) => ({
            bucketStart: new Date(START + h * HOUR).toISOString(),
            cpu: Math.round((8 + (r / 1400) * [70, 52, 30][i]! + (i === 2 && h === 3 ? 62 : 0)) * 10) / 10,
            memory: Math.round(([55, 48, 78][i]! + (r / 1400) * [14, 10, 12][i]!) * 10) / 10,
          })),
        })),
      },
    },
    alerts: {
      byRule: [
        { rule: 'High error rate (> 5 % over 5 min)', fired: 2, resolved: 2 },
        { rule: `Database CPU > 90 %${x}`, fired: 1, resolved: 1 },
        { rule: 'Disk usage > 80 %', fired: 0, resolved: 1 },
      ],
    },
  };
}

/** The same report with every list empty and no alerts section. */
export function emptyReport(): ReportData {
  const base = fixtureReport();
  const { alerts: _alerts, ...rest } = base;
  return {
    ...rest,
    activities: [],
    performance: {
      ...base.performance,
      totalRequests: metric(0, 0),
      avgResponseMs: metric(null, null),
      p95ResponseMs: metric(null, null),
      p99ResponseMs: metric(null, null),
      errorRate: metric(null, null),
      slowestEndpoints: [],
      topErrorEndpoints: [],
      timeSeries: { granularity: 'HOUR', points: [] },
    },
    system: { hosts: [], timeSeries: { granularity: 'HOUR', series: [] } },
  };
}

// Writing the HTML by hand: `npx tsx test/support/reportFixture.ts /tmp/report.html [--email] [--empty]`.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { writeFileSync } = await import('node:fs');
  const { renderHtml } = await import('../../src/modules/reports/render/html.js');
  const out = process.argv[2] ?? '/tmp/report.html';
  const data = process.argv.includes('--empty') ? emptyReport() : fixtureReport({ xss: process.argv.includes('--xss') });
  writeFileSync(out, renderHtml(data, { variant: process.argv.includes('--email') ? 'email' : 'standalone' }));
  console.log(out);
}
