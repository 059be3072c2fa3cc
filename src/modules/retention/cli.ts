import { CLI_ACTOR, CliError, formatCount, progressBar, table, type CliCommand, type Output } from '../../core/cli.js';
import type { Services } from '../../core/module.js';
import { parseAge, parseSchedule, ScheduleError } from '../../core/schedule.js';
import { countExpired, JOB_RUNS_TABLE, RETENTION_TABLES, retentionJob, type PurgeReport } from './retentionJob.js';

const CLEANUP_USAGE = 'insights cleanup --older-than <90d|12h|30m> [--dry-run]';

function parseOlderThan(value: string | undefined): number {
  if (value === undefined) throw new CliError(`cleanup needs --older-than.\nUsage: ${CLEANUP_USAGE}`, 2);
  try {
    return parseAge(value);
  } catch (error) {
    if (error instanceof ScheduleError) throw new CliError(`--older-than ${error.message}`, 2);
    throw error;
  }
}

/**
 * Deletes records older than the given age, as a manual run of the retention job: it is recorded in the job
 * history, archives like the job when INSIGHTS_ARCHIVE_DIR is set, and is skipped while a retention run is going.
 */
async function cleanup(runtime: Services, output: Output, options: { olderThanMs: number; dryRun: boolean; label: string }): Promise<number> {
  const cutoff = new Date(Date.now() - options.olderThanMs);
  if (options.dryRun) {
    const counts = await countExpired(runtime.db, cutoff);
    output.out(`Dry run: records older than ${options.label} (before ${cutoff.toISOString()}) that cleanup would delete:\n`);
    output.out(`${countTable(counts)}\nNothing was deleted.\n`);
    return 0;
  }

  output.out(`Deleting records older than ${options.label} (before ${cutoff.toISOString()})${runtime.config.retention.archiveDir ? `, archiving to ${runtime.config.retention.archiveDir}` : ''}…\n`);
  const bar = progressBar(output);
  // The retention job with this age instead of INSIGHTS_RETENTION_DAYS, reporting its progress to the bar.
  const job = retentionJob({
    schedule: parseSchedule(runtime.config.retention.schedule),
    db: runtime.db,
    maxAgeMs: options.olderThanMs,
    archiveDir: runtime.config.retention.archiveDir,
    onProgress: ({ table: name, deleted, total }) => bar.update(name, deleted, total),
  });
  const run = await runtime.scheduler.runNow('retention', { definition: job });
  bar.clear();
  await runtime.audit.record(CLI_ACTOR, 'job.run', { type: 'job', id: 'retention' }, `Cleanup of records older than ${options.label}`, {
    runId: run.id,
    status: run.status,
    olderThan: options.label,
  });

  if (run.status === 'SKIPPED') {
    output.err(`Nothing deleted: ${run.error ?? 'a retention run is in progress'}. Try again when it has finished.\n`);
    return 1;
  }
  if (run.status !== 'SUCCEEDED') {
    output.err(`Cleanup failed (run ${run.id}): ${run.error ?? run.status}\n`);
    return 1;
  }
  const report = run.result as PurgeReport;
  output.out(`${countTable(report.deleted)}\n`);
  output.out(`Deleted ${formatCount(report.total)} records in ${((run.durationMs ?? 0) / 1000).toFixed(1)} s (run ${run.id}).\n`);
  if (report.archives.length > 0) output.out(`Archived to:\n${report.archives.map((file) => `  ${file}`).join('\n')}\n`);
  return 0;
}

/** Tables in the order retention empties them (the stored report is JSON, whose key order is not kept). */
function countTable(counts: Record<string, number>): string {
  const names = [...RETENTION_TABLES.map((entry) => entry.table), JOB_RUNS_TABLE];
  const total = names.reduce((sum, name) => sum + (counts[name] ?? 0), 0);
  return table([
    ...names.map((name) => [`  ${name}`, formatCount(counts[name] ?? 0).padStart(12)]),
    ['  total', formatCount(total).padStart(12)],
  ]);
}

export const cleanupCommand: CliCommand<Services> = {
  name: 'cleanup',
  usage: CLEANUP_USAGE,
  summary: 'Deletes records (and job history) older than the age, as a manual run of the retention job.',
  options: { 'older-than': { type: 'string' }, 'dry-run': { type: 'boolean' } },
  validate({ positionals, values }) {
    if (positionals.length > 0) throw new CliError(`cleanup takes no arguments besides its options.\nUsage: ${CLEANUP_USAGE}`, 2);
    parseOlderThan(typeof values['older-than'] === 'string' ? values['older-than'] : undefined);
  },
  async run(services, { values }, output) {
    const label = typeof values['older-than'] === 'string' ? values['older-than'] : undefined;
    const olderThanMs = parseOlderThan(label);
    return cleanup(services, output, { olderThanMs, dryRun: values['dry-run'] === true, label: label ?? '' });
  },
};
