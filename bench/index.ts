import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  createScratchDatabase,
  DEFAULT_ADMIN_URL,
  existingScratchDatabases,
  startService,
  untilAborted,
  withinMs,
  type RunningService,
  type ScratchDatabase,
} from './harness.js';
import { runAlertsBenchmark } from './alerts.js';
import { runAnalyticsBenchmark } from './analytics.js';
import { runDashboardsBenchmark } from './dashboards.js';
import { runClientBenchmark } from './client.js';
import { runFanoutBenchmark } from './fanout.js';
import { runIngestBenchmark } from './ingest.js';
import { runReportsBenchmark } from './reports.js';

/**
 * Entry point of `npm run bench`. Sets up once what every benchmark needs (a scratch database, the real
 * service in this process) and runs the benchmarks in turn; add new ones as modules called from main().
 */

const USAGE = `Usage: npm run bench -- [options]

  --only NAME    run one benchmark: fanout, ingest, reports, alerts, analytics, dashboards or client (default: all, in that order)

  Fan-out (live subscriptions):
  --subscribers N     WebSocket subscribers on the one service instance (default 1000)
  --rate N            events written per second (default 200)
  --fanout-seconds S  length of the timed run (default 10)

  Ingest:
  --rows N       rows written by each ingest path (default 200000, at most 2000000)
  --clients N    concurrent HTTP clients and COPY connections (default 4)
  --batch N      records per recordSystemMetrics request (default 1000)
  --warmup N     untimed GraphQL batches before the timed run (default 5)

  Reports (exports and report generation):
  --export-rows N  activities of the exported day (default 1000000, at most 5000000)

  Alerts (time to notify; evaluation cost of many rules):
  --alert-rows N       system metric rows generated for the evaluation cost (default 2000000)
  --alert-rules N      enabled rules evaluated (default 1000)
  --alert-crossings N  threshold crossings timed end to end (default 6)
  --alert-interval S   INSIGHTS_ALERT_EVAL_INTERVAL of the time-to-notify run, in seconds (default 5)

  Analytics (dashboard reads over a month of data):
  --analytics-scale F  fraction of the full data set: 10 M performance metrics, 4 M activities, 1 M system
                       metrics over 30 days (default 1)
  --analytics-runs N   runs of each read (default 9)
  --analytics-keep DB  load into database DB and keep it (no month drop at the end); a later run with the
                       same DB skips the load and the rebuild and times the reads only (for a quiet machine);
                       the dashboards benchmark reuses it too

  Client (insights/client: middleware overhead on the caller, records/s of one client):
  --client-requests N  requests to each of the two servers, with and without middleware (default 5000)
  --client-records N   records pushed through ingest by one client (default 100000)

  Dashboards (on the analytics data set: --analytics-scale and --analytics-runs apply):
  --dashboard-subscribers N  live subscribers of one dashboard (default 200)
  --dashboard-refreshes N    writes, each making one live refresh (default 5)

  --redis        publish through Redis (REDIS_URL or redis://127.0.0.1:6379) instead of in-process
  --timeout S    give up after S seconds, cleaning up first (default 600)

The admin connection used to create and drop the scratch database is DATABASE_URL,
or ${DEFAULT_ADMIN_URL}.`;

const BENCHMARKS = ['fanout', 'ingest', 'reports', 'alerts', 'analytics', 'dashboards', 'client'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

interface Options {
  only: Benchmark | undefined;
  subscribers: number;
  rate: number;
  fanoutSeconds: number;
  rows: number;
  clients: number;
  batch: number;
  warmup: number;
  redis: boolean;
  timeoutSeconds: number;
  exportRows: number;
  alertRows: number;
  analyticsScale: number;
  analyticsRuns: number;
  dashboardSubscribers: number;
  dashboardRefreshes: number;
  analyticsKeep: string | undefined;
  alertRules: number;
  alertCrossings: number;
  alertInterval: number;
  clientRequests: number;
  clientRecords: number;
}

function scaleOf(raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > 10) throw new Error(`--analytics-scale must be a number in (0, 10], got "${raw}"`);
  return value;
}

