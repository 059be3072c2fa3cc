import type { Logger } from 'pino';
import type { JsonObject } from './json.js';
import type { Schedule } from './schedule.js';

// The small job interface: a module hands JobDefinitions to the scheduler (src/modules/jobs), which fires them
// on their schedules, once per tick across the cluster (or per host), and records every run.

export type JobRunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
export type JobTrigger = 'SCHEDULED' | 'MANUAL';

/**
 * `cluster`: each tick runs on one instance of the cluster. `host`: each tick runs once per host, because the
 * job reports on the machine it runs on (two instances on one host must not both report it; two hosts must).
 */
export type JobScope = 'cluster' | 'host';

export interface JobContext {
  /** The tick this run stands for. Windows and cut-offs are computed from it, never from the clock. */
  fireTime: Date;
  trigger: JobTrigger;
  /** Aborted when the instance stops or loses the run's lease; long jobs check it between steps. */
  signal: AbortSignal;
  log: Logger;
}

export interface JobDefinition {
  name: string;
  description: string;
  schedule: Schedule;
  scope: JobScope;
  /**
   * Which tick a manual run stands for: `now`, or the schedule's latest tick, for jobs whose windows must never
   * be counted twice (a manual run of an already-run tick returns that run instead of running again).
   */
  manualAnchor: 'now' | 'latestTick';
  /** Returns a summary of what it did, stored with the run. Throws to fail the run. */
  run(context: JobContext): Promise<JsonObject>;
  /** Called when the scheduler starts, e.g. to take baseline samples. */
  prepare?(): Promise<void>;
  /** Called when the scheduler stops. */
  dispose?(): void;
}

/** A job_runs row as the jobs code and the command line see it. */
export interface JobRunRecord {
  id: string;
  jobName: string;
  lockKey: string;
  scheduledAt: Date;
  trigger: JobTrigger;
  status: JobRunStatus;
  instance: string;
  host: string;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  error: string | null;
  result: JsonObject | null;
  leaseExpiresAt: Date | null;
}
