import pg from 'pg';

/**
 * Runs beside a benchmark (started by harness.ts) and drops its scratch database once the benchmark process is
 * gone, however it ended. The benchmark drops the database itself when it can; this covers SIGKILL, which tsx
 * sends to a child that does not acknowledge a signal within ~60 ms (likely while the service saturates the
 * event loop), and out-of-memory kills. The only cue is end-of-file on stdin: the pipe closes when the parent
 * exits for any reason.
 */

const adminUrl = process.env.INSIGHTS_BENCH_ADMIN_URL;
const database = process.env.INSIGHTS_BENCH_DATABASE;

// The name is spliced into DDL, so accept nothing but what harness.ts generates.
if (!adminUrl || !database || !/^insights_bench_[0-9a-f]{8}$/.test(database)) {
  process.stderr.write('bench reaper: INSIGHTS_BENCH_ADMIN_URL and INSIGHTS_BENCH_DATABASE are required\n');
  process.exit(2);
}

// A terminal Ctrl-C reaches the whole process group; the reaper must outlive it to do its one job.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

async function drop(): Promise<void> {
  const client = new pg.Client({
    connectionString: adminUrl,
    application_name: 'insights-bench-reaper',
    connectionTimeoutMillis: 10_000,
    statement_timeout: 60_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } catch (error) {
    process.stderr.write(`bench reaper: could not drop ${database}: ${String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await client.end().catch(() => undefined);
  }
}

let dropping: Promise<void> | undefined;
const onParentGone = () => {
  dropping ??= drop().finally(() => process.exit());
};
process.stdin.on('end', onParentGone);
process.stdin.on('close', onParentGone);
process.stdin.on('error', onParentGone);
process.stdin.resume();
