import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { fixed, integer, table } from './format.js';

/**
 * Reports and exports at scale: a day of `rows` user activities (1,000,000 by default) exported over
 * GET /export (CSV) and by `insights export-analytics` (NDJSON, its own process), with the resident memory of
 * the exporting process sampled throughout and shown next to its baseline in the same run (the idle service; the
 * same command exporting an empty day); then the daily report of that day, generated through the analytics layer.
 */

const DAY = '2024-03-01';
/**
 * Exporting the day may grow a process's RSS by at most this much over its baseline. Holding the export would
 * take more than the CSV itself (127 MB for 1,000,000 rows) plus its rows as objects (several hundred MB); what
 * streaming costs is V8 and the allocator keeping some freed pages, which does not grow with the rows (compare
 * the tenth of the day with the whole day, and the second run with the first).
 */
export const RSS_GROWTH_LIMIT_MB = 200;

export interface ReportsBenchmarkOptions {
  url: string;
  apiKey: string;
  databaseUrl: string;
  rows: number;
  signal: AbortSignal;
  print: (line: string) => void;
}

/** Resident set size of a process, in bytes (Linux). */
async function rssOf(pid: number): Promise<number | null> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const kb = status ? /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] : undefined;
  return kb ? Number(kb) * 1024 : null;
}

/** The service the harness started: this process's child running src/main.ts. */
async function servicePid(): Promise<number | null> {
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== process.pid) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('src/main.ts')) return Number(entry);
  }
  return null;
}

/** Samples a process's RSS every 50 ms until stopped; returns the peak. */
function sampleRss(pid: number) {
  let peak = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const rss = await rssOf(pid);
      if (rss === null) break;
      peak = Math.max(peak, rss);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return peak;
    },
  };
}

