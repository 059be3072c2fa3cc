import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import schedule from 'node-schedule';
import type { Logger } from 'pino';
import type { Database } from '../../core/db/database.js';
import { abandonRuns, claimRun, finishRun, findRun, renewLease, type ClaimOutcome, type RunOutcome } from './claims.js';
import type { JobDefinition, JobRunRecord, JobTrigger } from '../../core/jobs.js';

export interface SchedulerOptions {
  db: Database;
  log: Logger;
  jobs: JobDefinition[];
  /** Names this instance's machine in lock keys and run records (INSIGHTS_HOSTNAME). */
  hostName: string;
  /** Whether start() arms the timers (MONITORING_ENABLED). Manual runs work either way. */
  enabled: boolean;
  /**
   * How long a RUNNING row stays valid without renewal. The runner renews it every third of this, so an
   * instance that dies blocks its job for at most this long before another instance's claim reaps the row.
   * @default 60_000
   */
  leaseMs?: number;
  /** @default `<host>/<pid>/<random>` */
  instanceId?: string;
  /** @default () => new Date() */
  now?: () => Date;
}

export interface JobInfo {
  name: string;
  description: string;
  schedule: string;
  scope: JobDefinition['scope'];
  /** True when this instance's timers fire the job (MONITORING_ENABLED and started). */
  enabled: boolean;
  nextRunAt: Date | null;
}

export class UnknownJobError extends Error {
  override name = 'UnknownJobError';
  constructor(
    readonly jobName: string,
    readonly known: string[],
  ) {
    super(`unknown job "${jobName}"; known jobs: ${known.join(', ')}`);
  }
}

const DEFAULT_LEASE_MS = 60_000;
const MAX_ERROR_LENGTH = 4_000;
/**
 * How long stop() still waits, after its deadline, for claims in flight (a database round trip each, unless one
 * queues on another instance's claim lock). A claim that lands in that time is recorded as interrupted at once.
 */
const CLAIM_SETTLE_MS = 5_000;

/**
 * Fires each job on node-schedule and runs each tick through a claim in job_runs (see claims.ts), so a tick
 * runs on one instance (per host for host-scoped jobs), a run still going makes the next tick SKIPPED, and a
 * failing job is recorded and logged without ever reaching the process.
 */
export class JobScheduler {
  readonly instance: string;
  readonly hostName: string;
  private readonly db: Database;
  private readonly log: Logger;
  private readonly jobs: Map<string, JobDefinition>;
  private readonly enabled: boolean;
  private readonly leaseMs: number;
  private readonly now: () => Date;
  private readonly timers = new Map<string, schedule.Job>();
  /** Runs this instance owns right now, by run id. */
  private readonly active = new Map<string, AbortController>();
  /** Every tick and manual run in progress (claims included), so stop() can wait for them. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Claims not yet answered by the database (each with its follow-up when it lands after the deadline). */
  private readonly claiming = new Set<Promise<unknown>>();
  private started = false;
  private stopping: Promise<void> | undefined;
  /** Set once stop() has recorded the runs still going as interrupted: a claim landing later must not run. */
  private abandoning = false;
  private readonly recorded: ((run: JobRunRecord) => void)[] = [];

  constructor(options: SchedulerOptions) {
    this.db = options.db;
    this.log = options.log.child({ component: 'jobs' });
    this.jobs = new Map(options.jobs.map((job) => [job.name, job]));
    this.hostName = options.hostName;
    this.enabled = options.enabled;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.now = options.now ?? (() => new Date());
    this.instance = options.instanceId ?? `${options.hostName}/${process.pid}/${randomBytes(3).toString('hex')}`;
  }

  /** Called with each run this instance records as over: SUCCEEDED, FAILED, or SKIPPED (self-metrics). */
  onRunRecorded(listener: (run: JobRunRecord) => void): void {
    this.recorded.push(listener);
  }

  get names(): string[] {
    return [...this.jobs.keys()];
  }

  /** The job called `name`; throws UnknownJobError (a caller mistake) when there is none. */
  job(name: string): JobDefinition {
    const job = this.jobs.get(name);
    if (!job) throw new UnknownJobError(name, this.names);
    return job;
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((job) => {
      const next = this.timers.get(job.name)?.nextInvocation();
      return {
        name: job.name,
        description: job.description,
        schedule: job.schedule.spec,
        scope: job.scope,
        enabled: this.timers.has(job.name),
        // node-schedule hands back its CronDate here, not a Date.
        nextRunAt: next ? new Date(next.getTime()) : null,
      };
    });
  }

  /** Arms the timers when enabled. */
  start(): void {
    if (this.started || this.stopping || !this.enabled) return;
    this.started = true;
    for (const job of this.jobs.values()) {
      void job.prepare?.().catch((error: unknown) => this.log.warn({ err: error, job: job.name }, 'job preparation failed'));
      this.arm(job);
    }
    this.log.info({ jobs: this.list().map(({ name, schedule: spec }) => ({ name, schedule: spec })), instance: this.instance }, 'scheduler started');
  }

