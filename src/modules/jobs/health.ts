import { table } from '../../core/cli.js';
import type { Database } from '../../core/db/database.js';
import { sql } from '../../core/db/sql.js';
import type { JobRunStatus, JobTrigger } from '../../core/jobs.js';
import type { MonitoringCheck } from '../../core/module.js';
import { parseSchedule } from '../../core/schedule.js';
import type { JobScheduler } from './scheduler.js';

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
 * The jobs part of `insights check-monitoring`: for each job its latest run and whether the cluster is keeping to
 * its schedule. Unhealthy when scheduled jobs are disabled, a job's latest run failed or was orphaned, or a
 * tick was missed while jobs were running (a tick before the first recorded run of any job is not counted
 * missed, so a fresh install is not reported unhealthy for the nightly job it has not reached yet).
 */
export function jobsCheck(scheduler: JobScheduler): MonitoringCheck {
  return async (services, now) => {
    const { config, db } = services;
    const problems: string[] = [];
    if (!config.monitoringEnabled) problems.push('MONITORING_ENABLED=false: scheduled jobs do not run on instances with this configuration');
    const [first] = await db.query<{ firstRunAt: Date | null }>(
      sql`/* checkMonitoring.firstRun */ SELECT min(started_at) AS "firstRunAt" FROM job_runs`,
    );
    const firstRunAt = first?.firstRunAt ?? null;
    const jobs: JobHealth[] = [];
    for (const job of scheduler.list()) {
      const report = await jobHealth(db, job.name, job.schedule, job.scope, firstRunAt, now, config.monitoringEnabled);
      if (report.problem) problems.push(`${job.name}: ${report.problem}`);
      jobs.push(report);
    }
    if (firstRunAt === null && config.monitoringEnabled) {
      problems.push('no job has ever run: is an instance running with MONITORING_ENABLED=true on this database?');
    }
    const text = [
      table([['Scheduled jobs', config.monitoringEnabled ? 'enabled (MONITORING_ENABLED=true)' : 'disabled (MONITORING_ENABLED=false)']]),
      ...(jobs.length > 0 ? ['', table([['Job', 'Schedule', 'Latest run', 'State'], ...jobs.map(jobRow)])] : []),
    ].join('\n');
    return { fields: { monitoringEnabled: config.monitoringEnabled, jobs }, text, problems };
  };
}

function jobRow(job: JobHealth): string[] {
  const run = job.lastRun;
  const latest = run
    ? `${run.status} ${run.scheduledAt.toISOString()} on ${run.host}${run.durationMs === null ? '' : ` (${run.durationMs} ms)`}${run.trigger === 'MANUAL' ? ' manual' : ''}`
    : 'never';
  const schedule = job.schedule.startsWith('CRON_TZ=') ? job.schedule : job.schedule.includes(' ') ? `${job.schedule} UTC` : `every ${job.schedule}`;
  return [job.name, schedule, latest, job.status];
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
    FROM job_runs WHERE job_name = ${name} ORDER BY job_runs.id DESC LIMIT 1`);
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
