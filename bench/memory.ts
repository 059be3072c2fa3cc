import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_ADMIN_KEY, createScratchDatabase, DEFAULT_ADMIN_URL } from './harness.js';

/**
 * `npm run bench:memory`: the resident memory (RSS) of the service, started as its own process the way `npm start`
 * starts it (`node dist/start.js`, compiled by `npm run build`), beside the way `npm start` used to start it
 * (`node --import tsx src/main.ts`, compiling TypeScript on the fly), on each kind of database: embedded PGlite
 * (first start on a new data directory, which runs initdb, then a restart on it) and PostgreSQL.
 *
 * For each run: RSS once the service is listening and has been left alone for --settle seconds ("idle"), then
 * after a few requests (a batch write and --requests rounds of queries through Prisma and raw SQL) and the same
 * pause, and the peak (VmHWM). The service keeps its defaults otherwise (MONITORING_ENABLED included, as
 * `npm start` has it). Linux only: it reads /proc/<pid>/status.
 */

const USAGE = `Usage: npm run bench:memory [-- options]

  --settle S      seconds the service is left alone before each reading (default 5)
  --requests N    rounds of queries between the two readings (default 10)
  --only KIND     pglite or postgres (default: both)

PostgreSQL runs get a scratch database on DATABASE_URL, or ${DEFAULT_ADMIN_URL}.
BENCH_NODE_FLAGS adds Node.js flags to both commands (e.g. "--max-semi-space-size=4").`;

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const COMMANDS = {
  tsx: { label: 'tsx (former npm start)', args: ['--import', 'tsx', 'src/main.ts'] },
  compiled: { label: 'compiled (npm start)', args: ['dist/start.js'] },
} as const;
type CommandName = keyof typeof COMMANDS;

interface Reading {
  idleMb: number;
  afterRequestsMb: number;
  peakMb: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function procStatusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${field}:`));
  const kb = Number.parseInt(line?.split(/\s+/)[1] ?? '', 10);
  if (!Number.isFinite(kb)) throw new Error(`no ${field} for process ${pid}`);
  return Math.round(kb / 1024);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function graphql(url: string, query: string, variables?: unknown): Promise<void> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { errors?: unknown[] };
  if (!response.ok || body.errors) throw new Error(`request failed (${response.status}): ${JSON.stringify(body)}`);
}

async function exercise(url: string, rounds: number): Promise<void> {
  const batch = Array.from({ length: 100 }, (_, i) => ({
    metricName: 'memory_bench',
    metricType: 'GAUGE',
    value: i,
    tags: { host: 'bench' },
  }));
  await graphql(url, 'mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }', { input: batch });
  for (let round = 0; round < rounds; round += 1) {
    await graphql(
      url,
      `{ systemMetrics(first: 50, filter: { metricName: "memory_bench" }) { totalCount edges { node { metricName value tags } } }
         currentSystemMetrics { metricName value }
         apiKeys { id name scopes }
         jobs { name lastRun { status } } }`,
    );
  }
}

async function measure(command: CommandName, env: NodeJS.ProcessEnv, settleMs: number, rounds: number): Promise<Reading> {
  const port = await freePort();
  // BENCH_NODE_FLAGS (as for `npm run bench`): extra Node.js flags for both commands, to try V8 settings.
  const flags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...flags, ...COMMANDS[command].args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      INSIGHTS_ADMIN_KEY: BENCH_ADMIN_KEY,
      INSIGHTS_RATE_LIMIT_ADMIN: '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command} run exited with code ${child.exitCode} while starting`);
      if (Date.now() > deadline) throw new Error(`${command} run did not answer /health within 120 s`);
      const ok = await fetch(`${url}/health`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) break;
      await sleep(100);
    }
    const pid = child.pid!;
    await sleep(settleMs);
    const idleMb = procStatusMb(pid, 'VmRSS');
    await exercise(url, rounds);
    await sleep(settleMs);
    return { idleMb, afterRequestsMb: procStatusMb(pid, 'VmRSS'), peakMb: procStatusMb(pid, 'VmHWM') };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

interface Row {
  database: string;
  start: string;
  readings: Record<CommandName, Reading>;
}

function printTable(rows: Row[]): void {
  const names = Object.keys(COMMANDS) as CommandName[];
  const header = ['database', 'start', 'reading', ...names.map((name) => COMMANDS[name].label), 'saved'];
  const lines: string[][] = [];
  for (const row of rows) {
    for (const [key, label] of [
      ['idleMb', 'idle RSS'],
      ['afterRequestsMb', 'RSS after requests'],
      ['peakMb', 'peak RSS'],
    ] as const) {
      const values = names.map((name) => row.readings[name][key]);
      lines.push([row.database, row.start, label, ...values.map((mb) => `${mb} MB`), `${values[0]! - values[values.length - 1]!} MB`]);
    }
  }
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  process.stdout.write(`${format(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const line of lines) process.stdout.write(`${format(line)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      settle: { type: 'string', default: '5' },
      requests: { type: 'string', default: '10' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const settleMs = Number(values.settle) * 1000;
  const rounds = Number(values.requests);
  if (!(settleMs >= 0) || !Number.isInteger(rounds) || rounds < 0 || (values.only && !['pglite', 'postgres'].includes(values.only))) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (!existsSync(path.join(ROOT, 'dist/start.js'))) throw new Error('dist/start.js is missing: run `npm run build` first');
  const rows: Row[] = [];

  if (values.only !== 'postgres') {
    const first = {} as Record<CommandName, Reading>;
    const restart = {} as Record<CommandName, Reading>;
    for (const command of Object.keys(COMMANDS) as CommandName[]) {
      const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'insights-memory-'));
      try {
        process.stderr.write(`pglite, ${command}: first start on a new data directory…\n`);
        first[command] = await measure(command, { INSIGHTS_DATA_DIR: dataDir }, settleMs, rounds);
        process.stderr.write(`pglite, ${command}: restart on that directory…\n`);
        restart[command] = await measure(command, { INSIGHTS_DATA_DIR: dataDir }, settleMs, rounds);
      } finally {
        await fs.rm(dataDir, { recursive: true, force: true });
      }
    }
    rows.push({ database: 'pglite', start: 'new data directory', readings: first });
    rows.push({ database: 'pglite', start: 'existing directory', readings: restart });
  }

  if (values.only !== 'pglite') {
    const readings = {} as Record<CommandName, Reading>;
    for (const command of Object.keys(COMMANDS) as CommandName[]) {
      const database = await createScratchDatabase(process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL);
      try {
        process.stderr.write(`postgres, ${command}…\n`);
        readings[command] = await measure(command, { DATABASE_URL: database.url }, settleMs, rounds);
      } finally {
        await database.drop();
      }
    }
    rows.push({ database: 'postgres', start: 'new database', readings });
  }

  process.stdout.write(`\nResident memory of the service (Node.js ${process.versions.node}, settle ${settleMs / 1000} s, ${rounds} query rounds)\n\n`);
  printTable(rows);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