async function graphql<Data>(options: ReportsBenchmarkOptions, query: string): Promise<Data> {
  const response = await fetch(`${options.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
    signal: options.signal,
  });
  const body = (await response.json()) as { data?: Data; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const mb = (bytes: number) => `${fixed(bytes / 1024 / 1024, 1)} MB`;

async function seed(databaseUrl: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const step = 200_000;
    for (let start = 0; start < rows; start += step) {
      const end = Math.min(rows, start + step) - 1;
      // Spread over the day; about 200 bytes a row, with JSON metadata.
      await client.query(
        `INSERT INTO user_activities (user_id, activity_type, description, metadata, timestamp)
         SELECT 'user-' || (i % 20000), (ARRAY['login', 'PAGE_VIEW', 'PAGE_UPDATE', 'PROJECT_CREATE', 'PROJECT_PUBLISH'])[1 + i % 5],
                CASE WHEN i % 10 = 0 THEN 'opened "editor", saved' END, jsonb_build_object('i', i, 'page', '/projects/' || (i % 977)),
                $1::timestamptz + (i::float8 / $2) * interval '1 day'
         FROM generate_series($3::int, $4::int) AS i`,
        [`${DAY}T00:00:00Z`, rows, start, end],
      );
    }
    await client.query('INSERT INTO user_first_seen (user_id, first_seen, last_seen) SELECT user_id, min(timestamp), max(timestamp) FROM user_activities GROUP BY user_id ON CONFLICT (user_id) DO NOTHING');
    await client.query('ANALYZE user_activities');
  } finally {
    await client.end();
  }
}

/** Runs `insights export-analytics` as operators do and samples its RSS; resolves with its peak and exit code. */
async function cliExport(databaseUrl: string, args: string[]): Promise<{ code: number | null; peak: number; seconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'export-analytics', ...args], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const sampler = sampleRss(child.pid as number);
  const code = await exited;
  return { code, peak: await sampler.stop(), seconds: (performance.now() - started) / 1000 };
}

export async function runReportsBenchmark(options: ReportsBenchmarkOptions): Promise<{ problems: string[] }> {
  const { print, rows } = options;
  const problems: string[] = [];
  print(`Reports: seeding ${integer(rows)} activities on ${DAY}…`);
  let started = performance.now();
  await seed(options.databaseUrl, rows);
  print(`  seeded in ${fixed((performance.now() - started) / 1000, 1)} s`);

  const pid = await servicePid();
  if (pid === null) throw new Error('could not find the service process');
  await sleep(1_000);
  const baseline = (await rssOf(pid)) ?? 0;

  /** Streams GET /export to the end, counting bytes and lines, while sampling the service's RSS. */
  const httpExport = async (query: string) => {
    const sampler = sampleRss(pid);
    const begun = performance.now();
    const response = await fetch(`${options.url}/export?${query}`, {
      headers: { authorization: `Bearer ${options.apiKey}`, 'accept-encoding': 'identity' },
      signal: options.signal,
    });
    let bytes = 0;
    let lines = 0;
    const reader = response.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      for (const byte of value) if (byte === 10) lines += 1;
    }
    // The header line, then one line per row (descriptions here hold no line break).
    return { rows: lines - 1, bytes, seconds: (performance.now() - begun) / 1000, peak: await sampler.stop() };
  };
  print('Reports: GET /export (CSV) of the first tenth of the day, then of the whole day…');
  const tenth = await httpExport(`family=activity&from=${DAY}T00:00:00Z&to=${DAY}T02:24:00Z&format=csv`);
  const http = await httpExport(`family=activity&date=${DAY}&format=csv`);
  // Once more: memory that only grows with the rows exported would grow again here.
  const again = await httpExport(`family=activity&date=${DAY}&format=csv`);
  if (http.rows !== rows) problems.push(`GET /export returned ${integer(http.rows)} rows, expected ${integer(rows)}`);
  if (tenth.rows !== Math.ceil(rows / 10)) problems.push(`GET /export of a tenth of the day returned ${integer(tenth.rows)} rows, expected ${integer(Math.ceil(rows / 10))}`);

  print('Reports: insights export-analytics (NDJSON, own process), and the same command on an empty day as its baseline…');
  const cliBaseline = await cliExport(options.databaseUrl, ['--format', 'ndjson', '--date', '2020-01-01', '--family', 'activity', '--out', '/dev/null']);
  const cli = await cliExport(options.databaseUrl, ['--format', 'ndjson', '--date', DAY, '--family', 'activity', '--out', '/dev/null']);
  if (cli.code !== 0 || cliBaseline.code !== 0) problems.push(`export-analytics exited with ${cli.code} (baseline run: ${cliBaseline.code})`);

  print('Reports: the daily report of that day…');
  started = performance.now();
  const generated = await graphql<{ generateReport: { id: string } }>(
    options,
    `mutation { generateReport(input: { type: DAILY, from: "${DAY}T12:00:00Z", timeZone: "UTC" }) { id } }`,
  );
  const id = generated.generateReport.id;
  let status = 'PENDING';
  let active: number | null = null;
  while ((status === 'PENDING' || status === 'RUNNING')) {
    await sleep(200);
    const polled = await graphql<{ report: { status: string; error: string | null; summary: { users: { activeUsers: { value: number } } } | null } }>(
      options,
      `query { report(id: "${id}") { status error summary { users { activeUsers { value } } } } }`,
    );
    status = polled.report.status;
    active = polled.report.summary?.users.activeUsers.value ?? null;
    if (status === 'FAILED') problems.push(`the report failed: ${polled.report.error}`);
  }
  const reportSeconds = (performance.now() - started) / 1000;
  if (active !== 20_000 && active !== Math.min(20_000, rows)) problems.push(`the report counted ${active} active users, expected ${Math.min(20_000, rows)}`);

  const growth = (peak: number, base: number) => peak - base;
  print('');
  print(
    table(
      ['export', 'rows', 'output', 'seconds', 'rows/s', 'baseline RSS', 'peak RSS', 'growth'],
      [
        ['GET /export CSV, 1/10 day (service)', integer(tenth.rows), mb(tenth.bytes), fixed(tenth.seconds, 1), integer(tenth.rows / tenth.seconds), mb(baseline), mb(tenth.peak), mb(growth(tenth.peak, baseline))],
        ['GET /export CSV, whole day (service)', integer(http.rows), mb(http.bytes), fixed(http.seconds, 1), integer(http.rows / http.seconds), mb(baseline), mb(http.peak), mb(growth(http.peak, baseline))],
        ['GET /export CSV, whole day again', integer(again.rows), mb(again.bytes), fixed(again.seconds, 1), integer(again.rows / again.seconds), mb(baseline), mb(again.peak), mb(growth(again.peak, baseline))],
        ['export-analytics NDJSON (CLI)', integer(rows), '(to /dev/null)', fixed(cli.seconds, 1), integer(rows / cli.seconds), mb(cliBaseline.peak), mb(cli.peak), mb(growth(cli.peak, cliBaseline.peak))],
      ],
    ),
  );
  print('');
  print(`daily report of ${integer(rows)} activities: ${status} in ${fixed(reportSeconds, 1)} s (analytics read path of this branch)`);
  for (const [what, peak, base] of [
    ['service', http.peak, baseline],
    ['command line', cli.peak, cliBaseline.peak],
  ] as const) {
    if (growth(peak, base) > RSS_GROWTH_LIMIT_MB * 1024 * 1024) {
      problems.push(`exporting grew the ${what}'s RSS by ${mb(growth(peak, base))}, over ${RSS_GROWTH_LIMIT_MB} MB`);
    }
  }
  print(`RSS growth limit: ${RSS_GROWTH_LIMIT_MB} MB over the baseline — ${problems.length === 0 ? 'met' : 'NOT met'}`);
  return { problems };
}
