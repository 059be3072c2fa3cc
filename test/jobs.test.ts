import fs from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from './support/keys.js';
import { sql } from '../src/core/db/sql.js';
import { Prisma } from '../src/generated/prisma/client.js';
import type { JsonObject } from '../src/core/json.js';
const DAY_MS = 86_400_000;
import { purgeExpired, RETENTION_TABLES, type PurgeProgress, type PurgeReport } from '../src/modules/retention/retentionJob.js';
import { parseSchedule } from '../src/core/schedule.js';
import { JobScheduler } from '../src/modules/jobs/scheduler.js';
import type { JobContext, JobDefinition } from '../src/core/jobs.js';
import { graphql } from './generated/gql.js';
import { createScratchDirectory } from './support/databases.js';
import { BACKENDS, startTestServer, type TestServer } from './support/server.js';
import { connectSubscriptions } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

const JobsOverview = graphql(`
  query JobsOverview {
    jobs { name description schedule scope enabled nextRunAt lastRun { id status trigger scheduledAt host } }
  }
`);
const JobsHistory = graphql(`
  query JobsHistory($name: String, $first: Int, $after: String) {
    jobRuns(name: $name, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id jobName status trigger scheduledAt startedAt finishedAt durationMs error host instance result } }
    }
  }
`);
const JobsRunNow = graphql(`
  mutation JobsRunNow($name: String!) {
    runJob(name: $name) { id jobName status trigger scheduledAt startedAt finishedAt durationMs error host result }
  }
`);
const JobsHostMetrics = graphql(`
  query JobsHostMetrics($filter: SystemMetricFilter) {
    systemMetrics(filter: $filter, first: 100) { edges { node { id metricName metricType value unit tags dimensions timestamp } } }
  }
`);
const JobsAppRollups = graphql(`
  query JobsAppRollups($filter: ApplicationMetricFilter) {
    applicationMetrics(filter: $filter, first: 100) {
      edges { node { appName metricName metricType value unit tags metadata timestamp } }
    }
  }
`);
const JobsSeed = graphql(`
  mutation JobsSeed($input: IngestInput!) { ingest(input: $input) { count } }
`);

const silent = pino({ level: 'silent' });
const SECOND = 1000;
const PERCENT_METRICS = ['cpu_usage', 'memory_usage', 'disk_usage'];
const HOST_METRIC_NAMES = [
  'cpu_usage',
  'disk_usage',
  'event_loop_lag_ms',
  'load_average_1m',
  'memory_usage',
  'network_rx_bytes_per_sec',
  'network_tx_bytes_per_sec',
  'process_rss_bytes',
];

/** A job for driving the scheduler itself; `body` decides what each run does. */
function testJob(name: string, body: (context: JobContext) => Promise<JsonObject>, spec = '1s'): JobDefinition {
  return { name, description: `test job ${name}`, schedule: parseSchedule(spec), scope: 'cluster', manualAnchor: 'now', run: body };
}

interface RunRow {
  id: string;
  status: string;
  trigger: string;
  scheduledAt: Date;
  durationMs: number | null;
  error: string | null;
  result: JsonObject | null;
  instance: string;
}

