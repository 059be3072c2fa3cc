import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/core/db/database.js';
import { sql } from '../src/core/db/sql.js';
import { parseSchedule } from '../src/core/schedule.js';
import { lockClaims } from '../src/modules/jobs/claims.js';
import { JobScheduler } from '../src/modules/jobs/scheduler.js';
import type { JobDefinition } from '../src/core/jobs.js';
import { graphql } from './generated/gql.js';
import { composeScheduler } from './support/scheduler.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';
import { waitUntil } from './support/wait.js';

const ClusterJobs = graphql(`
  query ClusterJobs { jobs { name enabled nextRunAt } }
`);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const silent = pino({ level: 'silent' });
const SECOND = 1000;

interface TickRow {
  lockKey: string;
  scheduledAt: Date;
  status: string;
  instance: string;
  runs: number;
}

describe('jobs across instances sharing one PostgreSQL', () => {
  // a and b run on one host, c on another.
  let a: TestServer;
  let b: TestServer;
  let c: TestServer;
  const db = () => a.app.services.db;

  const ticks = (jobName: string, since: Date) =>
    db().query<TickRow>(sql`
      SELECT lock_key AS "lockKey", scheduled_at AS "scheduledAt", min(status::text) AS status, min(instance) AS instance, count(*)::int AS runs
      FROM job_runs WHERE job_name = ${jobName} AND scheduled_at >= ${since}
      GROUP BY lock_key, scheduled_at ORDER BY scheduled_at, lock_key`);
  /** Rows per (host, metric, mount, timestamp) of collected metrics since `since`. */
  const metricRows = (since: Date) =>
    db().query<{ host: string; metric: string; timestamp: Date; rows: number }>(sql`
      SELECT host, metric_name || coalesce(':' || (tags->>'mount'), '') AS metric, "timestamp", count(*)::int AS rows
      FROM system_metrics WHERE "timestamp" >= ${since} AND host IS NOT NULL AND dimensions IS NOT NULL
      GROUP BY 1, 2, 3 ORDER BY 3, 1, 2`);

  beforeAll(async () => {
    a = await startTestServer('postgres', { label: 'jobs_cluster', env: { INSIGHTS_HOSTNAME: 'shared-host' } });
    [b, c] = await Promise.all([
      startTestServer('postgres', { label: 'jobs_cluster', databaseUrl: a.databaseUrl, env: { INSIGHTS_HOSTNAME: 'shared-host' } }),
      startTestServer('postgres', { label: 'jobs_cluster', databaseUrl: a.databaseUrl, env: { INSIGHTS_HOSTNAME: 'other-host' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([b?.stop(), c?.stop()]);
    await a?.destroy();
  });

  it('runs each tick once per host on timers: one row per metric per tick per host, and cluster jobs once per tick', async () => {
    // The instances' own wiring (as app.ts does it), with fast schedules and the timers armed.
    const composed = await Promise.all(
      [a, b, c].map((server) =>
        composeScheduler({
          DATABASE_URL: a.databaseUrl,
          MONITORING_ENABLED: 'true',
          INSIGHTS_HOSTNAME: server.app.services.config.instance.hostName,
          INSIGHTS_COLLECT_SCHEDULE: '1s',
          // Cron (with seconds) here, an interval above: both kinds of timer agree across instances.
          INSIGHTS_AGGREGATE_SCHEDULE: '* * * * * *',
        }),
      ),
    );
    const schedulers = composed.map(({ scheduler }) => scheduler);
    const since = new Date(Math.ceil(Date.now() / SECOND) * SECOND);
    for (const scheduler of schedulers) scheduler.start();
    try {
      await waitUntil(
        async () => {
          const runs = await ticks('collect-system-metrics', since);
          return ['host:shared-host', 'host:other-host'].every(
            (lock) => runs.filter((run) => run.lockKey === lock && run.status === 'SUCCEEDED').length >= 3,
          );
        },
        'three collections on each host',
        // Three ticks take three seconds; the bound is for a scheduler that never fires, not for a busy machine.
        45_000,
      );
    } finally {
      await Promise.all(composed.map(({ composition }) => composition.close()));
    }

    const collections = await ticks('collect-system-metrics', since);
    expect(collections.every((tick) => tick.runs === 1)).toBe(true);
    expect(collections.every((tick) => tick.scheduledAt.getTime() % SECOND === 0)).toBe(true);
    expect(new Set(collections.map((tick) => tick.lockKey))).toEqual(new Set(['host:shared-host', 'host:other-host']));

    const rows = await metricRows(since);
    expect(rows.filter((row) => row.rows !== 1)).toEqual([]);
    const succeeded = (lock: string) =>
      collections.filter((tick) => tick.lockKey === lock && tick.status === 'SUCCEEDED').map((tick) => tick.scheduledAt.getTime());
    const interrupted = (lock: string) =>
      collections.filter((tick) => tick.lockKey === lock && tick.status === 'FAILED').map((tick) => tick.scheduledAt.getTime());
    for (const host of ['shared-host', 'other-host']) {
      // Every successful collection of the host wrote one set of metrics, stamped with its tick. A run still going
      // when the instances stopped (on a busy machine collections can take seconds) is recorded as interrupted;
      // it may have written its set before it was told, and never another tick's.
      const stamps = new Set(rows.filter((row) => row.host === host).map((row) => row.timestamp.getTime()));
      for (const time of succeeded(`host:${host}`)) expect(stamps.has(time), `${host} @ ${time}`).toBe(true);
      const allowed = new Set([...succeeded(`host:${host}`), ...interrupted(`host:${host}`)]);
      expect([...stamps].filter((time) => !allowed.has(time))).toEqual([]);
    }
    // On a tick both hosts collected, each metric has two rows: one per host.
    const both = succeeded('host:shared-host').filter((time) => succeeded('host:other-host').includes(time));
    expect(both.length).toBeGreaterThan(0);
    for (const time of both) {
      const ofTick = rows.filter((row) => row.timestamp.getTime() === time);
      for (const metric of new Set(ofTick.map((row) => row.metric))) {
        expect(ofTick.filter((row) => row.metric === metric).map((row) => row.host).sort(), metric).toEqual(['other-host', 'shared-host']);
      }
    }

    const aggregations = await ticks('aggregate-application-metrics', since);
    expect(aggregations.length).toBeGreaterThanOrEqual(2);
    expect(aggregations.every((tick) => tick.runs === 1 && tick.lockKey === 'cluster')).toBe(true);
    expect(aggregations.every((tick) => tick.scheduledAt.getTime() % SECOND === 0)).toBe(true);
  });

  it('lets exactly one of several instances claim a tick fired on all of them at once', async () => {
    const [sa, sb, sc] = [a, b, c].map((server) => server.app.services.scheduler);
    const base = new Date('2026-03-01T00:00:00Z').getTime();
    // Ticks of the configured collection interval (30s): any other fire time stands for the tick before it.
    const period = sa!.job('collect-system-metrics').schedule.intervalMs!;
    expect(period).toBe(30 * SECOND);
    for (let round = 0; round < 4; round += 1) {
      const tick = new Date(base + round * period);
      const [ra, rb, rc] = await Promise.all([sa!, sb!, sc!].map((scheduler) => scheduler.tick('collect-system-metrics', tick)));
      expect([ra, rb].filter((run) => run !== null), `round ${round}`).toHaveLength(1);
      expect(rc).toMatchObject({ status: 'SUCCEEDED', host: 'other-host' });

      const aggregations = await Promise.all([sa!, sb!, sc!].map((scheduler) => scheduler.tick('aggregate-application-metrics', tick)));
      expect(aggregations.filter((run) => run !== null)).toHaveLength(1);
    }
    const rows = await metricRows(new Date(base));
    const early = rows.filter((row) => row.timestamp.getTime() < base + 4 * period);
    expect(early.every((row) => row.rows === 1)).toBe(true);
    expect(new Set(early.map((row) => `${row.host}@${row.timestamp.getTime()}`)).size).toBe(8);
  });

  it('fails a run orphaned by a dead instance once its lease lapses, and another instance runs the next tick', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const job = (name: string): JobDefinition => ({
      name,
      description: 'lease probe',
      schedule: parseSchedule('1s'),
      scope: 'cluster',
      manualAnchor: 'now',
      run: async () => {
        if (name === 'lease-probe' && !survivorRunning) await gate;
        return { by: name };
      },
    });
    let survivorRunning = false;
    // An instance with its own connection pool, which "dies": its pool goes away mid-run and the lease stops renewing.
    const doomedDb = await openDatabase({ url: a.databaseUrl, poolSize: 2, dataDir: '' }, silent);
    // A lease no step of this test can outlast, however busy the machine: "still fresh" is certain, and its lapse
    // is brought about on the database's clock (the one claims compare it with) instead of waited for.
    const leaseMs = 60_000;
    const doomed = new JobScheduler({ db: doomedDb, log: silent, hostName: 'doomed', instanceId: 'doomed-1', enabled: false, leaseMs, jobs: [job('lease-probe')] });
    const survivor = new JobScheduler({ db: db(), log: silent, hostName: 'survivor', enabled: false, leaseMs, jobs: [job('lease-probe')] });
    const first = new Date('2026-03-02T00:00:00Z');
    try {
      const orphan = doomed.tick('lease-probe', first);
      await waitUntil(async () => (await ticks('lease-probe', first)).length === 1, 'the doomed instance claimed the tick');
      await doomedDb.close();

      // While the lease is fresh the run may just be slow: the next tick is skipped, not doubled.
      expect(await survivor.tick('lease-probe', new Date(first.getTime() + SECOND))).toMatchObject({ status: 'SKIPPED' });
      // The lease's minute passes with no renewal (the instance is gone).
      await db().query(sql`UPDATE job_runs SET lease_expires_at = now() - interval '1 millisecond' WHERE instance = 'doomed-1' AND status = 'RUNNING'`);
      survivorRunning = true;
      expect(await survivor.tick('lease-probe', new Date(first.getTime() + 2 * SECOND))).toMatchObject({ status: 'SUCCEEDED', result: { by: 'lease-probe' } });
      const [dead] = await ticks('lease-probe', first);
      expect(dead).toMatchObject({ status: 'FAILED', instance: 'doomed-1' });
      const [error] = await db().query<{ error: string }>(sql`SELECT error FROM job_runs WHERE job_name = 'lease-probe' AND instance = 'doomed-1'`);
      expect(error?.error).toMatch(/^lease expired: instance doomed-1 stopped renewing it/);

      // The dead instance's run, should it ever come back, cannot record anything (its database is gone).
      release();
      await orphan;
    } finally {
      release();
      await survivor.stop();
      await doomed.stop();
    }
  });

  it('stops a run whose lease another instance took away (fencing)', async () => {
    let seen: AbortSignal | undefined;
    const scheduler = new JobScheduler({
      db: db(),
      log: silent,
      hostName: 'fenced',
      enabled: false,
      leaseMs: 300,
      jobs: [
        {
          name: 'fence-probe',
          description: 'fencing probe',
          schedule: parseSchedule('1s'),
          scope: 'cluster',
          manualAnchor: 'now',
          run: async ({ signal }) => {
            seen = signal;
            await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
            return {};
          },
        },
      ],
    });
    const running = scheduler.tick('fence-probe', new Date('2026-03-03T00:00:00Z'));
    await waitUntil(() => seen !== undefined, 'the run started');
    await db().query(sql`UPDATE job_runs SET status = 'FAILED', error = 'reaped by another instance' WHERE job_name = 'fence-probe'`);
    await waitUntil(() => seen!.aborted, 'the run noticed it lost its lease');
    expect(String(seen!.reason)).toMatch(/lost the run lease/);
    expect(await running).toMatchObject({ status: 'FAILED', error: 'reaped by another instance' });
    await scheduler.stop();
  });

  it('takes over at the next tick when an instance process is killed', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: a.databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      INSIGHTS_ADMIN_KEY: ADMIN_KEY,
      MONITORING_ENABLED: 'true',
      INSIGHTS_HOSTNAME: 'killed-host',
      INSIGHTS_COLLECT_SCHEDULE: '1s',
      INSIGHTS_AGGREGATE_SCHEDULE: '1h',
      INSIGHTS_RETENTION_SCHEDULE: '1d',
    };
    delete env.REDIS_URL;
    const job = 'collect-system-metrics';
    const lockKey = 'host:killed-host';
    const startedAt = new Date(Math.floor(Date.now() / SECOND) * SECOND);
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: 'ignore' });
    const survivorComposition = await composeScheduler({
      DATABASE_URL: a.databaseUrl,
      MONITORING_ENABLED: 'true',
      INSIGHTS_HOSTNAME: 'killed-host',
      INSIGHTS_COLLECT_SCHEDULE: '1s',
      INSIGHTS_AGGREGATE_SCHEDULE: '1h',
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    const survivor = survivorComposition.scheduler;
    const exited = new Promise<never>((_resolve, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`the instance process exited (${signal ?? code}) before it collected`))),
    );
    exited.catch(() => undefined);
    // The process's scheduler names itself <host>/<pid>/<random>: its runs are told apart from the survivor's by pid.
    const runsOf = (since: Date) =>
      db().query<{ instance: string; status: string; scheduledAt: Date; error: string | null }>(sql`
        SELECT instance, status::text AS status, scheduled_at AS "scheduledAt", error FROM job_runs
        WHERE job_name = ${job} AND lock_key = ${lockKey} AND scheduled_at >= ${since} ORDER BY scheduled_at, id`);
    const byChild = async () => (await runsOf(startedAt)).filter((run) => run.instance.startsWith(`killed-host/${child.pid}/`));
    try {
      // Alone on its host, the process wins every tick: no race to lose, only its start-up (tsx compiling the
      // service, many seconds on a busy machine) to wait for, bounded by the test's own timeout.
      await Promise.race([
        waitUntil(async () => (await byChild()).some((run) => run.status === 'SUCCEEDED'), 'a collection by the process', 100_000),
        exited,
      ]);
      survivor.start();

      // Killed between runs: killed inside one, its lease would (rightly) hold the host's job until it lapses,
      // which is the lease test's subject, not this one's. Holding the claims' own lock stops every instance
      // from claiming a new tick, so once the process's run in progress has finished it cannot start another
      // before the kill; a claim of its already waiting on the lock dies with its connection.
      let killedAt = 0;
      await db().transaction(async (tx) => {
        await lockClaims(tx, job, lockKey);
        await waitUntil(async () => (await byChild()).every((run) => run.status !== 'RUNNING'), 'the run of the process to finish', 60_000);
        child.kill('SIGKILL');
        killedAt = Date.now();
      });
      expect((await byChild()).every((run) => run.status !== 'RUNNING')).toBe(true);

      const since = new Date(Math.ceil(killedAt / SECOND) * SECOND);
      await waitUntil(
        async () => (await runsOf(since)).filter((run) => run.status === 'SUCCEEDED').length >= 2,
        'two collections after the kill',
        30_000,
      );
      const after = await runsOf(since);
      // Every tick after the kill is the survivor's, once. A tick may be skipped only behind the survivor's own
      // run (ticks that queued on the lock, or a slow run on a busy machine), never behind the dead process.
      expect(after.map((run) => run.instance)).toEqual(after.map(() => survivor.instance));
      for (const run of after.filter((skipped) => skipped.status === 'SKIPPED')) expect(run.error).toContain(survivor.instance);
      const perTick = await ticks(job, startedAt);
      expect(perTick.filter((tick) => tick.lockKey === lockKey && tick.runs !== 1)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      await survivorComposition.composition.close();
    }
  }, 150_000);

  it('arms the timers of an app started with MONITORING_ENABLED=true, and stops them with the app', async () => {
    const beforeStart = Date.now();
    const d = await startTestServer('postgres', {
      label: 'jobs_cluster',
      databaseUrl: a.databaseUrl,
      env: { MONITORING_ENABLED: 'true', INSIGHTS_HOSTNAME: 'armed-host', INSIGHTS_COLLECT_SCHEDULE: '1s' },
    });
    const instance = d.app.services.scheduler.instance;
    const { jobs } = await d.query(ClusterJobs);
    const answered = Date.now();
    expect(jobs.every((job) => job.enabled)).toBe(true);
    const next = new Date(jobs[0]!.nextRunAt!).getTime();
    // Armed after the start began, for the tick after it was armed; on a busy machine the pending fire may
    // already lie in the past when asked (the event loop is late), so the lower bound is the start, not now.
    expect(next % SECOND).toBe(0);
    expect(next).toBeGreaterThan(beforeStart);
    expect(next).toBeLessThanOrEqual(answered + SECOND);
    const runsOfD = async () =>
      (await db().query<{ n: number }>(sql`SELECT count(*)::int AS n FROM job_runs WHERE instance = ${instance}`))[0]!.n;
    await waitUntil(async () => (await runsOfD()) >= 1, 'a run by the app', 5_000);
    await d.stop();
    const stoppedWith = await runsOfD();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await runsOfD()).toBe(stoppedWith);
    expect(
      (await db().query<{ n: number }>(sql`SELECT count(*)::int AS n FROM job_runs WHERE instance = ${instance} AND status = 'RUNNING'`))[0]!.n,
    ).toBe(0);
  });
});
