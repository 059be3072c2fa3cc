/**
 * Exports of stored records by date: GET /export (CSV and NDJSON, gzip when accepted) and
 * `insights export-analytics` stream every row of the day (no more, no fewer) on both backends, write JSON columns
 * as JSON text, refuse bad input with HTTP 400 or exit code 2, and keep memory bounded while streaming tens of
 * megabytes. Also `insights generate-reports`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { capture } from './support/output.js';
import { sql } from '../src/core/db/sql.js';
import { seedReportDay } from './support/reports.js';
import { ADMIN_KEY, BACKENDS, startTestServer, type TestServer } from './support/server.js';

const auth = { authorization: `Bearer ${ADMIN_KEY}` };

describe.each(BACKENDS)('exports on %s', (backend) => {
  let server: TestServer;
  /** Activities of 15 January (UTC) as stored. */
  let stored: number;

  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'reports_export' });
    await seedReportDay(server);
    // Enough rows for several pages (1,000 rows each), with JSON metadata and text that needs quoting in CSV.
    const activities = Array.from({ length: 2_345 }, (_, index) => ({
      userId: `bulk-${index % 50}`,
      activityType: 'PAGE_UPDATE',
      description: index % 7 === 0 ? 'said "hello", then\nleft' : null,
      metadata: { index, nested: { ok: true } },
      timestamp: new Date(Date.parse('2024-01-15T00:00:00Z') + index * 30_000).toISOString(),
    }));
    for (let start = 0; start < activities.length; start += 1000) {
      await server.query('mutation($input: IngestInput!) { ingest(input: $input) { count } }' as never, { input: { activities: activities.slice(start, start + 1000) } } as never);
    }
    const [row] = await server.app.services.db.query<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM user_activities WHERE timestamp >= '2024-01-15T00:00:00Z' AND timestamp < '2024-01-16T00:00:00Z'`,
    );
    stored = row!.n;
    expect(stored).toBe(2_345 + 7);
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('streams the day as CSV: every stored row once, JSON columns as JSON text, parseable', async () => {
    const response = await fetch(`${server.url}/export?family=activity&date=2024-01-15&format=csv`, { headers: { ...auth, 'accept-encoding': 'identity' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="insights-export-activities-2024-01-15.csv"');
    expect(response.headers.get('content-encoding')).toBeNull();
    const rows = parse(await response.text(), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(stored);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'timestamp', 'createdAt', 'userId', 'activityType', 'description', 'ipAddress', 'userAgent', 'referrer', 'metadata']);
    expect(new Set(rows.map((row) => row.id)).size).toBe(stored);
    // Oldest first, inside the day: the first and last instants of the day are in, the next midnight is not.
    expect(rows[0]!.timestamp).toBe('2024-01-15T00:00:00.000Z');
    expect(rows.at(-1)!.timestamp).toBe('2024-01-15T23:59:59.999Z');
    const quoted = rows.find((row) => row.description === 'said "hello", then\nleft');
    expect(quoted).toBeDefined();
    expect(JSON.parse(quoted!.metadata!)).toMatchObject({ nested: { ok: true } });
  });

  it('streams NDJSON gzipped when the client accepts it; without a family, every family with its name', async () => {
    const response = await fetch(`${server.url}/export?family=activity&date=2024-01-15&format=ndjson`, { headers: { ...auth, 'accept-encoding': 'gzip' } });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    // fetch decodes gzip by itself: the header says it was compressed on the wire.
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const lines = (await response.text()).trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(stored);
    expect(lines.find((line) => line.userId === 'bulk-1')!.metadata).toMatchObject({ nested: { ok: true } });

    const raw = await import('node:http').then(
      (http) =>
        new Promise<Buffer>((resolve, reject) => {
          http
            .get(`${server.url}/export?date=2024-01-15&format=ndjson`, { headers: { ...auth, 'accept-encoding': 'gzip' } }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('end', () => resolve(Buffer.concat(chunks)));
            })
            .on('error', reject);
        }),
    );
    const all = gunzipSync(raw).toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { family: string });
    const byFamily = Object.fromEntries(['activity', 'performance', 'system'].map((family) => [family, all.filter((line) => line.family === family).length]));
    expect(byFamily).toEqual({ activity: stored, performance: 8, system: 7 });
  });

  it('refuses a bad family, date or range with HTTP 400 and a clear message', async () => {
    const cases: [string, RegExp][] = [
      ['family=users&date=2024-01-15', /^family must be one of activity, system, application, user, performance, got "users"$/],
      ['family=activity&date=2024-13-45', /^date must be a calendar date such as 2024-01-15/],
      ['family=activity&from=2024-01-16&to=2024-01-15', /^from \(2024-01-16T00:00:00.000Z\) must be before to/],
      ['family=activity&from=yesterday&to=2024-01-15', /^from must be a date/],
      ['family=activity', /^give date \(2024-01-15\), or both from and to$/],
      ['family=activity&date=2024-01-15&format=xlsx', /^format must be csv or ndjson/],
      ['family=activity&from=2020-01-01&to=2024-01-01', /at most 400 days/],
    ];
    for (const [query, message] of cases) {
      const response = await fetch(`${server.url}/export?${query}`, { headers: auth });
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
      expect(body.errors[0]!.message, query).toMatch(message);
    }
    expect((await fetch(`${server.url}/export?family=activity&date=2024-01-15`)).status).toBe(401);
  });

  if (backend === 'postgres') {
    it('export-analytics writes the same rows from the command line, with a progress bar on a terminal; bad input exits 2', async () => {
      const env = { DATABASE_URL: server.databaseUrl!, LOG_LEVEL: 'silent', MONITORING_ENABLED: 'false' };
      const stdout = capture(false);
      expect(await runCli(['export-analytics', '--format', 'ndjson', '--date', '2024-01-15', '--family', 'activity'], env, stdout)).toBe(0);
      expect(stdout.stdout.trimEnd().split('\n')).toHaveLength(stored);
      expect(stdout.stderr).toMatch(/^Exported 2,352 activity record\(s\) from 2024-01-15T00:00:00.000Z to 2024-01-16T00:00:00.000Z\.$/m);

      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'insights-export-'));
      try {
        const terminal = capture(true);
        const file = path.join(dir, 'day.csv.gz');
        expect(await runCli(['export-analytics', '--date', '2024-01-15', '--family', 'activity', '--out', file], env, terminal)).toBe(0);
        expect(terminal.stdout).toContain('█'); // the bar
        expect(terminal.stdout).toContain(`${(2_352).toLocaleString('en-US')}/${(2_352).toLocaleString('en-US')}`);
        const rows = parse(gunzipSync(await fs.readFile(file)), { columns: true }) as unknown[];
        expect(rows).toHaveLength(stored);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }

      for (const args of [
        ['export-analytics', '--date', '2024-01-15', '--family', 'users'],
        ['export-analytics', '--date', '15/01/2024'],
        ['export-analytics', '--from', '2024-01-16', '--to', '2024-01-15'],
        ['export-analytics', '--format', 'xml', '--date', '2024-01-15'],
      ]) {
        const output = capture(false);
        expect(await runCli(args, env, output), args.join(' ')).toBe(2);
        expect(output.stderr).toMatch(/^insights: --(family|date|from|format): /);
      }
    });

    it('generate-reports generates the period now and prints where to get it; bad input exits 2', async () => {
      const env = { DATABASE_URL: server.databaseUrl!, LOG_LEVEL: 'silent', MONITORING_ENABLED: 'false', INSIGHTS_PUBLIC_URL: 'https://insights.example.com' };
      const output = capture(false);
      expect(await runCli(['generate-reports', '--period', 'daily', '--date', '2024-01-15'], env, output), output.stderr).toBe(0);
      const id = /^Report (\d+): DAILY 2024-01-15T00:00:00.000Z – 2024-01-16T00:00:00.000Z \(UTC\): READY$/m.exec(output.stdout)?.[1];
      expect(id, output.stdout).toBeDefined();
      expect(output.stdout).toContain(`https://insights.example.com/reports/${id}.html`);
      const again = capture(false);
      expect(await runCli(['generate-reports', '--period', 'daily', '--date', '2024-01-15'], env, again)).toBe(0);
      expect(again.stdout).toContain(`Report ${id}: DAILY`);
      expect(again.stdout).toContain('(already requested before)');
      for (const args of [
        ['generate-reports', '--period', 'hourly'],
        ['generate-reports', '--period', 'daily', '--date', 'tomorrow'],
        ['generate-reports', '--period', 'daily', '--date', '2999-01-01'],
      ]) {
        const refused = capture(false);
        expect(await runCli(args, env, refused), args.join(' ')).toBe(2);
        expect(refused.stderr).toMatch(/^insights: --(period|date)/);
      }
    });

    it('keeps memory bounded while streaming tens of megabytes', async () => {
      // 60,000 system metrics of about 1.5 KB each (their dimensions), written straight into the table.
      await server.app.services.db.query(sql`
        INSERT INTO system_metrics (metric_name, metric_type, value, unit, host, tags, dimensions, timestamp)
        SELECT 'bulk_metric', 'GAUGE', i, 'percent', 'bulk-host', jsonb_build_object('host', 'bulk-host'),
               jsonb_build_object('padding', repeat(md5(i::text), 45)), '2024-02-01T00:00:00Z'::timestamptz + i * interval '1 second'
        FROM generate_series(0, 59999) AS i`);
      global.gc?.();
      const baseline = process.memoryUsage().heapUsed;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }, 10);
      let bytes = 0;
      let lines = 0;
      try {
        const response = await fetch(`${server.url}/export?family=system&date=2024-02-01&format=ndjson`, { headers: { ...auth, 'accept-encoding': 'identity' } });
        const reader = response.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          bytes += value.byteLength;
          for (const byte of value) if (byte === 10) lines += 1;
          peak = Math.max(peak, process.memoryUsage().heapUsed);
        }
      } finally {
        clearInterval(sampler);
      }
      expect(lines).toBe(60_000);
      expect(bytes).toBeGreaterThan(90 * 1024 * 1024);
      // Holding the export (or its rows) in memory would take well over its 90 MB; streaming needs a few pages.
      expect(peak - baseline).toBeLessThan(48 * 1024 * 1024);
    });
  }
});
