import type { TestServer } from './server.js';
import { waitUntil } from './wait.js';

// A seeded day with known figures for the reports tests (see test/reports.test.ts for the expected values).

export const DAY = '2024-01-15';
const at = (time: string) => new Date(time).toISOString();

const activity = (userId: string, activityType: string, time: string) => ({ userId, activityType, timestamp: at(time) });
const request = (endpoint: string | null, responseTimeMs: number, statusCode: number, time: string) => ({
  metricName: 'http_request',
  metricType: 'HISTOGRAM',
  value: 1,
  responseTimeMs,
  statusCode,
  tags: endpoint ? { endpoint } : {},
  timestamp: at(time),
});
const host = (name: string, metricName: string, value: number, time: string, extra: Record<string, string> = {}) => ({
  metricName,
  metricType: 'GAUGE',
  value,
  unit: 'percent',
  tags: { host: name, ...extra },
  timestamp: at(time),
});

const INGEST = 'mutation Seed($input: IngestInput!) { ingest(input: $input) { count } }';

/** Seeds the reference data; u2's activity of 10 January arrives last, as back-filled data does. */
export async function seedReportDay(server: TestServer): Promise<void> {
  await server.query(INGEST as never, {
    input: {
      activities: [
        activity('u-old', 'login', '2024-01-01T09:00:00Z'),
        // 14 January (UTC): the previous day.
        activity('u1', 'login', '2024-01-14T10:00:00Z'),
        activity('u4', 'login', '2024-01-14T12:00:00Z'),
        activity('u4', 'PROJECT_CREATE', '2024-01-14T13:00:00Z'),
        activity('u5', 'login', '2024-01-14T23:30:00Z'), // 15 January in Paris
        // 15 January (UTC).
        activity('u-old', 'login', '2024-01-15T08:00:00Z'),
        activity('u1', 'PROJECT_CREATE', '2024-01-15T09:00:00Z'),
        activity('u1', 'login', '2024-01-15T09:05:00Z'),
        activity('u2', 'login', '2024-01-15T11:00:00Z'),
        activity('u2', 'PROJECT_CREATE', '2024-01-15T11:30:00Z'),
        activity('u2', 'PROJECT_PUBLISH', '2024-01-15T12:00:00Z'),
        activity('u3', 'login', '2024-01-15T23:59:59.999Z'), // 16 January in Paris
        activity('u6', 'login', '2024-01-16T00:00:00Z'), // the next day
      ],
      performanceMetrics: [
        request('/api/orders', 100, 200, '2024-01-15T10:00:00Z'),
        request('/api/orders', 200, 200, '2024-01-15T10:10:00Z'),
        request('/api/orders', 300, 500, '2024-01-15T11:00:00Z'),
        request('/api/orders', 400, 200, '2024-01-15T11:10:00Z'),
        request('/api/users', 50, 200, '2024-01-15T12:00:00Z'),
        request('/api/users', 60, 503, '2024-01-15T12:30:00Z'),
        request('/health', 5, 200, '2024-01-15T13:00:00Z'),
        request(null, 1000, 200, '2024-01-15T14:00:00Z'),
        request('/api/orders', 100, 200, '2024-01-14T10:00:00Z'),
        request('/api/orders', 300, 200, '2024-01-14T11:00:00Z'),
      ],
      systemMetrics: [
        host('web-1', 'cpu_usage', 10, '2024-01-15T01:00:00Z'),
        host('web-1', 'cpu_usage', 30, '2024-01-15T02:00:00Z'),
        host('web-1', 'memory_usage', 50, '2024-01-15T01:00:00Z'),
        host('web-1', 'memory_usage', 70, '2024-01-15T02:00:00Z'),
        host('web-1', 'disk_usage', 80, '2024-01-15T01:00:00Z', { mount: '/' }),
        host('web-1', 'disk_usage', 90, '2024-01-15T01:00:00Z', { mount: '/data' }),
        host('db-1', 'cpu_usage', 40, '2024-01-15T03:00:00Z'),
      ],
    },
  });
  await server.query(INGEST as never, { input: { activities: [activity('u2', 'login', '2024-01-10T09:00:00Z')] } });
}

export const REPORT_FIELDS = `id type periodStart periodEnd timeZone status error attempts nextAttemptAt readyAt createdAt requestedBy
  email { status sentAt recipients error }
  artifacts { format sizeBytes url contentType fileName }
  summary {
    users { newUsers { ...F } activeUsers { ...F } dau { ...F } wau { ...F } mau { ...F } stickiness { ...F } totalUsers { ...F } }
    projects { created { ...F } published { ...F } totalCreated { ...F } }
    activities { type count previous change changeRatio }
    performance {
      totalRequests { ...F } avgResponseMs { ...F } p95ResponseMs { ...F } p99ResponseMs { ...F } errorRate { ...F }
      slowestEndpoints { endpoint requests p95Ms p99Ms errorRate }
      topErrorEndpoints { endpoint errors requests errorRate }
    }
    hosts { host cpuAvg cpuMax memoryAvg memoryMax diskAvg diskMax }
    alerts { rule fired resolved }
  }
  data`;
const FIGURE = 'fragment F on ReportFigure { value previous change changeRatio }';

export const GENERATE = `mutation Generate($input: GenerateReportInput!) { generateReport(input: $input) { ${REPORT_FIELDS} } } ${FIGURE}`;
export const REPORT = `query Report($id: ID!) { report(id: $id) { ${REPORT_FIELDS} } } ${FIGURE}`;

export interface Figure {
  value: number | null;
  previous: number | null;
  change: number | null;
  changeRatio: number | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ReportResult = any;

export async function generate(server: TestServer, input: Record<string, unknown>): Promise<ReportResult> {
  const result = await server.request(GENERATE as never, { input } as never);
  if (result.errors?.length) throw new Error(`generateReport failed: ${JSON.stringify(result.errors)}`);
  return (result.data as { generateReport: ReportResult }).generateReport;
}

export async function getReport(server: TestServer, id: string): Promise<ReportResult> {
  const result = await server.request(REPORT as never, { id } as never);
  if (result.errors?.length) throw new Error(`report failed: ${JSON.stringify(result.errors)}`);
  return (result.data as { report: ReportResult }).report;
}

/** Polls report(id) until it is READY or FAILED. */
export async function settled(server: TestServer, id: string, timeoutMs = 20_000): Promise<ReportResult> {
  let report: ReportResult;
  await waitUntil(
    async () => {
      report = await getReport(server, id);
      return report.status === 'READY' || report.status === 'FAILED';
    },
    `report ${id} to be READY or FAILED`,
    timeoutMs,
  );
  return report;
}

export const figure = (value: number | null, previous: number | null): Figure => ({
  value,
  previous,
  change: value === null || previous === null ? null : value - previous,
  changeRatio: value === null || previous === null || previous === 0 ? null : (value - previous) / previous,
});
