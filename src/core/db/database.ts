import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { PrismaClient } from '../../generated/prisma/client.js';
import { isDatabaseUnavailable } from '../errors.js';
import { copyStatement, type Queryable, type Sql } from './sql.js';

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  readonly prisma: PrismaClient;
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script (migrations) in one transaction under the migration lock. */
  withMigrationLock<T>(fn: (runScript: (script: string) => Promise<void>, tx: Queryable) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const execFileAsync = promisify(execFile);

// Any constant: the lock only has to be the same number on every instance sharing a database.
const MIGRATION_LOCK_ID = 7_271_301;

export async function openDatabase(config: Config['database'], log: Logger): Promise<Database> {
  return config.url ? openPostgres(config.url, config.poolSize, log) : openPglite(config.dataDir, log);
}

function openPostgres(url: string, poolSize: number, log: Logger): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    application_name: 'insights',
    // Fail fast while the server is away, so callers get UNAVAILABLE instead of hanging.
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection (server restart) must not crash the process; the pool replaces it.
  pool.on('error', (error) => log.warn({ err: error }, 'idle PostgreSQL connection lost'));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const run = async <Row>(client: pg.Pool | pg.PoolClient, statement: Sql) =>
    (await client.query(statement.text, statement.values as unknown[])).rows as Row[];

  // COPY is PostgreSQL's fastest way in: rows are parsed straight into tuples and written in multi-row batches,
  // with none of an INSERT's planning and per-row executor work.
  const copyIn = async (client: pg.PoolClient, table: string, columns: readonly string[], data: string) => {
    const stream = client.query(copyFrom(copyStatement(table, columns)));
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(data);
    });
    return stream.rowCount;
  };

  const withClient = async <T>(fn: (client: pg.PoolClient) => Promise<T>) => {
    const client = await pool.connect();
    // A checked-out client has no pool listener: without this, a server going away mid-transaction would be
    // an uncaught 'error' event and crash the process. The failing query rejects on its own.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
      log.warn({ err: error }, 'PostgreSQL connection lost during a transaction');
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (error) {
      broken ??= error instanceof Error && isDatabaseUnavailable(error) ? error : undefined;
      throw error;
    } finally {
      client.off('error', onError);
      // Destroy a broken connection rather than hand it to the next caller.
      client.release(broken);
    }
  };
  const inTransaction = <T>(client: pg.PoolClient, fn: () => Promise<T>) =>
    (async () => {
      await client.query('BEGIN');
      try {
        const result = await fn();
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    })();

  return {
    kind: 'postgres',
    prisma,
    query: (statement) => run(pool, statement),
    copyIn: (table, columns, data) => withClient((client) => copyIn(client, table, columns, data)),
    transaction: (fn) =>
      withClient((client) =>
        inTransaction(client, () =>
          fn({
            query: (statement) => run(client, statement),
            copyIn: (table, columns, data) => copyIn(client, table, columns, data),
          }),
        ),
      ),
    withMigrationLock: (fn) =>
      withClient(async (client) => {
        // A session lock, held across the whole run: concurrent starters wait here, then find nothing left to do.
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
        try {
          return await inTransaction(client, () =>
            fn(
              async (script) => {
                await client.query(script);
              },
              { query: (statement) => run(client, statement) },
            ),
          );
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
        }
      }),
    ping: async () => {
      await pool.query('SELECT 1');
    },
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

export class DataDirectoryInUseError extends Error {}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite lets a second process open a directory another one is using, and two engines writing one directory
 * corrupt it. A lock file holding the owner's pid keeps a second service, or a command-line tool, out; a lock
 * left by a process that no longer runs is taken over.
 */
async function lockDataDirectory(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = path.join(dataDir, 'insights.lock');
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(await fs.readFile(lockFile, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
        throw new DataDirectoryInUseError(
          `The embedded database in ${dataDir} is in use by process ${owner}: it can be open in one process only. ` +
            `Stop that process first, or share a PostgreSQL server (DATABASE_URL). If process ${owner} is not ` +
            `Insights, remove ${lockFile}.`,
        );
      }
      await fs.rm(lockFile, { force: true });
    }
  }
  throw new DataDirectoryInUseError(`Could not lock the embedded database in ${dataDir}`);
}

/**
 * PGlite runs PostgreSQL inside a WASM heap, and everything PostgreSQL allocates there stays resident. Its default
 * shared_buffers (128 MB) is touched in full when the engine starts, so it alone made 128 MB of the idle service's
 * memory. 32 MB of buffer cache is plenty for one embedded instance: pages beyond it are read back from the data
 * directory through the operating system's file cache. (The heap's initial size, `initialMemory`, cannot go below
 * the 128 MB that pglite.wasm declares, and untouched pages of it cost nothing anyway.)
 */
const pgliteOptions = (engine: typeof PGlite) => ({
  startParams: [...engine.defaultStartParams, '-c', 'shared_buffers=32MB'],
});

/**
 * Creating a new data directory runs initdb in a second, temporary PGlite engine plus initdb's own WASM module.
 * Their heaps (some 500 MB) would stay allocated until a garbage collection that an idle service may never have,
 * and even a worker thread leaves ~200 MB of freed memory in the allocator. So a new directory is created by a
 * short-lived child process, which returns all of it to the system when it exits, and then opened here.
 */
async function initPgliteDirectory(dataDir: string, options: ReturnType<typeof pgliteOptions>): Promise<void> {
  const exists = await fs
    .access(path.join(dataDir, 'PG_VERSION'))
    .then(() => true)
    .catch(() => false);
  if (exists) return;
  const script = `const { PGlite } = require(process.env.INSIGHTS_PGLITE_MODULE);
    PGlite.create(process.env.INSIGHTS_PGLITE_DIR, JSON.parse(process.env.INSIGHTS_PGLITE_OPTIONS))
      .then((db) => db.close())
      .then(() => process.exit(0), (error) => { process.stderr.write(String((error && error.stack) || error)); process.exit(1); });`;
  try {
    await execFileAsync(process.execPath, ['-e', script], {
      env: {
        ...process.env,
        INSIGHTS_PGLITE_MODULE: createRequire(import.meta.url).resolve('@electric-sql/pglite'),
        INSIGHTS_PGLITE_DIR: dataDir,
        INSIGHTS_PGLITE_OPTIONS: JSON.stringify(options),
      },
      timeout: 120_000,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`Could not create the embedded database in ${dataDir}: ${stderr || String(error)}`);
  }
}

async function openPglite(dataDir: string, log: Logger): Promise<Database> {
  // Loaded here rather than at the top: a service on PostgreSQL never needs the embedded engine (~15 MB resident).
  const [{ PGlite: engine }, { PrismaPGlite }] = await Promise.all([import('@electric-sql/pglite'), import('pglite-prisma-adapter')]);
  const options = pgliteOptions(engine);
  await fs.mkdir(dataDir, { recursive: true });
  const unlock = await lockDataDirectory(dataDir);
  let db: PGlite;
  try {
    await initPgliteDirectory(dataDir, options);
    db = await engine.create(dataDir, options);
  } catch (error) {
    await unlock();
    throw error;
  }
  log.info({ dataDir }, 'using embedded PGlite database');
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  type PgliteQueryable = Pick<PGlite, 'query'>;
  const run = async <Row>(target: PgliteQueryable, statement: Sql) =>
    (await target.query<Row>(statement.text, statement.values as unknown[])).rows;
  let closed = false;

  return {
    kind: 'pglite',
    prisma,
    query: (statement) => run(db, statement),
    transaction: (fn) => db.transaction((tx) => fn({ query: (statement) => run(tx, statement) })),
    // One process owns a PGlite directory, so there is no one to lock out.
    withMigrationLock: (fn) =>
      db.transaction((tx) =>
        fn(
          async (script) => {
            await tx.exec(script);
          },
          { query: (statement) => run(tx, statement) },
        ),
      ),
    ping: async () => {
      if (closed) throw new Error('database closed');
      await db.query('SELECT 1');
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await db.close();
      await unlock();
    },
  };
}
