import { invalidInput } from '../../core/input.js';
import { ADMIN_ONLY, builder } from '../../schema/builder.js';
import type { Context } from '../../schema/context.js';
import { assertIdCursors, CONNECTION_SIZES } from '../../schema/helpers.js';
import type { JobRunStatus, JobTrigger } from '../../core/jobs.js';
import { UnknownJobError, type JobInfo } from './scheduler.js';

const JobRunStatusEnum = builder.enumType('JobRunStatus', {
  description: 'How a job run stands, or how it ended.',
  values: {
    RUNNING: {
      description: 'Still going. If its instance dies, the run is marked FAILED at the first claim of the job after its lease (60 seconds) expires.',
    },
    SUCCEEDED: { description: 'Ended without error; result says what it did.' },
    FAILED: {
      description: 'Ended with an error, was interrupted by a shutdown, or lost its instance; error says which.',
    },
    SKIPPED: { description: 'Not run: its tick came while the previous run of the job was still going (error names that run).' },
  } satisfies Record<JobRunStatus, { description: string }>,
});

const JobTriggerEnum = builder.enumType('JobTrigger', {
  description: 'What started a job run.',
  values: {
    SCHEDULED: { description: "Fired by the job's schedule." },
    MANUAL: { description: 'Asked for with runJob or the command line (`npm run insights -- run-job <name>`).' },
  } satisfies Record<JobTrigger, { description: string }>,
});

const JobScopeEnum = builder.enumType('JobScope', {
  description: 'Where each tick of a job runs.',
  values: {
    CLUSTER: { description: 'Once in the whole cluster, on the instance that claims the tick first.' },
    HOST: { description: 'Once on every host (INSIGHTS_HOSTNAME), since the job reports on the machine it runs on.' },
  },
});

const JobRunObject = builder.prismaObject('JobRun', {
  description: 'One run of a job, or one tick it skipped.',
  fields: (t) => ({
    id: t.id({ description: 'Unique id of the run (a decimal integer), increasing in the order runs were recorded.', resolve: (run) => String(run.id) }),
    jobName: t.exposeString('jobName', { description: 'The job it is a run of.' }),
    scheduledAt: t.expose('scheduledAt', {
      type: 'DateTime',
      description:
        'The tick the run stands for; its windows are computed from it. For a manual run, when it was asked for, or the ' +
        "schedule's latest tick for jobs that must not count a window twice (aggregate-application-metrics).",
    }),
    trigger: t.field({ type: JobTriggerEnum, description: 'What started it.', resolve: (run) => run.trigger }),
    status: t.field({ type: JobRunStatusEnum, description: 'How it stands, or how it ended.', resolve: (run) => run.status }),
    host: t.exposeString('host', { description: 'The host of the instance that ran it (INSIGHTS_HOSTNAME).' }),
    instance: t.exposeString('instance', { description: 'The instance that ran it (or skipped the tick), as host/process id/random suffix.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When it started; for a SKIPPED run, when the tick was skipped.' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When it ended; null while RUNNING.' }),
    durationMs: t.exposeInt('durationMs', {
      nullable: true,
      description: 'How long it ran, in milliseconds (0 for a SKIPPED run); null while RUNNING.',
    }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'Why it failed or was skipped (at most 4000 characters); null when it succeeded or is still running.',
    }),
    result: t.expose('result', {
      type: 'JSON',
      nullable: true,
      description: 'What the run did (counts, windows, files), as the job reports it; null unless it SUCCEEDED.',
    }),
  }),
});

const JobObject = builder.objectRef<JobInfo>('Job').implement({
  description: 'A scheduled job of the service.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The job name, e.g. retention or collect-system-metrics, as runJob and jobRuns take it.' }),
    description: t.exposeString('description', { description: 'What the job does.' }),
    schedule: t.exposeString('schedule', {
      description:
        'When it runs: a cron expression (read in UTC, or in the zone of a CRON_TZ=<zone> prefix) or an interval such as 30s, 5m, 2h or 1d, aligned to the Unix epoch ' +
        '(30s ticks at :00 and :30 of every minute).',
    }),
    scope: t.field({ type: JobScopeEnum, description: 'Where each tick runs.', resolve: (job) => (job.scope === 'host' ? 'HOST' : 'CLUSTER') }),
    enabled: t.exposeBoolean('enabled', { description: "Whether this instance's schedule fires it (MONITORING_ENABLED)." }),
    nextRunAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The next tick on this instance; null when disabled.',
      resolve: (job) => job.nextRunAt,
    }),
    lastRun: t.prismaField({
      type: JobRunObject,
      nullable: true,
      description: 'The latest run anywhere in the cluster (any host, any status).',
      resolve: (query, job, _args, ctx) =>
        ctx.db.prisma.jobRun.findFirst({ ...query, where: { jobName: job.name }, orderBy: { id: 'desc' } }),
    }),
  }),
});

/** Job names are a fixed set; any other is a caller mistake. */
function knownJob(ctx: Context, name: string, argument = 'name'): string {
  try {
    return ctx.scheduler.job(name).name;
  } catch (error) {
    if (error instanceof UnknownJobError) throw invalidInput(argument, error.message);
    throw error;
  }
}

builder.queryFields((t) => ({
  jobs: t.field({
    type: [JobObject],
    description: 'The scheduled jobs, their schedules and latest runs.',
    resolve: (_root, _args, ctx) => ctx.scheduler.list(),
  }),
  jobRuns: t.prismaConnection(
    {
      type: JobRunObject,
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'Run history, newest first: of one job, or of all when name is absent.',
      args: {
        name: t.arg.string({ description: 'Only runs of this job (its exact name, e.g. retention); an unknown name is refused. All jobs when absent.' }),
      },
      resolve: (query, _root, args, ctx) => {
        assertIdCursors(args);
        const where = args.name === null || args.name === undefined ? {} : { jobName: knownJob(ctx, args.name) };
        return ctx.db.prisma.jobRun.findMany({ ...query, where, orderBy: { id: 'desc' } });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.jobRun.count({ where: args.name === null || args.name === undefined ? {} : { jobName: args.name } }),
    },
    { description: 'A page of job runs, with the total number of runs of the job (or of all jobs).' },
    { description: 'One job run and its cursor.' },
  ),
}));

builder.mutationFields((t) => ({
  runJob: t.prismaField({
    type: JobRunObject,
    ...ADMIN_ONLY,
    description:
      'Runs a job now and returns its run once it ends. If a run of the job is going, the result is a SKIPPED run. ' +
      'aggregate-application-metrics rolls up the window of its latest tick; if that window was already rolled up, ' +
      'the run that did it is returned instead of counting it twice.',
    args: { name: t.arg.string({ required: true, description: 'The job to run, by name as `jobs` lists it (e.g. retention); an unknown name is refused.' }) },
    resolve: async (query, _root, args, ctx) => {
      const name = knownJob(ctx, args.name);
      const run = await ctx.scheduler.runNow(name);
      await ctx.audit.record(ctx.principal, 'job.run', { type: 'job', id: name }, `Job "${name}" run manually`, {
        job: name,
        runId: run.id,
        status: run.status,
      });
      return ctx.db.prisma.jobRun.findUniqueOrThrow({ ...query, where: { id: BigInt(run.id) } });
    },
  }),
}));