function positiveInteger(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      only: { type: 'string' },
      subscribers: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '200' },
      'fanout-seconds': { type: 'string', default: '10' },
      rows: { type: 'string', default: '200000' },
      clients: { type: 'string', default: '4' },
      batch: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '5' },
      redis: { type: 'boolean', default: false },
      'export-rows': { type: 'string', default: '1000000' },
      timeout: { type: 'string', default: '600' },
      'alert-rows': { type: 'string', default: '2000000' },
      'analytics-scale': { type: 'string', default: '1' },
      'analytics-runs': { type: 'string', default: '9' },
      'dashboard-subscribers': { type: 'string', default: '200' },
      'dashboard-refreshes': { type: 'string', default: '5' },
      'analytics-keep': { type: 'string' },
      'alert-rules': { type: 'string', default: '1000' },
      'alert-crossings': { type: 'string', default: '6' },
      'alert-interval': { type: 'string', default: '5' },
      'client-requests': { type: 'string', default: '5000' },
      'client-records': { type: 'string', default: '100000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const only = values.only;
  if (only !== undefined && !(BENCHMARKS as readonly string[]).includes(only)) {
    throw new Error(`--only must be one of ${BENCHMARKS.join(', ')}, got "${only}"`);
  }
  const subscribers = positiveInteger('subscribers', values.subscribers, 1, 10_000);
  const rate = positiveInteger('rate', values.rate, 1, 10_000);
  const fanoutSeconds = positiveInteger('fanout-seconds', values['fanout-seconds'], 1, 600);
  // Every delivery's latency is kept (8 bytes each) to report exact percentiles.
  if (subscribers * rate * fanoutSeconds > 50_000_000) {
    throw new Error('--subscribers × --rate × --fanout-seconds must be at most 50,000,000 deliveries');
  }
  return {
    only: only as Benchmark | undefined,
    subscribers,
    rate,
    fanoutSeconds,
    // Everything is pre-serialised in memory (about 1 KB a row in all), so the row count is capped.
    rows: positiveInteger('rows', values.rows, 1, 2_000_000),
    clients: positiveInteger('clients', values.clients, 1, 64),
    // The service refuses batches above INSIGHTS_BATCH_SIZE, whose default (1000) the benchmark keeps.
    batch: positiveInteger('batch', values.batch, 1, 1000),
    warmup: positiveInteger('warmup', values.warmup, 0, 1000),
    redis: values.redis,
    timeoutSeconds: positiveInteger('timeout', values.timeout, 10, 86_400),
    exportRows: positiveInteger('export-rows', values['export-rows'], 1, 5_000_000),
    alertRows: positiveInteger('alert-rows', values['alert-rows'], 1000, 50_000_000),
    analyticsScale: scaleOf(values['analytics-scale']),
    analyticsRuns: positiveInteger('analytics-runs', values['analytics-runs'], 7, 1000),
    dashboardSubscribers: positiveInteger('dashboard-subscribers', values['dashboard-subscribers'], 1, 5000),
    dashboardRefreshes: positiveInteger('dashboard-refreshes', values['dashboard-refreshes'], 1, 100),
    analyticsKeep: keptDatabaseName(values['analytics-keep']),
    alertRules: positiveInteger('alert-rules', values['alert-rules'], 1, 20_000),
    alertCrossings: positiveInteger('alert-crossings', values['alert-crossings'], 1, 100),
    alertInterval: positiveInteger('alert-interval', values['alert-interval'], 1, 300),
    clientRequests: positiveInteger('client-requests', values['client-requests'], 100, 1_000_000),
    clientRecords: positiveInteger('client-records', values['client-records'], 1, 10_000_000),
  };
}

/** A database name spliced into DDL: lower-case letters, digits and underscores only. */
function keptDatabaseName(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(raw)) throw new Error(`--analytics-keep must be a database name of lower-case letters, digits and _, got "${raw}"`);
  return raw;
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end().catch(() => undefined);
  }
}

