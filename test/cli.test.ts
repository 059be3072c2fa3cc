import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { capture } from './support/output.js';
import { sql } from '../src/core/db/sql.js';
import { graphql } from './generated/gql.js';
import { runScript } from './support/processes.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';

const CliSeed = graphql(`
  mutation CliSeed($input: IngestInput!) { ingest(input: $input) { count } }
`);

const DAY = 86_400_000;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `insights <args>` as operators do (a process of its own), with `env` over a clean environment. */
function insights(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runScript('src/cli/index.ts', args, {
    env,
    unset: ['DATABASE_URL', 'REDIS_URL', 'INSIGHTS_DATA_DIR', 'MONITORING_ENABLED'],
    timeoutMs: 30_000,
  });
}

describe('the insights command line', () => {
  let server: TestServer;
  let env: Record<string, string>;
  const db = () => server.app.services.db;
  const count = async (table: 'system_metrics' | 'user_activities', marker: string) => {
    const rows =
      table === 'system_metrics'
        ? await db().query<{ n: number }>(sql`SELECT count(*)::int AS n FROM system_metrics WHERE metric_name = ${marker}`)
        : await db().query<{ n: number }>(sql`SELECT count(*)::int AS n FROM user_activities WHERE user_id = ${marker}`);
    return rows[0]!.n;
  };
  /** Records 100 days old and 1 day old, of two families. */
  const seed = (marker: string, old: number) => {
    const stamp = (days: number) => new Date(Date.now() - days * DAY).toISOString();
    return server.query(CliSeed, {
      input: {
        systemMetrics: [
          ...Array.from({ length: old }, (_, i) => ({ metricName: marker, metricType: 'GAUGE' as const, value: i, timestamp: stamp(100) })),
          { metricName: marker, metricType: 'GAUGE' as const, value: -1, timestamp: stamp(1) },
        ],
        activities: [
          ...Array.from({ length: old }, () => ({ userId: marker, activityType: 'cli_probe', timestamp: stamp(100) })),
          { userId: marker, activityType: 'cli_probe', timestamp: stamp(1) },
        ],
      },
    });
  };

  beforeAll(async () => {
    server = await startTestServer('postgres', { label: 'cli', env: { INSIGHTS_HOSTNAME: 'cli-host' } });
    env = { DATABASE_URL: server.databaseUrl!, INSIGHTS_HOSTNAME: 'cli-host', INSIGHTS_ADMIN_KEY: ADMIN_KEY, MONITORING_ENABLED: 'true' };
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('cleanup --dry-run reports what would be deleted and deletes nothing; cleanup deletes exactly that', async () => {
    await seed('cli_a', 3);
    const dry = await insights(['cleanup', '--older-than', '90d', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/Dry run: records older than 90d/);
    expect(dry.stdout).toMatch(/system_metrics\s+3\n/);
    expect(dry.stdout).toMatch(/user_activities\s+3\n/);
    expect(dry.stdout).toMatch(/total\s+6\n/);
    expect(dry.stdout).toContain('Nothing was deleted.');
    expect([await count('system_metrics', 'cli_a'), await count('user_activities', 'cli_a')]).toEqual([4, 4]);

    const real = await insights(['cleanup', '--older-than', '90d'], env);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/system_metrics\s+3\n/);
    expect(real.stdout).toMatch(/user_activities\s+3\n/);
    expect(real.stdout).toMatch(/Deleted 6 records in \d+\.\d s \(run \d+\)\./);
    // Not a terminal: no progress bar drawn over the report.
    expect(real.stdout).not.toMatch(/[\r\u001b█]/);
    expect([await count('system_metrics', 'cli_a'), await count('user_activities', 'cli_a')]).toEqual([1, 1]);

    // It ran as the retention job, so it is in the job history.
    const [run] = await db().query<{ trigger: string; status: string; host: string; result: { total: number } }>(sql`
      SELECT "trigger"::text AS "trigger", status::text AS status, host, result FROM job_runs WHERE job_name = 'retention' ORDER BY id DESC LIMIT 1`);
    expect(run).toMatchObject({ trigger: 'MANUAL', status: 'SUCCEEDED', host: 'cli-host', result: { total: 6 } });
  });

  it('draws a progress bar when the output is a terminal', async () => {
    await seed('cli_b', 4);
    const output = capture(true);
    expect(await runCli(['cleanup', '--older-than', '2400h'], env, output)).toBe(0);
    expect(output.stdout).toMatch(/\r\u001b\[2Kuser_activities\s+\[█+░*\]\s+\d+%/);
    expect(output.stdout).toMatch(/system_metrics\s+\[█{10,}\]\s+100%\s+4\/4/);
    expect(output.stdout).toMatch(/Deleted 8 records/);
    expect(await count('system_metrics', 'cli_b')).toBe(1);
  });

  it('run-job runs one job now and exits 0 when it succeeds', async () => {
    const result = await insights(['run-job', 'collect-system-metrics'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^collect-system-metrics: SUCCEEDED \(run \d+, manual, tick \S+ on cli-host, \d+ ms\)/);
    expect(JSON.parse(result.stdout.slice(result.stdout.indexOf('{')))).toMatchObject({ host: 'cli-host', metrics: expect.any(Number) });
    const [{ n }] = (await db().query<{ n: number }>(sql`SELECT count(*)::int AS n FROM system_metrics WHERE host = 'cli-host' AND metric_name = 'cpu_usage'`)) as [
      { n: number },
    ];
    expect(n).toBe(1);
  });

  it('check-monitoring is healthy when every job keeps its schedule, and names what is wrong otherwise', async () => {
    const { scheduler } = server.app.services;
    for (const name of scheduler.names) {
      expect(await scheduler.tick(name, scheduler.job(name).schedule.latest(new Date())), name).toMatchObject({ status: 'SUCCEEDED' });
    }
    const healthy = await insights(['check-monitoring'], env);
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
    expect(healthy.stdout).toMatch(/Database\s+ok \(postgres\)/);
    expect(healthy.stdout).toMatch(/Migrations\s+all applied/);
    expect(healthy.stdout).toMatch(/Pub\/sub\s+ok \(in-process\)/);
    expect(healthy.stdout).toMatch(/collect-system-metrics\s+every 30s\s+SUCCEEDED \S+ on cli-host/);
    expect(healthy.stdout).toMatch(/retention\s+0 3 \* \* \* UTC\s+SUCCEEDED/);
    expect(healthy.stdout).toMatch(/\nHealthy\.\n$/);

    // A failing run of a job makes it unhealthy, with the error.
    await scheduler.runNow('aggregate-application-metrics', {
      definition: { ...scheduler.job('aggregate-application-metrics'), run: async () => Promise.reject(new Error('rollup table locked')) },
      fireTime: new Date(),
    });
    const failing = await insights(['check-monitoring', '--json'], env);
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.stdout) as { healthy: boolean; problems: string[]; jobs: { name: string; status: string }[] };
    expect(report.healthy).toBe(false);
    expect(report.problems).toEqual([expect.stringMatching(/^aggregate-application-metrics: latest run \d+ .* failed: rollup table locked$/)]);
    // The jobs of this file's subject first; other modules (reports…) add theirs after them.
    expect(report.jobs.slice(0, 6).map((job) => [job.name, job.status])).toEqual([
      ['collect-system-metrics', 'ok'],
      ['retention', 'ok'],
      ['maintain-partitions', 'ok'],
      ['aggregate-application-metrics', 'failed'],
      ['prune-rollups', 'ok'],
      ['evaluate-alerts', 'ok'],
    ]);

    const disabled = await insights(['check-monitoring'], { ...env, MONITORING_ENABLED: 'false' });
    expect(disabled.code).toBe(1);
    expect(disabled.stdout).toMatch(/MONITORING_ENABLED=false: scheduled jobs do not run/);

    const unreachable = await insights(['check-monitoring'], { ...env, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/insights' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toMatch(/UNHEALTHY/);
    expect(unreachable.stdout).toMatch(/database \(postgres\) unavailable/);
  });

  it('check-monitoring reports the newest of more than ten runs, with run ids compared as numbers', async () => {
    const { scheduler } = server.app.services;
    const name = 'prune-rollups';
    type Report = { problems: string[]; jobs: { name: string; status: string; lastRun: { id: string; status: string; scheduledAt: string } | null }[] };
    // In-process (the same runCli the command runs): three spawned commands would take most of the test's time.
    const checkMonitoring = async (...args: string[]) => {
      const output = capture(false);
      await runCli(['check-monitoring', ...args], env, output);
      return output.stdout;
    };
    const jobReport = async () => {
      const report = JSON.parse(await checkMonitoring('--json')) as Report;
      return { job: report.jobs.find((job) => job.name === name), problems: report.problems.filter((problem) => problem.startsWith(`${name}:`)) };
    };
    // Run ids that cross a power of ten (…998, …999, then 1000…), where text order and number order part ways.
    const [{ max }] = (await db().query<{ max: string | null }>(sql`SELECT max(id)::text AS max FROM job_runs`)) as [{ max: string | null }];
    const boundary = 10 ** String(Number(max ?? 0) + 10).length;
    await db().query(sql`SELECT setval(pg_get_serial_sequence('job_runs', 'id'), ${boundary - 6}::bigint)`);
    const base = Date.now() - 3_600_000;
    let step = 0;
    const run = (outcome: Error | null) =>
      scheduler.runNow(name, {
        definition: { ...scheduler.job(name), run: async () => (outcome ? Promise.reject(outcome) : { pruned: 0 }) },
        fireTime: new Date(base + 60_000 * step++),
      });
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push(await run(null));
    const oldFailure = await run(new Error('old failure'));
    for (let i = 0; i < 7; i++) runs.push(await run(null));
    const newest = runs.at(-1)!;
    expect(runs.length + 1).toBeGreaterThan(10);
    expect([oldFailure.status, newest.status]).toEqual(['FAILED', 'SUCCEEDED']);
    // The trap: the old failure's id sorts after the newest run's id as text ("999" > "1006").
    expect(BigInt(oldFailure.id)).toBeLessThan(BigInt(newest.id));
    expect(oldFailure.id > newest.id).toBe(true);

    // The newest run is reported, and the old failure no longer makes the job unhealthy.
    const recovered = await jobReport();
    expect(recovered.job).toMatchObject({ status: 'ok', lastRun: { id: newest.id, status: 'SUCCEEDED', scheduledAt: newest.scheduledAt.toISOString() } });
    expect(recovered.problems).toEqual([]);
    expect(await checkMonitoring()).toMatch(new RegExp(`${name}\\s+.+?\\s+SUCCEEDED ${newest.scheduledAt.toISOString()} on cli-host \\(\\d+ ms\\) manual`));

    // A newer failure is reported, with its own id and error.
    const newFailure = await run(new Error('new failure'));
    expect(BigInt(newFailure.id)).toBeGreaterThan(BigInt(newest.id));
    const failing = await jobReport();
    expect(failing.job).toMatchObject({ status: 'failed', lastRun: { id: newFailure.id, status: 'FAILED' } });
    expect(failing.problems).toEqual([`${name}: latest run ${newFailure.id} (${newFailure.scheduledAt.toISOString()} on cli-host) failed: new failure`]);
  });

  it('refuses wrong usage with exit code 2 and a message, before touching anything', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage:/],
      [['vacuum'], /unknown command "vacuum"/],
      [['cleanup'], /cleanup needs --older-than/],
      [['cleanup', '--older-than', '90'], /--older-than must be a number of days, hours or minutes/],
      [['cleanup', '--older-than', '0d'], /--older-than must be more than zero/],
      [['cleanup', '--older-than', '90d', 'now'], /cleanup takes no arguments/],
      [['check-monitoring', '--dry-run'], /check-monitoring does not take --dry-run/],
      [['check-monitoring', '--verbose'], /Unknown option '--verbose'/],
      [['run-job'], /run-job needs exactly one job name/],
    ];
    for (const [args, message] of cases) {
      const output = capture(false);
      expect(await runCli(args, env, output), args.join(' ')).toBe(2);
      expect(output.stderr + output.stdout, args.join(' ')).toMatch(message);
    }
    const unknownJob = capture(false);
    expect(await runCli(['run-job', 'reindex'], env, unknownJob)).toBe(2);
    expect(unknownJob.stderr).toMatch(/unknown job "reindex"; known jobs: collect-system-metrics, retention, maintain-partitions, aggregate-application-metrics, prune-rollups, evaluate-alerts/);
    const badConfig = capture(false);
    expect(await runCli(['check-monitoring'], { ...env, INSIGHTS_RETENTION_SCHEDULE: 'nightly' }, badConfig)).toBe(2);
    expect(badConfig.stderr).toMatch(/INSIGHTS_RETENTION_SCHEDULE: must be a cron expression/);
    const help = capture(false);
    expect(await runCli(['--help'], env, help)).toBe(0);
    expect(help.stdout).toMatch(/insights cleanup --older-than/);
  });

  it('will not open an embedded database that a running service holds', async () => {
    const embedded = await startTestServer('pglite', { label: 'cli' });
    try {
      const output = capture(false);
      const { dataDir } = embedded.app.services.config.database;
      expect(await runCli(['check-monitoring'], { INSIGHTS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }, output)).toBe(1);
      expect(output.stderr).toMatch(/the embedded database in .* is in use .*one process only/);
      // The service is unaffected.
      expect((await embedded.request('{ jobs { name } }')).status).toBe(200);
    } finally {
      await embedded.destroy();
    }
  });
});
