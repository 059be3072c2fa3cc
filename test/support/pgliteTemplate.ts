import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { openDatabase } from '../../src/core/db/database.js';
import { migrate, readMigrations } from '../../src/core/db/migrate.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let template: Promise<string> | undefined;

/**
 * A migrated embedded database, made once per PGlite version and set of migrations (in the system's temporary
 * directory, shared by test workers and runs), for test servers to start from a copy of. Creating one (initdb
 * and every migration, in WASM) costs many seconds on a busy machine, which every PGlite test file used to pay
 * inside its start-up budget. The copy is the database a fresh directory migrates to; the app's own migrator
 * still runs on it at start and finds nothing to do.
 */
export function pgliteTemplate(): Promise<string> {
  template ??= build();
  return template;
}

async function build(): Promise<string> {
  const migrations = await readMigrations();
  const pglite = await fs.readFile(path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8');
  const version = (JSON.parse(pglite) as { version: string }).version;
  const hash = createHash('sha256')
    .update(JSON.stringify([version, migrations.map(({ name, checksum }) => [name, checksum])]))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(os.tmpdir(), `insights-pglite-template-${hash}`);
  if (await isDatabase(dir)) return dir;
  // Built aside and renamed into place, so a worker never copies a half-made template; when two build at once,
  // the first rename wins and the other's copy is dropped.
  const building = await fs.mkdtemp(path.join(os.tmpdir(), 'insights-pglite-template-building-'));
  try {
    const log = pino({ level: 'silent' });
    const db = await openDatabase({ url: undefined, poolSize: 1, dataDir: building }, log);
    try {
      await migrate(db, log, migrations);
    } finally {
      await db.close();
    }
    await fs.rename(building, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await isDatabase(dir))) throw error;
    });
  } finally {
    await fs.rm(building, { recursive: true, force: true });
  }
  return dir;
}

async function isDatabase(dir: string): Promise<boolean> {
  return fs.access(path.join(dir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}