const print = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    print(USAGE);
    return 0;
  }

  const adminUrl = process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const redisUrl = options.redis ? (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined;

  // One bound for the whole run, and Ctrl-C, both go through this signal so cleanup always happens.
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new Error(`benchmark exceeded --timeout ${options.timeoutSeconds}s`)),
    options.timeoutSeconds * 1000,
  );
  // tsx re-sends a signal its child has not acknowledged within ~30 ms, so a busy event loop sees one Ctrl-C
  // twice; only a second Ctrl-C well after the first means "skip cleanup, exit now".
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      deadline.abort(new Error(`interrupted by ${signal}`));
    } else if (Date.now() - firstSignalAt > 2_000) {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = Date.now();
  let scratch: ScratchDatabase | undefined;
  let service: RunningService | undefined;
  let exitCode = 0;
  try {
    const pgVersion = await untilAborted(postgresVersion(adminUrl), deadline.signal);
    const earlier = await untilAborted(existingScratchDatabases(adminUrl), deadline.signal);
    const runs = (name: Benchmark) => options.only === undefined || options.only === name;
    // Fan-out and ingest share one scratch database and service; alerts and analytics make their own.
    if (runs('fanout') || runs('ingest') || runs('reports') || runs('client')) {
      scratch = await untilAborted(createScratchDatabase(adminUrl), deadline.signal);
      service = await untilAborted(startService(scratch.url, { redisUrl }), deadline.signal);
    }

    print('Insights benchmarks');
    print(
      `node ${process.version} · ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}) · ` +
        `PostgreSQL ${pgVersion}${service ? ` · pub/sub ${service.pubsub}` : ''}`,
    );
    if (scratch && service) print(`scratch database ${scratch.name} (dropped at exit) · service at ${service.url}`);
    print(
      'note: the service runs as its own process, compiled as npm start runs it; service, load generator and ' +
        'PostgreSQL share the same CPUs.',
    );
    if (earlier.length > 0) {
      print(
        `note: ${earlier.length} scratch database(s) of other or killed runs exist (${earlier.join(', ')}); ` +
          'drop them with DROP DATABASE … WITH (FORCE) once no benchmark is running.',
      );
    }
    print('');

    // Fan-out first: it writes a few thousand rows, while ingest leaves hundreds of thousands of fresh rows (and
    // the autovacuum they trigger) that would compete with the latency measurement for the CPUs.
    if (runs('fanout')) {
      const shared = service as RunningService;
      const fanout = await untilAborted(
        runFanoutBenchmark({
          graphqlUrl: shared.graphqlUrl,
          apiKey: shared.apiKey,
          subscribers: options.subscribers,
          rate: options.rate,
          seconds: options.fanoutSeconds,
          signal: deadline.signal,
          print,
        }),
        deadline.signal,
      );
      if (fanout.problems.length > 0) {
        exitCode = 1;
        for (const problem of fanout.problems) process.stderr.write(`FAILED: ${problem}\n`);
      }
      if (runs('ingest')) print('');
    }

    const ingest = runs('ingest') ? await untilAborted(
      runIngestBenchmark({
        graphqlUrl: (service as RunningService).graphqlUrl,
        apiKey: (service as RunningService).apiKey,
        databaseUrl: (scratch as ScratchDatabase).url,
        rows: options.rows,
        clients: options.clients,
        batchSize: options.batch,
        warmupBatches: options.warmup,
        signal: deadline.signal,
        print,
      }),
      deadline.signal,
    ) : undefined;
    if (ingest && ingest.problems.length > 0) {
      exitCode = 1;
      for (const problem of ingest.problems) process.stderr.write(`FAILED: ${problem}\n`);
    }
    if (runs('reports')) {
      if (runs('ingest') || runs('fanout')) print('');
      const reports = await untilAborted(
        runReportsBenchmark({ url: (service as RunningService).url, apiKey: (service as RunningService).apiKey, databaseUrl: (scratch as ScratchDatabase).url, rows: options.exportRows, signal: deadline.signal, print }),
        deadline.signal,
      );
      if (reports.problems.length > 0) {
        exitCode = 1;
        for (const problem of reports.problems) process.stderr.write(`FAILED: ${problem}\n`);
      }
    }
    if (runs('alerts')) {
      if (runs('ingest') || runs('fanout')) print('');
      // Its own scratch databases and service processes: one with its timers on, one driven by runJob.
      const alerts = await untilAborted(
        runAlertsBenchmark({
          adminUrl,
          rows: options.alertRows,
          rules: options.alertRules,
          crossings: options.alertCrossings,
          intervalSeconds: options.alertInterval,
          ticks: 10,
          signal: deadline.signal,
          print,
        }),
        deadline.signal,
      );
      if (alerts.problems.length > 0) {
        exitCode = 1;
        for (const problem of alerts.problems) process.stderr.write(`FAILED: ${problem}\n`);
      }
    }
    // The analytics data set (a month of records), shared by the analytics and dashboards benchmarks.
    const analyticsData = {
      adminUrl,
      performanceRows: Math.round(10_000_000 * options.analyticsScale),
      activityRows: Math.round(4_000_000 * options.analyticsScale),
      systemRows: Math.round(1_000_000 * options.analyticsScale),
      runs: options.analyticsRuns,
      keep: options.analyticsKeep,
      signal: deadline.signal,
      print,
    };
    const report = (problems: string[]) => {
      if (problems.length > 0) exitCode = 1;
      for (const problem of problems) process.stderr.write(`FAILED: ${problem}\n`);
    };
    if (runs('analytics')) {
      if (options.only === undefined) print('');
      report((await untilAborted(runAnalyticsBenchmark(analyticsData), deadline.signal)).problems);
    }
    if (runs('dashboards')) {
      if (options.only === undefined) print('');
      const dashboards = runDashboardsBenchmark({ ...analyticsData, subscribers: options.dashboardSubscribers, refreshes: options.dashboardRefreshes });
      report((await untilAborted(dashboards, deadline.signal)).problems);
    }
    if (runs('client')) {
      if (options.only === undefined) print('');
      const client = await untilAborted(
        runClientBenchmark({
          url: (service as RunningService).url,
          apiKey: (service as RunningService).apiKey,
          requests: options.clientRequests,
          records: options.clientRecords,
          signal: deadline.signal,
          print,
        }),
        deadline.signal,
      );
      if (client.problems.length > 0) {
        exitCode = 1;
        for (const problem of client.problems) process.stderr.write(`FAILED: ${problem}\n`);
      }
    }
  } catch (error) {
    exitCode = 1;
    // A timeout or Ctrl-C is expected and says it all; anything else gets its stack.
    const detail =
      error instanceof Error ? (deadline.signal.aborted ? error.message : (error.stack ?? error.message)) : String(error);
    process.stderr.write(`FAILED: ${detail}\n`);
  } finally {
    clearTimeout(timer);
    // Each step is bounded and independent: a service that will not stop must not keep the database alive.
    // Should the drop fail or this process be killed first, bench/reaper.ts drops the database after exit.
    if (service) {
      await withinMs(service.stop(), 15_000, 'stopping the service').catch((error: unknown) => {
        process.stderr.write(`warning: ${String(error)}\n`);
      });
    }
    if (scratch) {
      await withinMs(scratch.drop(), 60_000, `dropping ${scratch.name}`).catch((error: unknown) => {
        exitCode = 1;
        process.stderr.write(`warning: could not drop scratch database ${scratch?.name}: ${String(error)}\n`);
      });
    }
  }
  print(`\ntotal wall time ${((Date.now() - started) / 1000).toFixed(1)}s${exitCode === 0 ? '' : ' (FAILED)'}`);
  return exitCode;
}

// Exit explicitly: after a timeout, abandoned sockets or timers must not keep the process alive.
process.exit(await main());
