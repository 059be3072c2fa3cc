import { invalidInput } from '../../core/input.js';
import { ADMIN_ONLY, builder } from '../../schema/builder.js';
import type { Context } from '../../schema/context.js';
import { assertIdCursors, CONNECTION_SIZES } from '../../schema/helpers.js';
import { UnknownJobError, type JobInfo } from './scheduler.js';

const JobRunStatusEnum = builder.enumType('JobRunStatus', {
  description: 'RUNNING until it ends; SKIPPED when its tick came while the previous run was still going.',
  values: ['RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'] as const,
});

const JobTriggerEnum = builder.enumType('JobTrigger', {
  description: 'SCHEDULED: fired by the schedule. MANUAL: runJob or the command line.',
  values: ['SCHEDULED', 'MANUAL'] as const,
});

const JobScopeEnum = builder.enumType('JobScope', {
  description: 'CLUSTER: each tick runs on one instance in all. HOST: each tick runs once per host (it reports on its host).',
  values: ['CLUSTER', 'HOST'] as const,
});

const JobRunObject = builder.prismaObject('JobRun', {
  description: 'One run of a job, or one tick it skipped.',
  fields: (t) => ({
    id: t.id({ resolve: (run) => String(run.id) }),
    jobName: t.exposeString('jobName'),
    scheduledAt: t.expose('scheduledAt', {
      type: 'DateTime',
      description: 'The tick the run stands for (for manual runs, when it was asked for); its windows are computed from it.',
    }),
    trigger: t.field({ type: JobTriggerEnum, resolve: (run) => run.trigger }),
    status: t.field({ type: JobRunStatusEnum, resolve: (run) => run.status }),
    host: t.exposeString('host', { description: 'The host of the instance that ran it.' }),
    instance: t.exposeString('instance'),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    result: t.expose('result', { type: 'JSON', nullable: true, description: 'What the run did: counts, windows, files.' }),
  }),
});

const JobObject = builder.objectRef<JobInfo>('Job').implement({
  description: 'A scheduled job of the service.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    schedule: t.exposeString('schedule', { description: 'A cron expression (read in UTC, or in the zone of a CRON_TZ=<zone> prefix) or an interval such as 30s.' }),
    scope: t.field({ type: JobScopeEnum, resolve: (job) => (job.scope === 'host' ? 'HOST' : 'CLUSTER') }),
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
      args: { name: t.arg.string() },
      resolve: (query, _root, args, ctx) => {
        assertIdCursors(args);
        const where = args.name === null || args.name === undefined ? {} : { jobName: knownJob(ctx, args.name) };
        return ctx.db.prisma.jobRun.findMany({ ...query, where, orderBy: { id: 'desc' } });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.jobRun.count({ where: args.name === null || args.name === undefined ? {} : { jobName: args.name } }),
    },
    {},
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
    args: { name: t.arg.string({ required: true }) },
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
