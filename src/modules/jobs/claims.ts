import type { Database } from '../../core/db/database.js';
import type { Queryable } from '../../core/db/sql.js';
import { sql } from '../../core/db/sql.js';
import type { JobRunRecord, JobRunStatus, JobTrigger } from '../../core/jobs.js';
import type { JsonObject } from '../../core/json.js';

// How "once per tick across the cluster" works. Every instance's timer fires for the same tick (ticks are pure
// functions of the schedule, see schedule.ts), and each tries to insert the job_runs row for
// (job, lock key, tick). The unique key on those columns lets exactly one insert succeed: that instance runs the
// tick, the others see the row and do nothing. The row then records the run's status, duration and error.
//
// - No leader to elect or hand over: an instance that dies simply stops inserting; the next tick has a new key,
//   so another instance claims it.
// - A run still going when the next tick comes must not be doubled: a RUNNING row of the same job and lock key
//   turns the new tick's row into SKIPPED. RUNNING only counts while its lease is fresh (the runner renews it),
//   so a run orphaned by a dead instance is marked FAILED at the next claim instead of blocking the job forever.
// - Works unchanged on PGlite (one process; its transactions are already serial) and PostgreSQL (claims of one
//   job and lock key are serialised by a transaction-scoped advisory lock, so "is one running?" and the insert
//   are atomic; the unique key alone would not cover two different ticks racing).
// - All times compared here are the database's now(), so instances with skewed clocks still agree on leases.

/** The advisory lock class for claims (the two-key form keeps it apart from the single-key migration locks). */
const CLAIM_LOCK_CLASS = 7_271_303;

const RUN_COLUMNS = sql`id::text AS "id", job_name AS "jobName", lock_key AS "lockKey", scheduled_at AS "scheduledAt",
  "trigger"::text AS "trigger", status::text AS "status", instance, host, started_at AS "startedAt",
  finished_at AS "finishedAt", duration_ms AS "durationMs", error, result, lease_expires_at AS "leaseExpiresAt"`;

export interface ClaimRequest {
  jobName: string;
  lockKey: string;
  scheduledAt: Date;
  trigger: JobTrigger;
  instance: string;
  host: string;
  leaseMs: number;
}

export type ClaimOutcome =
  /** This instance owns the tick: the row is RUNNING and its lease must be renewed until it finishes. */
  | { kind: 'claimed'; run: JobRunRecord; reaped: ReapedRun[] }
  /** The previous run is still going: a SKIPPED row was recorded for the tick. */
  | { kind: 'skipped'; run: JobRunRecord; reaped: ReapedRun[]; runningId: string }
  /** Someone (another instance, or an earlier identical manual request) already has this tick. */
  | { kind: 'taken'; run: JobRunRecord; reaped: ReapedRun[] };

export interface ReapedRun {
  id: string;
  instance: string;
  scheduledAt: Date;
}

export async function claimRun(db: Database, request: ClaimRequest): Promise<ClaimOutcome> {
  const { jobName, lockKey, scheduledAt } = request;
  return db.transaction(async (tx) => {
    if (db.kind === 'postgres') await lockClaims(tx, jobName, lockKey);
    const reaped = await tx.query<ReapedRun>(sql`/* jobs.reapExpired */
      UPDATE job_runs
      SET status = 'FAILED', finished_at = now(), lease_expires_at = NULL,
          error = 'lease expired: instance ' || instance || ' stopped renewing it (it died or hung); marked failed by ' || ${request.instance}::text
      WHERE job_name = ${jobName} AND lock_key = ${lockKey} AND status = 'RUNNING' AND lease_expires_at < now()
      RETURNING id::text AS "id", instance, scheduled_at AS "scheduledAt"`);

    const [existing] = await tx.query<JobRunRecord>(sql`/* jobs.claimExisting */
      SELECT ${RUN_COLUMNS} FROM job_runs WHERE job_name = ${jobName} AND lock_key = ${lockKey} AND scheduled_at = ${scheduledAt}`);
    if (existing) return { kind: 'taken', run: existing, reaped };

    const [running] = await tx.query<{ id: string; instance: string; scheduledAt: Date }>(sql`/* jobs.claimRunning */
      SELECT id::text AS "id", instance, scheduled_at AS "scheduledAt" FROM job_runs
      WHERE job_name = ${jobName} AND lock_key = ${lockKey} AND status = 'RUNNING' ORDER BY id DESC LIMIT 1`);

    const inserted = running
      ? await insertRun(tx, request, 'SKIPPED', `skipped: run ${running.id} (tick ${running.scheduledAt.toISOString()}) is still going on ${running.instance}`)
      : await insertRun(tx, request, 'RUNNING', null);
    if (!inserted) {
      // Only reachable if the unique key caught a race the lock did not (it should not happen); report what won.
      const [winner] = await tx.query<JobRunRecord>(sql`/* jobs.claimExisting */
        SELECT ${RUN_COLUMNS} FROM job_runs WHERE job_name = ${jobName} AND lock_key = ${lockKey} AND scheduled_at = ${scheduledAt}`);
      if (!winner) throw new Error(`claim of ${jobName} at ${scheduledAt.toISOString()} neither inserted nor found`);
      return { kind: 'taken', run: winner, reaped };
    }
    return running
      ? { kind: 'skipped', run: inserted, reaped, runningId: running.id }
      : { kind: 'claimed', run: inserted, reaped };
  });
}

