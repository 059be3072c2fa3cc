import { setTimeout as sleep } from 'node:timers/promises';
import { checkMonitoring, type JobHealth, type MonitoringReport } from '../jobs/health.js';
import { table, type Output } from './output.js';
import type { CliRuntime } from './runtime.js';

/** How long a fresh Redis connection gets to come up before pub/sub counts as down. */
const PUBSUB_CONNECT_MS = 3_000;

/** Prints the monitoring report; exit code 1 when anything is unhealthy. */
export async function checkMonitoringCommand(runtime: CliRuntime, output: Output, options: { json: boolean }): Promise<number> {
  const deadline = Date.now() + PUBSUB_CONNECT_MS;
  while (runtime.bus.health().status !== 'ok' && Date.now() < deadline) await sleep(50);
  const report = await checkMonitoring(runtime);
  output.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
  return report.healthy ? 0 : 1;
}

function render(report: MonitoringReport): string {
  const lines = [
    `Insights monitoring check at ${report.checkedAt.toISOString()}`,
    '',
    table([
      ['Database', `${report.database.status} (${report.database.kind})${report.database.error ? `: ${report.database.error}` : ''}`],
      ['Migrations', report.database.status !== 'ok' ? 'unknown' : report.database.pendingMigrations.length === 0 ? 'all applied' : `missing ${report.database.pendingMigrations.join(', ')}`],
      ['Pub/sub', `${report.pubsub.status} (${report.pubsub.mode})`],
      ['Scheduled jobs', report.monitoringEnabled ? 'enabled (MONITORING_ENABLED=true)' : 'disabled (MONITORING_ENABLED=false)'],
    ]),
  ];
  if (report.jobs.length > 0) {
    lines.push('', table([['Job', 'Schedule', 'Latest run', 'State'], ...report.jobs.map(jobRow)]));
  }
  lines.push('');
  if (report.healthy) {
    lines.push('Healthy.');
  } else {
    lines.push(`UNHEALTHY (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}):`);
    for (const problem of report.problems) lines.push(`  - ${problem}`);
  }
  return `${lines.join('\n')}\n`;
}

function jobRow(job: JobHealth): string[] {
  const run = job.lastRun;
  const latest = run
    ? `${run.status} ${run.scheduledAt.toISOString()} on ${run.host}${run.durationMs === null ? '' : ` (${run.durationMs} ms)`}${run.trigger === 'MANUAL' ? ' manual' : ''}`
    : 'never';
  const schedule = job.schedule.includes(' ') ? `${job.schedule} UTC` : `every ${job.schedule}`;
  return [job.name, schedule, latest, job.status];
}
