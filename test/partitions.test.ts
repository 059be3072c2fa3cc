import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../src/core/db/sql.js';
import { dayPartitions, maintainPartitions } from '../src/modules/retention/partitions.js';
import { BACKENDS, startTestServer, type TestServer } from './support/server.js';

// Daily partitions of the record tables: a record whose day has no partition is still stored, and moved into
// its own day later; retention drops whole days (archived first when asked) and trims the day of the cut-off;
// hourly and daily rollups outlive the raw rows they summarise.

const DAY = 86_400_000;

describe.each(BACKENDS)('partitions and retention on %s', (backend) => {
  let server: TestServer;
  let archiveDir: string;
  const services = () => server.app.services;
  const seed = (timestamps: number[], metricName = 'part_probe') =>
    services().ingestor.ingest({
      lists: [
        {
          family: 'systemMetrics',
          items: timestamps.map((time, index) => ({ metricName, metricType: 'GAUGE', value: index, tags: { host: 'h1' }, timestamp: new Date(time) })),
          path: 'seed',
          indexed: true,
        },
      ],
    });
  const rowsIn = async (table: string) => (await services().db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${sql([`"${table}"`] as never)}`))[0]?.n;

  beforeAll(async () => {
    archiveDir = await fs.mkdtemp(path.join(os.tmpdir(), 'insights-archive-'));
    server = await startTestServer(backend, { label: 'partitions', env: { INSIGHTS_ARCHIVE_DIR: archiveDir, INSIGHTS_ROLLUP_REFRESH_INTERVAL: '1h' } });
  });
  afterAll(async () => {
    await server?.destroy();
    await fs.rm(archiveDir, { recursive: true, force: true });
  });

  it('has partitions ready from yesterday to a week ahead, and stores a record whose day has none', async () => {
    const today = Math.floor(Date.now() / DAY) * DAY;
    const days = (await dayPartitions(services().db, 'system_metrics')).map((partition) => partition.day);
    for (let offset = -1; offset <= 7; offset += 1) expect(days).toContain(today + offset * DAY);
    const old = Date.UTC(2021, 4, 3, 12);
    await seed([old, old + 1000]);
    expect(await rowsIn('system_metrics_default')).toBe(2);
    const report = await maintainPartitions(services().db, new Date());
    expect(report.moved).toBe(1);
    expect(await rowsIn('system_metrics_default')).toBe(0);
    expect(await rowsIn('system_metrics_p20210503')).toBe(2);
    // Still found by every read.
    const found = await server.query(`{ systemMetrics(filter: { metricName: "part_probe" }) { totalCount } }` as never);
    expect(found).toEqual({ systemMetrics: { totalCount: 2 } });
  });

  it('drops whole days past the cut-off, archived first, trims the day of the cut-off, and keeps rollups for a year', async () => {
    const now = Date.now();
    const cutoffDay = Math.floor((now - 90 * DAY) / DAY) * DAY;
    // Two whole old days, and the day of the cut-off: before and after the cut-off instant.
    const cutoff = now - 90 * DAY;
    await seed([cutoffDay - 2 * DAY + 5_000, cutoffDay - 2 * DAY + 6_000, cutoffDay - DAY + 7_000, cutoff - 60_000, cutoff + 60_000], 'retained_probe');
    await maintainPartitions(services().db, new Date(now));
    await services().rollups.refresh();
    const before = await dayPartitions(services().db, 'system_metrics');
    expect(before.map((partition) => partition.day)).toEqual(expect.arrayContaining([cutoffDay - 2 * DAY, cutoffDay - DAY, cutoffDay]));

    const run = await services().scheduler.runNow('retention');
    expect(run.status).toBe('SUCCEEDED');
    const after = (await dayPartitions(services().db, 'system_metrics')).map((partition) => partition.day);
    expect(after.every((day) => day + DAY > cutoff)).toBe(true);
    expect(after).toContain(cutoffDay);
    const left = await services().db.query<{ t: Date }>(sql`SELECT "timestamp" AS t FROM system_metrics WHERE metric_name = 'retained_probe'`);
    expect(left.map((row) => row.t.getTime())).toEqual([cutoff + 60_000]);

    // Archived before being dropped or deleted: one file per day, every row once.
    const files = await fs.readdir(path.join(archiveDir, 'system_metrics'));
    const archived = (
      await Promise.all(files.map(async (file) => gunzipSync(await fs.readFile(path.join(archiveDir, 'system_metrics', file))).toString('utf8')))
    )
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { metricName: string })
      .filter((row) => row.metricName === 'retained_probe');
    expect(archived).toHaveLength(4);

    // The daily rollups still hold the dropped days.
    const year = await services().analytics.aggregate({
      family: 'systemMetrics',
      filter: { metricName: 'retained_probe' },
      from: new Date(cutoffDay - 2 * DAY),
      to: new Date(cutoffDay),
      interval: 'DAY',
      measures: [{ fn: 'count' }],
    });
    expect(year.rows.map((row) => row.count)).toEqual([2, 1]);
    expect(year.path).toBe('rollup');
  });

  it('prunes minute rollups past their retention and reads through what is left', async () => {
    const run = await services().scheduler.runNow('prune-rollups');
    expect(run.status).toBe('SUCCEEDED');
    const [minutes] = await services().db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM metric_rollups WHERE resolution = '1m' AND bucket < ${new Date(Date.now() - 15 * DAY)}`);
    expect(minutes?.n).toBe(0);
    const [hours] = await services().db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM metric_rollups WHERE resolution = '1h' AND bucket < ${new Date(Date.now() - 15 * DAY)}`);
    expect(hours?.n).toBeGreaterThan(0);
  });
});