/**
 * Takes the lock that serialises claims of one job and lock key (PostgreSQL), until `tx` ends. Whoever holds it
 * makes every instance's next claim of that job wait, which is also how a test freezes the claims at a known point.
 */
export async function lockClaims(tx: Queryable, jobName: string, lockKey: string): Promise<void> {
  await tx.query(sql`/* jobs.claimLock */ SELECT pg_advisory_xact_lock(${CLAIM_LOCK_CLASS}::int, hashtext(${`${jobName}/${lockKey}`}))`);
}

async function insertRun(tx: Queryable, request: ClaimRequest, status: JobRunStatus, error: string | null) {
  const running = status === 'RUNNING';
  const [row] = await tx.query<JobRunRecord>(sql`/* jobs.claimInsert */
    INSERT INTO job_runs (job_name, lock_key, scheduled_at, "trigger", status, instance, host, finished_at, duration_ms, error, lease_expires_at)
    VALUES (
      ${request.jobName}, ${request.lockKey}, ${request.scheduledAt}, ${request.trigger}::job_trigger, ${status}::job_run_status,
      ${request.instance}, ${request.host},
      ${running ? null : new Date()}::timestamptz, ${running ? null : 0}::int, ${error}::text,
      now() + ${running ? request.leaseMs : null}::int * interval '1 millisecond'
    )
    ON CONFLICT (job_name, lock_key, scheduled_at) DO NOTHING
    RETURNING ${RUN_COLUMNS}`);
  return row;
}

/** Extends a RUNNING row's lease; false when the row is no longer ours to finish (its lease lapsed and was reaped). */
export async function renewLease(db: Queryable, runId: string, leaseMs: number): Promise<boolean> {
  const rows = await db.query<{ id: string }>(sql`/* jobs.renewLease */
    UPDATE job_runs SET lease_expires_at = now() + ${leaseMs}::int * interval '1 millisecond'
    WHERE id = ${runId}::bigint AND status = 'RUNNING' RETURNING id::text AS "id"`);
  return rows.length > 0;
}

export interface RunOutcome {
  status: Exclude<JobRunStatus, 'RUNNING' | 'SKIPPED'>;
  durationMs: number;
  error: string | null;
  result: JsonObject | null;
}

/**
 * Records how a run ended. Guarded by status = 'RUNNING', so a run that lost its lease (and was marked FAILED by
 * another instance) cannot overwrite that verdict; null is returned then.
 */
export async function finishRun(db: Queryable, runId: string, outcome: RunOutcome): Promise<JobRunRecord | null> {
  const [row] = await db.query<JobRunRecord>(sql`/* jobs.finishRun */
    UPDATE job_runs
    SET status = ${outcome.status}::job_run_status, finished_at = now(), duration_ms = ${outcome.durationMs}::int,
        error = ${outcome.error}::text, result = ${outcome.result === null ? null : JSON.stringify(outcome.result)}::jsonb,
        lease_expires_at = NULL
    WHERE id = ${runId}::bigint AND status = 'RUNNING'
    RETURNING ${RUN_COLUMNS}`);
  return row ?? null;
}

/** Marks runs this instance can no longer finish (it is stopping) as FAILED with the reason. */
export async function abandonRuns(db: Queryable, runIds: string[], reason: string): Promise<void> {
  if (runIds.length === 0) return;
  await db.query(sql`/* jobs.abandonRuns */
    UPDATE job_runs SET status = 'FAILED', finished_at = now(), lease_expires_at = NULL, error = ${reason}::text,
      duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
    WHERE id = ANY(${runIds}::text[]::bigint[]) AND status = 'RUNNING'`);
}

export async function findRun(db: Queryable, runId: string): Promise<JobRunRecord | null> {
  const [row] = await db.query<JobRunRecord>(sql`/* jobs.findRun */ SELECT ${RUN_COLUMNS} FROM job_runs WHERE id = ${runId}::bigint`);
  return row ?? null;
}
