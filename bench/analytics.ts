import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { fixed, integer, percentile, table } from './format.js';
import { createScratchDatabase, postGraphQL, startService, type RunningService, type ScratchDatabase } from './harness.js';

/**
 * Dashboard reads over a month of data. Loads (untimed) performance metrics, activities and system metrics over
 * 30 days straight into the tables with generate_series, brings the rollups up to date with `insights
 * rebuild-rollups` (timed), then times each dashboard read through GraphQL (p50/p95 over --runs runs, result
 * cache off, then on) next to the same aggregate written by hand in SQL over the raw rows, in the same run.
 * Also the service's resident memory, and the time to drop the month of raw data (`insights cleanup`).
 * Targets: every dashboard read p95 ≤ 100 ms; trend and stats reads ≥ 20× faster than raw; RSS ≤ 300 MB.
 */

export interface AnalyticsBenchmarkOptions {
  adminUrl: string;
  performanceRows: number;
  activityRows: number;
  systemRows: number;
  runs: number;
  /** A database to load into and keep; when it already holds a loaded month, only the reads run. */
  keep?: string | undefined;
  signal: AbortSignal;
  print: (line: string) => void;
}

const DAY = 86_400_000;
const ENDPOINTS = 40;
const USERS = 2_000;
const HOSTS = 4;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Read {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** The same aggregate by hand over raw rows (statements run in turn), or null when there is none to compare. */
  raw: string[] | null;
  /** Counts toward the "≥ 20× faster than raw" target. */
  trend: boolean;
  /**
   * Held to the dashboard targets (p95 ≤ 100 ms, and the speed-up when it is a trend). False for a stress read
   * beyond what a panel draws, printed for scale.
   */
  target?: false;
}

async function gql<Data>(service: RunningService, read: Read, signal: AbortSignal): Promise<Data> {
  const result = await postGraphQL<Data>(service.graphqlUrl, service.apiKey, JSON.stringify({ query: read.query, variables: read.variables }), signal, 120_000);
  if (typeof result === 'string') throw new Error(`${read.name}: ${result}`);
  if (result.errors?.length) throw new Error(`${read.name}: GraphQL errors ${JSON.stringify(result.errors)}`);
  return result.data as Data;
}

async function rssMegabytes(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Runs the operator CLI (compiled as the service is) against the scratch database; resolves with its stdout. */
export function cli(databaseUrl: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', MONITORING_ENABLED: 'false' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`insights ${args.join(' ')} exited with ${code}: ${out}`))));
  });
}

