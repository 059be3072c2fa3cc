import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, Socket, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** Shared plumbing for every benchmark: a throw-away database, the real service, and time bounds. */

export const DEFAULT_ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

// Fixed so runs are reproducible; it only ever opens a scratch database that is dropped at exit.
export const BENCH_ADMIN_KEY = 'insights-bench-admin-key-0123456789abcdef';

export interface ScratchDatabase {
  name: string;
  url: string;
  /** Idempotent; FORCE also ends sessions a timed-out phase may have left behind. */
  drop(): Promise<void>;
}

async function withAdminClient<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: adminUrl,
    application_name: 'insights-bench-admin',
    connectionTimeoutMillis: 10_000,
    statement_timeout: 60_000,
  });
  // Without a listener a dropped admin connection would crash the process instead of failing this call.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts bench/reaper.ts, which drops `name` as soon as this process is gone; see there for why. */
function startReaper(adminUrl: string, name: string): ChildProcess {
  const reaper = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./reaper.ts', import.meta.url))], {
    // From the project root, so `--import tsx` resolves to the project's tsx.
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    // Through the environment, not argv: the URL may carry a password, and argv is visible to everyone.
    env: { ...process.env, INSIGHTS_BENCH_ADMIN_URL: adminUrl, INSIGHTS_BENCH_DATABASE: name },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  reaper.on('error', (error) => process.stderr.write(`warning: bench reaper did not start: ${error.message}\n`));
  // Neither the reaper nor its pipe may keep this process alive; the pipe closing is the reaper's signal.
  reaper.unref();
  if (reaper.stdin instanceof Socket) reaper.stdin.unref();
  reaper.stdin?.on('error', () => undefined);
  return reaper;
}

export async function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  // Hex only, so the name is safe to splice into DDL (identifiers cannot be bound parameters).
  const name = `insights_bench_${randomBytes(4).toString('hex')}`;
  // Started before the database exists, so there is no moment at which a kill would leave it behind.
  const reaper = startReaper(adminUrl, name);
  const release = () => reaper.stdin?.end();
  try {
    await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  } catch (error) {
    release();
    throw error;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    name,
    url: url.toString(),
    drop: () => {
      // Dropped here rather than left to the reaper so a failure is reported; the reaper then finds nothing.
      dropping ??= withAdminClient(adminUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }).finally(release);
      return dropping;
    },
  };
}

/**
 * Scratch databases of runs that were killed (SIGKILL, power loss) before they could drop them. Only listed:
 * another benchmark may be using one right now, and a name says nothing about whether its run is over.
 */
export async function existingScratchDatabases(adminUrl: string): Promise<string[]> {
  return withAdminClient(adminUrl, async (client) => {
    const result = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'insights\\_bench\\_%' ORDER BY datname",
    );
    return result.rows.map((row) => row.datname);
  });
}

export interface RunningService {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The service process, for its memory (/proc/<pid>/status). */
  pid: number;
  graphqlUrl: string;
  apiKey: string;
  pubsub: 'redis' | 'in-process';
  stop(): Promise<void>;
}

/** A free TCP port on loopback, for the service to listen on. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let built: Promise<string> | undefined;

/** Compiles the service once per benchmark run (scripts/build.mjs into dist-bench/, what `npm start` does into dist/). */
function buildService(): Promise<string> {
  built ??= new Promise<string>((resolve, reject) => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(process.execPath, ['scripts/build.mjs', 'dist-bench'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(`${root}dist-bench/start.js`) : reject(new Error(`build exited with ${code}`))));
  });
  return built;
}

/**
 * Starts the real service as its own process, compiled as `npm start` runs it (BENCH_TSX=1: under tsx from the
 * sources), so the load generator in this process does not share the service's event loop, as in production.
 */
export async function startService(databaseUrl: string, options: { redisUrl?: string; env?: Record<string, string> }): Promise<RunningService> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    // Loopback only: the benchmark has no reason to expose a port on the machine's interfaces.
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    MONITORING_ENABLED: 'false',
    INSIGHTS_ADMIN_KEY: BENCH_ADMIN_KEY,
    // The benchmark is one client pushing as fast as it can; the per-key limits are not what is measured.
    INSIGHTS_RATE_LIMIT_ADMIN: '0',
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    // INSIGHTS_* settings in the benchmark's own environment reach the service (to measure one setting's cost).
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('INSIGHTS_'))),
    ...options.env,
  };
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [];
  const entry = process.env.BENCH_TSX === '1' ? ['--import', 'tsx', 'src/start.ts'] : [await buildService()];
  const child = spawn(process.execPath, [...profile, ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), ...entry], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let health: { pubsub?: { mode?: 'redis' | 'in-process' } } | undefined;
  while (!health) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode} while starting`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the service did not become healthy within 60 s');
    }
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) health = (await response.json()) as typeof health;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    pid: child.pid as number,
    graphqlUrl: `${url}/graphql`,
    apiKey: BENCH_ADMIN_KEY,
    pubsub: health?.pubsub?.mode ?? 'in-process',
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0 && code !== null) process.stderr.write(`warning: the service exited with code ${code}\n`);
    },
  };
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts. The abandoned promise is kept from becoming an
 * unhandled rejection, which would kill the process before cleanup could drop the scratch database.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Bounds a step (cleanup above all) that must not hold the exit hostage. */
export async function withinMs<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface GraphQLPostResult<Data> {
  status: number;
  data?: Data | null;
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/**
 * POSTs one GraphQL body with the key; returns the parsed answer, or a description of why there is none
 * (network failure, time-out, a body that is not JSON).
 */
export async function postGraphQL<Data>(
  url: string,
  apiKey: string,
  body: string | Uint8Array<ArrayBuffer>,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<GraphQLPostResult<Data> | string> {
  let status: number;
  let text: string;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${apiKey}`,
      },
      body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    return `request failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  try {
    return { status, ...(JSON.parse(text) as Omit<GraphQLPostResult<Data>, 'status'>) };
  } catch {
    return `HTTP ${status}, body is not JSON: ${text.slice(0, 200)}`;
  }
}
