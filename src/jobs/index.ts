import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Ingestor } from '../ingest/ingest.js';
import { aggregateApplicationMetricsJob } from './aggregateApplicationMetrics.js';
import { collectSystemMetricsJob, HostCollector } from './collectSystemMetrics.js';
import { retentionJob, type PurgeProgress } from './retention.js';
import { parseSchedule } from './schedule.js';
import { JobScheduler, type SchedulerOptions } from './scheduler.js';
import type { JobDefinition } from './types.js';

export const DAY_MS = 86_400_000;

export interface JobDependencies {
  db: Database;
  ingestor: Ingestor;
  log: Logger;
}

/** The service's jobs, configured from the environment (see README "Scheduled jobs"). */
export function createJobs(config: Config, deps: JobDependencies): JobDefinition[] {
  const { jobs } = config;
  return [
    collectSystemMetricsJob({
      schedule: parseSchedule(jobs.schedules.collectSystemMetrics),
      collector: new HostCollector({ host: jobs.hostName, environment: jobs.environment }),
      ingestor: deps.ingestor,
    }),
    retentionJob({
      schedule: parseSchedule(jobs.schedules.retention),
      db: deps.db,
      maxAgeMs: config.retentionDays * DAY_MS,
      archiveDir: jobs.archiveDir,
    }),
    aggregateApplicationMetricsJob({
      schedule: parseSchedule(jobs.schedules.aggregateApplicationMetrics),
      db: deps.db,
      ingestor: deps.ingestor,
      batchSize: config.ingest.batchSize,
      environment: jobs.environment,
    }),
  ];
}

/** The retention job with another age limit and a progress callback, for `insights cleanup --older-than`. */
export function cleanupJob(config: Config, deps: JobDependencies, maxAgeMs: number, onProgress?: (progress: PurgeProgress) => void) {
  return retentionJob({
    schedule: parseSchedule(config.jobs.schedules.retention),
    db: deps.db,
    maxAgeMs,
    archiveDir: config.jobs.archiveDir,
    onProgress,
  });
}

export function createJobScheduler(
  config: Config,
  deps: JobDependencies,
  options: Partial<Pick<SchedulerOptions, 'leaseMs' | 'instanceId' | 'jobs'>> = {},
): JobScheduler {
  return new JobScheduler({
    db: deps.db,
    log: deps.log,
    jobs: options.jobs ?? createJobs(config, deps),
    hostName: config.jobs.hostName,
    enabled: config.monitoringEnabled,
    leaseMs: options.leaseMs,
    instanceId: options.instanceId,
  });
}

export { JobScheduler, UnknownJobError, type JobInfo } from './scheduler.js';
export type { JobDefinition, JobRunRecord } from './types.js';