/** Straight into the partitioned tables (their day partitions made first), in chunks so progress shows. */
export async function load(client: pg.Client, options: AnalyticsBenchmarkOptions, start: number, print: (line: string) => void): Promise<void> {
  for (const table of ['performance_metrics', 'user_activities', 'system_metrics']) {
    for (let day = start; day < start + 30 * DAY; day += DAY) {
      const name = `${table}_p${new Date(day).toISOString().slice(0, 10).replace(/-/g, '')}`;
      await client.query(
        `CREATE TABLE IF NOT EXISTS "${name}" PARTITION OF "${table}" FOR VALUES FROM ('${new Date(day).toISOString()}') TO ('${new Date(day + DAY).toISOString()}')`,
      );
    }
  }
  const chunk = 1_000_000;
  const startIso = new Date(start).toISOString();
  const perf = options.performanceRows;
  for (let offset = 0; offset < perf; offset += chunk) {
    const count = Math.min(chunk, perf - offset);
    // Latencies log-normal (Pareto for one search endpoint), 2 % 5xx, endpoint popularity skewed; each endpoint has
    // its method and app, hosts share the load: the shape of a small platform's traffic.
    await client.query(
      `INSERT INTO performance_metrics (metric_name, metric_type, value, unit, response_time_ms, status_code, tags, "timestamp", created_at)
       SELECT 'http_request', 'HISTOGRAM', 1, 'ms',
         CASE WHEN e = 7 THEN round((20 / power(1 - random(), 1 / 1.5))::numeric, 3)::float8
              ELSE round(exp(4.5 + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 3)::float8 END,
         CASE WHEN r < 0.02 THEN 503 WHEN r < 0.07 THEN 404 ELSE 200 END,
         jsonb_build_object('endpoint', '/api/e' || e, 'method', (ARRAY['GET','POST','PUT','DELETE'])[e % 4 + 1],
           'app', CASE WHEN e % 3 = 0 THEN 'admin' ELSE 'shop' END, 'host', 'web-' || (g % ${HOSTS} + 1), 'environment', 'production'),
         ts, ts
       FROM (SELECT g, floor(${ENDPOINTS} * power(random(), 2))::int AS e, random() AS r,
                    $1::timestamptz + ((g + random()) / $2::float8) * interval '30 days' AS ts
             FROM generate_series($3::bigint, $4::bigint) AS g) AS s`,
      [startIso, perf, offset, offset + count - 1],
    );
    print(`  performance_metrics ${integer(offset + count)} / ${integer(perf)}`);
  }
  const acts = options.activityRows;
  for (let offset = 0; offset < acts; offset += chunk) {
    const count = Math.min(chunk, acts - offset);
    await client.query(
      `INSERT INTO user_activities (user_id, activity_type, metadata, "timestamp", created_at)
       SELECT 'user-' || floor(${USERS} * power(random(), 2))::int,
         (ARRAY['login','PAGE_VIEW','PAGE_UPDATE','PAGE_VIEW','PROJECT_CREATE','PAGE_VIEW','PROJECT_PUBLISH','logout'])[floor(8 * random())::int + 1],
         jsonb_build_object('time_spent_seconds', floor(600 * random())::int), ts, ts
       FROM (SELECT $1::timestamptz + ((g + random()) / $2::float8) * interval '30 days' AS ts FROM generate_series($3::bigint, $4::bigint) AS g) AS s`,
      [startIso, acts, offset, offset + count - 1],
    );
    print(`  user_activities ${integer(offset + count)} / ${integer(acts)}`);
  }
  const sys = options.systemRows;
  await client.query(
    `INSERT INTO system_metrics (metric_name, metric_type, value, unit, host, tags, "timestamp", created_at)
     SELECT m, 'GAUGE', round((100 * random())::numeric, 2)::float8, 'percent', h, jsonb_build_object('host', h, 'environment', 'production'), ts, ts
     FROM (SELECT (ARRAY['cpu_usage','memory_usage','disk_usage','load_average_1m'])[g % 4 + 1] AS m, 'web-' || ((g / 4) % ${HOSTS} + 1) AS h,
                  $1::timestamptz + (g::float8 / $2::float8) * interval '30 days' AS ts
           FROM generate_series(0::bigint, $2::bigint - 1) AS g) AS s`,
    [startIso, sys],
  );
  print(`  system_metrics ${integer(sys)}`);
  await client.query('ANALYZE');
}

/** The loaded month is recorded in the kept database itself, so a later run knows what it holds. */
const MONTH_TABLE = 'bench_analytics_month';

async function keptDatabase(adminUrl: string, name: string): Promise<ScratchDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // The name was checked against [a-z][a-z0-9_]*, so it is safe to splice into DDL.
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: async () => undefined };
}

export async function keptMonth(adminUrl: string, name: string): Promise<{ database: ScratchDatabase; start: number; end: number } | undefined> {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    await client.connect();
    const result = await client.query<{ start: string; end: string }>(`SELECT start::text, "end"::text FROM ${MONTH_TABLE}`);
    const row = result.rows[0];
    if (!row) return undefined;
    return { database: { name, url: url.toString(), drop: async () => undefined }, start: Number(row.start), end: Number(row.end) };
  } catch {
    return undefined; // no such database, or not loaded to the end: load it again
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function markMonth(databaseUrl: string, start: number, end: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`CREATE TABLE ${MONTH_TABLE} (start bigint NOT NULL, "end" bigint NOT NULL)`);
    await client.query(`INSERT INTO ${MONTH_TABLE} VALUES ($1, $2)`, [start, end]);
  } finally {
    await client.end();
  }
}