  private arm(job: JobDefinition): void {
    // Unique per instance: node-schedule keeps a process-wide registry by name, and tests run several apps.
    const timerName = `${this.instance}:${job.name}`;
    if (job.schedule.kind === 'cron') {
      const timer = new schedule.Job(timerName, (fireDate: Date) => this.onTimer(job, fireDate));
      // The rule without its CRON_TZ= prefix, in the schedule's zone (UTC unless the prefix names one).
      timer.schedule({ rule: job.schedule.spec.replace(/^CRON_TZ=\S+ /, ''), tz: job.schedule.timeZone });
      this.timers.set(job.name, timer);
      return;
    }
    // Intervals are epoch-aligned one-off dates, re-armed on each fire from the clock (not from the last tick),
    // so a process that was suspended resumes at the next tick instead of replaying the missed ones.
    const fire = (fireDate: Date) => {
      if (!this.stopping) armNext(fireDate);
      this.onTimer(job, fireDate);
    };
    const armNext = (after: Date) => {
      // Never at or before the tick that just fired, should the timer fire a little early.
      const next = job.schedule.next(new Date(Math.max(this.now().getTime(), after.getTime())));
      // node-schedule refuses a date already past, and the clock can pass `next` between reading it and arming
      // it (a pause under load just before a tick): the timer would never fire again. Fire it now, as late timers do.
      if (!timer.schedule(next)) setImmediate(() => fire(next));
    };
    const timer = new schedule.Job(timerName, fire);
    armNext(new Date(0));
    this.timers.set(job.name, timer);
  }

  private onTimer(job: JobDefinition, fireDate: Date): void {
    if (this.stopping) return;
    // tick() never rejects, but a timer callback must not be able to produce an unhandled rejection either.
    this.tick(job.name, fireDate).catch((error: unknown) => this.log.error({ err: error, job: job.name }, 'job tick failed'));
  }

  /**
   * Runs the tick a timer fired for (the scheduled fire time, normalised to its tick). Returns the run this
   * instance recorded (SUCCEEDED, FAILED or SKIPPED), or null when another instance has the tick. Never rejects:
   * failures are recorded and logged (only an unknown job name throws, at once).
   */
  tick(name: string, fireTime: Date): Promise<JobRunRecord | null> {
    const job = this.job(name);
    const scheduledAt = job.schedule.tickFor(fireTime);
    return this.track(
      this.execute(job, 'SCHEDULED', scheduledAt).then(
        (outcome) => (outcome.kind === 'taken' ? null : outcome.run),
        (error: unknown) => {
          this.log.error({ err: error, job: name, scheduledAt }, 'could not claim or record a job tick');
          return null;
        },
      ),
    );
  }

  /**
   * Runs a job now, outside its schedule, and resolves with its finished run. `definition` replaces the
   * registered job of the same name for this run (the command line's cleanup with its own cut-off); it shares
   * the job's claims, so it is skipped while a run of that job is going.
   */
  async runNow(name: string, options: { fireTime?: Date; definition?: JobDefinition } = {}): Promise<JobRunRecord> {
    if (this.stopping) throw new Error('the scheduler is stopping');
    const registered = this.job(name);
    if (options.definition && options.definition.name !== registered.name) {
      throw new Error(`a replacement for job ${name} must keep its name (claims and history are kept by name)`);
    }
    const job = options.definition ?? registered;
    const now = this.now();
    const fireTime = options.fireTime ?? (job.manualAnchor === 'latestTick' ? job.schedule.latest(now) : now);
    const outcome = await this.track(this.execute(job, 'MANUAL', fireTime));
    return outcome.run;
  }

