import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, table, type CliCommand } from '../core/cli.js';
import type { Database } from '../core/db/database.js';
import { readMigrations } from '../core/db/migrate.js';
import { sql } from '../core/db/sql.js';
import { healthReport } from '../core/health.js';
import type { MonitoringCheck, Services } from '../core/module.js';

/** How long a fresh Redis connection gets to come up before pub/sub counts as down. */
const PUBSUB_CONNECT_MS = 3_000;

export interface MonitoringReport {
  healthy: boolean;
  checkedAt: Date;
  database: { kind: Database['kind']; status: 'ok' | 'unavailable'; error?: string; pendingMigrations: string[] };
  pubsub: ReturnType<Services['bus']['health']>;
  problems: string[];
  notes: string[];
  /** Each module's fields (jobs, channels, …). */
  [field: string]: unknown;
}

/**
 * What `insights check-monitoring` reports: the database (reachable, migrated) and pub/sub, then each module's
 * section (jobs and their schedule, and whatever later modules add). Module sections are skipped while the
 * database is down or behind on migrations: their answers would not mean anything.
 */
export async function checkMonitoring(services: Services, checks: readonly MonitoringCheck[], now = new Date()): Promise<{ report: MonitoringReport; text: string }> {
  const problems: string[] = [];
  const notes: string[] = [];
  const health = await healthReport(services.db, services.bus);
  const database: MonitoringReport['database'] = { ...health.database, pendingMigrations: [] };
  if (health.database.status !== 'ok') problems.push(`database (${health.database.kind}) unavailable: ${health.database.error ?? 'no answer'}`);
  if (health.pubsub.status !== 'ok') problems.push(`pub/sub (${health.pubsub.mode}) degraded: live updates are not being delivered between instances`);
  const fields: Record<string, unknown> = {};
  const texts: string[] = [];
  if (health.database.status === 'ok') {
    database.pendingMigrations = await pendingMigrations(services.db);
    if (database.pendingMigrations.length > 0) {
      problems.push(`database is missing migrations ${database.pendingMigrations.join(', ')} (start the service to apply them)`);
    } else {
      for (const check of checks) {
        const section = await check(services, now);
        Object.assign(fields, section.fields);
        problems.push(...section.problems);
        notes.push(...(section.notes ?? []));
        if (section.text) texts.push(section.text);
      }
    }
  }
  const report: MonitoringReport = { healthy: problems.length === 0, checkedAt: now, database, pubsub: health.pubsub, ...fields, problems, notes };
  const lines = [
    `Insights monitoring check at ${now.toISOString()}`,
    '',
    table([
      ['Database', `${database.status} (${database.kind})${database.error ? `: ${database.error}` : ''}`],
      ['Migrations', database.status !== 'ok' ? 'unknown' : database.pendingMigrations.length === 0 ? 'all applied' : `missing ${database.pendingMigrations.join(', ')}`],
      ['Pub/sub', `${health.pubsub.status} (${health.pubsub.mode})`],
    ]),
    ...texts.flatMap((text) => ['', text]),
    '',
  ];
  if (notes.length > 0) lines.push('Notes:', ...notes.map((note) => `  - ${note}`), '');
  if (report.healthy) lines.push('Healthy.');
  else {
    lines.push(`UNHEALTHY (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
    for (const problem of problems) lines.push(`  - ${problem}`);
  }
  return { report, text: `${lines.join('\n')}\n` };
}

async function pendingMigrations(db: Database): Promise<string[]> {
  const all = await readMigrations();
  const [table] = await db.query<{ present: boolean }>(sql`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
  if (!table?.present) return all.map((migration) => migration.name);
  const applied = await db.query<{ name: string }>(sql`/* checkMonitoring.migrations */
    SELECT migration_name AS name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`);
  const names = new Set(applied.map((row) => row.name));
  return all.filter((migration) => !names.has(migration.name)).map((migration) => migration.name);
}

/** The check-monitoring command over the checks every module contributed. */
export function checkMonitoringCommand(checks: readonly MonitoringCheck[]): CliCommand<Services> {
  return {
    name: 'check-monitoring',
    usage: 'insights check-monitoring [--json]',
    summary: 'Database, migrations, pub/sub, every job\'s latest run and each module\'s checks; exits 1 when anything is unhealthy.',
    options: { json: { type: 'boolean' } },
    // Read-only: a database that is behind on migrations is reported, not changed.
    migrate: false,
    async run(services, { positionals, values }, output) {
      if (positionals.length > 0) throw new CliError('check-monitoring takes no arguments besides --json', 2);
      const deadline = Date.now() + PUBSUB_CONNECT_MS;
      while (services.bus.health().status !== 'ok' && Date.now() < deadline) await sleep(50);
      const { report, text } = await checkMonitoring(services, checks);
      output.out(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : text);
      return report.healthy ? 0 : 1;
    },
  };
}