/**
 * Migrates a fresh database (a first start of the service makes its partitions) and loads the month into it, ending
 * at today's UTC midnight; answers the month's bounds.
 */
export async function migrateAndLoad(url: string, options: AnalyticsBenchmarkOptions): Promise<{ start: number; end: number }> {
  const service = await startService(url, { env: { INSIGHTS_ANALYTICS_CACHE: 'false' } });
  await service.stop();
  const data = new pg.Client({ connectionString: url });
  await data.connect();
  const end = Math.floor(Date.now() / DAY) * DAY;
  const start = end - 30 * DAY;
  try {
    await load(data, options, start, options.print);
  } finally {
    await data.end();
  }
  return { start, end };
}

export async function runAnalyticsBenchmark(options: AnalyticsBenchmarkOptions): Promise<{ problems: string[] }> {
  const { print, signal } = options;
  const problems: string[] = [];
  let scratch: ScratchDatabase | undefined;
  let service: RunningService | undefined;
  try {
    let month = options.keep ? await keptMonth(options.adminUrl, options.keep) : undefined;
    if (month) {
      scratch = month.database;
      print(`analytics: reusing database ${options.keep}, loaded with the month ${new Date(month.start).toISOString()} to ${new Date(month.end).toISOString()} (no load, no rebuild)`);
    } else {
      scratch = options.keep ? await keptDatabase(options.adminUrl, options.keep) : await createScratchDatabase(options.adminUrl);
      print(`analytics: loading ${integer(options.performanceRows)} performance metrics, ${integer(options.activityRows)} activities and ${integer(options.systemRows)} system metrics over 30 days (untimed)…`);
      const loadStarted = performance.now();
      const { start, end } = await migrateAndLoad(scratch.url, options);
      print(`  loaded in ${fixed((performance.now() - loadStarted) / 1000, 0)} s`);

      const rebuildStarted = performance.now();
      const rebuilt = await cli(scratch.url, ['rebuild-rollups', '--from', new Date(start).toISOString(), '--to', new Date(end).toISOString()]);
      const rebuildSeconds = (performance.now() - rebuildStarted) / 1000;
      print(`  rollups brought up to date (insights rebuild-rollups) in ${fixed(rebuildSeconds, 1)} s: ${rebuilt.trim()}`);
      month = { database: scratch, start, end };
      if (options.keep) await markMonth(scratch.url, start, end);
    }
    const { start, end } = month;

    const from7 = new Date(end - 7 * DAY).toISOString();
    const from30 = new Date(start).toISOString();
    const to = new Date(end).toISOString();
    const lastDay = new Date(end - DAY).toISOString();
    const reads: Read[] = [
      {
        name: 'performanceTrends HOUR, 7 days',
        query: `query($from: DateTime, $to: DateTime) { performanceTrends(interval: HOUR, filter: { from: $from, to: $to }) { bucketStart count avg p50 p95 p99 errorRate } }`,
        variables: { from: from7, to },
        raw: [
          `SELECT date_trunc('hour', "timestamp") b, count(*), avg(response_time_ms), percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY response_time_ms),
             avg((status_code >= 500)::int) FROM performance_metrics WHERE "timestamp" >= '${from7}' AND "timestamp" < '${to}' GROUP BY 1`,
        ],
        trend: true,
      },
      {
        name: 'performanceTrends DAY by endpoint, 30 days',
        query: `query($from: DateTime, $to: DateTime) { performanceTrends(interval: DAY, groupByTag: "endpoint", filter: { from: $from, to: $to }) { bucketStart group count avg p50 p95 p99 errorRate } }`,
        variables: { from: from30, to },
        raw: [
          `SELECT date_trunc('day', "timestamp") b, tags->>'endpoint', count(*), avg(response_time_ms), percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY response_time_ms),
             avg((status_code >= 500)::int) FROM performance_metrics WHERE "timestamp" >= '${from30}' AND "timestamp" < '${to}' GROUP BY 1, 2`,
        ],
        trend: true,
      },
      {
        name: 'performanceTrends HOUR by endpoint, 30 days',
        query: `query($from: DateTime, $to: DateTime) { performanceTrends(interval: HOUR, groupByTag: "endpoint", filter: { from: $from, to: $to }) { bucketStart group count p95 errorRate } }`,
        variables: { from: from30, to },
        raw: [
          `SELECT date_trunc('hour', "timestamp") b, tags->>'endpoint', count(*), percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms),
             avg((status_code >= 500)::int) FROM performance_metrics WHERE "timestamp" >= '${from30}' AND "timestamp" < '${to}' GROUP BY 1, 2`,
        ],
        trend: true,
        // 720 hours × 40 endpoints = 28,800 points, truncated at 10,000 buckets: more than a panel can draw (the
        // issue's 30-day read by endpoint is the DAY one above). Printed to show where the rollups end.
        target: false,
      },
      {
        name: 'userActivityStats, 30 days',
        query: `query($from: DateTime, $to: DateTime) { userActivityStats(filter: { from: $from, to: $to }) { totalActivities uniqueUsers byType { key count } byUser { key count } byDay { key count } } }`,
        variables: { from: from30, to },
        raw: [
          `SELECT count(*), count(DISTINCT user_id) FROM user_activities WHERE "timestamp" >= '${from30}' AND "timestamp" < '${to}'`,
          `SELECT activity_type, count(*) FROM user_activities WHERE "timestamp" >= '${from30}' AND "timestamp" < '${to}' GROUP BY 1 ORDER BY 2 DESC LIMIT 100`,
          `SELECT user_id, count(*) FROM user_activities WHERE "timestamp" >= '${from30}' AND "timestamp" < '${to}' GROUP BY 1 ORDER BY 2 DESC LIMIT 100`,
          `SELECT date_trunc('day', "timestamp"), count(*) FROM user_activities WHERE "timestamp" >= '${from30}' AND "timestamp" < '${to}' GROUP BY 1`,
        ],
        trend: true,
      },
      {
        name: 'performanceMetrics(first: 50, tags: endpoint) + totalCount',
        query: `{ performanceMetrics(first: 50, filter: { tags: { endpoint: "/api/e3" } }) { totalCount totalCountExact edges { node { id responseTimeMs statusCode timestamp } } } }`,
        variables: {},
        raw: [
          `SELECT count(*) FROM performance_metrics WHERE tags @> '{"endpoint": "/api/e3"}'`,
          `SELECT id, response_time_ms, status_code, "timestamp" FROM performance_metrics WHERE tags @> '{"endpoint": "/api/e3"}' ORDER BY "timestamp" DESC, id DESC LIMIT 51`,
        ],
        trend: false,
      },
      {
        name: 'currentSystemMetrics',
        query: `{ currentSystemMetrics { metricName value tags timestamp } }`,
        variables: {},
        raw: null,
        trend: false,
      },
      {
        name: "one host's system metrics, last 24 h + totalCount",
        query: `query($from: DateTime) { systemMetrics(first: 50, filter: { host: "web-1", from: $from }) { totalCount edges { node { metricName value timestamp } } } }`,
        variables: { from: lastDay },
        raw: [`SELECT count(*) FROM system_metrics WHERE host = 'web-1' AND "timestamp" >= '${lastDay}'`],
        trend: false,
      },
    ];

    const time = async (work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      return performance.now() - started;
    };
    const rawClient = new pg.Client({ connectionString: scratch.url });
    await rawClient.connect();
    const rows: string[][] = [];
    const measured: { read: Read; cold: number[]; warm: number[]; raw: number[]; rss: number }[] = reads.map((read) => ({ read, cold: [], warm: [], raw: [], rss: Number.NaN }));
    try {
      // Raw first (the service is not running, so it does not compete): as many runs as the reads, to compare p50s.
      for (const entry of measured) {
        if (!entry.read.raw) continue;
        for (let run = 0; run < Math.min(options.runs, 3); run += 1) {
          entry.raw.push(await time(async () => {
            for (const statement of entry.read.raw ?? []) await rawClient.query(statement);
          }));
        }
      }
    } finally {
      await rawClient.end();
    }
    // The reads with a target first; the stress read (no target) last, so that the RSS target is judged on the
    // issue's reads and what the stress read adds is printed beside it.
    const ordered = [...measured.filter((entry) => entry.read.target !== false), ...measured.filter((entry) => entry.read.target === false)];
    for (const cache of [false, true]) {
      service = await startService(scratch.url, { env: { INSIGHTS_ANALYTICS_CACHE: String(cache) } });
      let targetRss = Number.NaN;
      for (const entry of ordered) {
        if (!cache && entry.read.target === false && Number.isNaN(targetRss)) targetRss = await rssMegabytes(service.pid);
        await gql(service, entry.read, signal); // warm-up: connections, plans, (with the cache) the entry
        for (let run = 0; run < options.runs; run += 1) (cache ? entry.warm : entry.cold).push(await time(() => gql(service as RunningService, entry.read, signal)));
        // Resident memory once this read has run (cumulative: RSS rarely shrinks), to see which read grows it.
        if (!cache) entry.rss = await rssMegabytes(service.pid);
      }
      if (!cache) {
        const rss = await rssMegabytes(service.pid);
        if (Number.isNaN(targetRss)) targetRss = rss;
        print(`  service RSS after the reads with a target: ${fixed(targetRss, 0)} MB (target ≤ 300 MB); after the stress read too: ${fixed(rss, 0)} MB (no target)`);
        if (targetRss > 300) problems.push(`service RSS ${fixed(targetRss, 0)} MB above 300 MB`);
      }
      await service.stop();
      service = undefined;
    }
    for (const { read, cold, warm, raw, rss } of measured) {
      cold.sort((a, b) => a - b);
      warm.sort((a, b) => a - b);
      raw.sort((a, b) => a - b);
      const p50 = percentile(cold, 0.5);
      const p95 = percentile(cold, 0.95);
      const rawP50 = raw.length > 0 ? percentile(raw, 0.5) : Number.NaN;
      const speedup = rawP50 / p50;
      rows.push([
        read.target === false ? `${read.name} (stress, no target)` : read.name,
        fixed(p50, 1),
        fixed(p95, 1),
        fixed(percentile(warm, 0.5), 1),
        raw.length > 0 ? fixed(rawP50, 0) : '—',
        raw.length > 0 ? `${fixed(speedup, 0)}×` : '—',
        fixed(rss, 0),
      ]);
      if (read.target === false) continue;
      if (p95 > 100) problems.push(`${read.name}: p95 ${fixed(p95, 1)} ms above 100 ms`);
      if (read.trend && speedup < 20) problems.push(`${read.name}: only ${fixed(speedup, 1)}× faster than the raw aggregate (target 20×)`);
    }
    print('');
    print(`reads over ${options.runs} runs each (ms; cold = result cache off, so served by rollups every time):`);
    print(table(['read', 'p50 cold', 'p95 cold', 'p50 cached', 'raw SQL p50', 'speed-up', 'RSS after, MB'], rows));

    if (options.keep) {
      print('');
      print(`retention: not timed, database ${options.keep} kept (drop it with DROP DATABASE ${options.keep})`);
      return { problems };
    }
    // Retention: the whole month of raw data, dropped as day partitions.
    const minutes = Math.floor((Date.now() - end) / 60_000);
    const dropStarted = performance.now();
    const cleanup = await cli(scratch.url, ['cleanup', '--older-than', `${Math.max(1, minutes)}m`]);
    const dropSeconds = (performance.now() - dropStarted) / 1000;
    const deleted = /Deleted ([\d,]+) records/.exec(cleanup)?.[1] ?? '?';
    print('');
    print(`retention: dropped a month of raw data (${deleted} records, as day partitions) in ${fixed(dropSeconds, 1)} s (insights cleanup, process start included)`);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    await service?.stop().catch(() => undefined);
    await scratch?.drop().catch(() => undefined);
  }
  return { problems };
}
