import { CLI_ACTOR, CliError, type CliCommand } from '../../core/cli.js';
import { defineModule, type Services } from '../../core/module.js';
import { jobsCheck } from './health.js';
import { JobScheduler, UnknownJobError } from './scheduler.js';
import './schema.js';

// The scheduler and its history: every module hands it its jobs; this module fires them (once per tick across
// the cluster, or per host), records every run in job_runs, and offers the jobs API, `run-job` and the jobs
// part of `check-monitoring`. It is registered last, so that it schedules the jobs of every other module.

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Scheduled jobs: timers when MONITORING_ENABLED (server mode), manual runs always. */
    scheduler: JobScheduler;
  }
}

const runJobCommand: CliCommand<Services> = {
  name: 'run-job',
  usage: 'insights run-job <name>',
  summary: 'Runs one job now; exits 1 unless it succeeds.',
  validate({ positionals }) {
    if (positionals.length !== 1) throw new CliError('run-job needs exactly one job name: insights run-job <name>', 2);
  },
  async run(services, { positionals }, output) {
    const name = positionals[0] as string;
    let run;
    try {
      run = await services.scheduler.runNow(name);
    } catch (error) {
      if (error instanceof UnknownJobError) throw new CliError(error.message, 2);
      throw error;
    }
    await services.audit.record(CLI_ACTOR, 'job.run', { type: 'job', id: name }, `Job "${name}" run from the command line`, {
      job: name,
      runId: run.id,
      status: run.status,
    });
    const where = `run ${run.id}, ${run.trigger.toLowerCase()}, tick ${run.scheduledAt.toISOString()} on ${run.host}`;
    output.out(`${name}: ${run.status} (${where}${run.durationMs === null ? '' : `, ${run.durationMs} ms`})\n`);
    if (run.result) output.out(`${JSON.stringify(run.result, null, 2)}\n`);
    if (run.error) output.err(`${run.error}\n`);
    return run.status === 'SUCCEEDED' ? 0 : 1;
  },
};

export const jobsModule = defineModule({
  name: 'jobs',
  commands: [runJobCommand],
  setup({ services, jobs }) {
    const scheduler = new JobScheduler({
      db: services.db,
      log: services.log,
      jobs: [...jobs],
      hostName: services.config.instance.hostName,
      // Timers fire only in a serving instance; commands run what they are asked to, once.
      enabled: services.config.monitoringEnabled && services.mode === 'server',
    });
    return {
      services: { scheduler },
      checks: [jobsCheck(scheduler)],
      listening: () => scheduler.start(),
      drain: (deadline) => scheduler.stop(deadline),
    };
  },
});

export { JobScheduler, UnknownJobError, type JobInfo } from './scheduler.js';