describe.each(BACKENDS)('scheduled jobs on %s', (backend) => {
  let server: TestServer;
  let archive: Awaited<ReturnType<typeof createScratchDirectory>>;
  const HOST = `jobs-host-${backend}`;
  const db = () => server.app.services.db;
  const runsOf = (jobName: string) =>
    db().query<RunRow>(sql`
      SELECT id::text AS id, status::text AS status, "trigger"::text AS "trigger", scheduled_at AS "scheduledAt",
        duration_ms AS "durationMs", error, result, instance
      FROM job_runs WHERE job_name = ${jobName} ORDER BY scheduled_at, id`);

  beforeAll(async () => {
    archive = await createScratchDirectory('archive');
    server = await startTestServer(backend, {
      label: 'jobs',
      env: {
        INSIGHTS_HOSTNAME: HOST,
        INSIGHTS_ENVIRONMENT: 'staging',
        INSIGHTS_ARCHIVE_DIR: archive.dir,
        // Live snapshots refresh at most once per interval; the collection schedule follows it (not armed here).
        INSIGHTS_REAL_TIME_UPDATE_INTERVAL: '1',
      },
    });
  });
  afterAll(async () => {
    await server?.destroy();
    await archive?.remove();
  });

  it('collects plausible host metrics, tagged with the host and environment, stamped with the run tick', async () => {
    const { runJob } = await server.query(JobsRunNow, { name: 'collect-system-metrics' });
    expect(runJob).toMatchObject({ jobName: 'collect-system-metrics', status: 'SUCCEEDED', trigger: 'MANUAL', host: HOST, error: null });
    const tick = new Date(runJob.scheduledAt);
    const { systemMetrics } = await server.query(JobsHostMetrics, {
      filter: { tags: { host: HOST }, from: tick.toISOString(), to: new Date(tick.getTime() + 1).toISOString() },
    });
    const metrics = systemMetrics.edges.map((edge) => edge.node);
    expect(runJob.result).toEqual({ host: HOST, metrics: metrics.length });
    expect([...new Set(metrics.map((metric) => metric.metricName))].sort()).toEqual(HOST_METRIC_NAMES);

    const disks = metrics.filter((metric) => metric.metricName === 'disk_usage');
    expect(disks.length).toBeGreaterThan(0);
    expect(new Set(disks.map((disk) => (disk.tags as Record<string, string>).mount)).size).toBe(disks.length);
    for (const name of HOST_METRIC_NAMES.filter((metricName) => metricName !== 'disk_usage')) {
      expect(metrics.filter((metric) => metric.metricName === name), name).toHaveLength(1);
    }
    for (const metric of metrics) {
      const tags = metric.tags as Record<string, string>;
      expect(tags.host, metric.metricName).toBe(HOST);
      expect(tags.environment).toBe('staging');
      expect(metric.metricType).toBe('GAUGE');
      expect(metric.timestamp).toBe(tick.toISOString());
      expect(Number.isFinite(metric.value) && metric.value >= 0, `${metric.metricName}=${metric.value}`).toBe(true);
      if (PERCENT_METRICS.includes(metric.metricName)) {
        expect(metric.unit).toBe('percent');
        expect(metric.value).toBeLessThanOrEqual(100);
      }
    }
    for (const disk of disks) expect((disk.tags as Record<string, string>).mount).toMatch(/^\//);
    const byName = (name: string) => metrics.find((metric) => metric.metricName === name)!;
    expect(byName('cpu_usage').dimensions).toMatchObject({ cores: expect.any(Number), frequencyGHz: expect.any(Number) });
    expect((byName('cpu_usage').dimensions as { cores: number }).cores).toBeGreaterThan(0);
    expect(byName('memory_usage').dimensions).toMatchObject({ totalBytes: expect.any(Number) });
    // The service runs in this process: its resident size is this process's.
    const rss = byName('process_rss_bytes').value;
    expect(rss).toBeGreaterThan(process.memoryUsage().rss / 3);
    expect(rss).toBeLessThan(process.memoryUsage().rss * 3);
    expect(byName('event_loop_lag_ms').value).toBeLessThan(10_000);
    expect(byName('network_rx_bytes_per_sec').unit).toBe('bytes/s');
  });

  it('delivers collected metrics at once to metricRecorded and currentSystemMetricsUpdated subscribers', async () => {
    const subscriptions = connectSubscriptions(server.url);
    await subscriptions.connected;
    type Recorded = { metricRecorded: { __typename: string; id: string; metricName: string; value: number; tags: Record<string, string>; timestamp: string } };
    type Snapshot = { currentSystemMetricsUpdated: { metricName: string; value: number; timestamp: string }[] };
    const live = server.app.services.live;
    const before = live.subscriberCount;
    const recorded = subscriptions.subscribe<Recorded>(
      `subscription($tags: JSON) { metricRecorded(filter: { kinds: [SYSTEM], metricNames: ["cpu_usage"], tags: $tags }) { __typename id metricName value tags timestamp } }`,
      { tags: { host: HOST } },
    );
    const snapshots = subscriptions.subscribe<Snapshot>(
      `subscription($host: String) { currentSystemMetricsUpdated(host: $host) { metricName value timestamp } }`,
      { host: HOST },
    );
    await snapshots.waitFor(1);
    await waitUntil(() => live.subscriberCount === before + 1, 'metric subscription registered');

    // A tick later than anything stored, so it becomes the current snapshot.
    const fireTime = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 5 * 60_000);
    const run = await server.app.services.scheduler.tick('collect-system-metrics', fireTime);
    expect(run).toMatchObject({ status: 'SUCCEEDED', trigger: 'SCHEDULED', scheduledAt: fireTime });

    const [event] = await recorded.waitFor(1);
    expect(event!.metricRecorded).toMatchObject({
      __typename: 'SystemMetric',
      metricName: 'cpu_usage',
      tags: { host: HOST, environment: 'staging' },
      timestamp: fireTime.toISOString(),
    });
    const stored = await db().prisma.systemMetric.findUniqueOrThrow({ where: { id: BigInt(event!.metricRecorded.id) } });
    expect(stored.value).toBe(event!.metricRecorded.value);

    await waitUntil(
      () => snapshots.events.at(-1)?.currentSystemMetricsUpdated.some((m) => m.metricName === 'cpu_usage' && m.timestamp === fireTime.toISOString()) ?? false,
      'a snapshot with the collected metrics',
      5_000,
    );
    const latest = snapshots.events.at(-1)!.currentSystemMetricsUpdated;
    expect(latest.filter((metric) => metric.timestamp === fireTime.toISOString()).map((m) => m.metricName)).toEqual(
      expect.arrayContaining(HOST_METRIC_NAMES),
    );
    await subscriptions.dispose();
  });

  it('records a job that throws as FAILED, logs it with context, and still runs the ticks after it', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const fireTimes: Date[] = [];
    const scheduler = new JobScheduler({
      db: db(),
      log,
      hostName: HOST,
      enabled: true,
      jobs: [
        testJob('flaky', async ({ fireTime }) => {
          fireTimes.push(fireTime);
          if (fireTimes.length === 1) throw new Error('disk on fire');
          return { attempt: fireTimes.length };
        }),
      ],
    });
    scheduler.start();
    try {
      expect(scheduler.list()[0]).toMatchObject({ name: 'flaky', enabled: true, nextRunAt: expect.any(Date) });
      await waitUntil(async () => (await runsOf('flaky')).some((run) => run.status === 'SUCCEEDED'), 'a successful tick after the failure');
    } finally {
      await scheduler.stop();
    }
    const runs = await runsOf('flaky');
    const [failed] = runs;
    const succeeded = runs.find((run) => run.status === 'SUCCEEDED');
    expect(failed).toMatchObject({ status: 'FAILED', trigger: 'SCHEDULED', error: 'disk on fire', result: null });
    expect(failed!.durationMs).toEqual(expect.any(Number));
    expect(succeeded).toMatchObject({ status: 'SUCCEEDED', error: null, result: { attempt: 2 } });
    // On a busy machine the failing run can outlast a tick or a timer fire late: ticks in between may only have
    // been skipped behind it, never run twice or lost to the failure.
    expect(runs.slice(1, runs.indexOf(succeeded!)).map((run) => run.status).filter((status) => status !== 'SKIPPED')).toEqual([]);
    // Later ticks, on whole seconds, and each run was handed its tick.
    expect(succeeded!.scheduledAt.getTime()).toBeGreaterThan(failed!.scheduledAt.getTime());
    expect(fireTimes.slice(0, 2)).toEqual([failed!.scheduledAt, succeeded!.scheduledAt]);
    expect(fireTimes.every((time) => time.getTime() % SECOND === 0)).toBe(true);

    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'job run failed');
    expect(logged).toMatchObject({ job: 'flaky', runId: failed!.id, trigger: 'SCHEDULED', err: expect.objectContaining({ message: 'disk on fire' }) });
    expect(new Date(logged!.scheduledAt as string)).toEqual(failed!.scheduledAt);
    // The service itself never noticed.
    expect((await server.query(JobsOverview)).jobs).toHaveLength(server.app.services.scheduler.names.length);
  });

  it('keeps firing when the clock passes the next tick between reading the time and arming the timer', async () => {
    const spec = parseSchedule('1s');
    let stalls = 2;
    // The clock as a busy machine shows it: the time is read, then the process is descheduled until the tick it
    // leads to has passed (here at start and at the first re-arm), so the timer is handed a date already past.
    const stallingClock = () => {
      const read = new Date();
      if (stalls > 0) {
        stalls -= 1;
        const tick = spec.next(read).getTime();
        while (Date.now() <= tick) {
          // a synchronous stall, as under load: nothing else of this process runs meanwhile
        }
      }
      return read;
    };
    const scheduler = new JobScheduler({
      db: db(),
      log: silent,
      hostName: HOST,
      enabled: true,
      now: stallingClock,
      jobs: [testJob('stalled', async ({ fireTime }) => ({ tick: fireTime.toISOString() }))],
    });
    scheduler.start();
    try {
      await waitUntil(async () => (await runsOf('stalled')).filter((run) => run.status === 'SUCCEEDED').length >= 3, 'three ticks after the stalls');
    } finally {
      await scheduler.stop();
    }
    expect(stalls).toBe(0);
    const runs = await runsOf('stalled');
    expect(new Set(runs.map((run) => run.scheduledAt.getTime())).size).toBe(runs.length);
    expect(runs.every((run) => run.scheduledAt.getTime() % SECOND === 0)).toBe(true);
  });

  it('skips a tick that comes while the previous run is still going, instead of doubling it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const scheduler = new JobScheduler({
      db: db(),
      log: silent,
      hostName: HOST,
      enabled: false,
      jobs: [
        testJob('slow', async () => {
          started += 1;
          if (started === 1) await gate;
          return { started };
        }),
      ],
    });
    const first = new Date('2026-01-10T12:00:00Z');
    try {
      const running = scheduler.tick('slow', first);
      await waitUntil(() => started === 1, 'the first run started');

      const skipped = await scheduler.tick('slow', new Date(first.getTime() + SECOND));
      expect(skipped).toMatchObject({ status: 'SKIPPED', trigger: 'SCHEDULED', durationMs: 0, scheduledAt: new Date(first.getTime() + SECOND) });
      const [firstRow] = await runsOf('slow');
      expect(skipped!.error).toContain(`run ${firstRow!.id}`);
      expect(await scheduler.runNow('slow')).toMatchObject({ status: 'SKIPPED', trigger: 'MANUAL' });
      // The same tick again is already taken: nothing new is recorded.
      expect(await scheduler.tick('slow', first)).toBeNull();

      release();
      expect(await running).toMatchObject({ status: 'SUCCEEDED', result: { started: 1 } });
      expect(started).toBe(1);
      expect(await scheduler.tick('slow', new Date(first.getTime() + 2 * SECOND))).toMatchObject({ status: 'SUCCEEDED' });
      expect((await runsOf('slow')).map((run) => `${run.trigger}:${run.status}`)).toEqual([
        'SCHEDULED:SUCCEEDED',
        'SCHEDULED:SKIPPED',
        'SCHEDULED:SUCCEEDED',
        'MANUAL:SKIPPED',
      ]);
    } finally {
      release();
      await scheduler.stop();
    }
  });

  it('anchors aggregation to the fire time: the period that ends at the tick, once per window', async () => {
    const schedule = parseSchedule('*/5 * * * *');
    const tick = schedule.latest(new Date(Date.now() - 10 * 60_000));
    const start = schedule.previous(tick);
    const at = (offsetMs: number) => new Date(start.getTime() + offsetMs).toISOString();
    const request = (app: string | null, timestamp: string, extra: Record<string, unknown>, user?: string) => ({
      metricName: 'http_request',
      metricType: 'HISTOGRAM' as const,
      value: 1,
      timestamp,
      tags: { ...(app ? { app } : {}), ...(user ? { user_id: user } : {}) },
      ...extra,
    });
    await server.query(JobsSeed, {
      input: {
        performanceMetrics: [
          request('shop', at(0), { statusCode: 200, responseTimeMs: 100 }, 'u1'), // first instant of the window
          request('shop', at(2 * 60_000), { statusCode: 200, responseTimeMs: 200 }, 'u1'),
          request('shop', at(5 * 60_000 - 1), { statusCode: 503, responseTimeMs: 300 }, 'u2'), // last instant
          request('shop', at(5 * 60_000), { statusCode: 500, responseTimeMs: 9_000 }, 'u3'), // the tick: next window
          request('shop', at(-1), { statusCode: 500, responseTimeMs: 9_000 }, 'u4'), // previous window
          request('blog', at(60_000), {}),
          request('not valid!', at(60_000), { statusCode: 200 }),
          request(null, at(60_000), { statusCode: 500 }),
        ],
      },
    });

    const run = await server.app.services.scheduler.tick('aggregate-application-metrics', new Date(tick.getTime() + 437));
    expect(run).toMatchObject({ status: 'SUCCEEDED', scheduledAt: tick });
    expect(run!.result).toEqual({
      windowStart: start.toISOString(),
      windowEnd: tick.toISOString(),
      apps: 2,
      metrics: 6,
      skippedApps: ['not valid!'],
    });

    const rollups = async (appName: string) =>
      (await server.query(JobsAppRollups, { filter: { appName, tags: { source: 'aggregate-application-metrics' } } })).applicationMetrics.edges
        .map((edge) => edge.node)
        .sort((a, b) => a.metricName.localeCompare(b.metricName));
    const window = { windowStart: start.toISOString(), windowEnd: tick.toISOString() };
    const rollup = (metricName: string, metricType: string, value: number, unit: string, samples: number) => ({
      metricName,
      metricType,
      value,
      unit,
      timestamp: start.toISOString(),
      tags: { source: 'aggregate-application-metrics', environment: 'staging' },
      metadata: { ...window, samples },
    });
    expect(await rollups('shop')).toEqual([
      { appName: 'shop', ...rollup('avg_response_time_ms', 'GAUGE', 200, 'ms', 3) },
      { appName: 'shop', ...rollup('error_rate', 'GAUGE', 33.3333, 'percent', 3) },
      { appName: 'shop', ...rollup('page_views', 'COUNTER', 3, 'views', 3) },
      { appName: 'shop', ...rollup('unique_visitors', 'GAUGE', 2, 'visitors', 3) },
    ]);
    // No status codes or response times: no error rate or average, rather than a made-up zero.
    expect(await rollups('blog')).toEqual([
      { appName: 'blog', ...rollup('page_views', 'COUNTER', 1, 'views', 1) },
      { appName: 'blog', ...rollup('unique_visitors', 'GAUGE', 0, 'visitors', 1) },
    ]);

    // The window is not counted twice: the same tick again, or a manual run standing for it, finds the run.
    expect(await server.app.services.scheduler.tick('aggregate-application-metrics', tick)).toBeNull();
    expect(await server.app.services.scheduler.runNow('aggregate-application-metrics', { fireTime: tick })).toMatchObject({ id: run!.id });
    expect(await rollups('shop')).toHaveLength(4);
  });

  it('retention deletes exactly what is older than the cut-off, archiving it first, in bounded batches', async () => {
    const tick = parseSchedule('0 3 * * *').latest(new Date());
    const cutoff = new Date(tick.getTime() - 90 * DAY_MS);
    const stamp = (offsetMs: number) => new Date(cutoff.getTime() + offsetMs).toISOString();
    const OFFSETS = [-DAY_MS, -1, 0, 1];
    const seed = (label: string) =>
      server.query(JobsSeed, {
        input: {
          activities: OFFSETS.map((offset) => ({ userId: label, activityType: 'retention_probe', timestamp: stamp(offset) })),
          systemMetrics: OFFSETS.map((offset) => ({ metricName: label, metricType: 'GAUGE' as const, value: offset, timestamp: stamp(offset) })),
          applicationMetrics: OFFSETS.map((offset) => ({ appName: 'retention', metricName: label, metricType: 'GAUGE' as const, value: offset, timestamp: stamp(offset) })),
          userMetrics: OFFSETS.map((offset) => ({ userId: label, metricName: label, metricType: 'GAUGE' as const, value: offset, timestamp: stamp(offset) })),
          performanceMetrics: OFFSETS.map((offset) => ({ metricName: label, metricType: 'GAUGE' as const, value: offset, timestamp: stamp(offset) })),
        },
      });
    const snapshot = async () => {
      const rows: Record<string, { id: string; timestamp: Date }[]> = {};
      for (const { table } of RETENTION_TABLES) {
        rows[table] = await db().query(sql`SELECT id::text AS id, "timestamp" FROM ${Prisma.raw(table)} ORDER BY id`);
      }
      return rows;
    };
    const finishedRun = (name: string, startedAt: Date, status = 'SUCCEEDED') =>
      db().query(sql`
        INSERT INTO job_runs (job_name, lock_key, scheduled_at, "trigger", status, instance, host, started_at)
        VALUES (${name}, 'cluster', ${startedAt}, 'SCHEDULED', ${status}::job_run_status, 'test', 'test', ${startedAt})`);

    await seed('retention_a');
    await finishedRun('history-probe', new Date(cutoff.getTime() - 1));
    await finishedRun('history-probe', cutoff);
    await finishedRun('history-probe-running', new Date(cutoff.getTime() - DAY_MS), 'RUNNING');
    const before = await snapshot();

    const run = await server.app.services.scheduler.tick('retention', tick);
    expect(run).toMatchObject({ status: 'SUCCEEDED', scheduledAt: tick, error: null });
    const report = run!.result as PurgeReport;
    const after = await snapshot();
    for (const { table } of RETENTION_TABLES) {
      const removed = before[table]!.filter((row) => !after[table]!.some((kept) => kept.id === row.id));
      // Exactly the rows before the cut-off, and nothing else (everything written by the other tests stays).
      expect(removed.map((row) => row.timestamp.getTime() - cutoff.getTime()).sort((a, b) => a - b), table).toEqual([-DAY_MS, -1]);
      expect(after[table]!.every((row) => row.timestamp >= cutoff), table).toBe(true);
      expect(report.deleted[table], table).toBe(2);

      // Archived before deletion: one gzip file per table and UTC day, holding exactly the deleted records.
      const files = (await fs.readdir(path.join(archive.dir, table))).sort();
      const days = [...new Set(removed.map((row) => row.timestamp.toISOString().slice(0, 10)))].sort();
      expect(files).toEqual(days.map((day) => `${day}.ndjson.gz`));
      const archived: { id: string; timestamp: string }[] = [];
      for (const file of files) {
        const text = gunzipSync(await fs.readFile(path.join(archive.dir, table, file))).toString('utf8');
        archived.push(...text.trim().split('\n').map((line) => JSON.parse(line) as { id: string; timestamp: string }));
      }
      expect(archived.map((row) => row.id).sort()).toEqual(removed.map((row) => row.id).sort());
      expect(archived.every((row) => new Date(row.timestamp) < cutoff)).toBe(true);
    }
    expect(report.archives).toHaveLength(RETENTION_TABLES.length * 2);
    expect(report.deleted.job_runs).toBe(1);
    const history = await db().query<{ job_name: string; started_at: Date }>(
      sql`SELECT job_name, started_at FROM job_runs WHERE job_name LIKE 'history-probe%' ORDER BY job_name`,
    );
    expect(history.map((row) => row.job_name)).toEqual(['history-probe', 'history-probe-running']);
    expect(report.total).toBe(RETENTION_TABLES.length * 2 + 1);

    // Without an archive, one row per statement: every batch reports progress, and the result is the same.
    await seed('retention_b');
    const progress: PurgeProgress[] = [];
    const direct = await purgeExpired(db(), { cutoff, batchSize: 1, onProgress: (step) => progress.push(step) });
    expect(direct.deleted).toEqual({ ...Object.fromEntries(RETENTION_TABLES.map(({ table }) => [table, 2])), job_runs: 0 });
    expect(direct.archives).toEqual([]);
    for (const { table } of RETENTION_TABLES) {
      expect(progress.filter((step) => step.table === table)).toEqual([
        { table, deleted: 0, total: 2 },
        { table, deleted: 1, total: 2 },
        { table, deleted: 2, total: 2 },
      ]);
    }
    const remaining = await snapshot();
    for (const { table } of RETENTION_TABLES) expect(remaining[table]!.length, table).toBe(after[table]!.length + 2);
  });

  it('lists jobs and their history, runs one for ADMIN keys only, and refuses unknown names', async () => {
    const { runJob } = await server.query(JobsRunNow, { name: 'retention' });
    expect(runJob).toMatchObject({ jobName: 'retention', status: 'SUCCEEDED', trigger: 'MANUAL', durationMs: expect.any(Number) });
    // The jobs of this file's subject; other modules (reports…) add their own after them.
    const jobs = (await server.query(JobsOverview)).jobs.slice(0, 6);
    expect(jobs.map(({ name, schedule, scope, enabled, nextRunAt }) => ({ name, schedule, scope, enabled, nextRunAt }))).toEqual([
      { name: 'collect-system-metrics', schedule: '1s', scope: 'HOST', enabled: false, nextRunAt: null },
      { name: 'retention', schedule: '0 3 * * *', scope: 'CLUSTER', enabled: false, nextRunAt: null },
      { name: 'maintain-partitions', schedule: '15 0 * * *', scope: 'CLUSTER', enabled: false, nextRunAt: null },
      { name: 'aggregate-application-metrics', schedule: '*/5 * * * *', scope: 'CLUSTER', enabled: false, nextRunAt: null },
      { name: 'prune-rollups', schedule: '30 3 * * *', scope: 'CLUSTER', enabled: false, nextRunAt: null },
      { name: 'evaluate-alerts', schedule: '15s', scope: 'CLUSTER', enabled: false, nextRunAt: null },
    ]);
    expect(jobs[1]!.lastRun).toMatchObject({ id: runJob.id, status: 'SUCCEEDED', host: HOST });
    expect(jobs.every((job) => job.description.length > 20)).toBe(true);

    // History, newest first, a page at a time.
    const page1 = (await server.query(JobsHistory, { name: 'collect-system-metrics', first: 1 })).jobRuns;
    expect(page1.totalCount).toBeGreaterThanOrEqual(2);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await server.query(JobsHistory, { name: 'collect-system-metrics', first: 1, after: page1.pageInfo.endCursor })).jobRuns;
    expect(BigInt(page2.edges[0]!.node.id)).toBeLessThan(BigInt(page1.edges[0]!.node.id));
    expect(page2.edges[0]!.node).toMatchObject({ jobName: 'collect-system-metrics', host: HOST, instance: expect.stringContaining(HOST) });
    const all = (await server.query(JobsHistory, { first: 500 })).jobRuns;
    expect([...new Set(all.edges.map((edge) => edge.node.jobName))]).toEqual(
      expect.arrayContaining(['collect-system-metrics', 'retention', 'aggregate-application-metrics', 'flaky', 'slow']),
    );

    for (const response of [await server.request(JobsRunNow, { name: 'reindex' }), await server.request(JobsHistory, { name: 'reindex' })]) {
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field: 'name' })] });
      expect(response.errors?.[0]?.message).toMatch(/unknown job "reindex"; known jobs: collect-system-metrics, retention, maintain-partitions, aggregate-application-metrics, prune-rollups, evaluate-alerts/);
    }

    const reader = await createKey(server.app.services, { name: 'job reader', scopes: ['READ'] });
    const writer = await createKey(server.app.services, { name: 'job writer', scopes: ['READ', 'INGEST'] });
    expect((await server.request(JobsOverview, undefined, { key: reader.key })).data?.jobs).toHaveLength(server.app.services.scheduler.names.length);
    for (const key of [reader.key, writer.key]) {
      const refused = await server.request(JobsRunNow, { name: 'retention' }, { key });
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const runs = (await server.query(JobsHistory, { name: 'retention', first: 1 })).jobRuns.totalCount;
    expect(runs).toBe(all.edges.filter((edge) => edge.node.jobName === 'retention').length);

    // A manual run is an administrative action: it leaves an audit entry.
    const audit = await db().prisma.auditEvent.findFirst({ where: { action: 'job.run' }, orderBy: { id: 'desc' } });
    expect(audit).toMatchObject({ targetType: 'job', targetId: 'retention', details: { job: 'retention', runId: runJob.id, status: 'SUCCEEDED' } });
    expect(await db().prisma.userActivity.count({ where: { activityType: 'job.run' } })).toBe(0);
  });

  it('on stop, lets a short run finish and records one that outlives the deadline as interrupted', async () => {
    let signal: AbortSignal | undefined;
    const scheduler = new JobScheduler({
      db: db(),
      log: silent,
      hostName: HOST,
      enabled: false,
      jobs: [
        testJob('quick', async () => {
          await new Promise((resolve) => setTimeout(resolve, 150));
          return { done: true };
        }),
        testJob('stuck', async (context) => {
          signal = context.signal;
          // Gives up when told to, as long jobs do between steps.
          await new Promise((resolve, reject) => {
            const timer = setTimeout(resolve, 5_000);
            context.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              reject(context.signal.reason);
            });
          });
          return {};
        }),
      ],
    });
    const tick = new Date('2026-02-01T00:00:00Z');
    const quick = scheduler.tick('quick', tick);
    const stuck = scheduler.tick('stuck', tick);
    await waitUntil(() => signal !== undefined, 'the stuck run started');
    // Ample for the short run's claim, 150 ms and record on a busy machine; the stuck one would need 5 s.
    await scheduler.stop(Date.now() + 2_000);
    expect(signal!.aborted).toBe(true);
    expect((await runsOf('quick'))[0]).toMatchObject({ status: 'SUCCEEDED', result: { done: true } });
    const [interrupted] = await runsOf('stuck');
    expect(interrupted).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/^interrupted: instance .* stopped before the run finished$/) });
    // When the run finally returns, it cannot overwrite that verdict.
    expect(await stuck).toMatchObject({ status: 'FAILED' });
    expect(await quick).toMatchObject({ status: 'SUCCEEDED' });
    expect((await runsOf('stuck'))[0]?.status).toBe('FAILED');
    await expect(scheduler.runNow('quick')).rejects.toThrow(/stopping/);
  });
});