  private announce(run: JobRunRecord): JobRunRecord {
    for (const listener of this.recorded) {
      try {
        listener(run);
      } catch (error) {
        this.log.error({ err: error, job: run.jobName }, 'job run listener failed');
      }
    }
    return run;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const forget = () => this.pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  private async execute(
    job: JobDefinition,
    trigger: JobTrigger,
    scheduledAt: Date,
  ): Promise<{ kind: ClaimOutcome['kind']; run: JobRunRecord }> {
    const context = { job: job.name, scheduledAt, trigger };
    const landed = this.trackClaim();
    try {
      const claim = await claimRun(this.db, {
        jobName: job.name,
        lockKey: job.scope === 'host' ? `host:${this.hostName}` : 'cluster',
        scheduledAt,
        trigger,
        instance: this.instance,
        host: this.hostName,
        leaseMs: this.leaseMs,
      });
      for (const orphan of claim.reaped) {
        this.log.warn({ ...context, orphan }, 'marked a run of a vanished instance as failed (its lease expired)');
      }
      if (claim.kind === 'taken') {
        this.log.debug({ ...context, runId: claim.run.id, owner: claim.run.instance }, 'tick already claimed');
        return claim;
      }
      if (claim.kind === 'skipped') {
        this.log.warn({ ...context, runId: claim.run.id, runningId: claim.runningId }, 'previous run still going; tick skipped');
        this.announce(claim.run);
        return claim;
      }
      if (this.abandoning) {
        // stop() has already recorded the runs still going and will not wait for this one: started now, it would
        // run on a database about to close and its row would stay RUNNING, holding the job's later ticks, until
        // its lease lapsed. Recorded as interrupted at once instead.
        this.log.warn({ ...context, runId: claim.run.id }, 'a claim landed after shutdown began; recorded as interrupted');
        await abandonRuns(this.db, [claim.run.id], `interrupted: instance ${this.instance} stopped before the run started`);
        return { kind: 'claimed', run: this.announce((await findRun(this.db, claim.run.id)) ?? claim.run) };
      }
      // perform() registers the run as active before its first await, in this same turn as the check above, so
      // stop() either sees it among the active runs or has set `abandoning` first.
      const performing = this.perform(job, claim.run);
      landed();
      return { kind: 'claimed', run: this.announce(await performing) };
    } finally {
      landed();
    }
  }

  /** Registers a claim in flight for stop(); the returned function (idempotent) marks it landed. */
  private trackClaim(): () => void {
    let resolve!: () => void;
    const claim = new Promise<void>((done) => (resolve = done));
    this.claiming.add(claim);
    return () => {
      this.claiming.delete(claim);
      resolve();
    };
  }

  private async perform(job: JobDefinition, run: JobRunRecord): Promise<JobRunRecord> {
    const log = this.log.child({ job: job.name, runId: run.id, scheduledAt: run.scheduledAt, trigger: run.trigger });
    const controller = new AbortController();
    this.active.set(run.id, controller);
    const renewal = setInterval(() => {
      renewLease(this.db, run.id, this.leaseMs).then(
        (held) => {
          // Fencing: once another instance has reaped the row, this run's results no longer count; stop it.
          if (!held) controller.abort(new Error('lost the run lease (another instance marked this run failed)'));
        },
        (error: unknown) => log.warn({ err: error }, 'could not renew the run lease'),
      );
    }, Math.max(50, Math.floor(this.leaseMs / 3)));
    renewal.unref();

    const started = performance.now();
    let outcome: RunOutcome;
    try {
      const result = await job.run({ fireTime: run.scheduledAt, trigger: run.trigger, signal: controller.signal, log });
      outcome = { status: 'SUCCEEDED', durationMs: elapsed(started), error: null, result };
    } catch (error) {
      outcome = { status: 'FAILED', durationMs: elapsed(started), error: describeError(error), result: null };
      log.error({ err: error, durationMs: outcome.durationMs }, 'job run failed');
    } finally {
      clearInterval(renewal);
      this.active.delete(run.id);
    }
    if (outcome.status === 'SUCCEEDED') {
      log[job.scope === 'host' ? 'debug' : 'info']({ durationMs: outcome.durationMs, result: outcome.result }, 'job run succeeded');
    }
    try {
      const finished = await finishRun(this.db, run.id, outcome);
      if (finished) return finished;
      log.warn({ outcome: outcome.status }, 'run ended after losing its lease; it stays recorded as failed');
      return (await findRun(this.db, run.id)) ?? { ...run, ...outcome };
    } catch (error) {
      log.error({ err: error, outcome: outcome.status }, 'could not record the end of a job run');
      return { ...run, ...outcome, finishedAt: new Date() };
    }
  }

  /**
   * Stops firing at once; waits until `deadline` for ticks in progress, then aborts what is left and records it
   * as FAILED (interrupted), so the database may be closed right after. Claims still in flight then are waited
   * for (a little longer), and one that lands is recorded as interrupted without running.
   */
  stop(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping ??= (async () => {
      for (const timer of this.timers.values()) timer.cancel();
      this.timers.clear();
      for (const job of this.jobs.values()) job.dispose?.();
      if (this.pending.size > 0) await settledBy([...this.pending], deadline);
      this.abandoning = true;
      if (this.active.size > 0) {
        const controllers = [...this.active.values()];
        const ids = [...this.active.keys()];
        this.log.warn({ runIds: ids }, 'job runs still going at shutdown; recorded as interrupted');
        // Recorded before the runs are told to stop, so the verdict is "interrupted" whatever they report.
        await abandonRuns(this.db, ids, `interrupted: instance ${this.instance} stopped before the run finished`).catch(
          (error: unknown) => this.log.error({ err: error, runIds: ids }, 'could not record interrupted job runs'),
        );
        for (const controller of controllers) controller.abort(new Error('instance stopping'));
      }
      if (this.claiming.size > 0) {
        // Returning now would let the caller close the database under them (see execute()).
        this.log.warn({ claims: this.claiming.size }, 'claims still in flight at shutdown; any that lands is recorded as interrupted');
        const settled = await settledBy([...this.claiming], Date.now() + CLAIM_SETTLE_MS);
        if (!settled) this.log.error({ claims: this.claiming.size }, 'claims still unanswered at shutdown; a run one of them records is held until its lease lapses');
      }
    })();
    return this.stopping;
  }
}

/** Waits until every promise has settled or `deadline` (epoch ms) has passed; true when they all settled. */
async function settledBy(promises: Promise<unknown>[], deadline: number): Promise<boolean> {
  let timeout: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    Promise.allSettled(promises).then(() => true),
    new Promise<boolean>((resolve) => {
      timeout = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    }),
  ]);
  clearTimeout(timeout);
  return settled;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}
