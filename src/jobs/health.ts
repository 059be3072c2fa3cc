import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { readMigrations } from '../db/migrate.js';
import { sql } from '../db/sql.js';
import { healthReport } from '../http/health.js';
import type { EventBus, PubSubHealth } from '../realtime/pubsub.js';
import { parseSchedule } from './schedule.js';
import type { JobScheduler } from './scheduler.js';
import type { JobRunStatus, JobTrigger } from './types.js';

/**
 * Time the cluster gets to claim a tick before it counts as missed: timers fire within milliseconds, but a
 * slow claim (database under load, instance restarting) should not page anyone.
 */
export const MISSED_TICK_GRACE_MS = 120_000;

export interface JobHealth {
  name: string;
  schedule: string;
  scope: 'cluster' | 'host';
  lastRun: RunRow | null;
  /** The latest tick the cluster should have claimed by now. */
  expectedTick: Date;
  /** The latest tick a scheduled run (or skip) was recorded for. */
  lastScheduledTick: Date | null;
  status: 'ok' | 'running' | 'failed' | 'overdue' | 'stalled' | 'not-yet-due';
  problem: string | null;
}

export interface MonitoringReport {
  healthy: boolean;
  checkedAt: Date;
  monitoringEnabled: boolean;
  database: { kind: Database['kind']; status: 'ok' | 'unavailable'; error?: string; pendingMigrations: string[] };
  pubsub: PubSubHealth;
  jobs: JobHealth[];
  problems: string[];
}

interface RunRow {
  id: string;
  status: JobRunStatus;
  trigger: JobTrigger;
  scheduledAt: Date;
  startedAt: Date;
  durationMs: number | null;
  error: string | null;
  host: string;
  leaseExpired: boolean;
}

/**
 * What `insights check-monitoring` reports: the database (reachable, migrated), pub/sub, and for each job its
 * latest run and whether the cluster is keeping to its schedule. Unhealthy when the database or pub/sub is
 * down, migrations are missing, scheduled jobs are disabled, a job's latest run failed or was orphaned, or a
 * tick was missed while jobs were running (a tick before the first recorded run of any job is not counted
 * missed, so a fresh install is not reported unhealthy for the nightly job it has not reached yet).
 */
export async function checkMonitoring(deps: {
  config: Config;
  db: Database;
  bus: EventBus;
  scheduler: JobScheduler;
  now?: Date;
}): Promise<MonitoringReport> {
  const now = deps.now ?? new Date();
  const problems: string[] = [];
  const health = await healthReport(deps.db, deps.bus);
  const database: MonitoringReport['database'] = { ...health.database, pendingMigrations: [] };
  if (health.database.status !== 'ok') problems.push(`database (${health.database.kind}) unavailable: ${health.database.error ?? 'no answer'}`);
  if (health.pubsub.status !== 'ok') problems.push(`pub/sub (${health.pubsub.mode}) degraded: live updates are not being delivered between instances`);
  if (!deps.config.monitoringEnabled) problems.push('MONITORING_ENABLED=false: scheduled jobs do not run on instances with this configuration');

  const jobs: JobHealth[] = [];
  if (health.database.status === 'ok') {
    database.pendingMigrations = await pendingMigrations(deps.db);
    if (database.pendingMigrations.length > 0) {
      problems.push(`database is missing migrations ${database.pendingMigrations.join(', ')} (start the service to apply them)`);
    } else {
      const [first] = await deps.db.query<{ firstRunAt: Date | null }>(
        sql`/* checkMonitoring.firstRun */ SELECT min(started_at) AS "firstRunAt" FROM job_runs`,
      );
      const firstRunAt = first?.firstRunAt ?? null;
      for (const job of deps.scheduler.list()) {
        const report = await jobHealth(deps.db, job.name, job.schedule, job.scope, firstRunAt, now, deps.config.monitoringEnabled);
        if (report.problem) problems.push(`${job.name}: ${report.problem}`);
        jobs.push(report);
      }
      if (firstRunAt === null && deps.config.monitoringEnabled) {
        problems.push('no job has ever run: is an instance running with MONITORING_ENABLED=true on this database?');
      }
    }
  }
  return { healthy: problems.length === 0, checkedAt: now, monitoringEnabled: deps.config.monitoringEnabled, database, pubsub: health.pubsub, jobs, problems };
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

async function jobHealth(
  db: Database,
  name: string,
  spec: string,
  scope: 'cluster' | 'host',
  firstRunAt: Date | null,
  now: Date,
  enabled: boolean,
): Promise<JobHealth> {
  const [lastRun] = await db.query<RunRow>(sql`/* checkMonitoring.lastRun */
    SELECT id::text AS "id", status::text AS "status", "trigger"::text AS "trigger", scheduled_at AS "scheduledAt",
      started_at AS "startedAt", duration_ms AS "durationMs", error, host,
      (status = 'RUNNING' AND lease_expires_at < now()) AS "leaseExpired"
    FROM job_runs WHERE job_name = ${name} ORDER BY id DESC LIMIT 1`);
  const [scheduled] = await db.query<{ tick: Date | null }>(sql`/* checkMonitoring.lastScheduledTick */
    SELECT max(scheduled_at) AS "tick" FROM job_runs WHERE job_name = ${name} AND "trigger" = 'SCHEDULED'`);
  const expectedTick = parseSchedule(spec).latest(new Date(now.getTime() - MISSED_TICK_GRACE_MS));
  const lastScheduledTick = scheduled?.tick ?? null;

  let status: JobHealth['status'] = 'ok';
  let problem: string | null = null;
  if (lastRun?.status === 'FAILED') {
    status = 'failed';
    problem = `latest run ${lastRun.id} (${lastRun.scheduledAt.toISOString()} on ${lastRun.host}) failed: ${lastRun.error ?? 'no error recorded'}`;
  } else if (lastRun?.leaseExpired) {
    status = 'stalled';
    problem = `run ${lastRun.id} on ${lastRun.host} stopped renewing its lease (its instance died or hung)`;
  } else if (enabled && firstRunAt !== null && firstRunAt <= expectedTick && (lastScheduledTick === null || lastScheduledTick < expectedTick)) {
    status = 'overdue';
    problem = `no scheduled run for the tick of ${expectedTick.toISOString()} (schedule ${spec}); last scheduled tick: ${lastScheduledTick?.toISOString() ?? 'never'}`;
  } else if (lastRun?.status === 'RUNNING') {
    status = 'running';
  } else if (!lastRun) {
    status = 'not-yet-due';
  }
  return { name, schedule: spec, scope, lastRun: lastRun ?? null, expectedTick, lastScheduledTick, status, problem };
}
