import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Database } from './database.js';
import { sql } from './sql.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

export interface Migration {
  name: string;
  script: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const script = await fs.readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, script, checksum: createHash('sha256').update(script).digest('hex') };
    }),
  );
}

/**
 * Applies pending migrations and records them in `_prisma_migrations` exactly as `prisma migrate deploy`
 * does, so either tool can take over from the other. All pending migrations run in one transaction under an
 * advisory lock: instances starting together serialise here and the losers find nothing to do.
 */
export async function migrate(db: Database, log: Logger, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await readMigrations());
  return db.withMigrationLock(async (runScript, tx) => {
    await runScript(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`);
    const applied = await tx.query<{ migration_name: string; checksum: string }>(
      sql`SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL`,
    );
    const appliedByName = new Map(applied.map((row) => [row.migration_name, row.checksum]));
    const done: string[] = [];
    for (const migration of all) {
      const previous = appliedByName.get(migration.name);
      if (previous !== undefined) {
        if (previous !== migration.checksum) {
          log.warn({ migration: migration.name }, 'applied migration was edited after it ran; not re-applied');
        }
        continue;
      }
      const startedAt = new Date();
      await runScript(migration.script);
      await tx.query(sql`
        INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
        VALUES (${randomUUID()}, ${migration.checksum}, now(), ${migration.name}, ${startedAt}, 1)`);
      done.push(migration.name);
    }
    if (done.length > 0) log.info({ migrations: done }, 'applied database migrations');
    return done;
  });
}
