/**
 * Delivery of notifications: at least once, with exponential backoff and a bounded number of attempts, every
 * attempt recorded. Every instance runs a loop that claims due notifications (FOR UPDATE SKIP LOCKED, with a
 * lease that the claiming instance renews while it holds the claim: a notification whose sender died is claimed
 * again once its lease lapses, one whose sender is slow is not) and sends them with bounded concurrency, at most
 * two at a time per channel, so a channel that is slow or failing never holds the others up. A claim is fenced
 * by its attempt number: a sender that lost its claim neither sends nor records the notification's outcome.
 */
import type { Logger } from 'pino';
import type { Database } from '../../../core/db/database.js';
import { sql } from '../../../core/db/sql.js';
import type { JsonObject } from '../../../core/json.js';
import type { AlertsConfig } from '../config.js';
import type { ChannelType, NotificationKind } from '../model.js';
import type { NotificationPayload } from '../channels/payload.js';
import type { ChannelService } from '../channels/service.js';
import { pool } from '../evaluation/reader.js';

interface Claimed {
  id: string;
  channelName: string;
  channelType: ChannelType;
  kind: NotificationKind;
  attempts: number;
  maxAttempts: number;
  payload: NotificationPayload & { deliveredTo?: string[] };
}

export interface DeliverySummary {
  sent: number;
  retrying: number;
  failed: number;
}

/** How long a claim holds a notification: longer than an attempt can take (SMS sends one request per recipient). */
const leaseMs = (timeoutMs: number) => timeoutMs * 3 + 5_000;
/** Backoff before attempt n + 1: 1 s, 2 s, 4 s … capped at 5 minutes, ±20 % so retries of many do not align. */
export function backoffMs(attempt: number): number {
  const base = Math.min(300_000, 1_000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export class DeliveryWorker {
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private kicked = false;

  constructor(
    private readonly db: Database,
    private readonly channels: ChannelService,
    private readonly config: AlertsConfig,
    private readonly instance: string,
    private readonly log: Logger,
    private readonly pollMs = 2_000,
  ) {}

  /**
   * Claims and sends what is due at `now`, once; resolves when those sends are done. `now` decides what is due
   * (a tick's anchor time); leases run on the database's clock, as a sender's attempt does in real time: read on
   * the caller's `now`, a sender anchored in the past looked lapsed to one anchored later (or to a skewed clock)
   * while still sending, and the notification went out twice.
   */
  async deliverDue(now: Date = new Date()): Promise<DeliverySummary> {
    const { concurrency, timeoutMs } = this.config.delivery;
    // Whether a notification is due is tested again on the row that FOR UPDATE locks, not only in the `due`
    // subquery: under READ COMMITTED, a row that another instance claimed (and committed) after this statement's
    // snapshot is locked in its newest version and only the locking scan's own conditions are rechecked on it
    // (EvalPlanQual); the subquery's answer, read on the old snapshot, is not. With the test in the subquery
    // alone, two instances claiming at once could both claim one notification and both send it.
    const due = sql`((status = 'PENDING' AND next_attempt_at <= ${now}) OR (status = 'SENDING' AND lease_expires_at < now()))`;
    const claimed = await this.db.query<Claimed>(sql`/* alerts.claimNotifications */
      UPDATE alert_notifications n SET status = 'SENDING', attempts = n.attempts + 1,
        lease_expires_at = now() + ${leaseMs(timeoutMs)}::int * interval '1 millisecond'
      WHERE n.id IN (
        SELECT id FROM alert_notifications
        WHERE id IN (
          SELECT id FROM (
            SELECT id, row_number() OVER (PARTITION BY channel_name ORDER BY next_attempt_at, id) AS position
            FROM alert_notifications
            WHERE ${due}
          ) due WHERE position <= 2
        ) AND ${due}
        ORDER BY next_attempt_at, id LIMIT ${concurrency * 4}
        FOR UPDATE SKIP LOCKED)
      RETURNING n.id::text AS id, n.channel_name AS "channelName", n.channel_type::text AS "channelType", n.kind::text AS kind,
                n.attempts, n.max_attempts AS "maxAttempts", n.payload`);
    const summary: DeliverySummary = { sent: 0, retrying: 0, failed: 0 };
    if (claimed.length === 0) return summary;
    // The claims are held while this batch works on them: queued behind `concurrency` sends, or in an attempt
    // that outlasts the lease (several SMS recipients, a slow database on a loaded machine), a notification's
    // lease would otherwise lapse and another instance would send it a second time.
    const held = new Map(claimed.map((notification) => [notification.id, notification.attempts]));
    const lease = leaseMs(timeoutMs);
    const renewal = setInterval(() => {
      this.renew(held, lease).catch((error: unknown) => this.log.warn({ err: error }, 'could not renew alert delivery leases'));
    }, Math.max(1_000, Math.floor(lease / 3)));
    renewal.unref();
    try {
      await pool(claimed, concurrency, async (notification) => {
        const outcome = await this.attempt(notification, now, lease);
        held.delete(notification.id);
        if (outcome) summary[outcome] += 1;
      });
    } finally {
      clearInterval(renewal);
    }
    return summary;
  }

  /** Extends the leases of the claims still held (fenced by the attempt number: a claim taken over is not). */
  private async renew(held: ReadonlyMap<string, number>, lease: number): Promise<void> {
    if (held.size === 0) return;
    await this.db.query(sql`/* alerts.renewLeases */
      UPDATE alert_notifications n SET lease_expires_at = now() + ${lease}::int * interval '1 millisecond'
      FROM unnest(${[...held.keys()]}::text[], ${[...held.values()]}::int4[]) AS v(id, attempts)
      WHERE n.id = v.id::bigint AND n.attempts = v.attempts AND n.status = 'SENDING'`);
  }

  /** One attempt of a claimed notification; null when the claim was lost before the send started. */
  private async attempt(notification: Claimed, now: Date, lease: number): Promise<keyof DeliverySummary | null> {
    // Still ours? (Its lease may have lapsed while it waited, if renewing failed, and another instance took it.)
    let still: { id: string } | undefined;
    try {
      [still] = await this.db.query<{ id: string }>(sql`/* alerts.holdClaim */
        UPDATE alert_notifications SET lease_expires_at = now() + ${lease}::int * interval '1 millisecond'
        WHERE id = ${notification.id}::bigint AND status = 'SENDING' AND attempts = ${notification.attempts}
        RETURNING id::text AS id`);
    } catch (error) {
      // Not sent now: its lease lapses and it is claimed again (at least once, never lost).
      this.log.warn({ err: error, notificationId: notification.id }, 'could not confirm an alert notification claim; left for a later claim');
      return null;
    }
    if (!still) {
      this.log.warn({ notificationId: notification.id, attempt: notification.attempts }, 'alert notification claimed by another instance before its send started; not sent');
      return null;
    }
    const started = Date.now();
    const startedAt = new Date();
    let outcome;
    try {
      const channel = await this.channels.resolveByName(notification.channelName);
      outcome = channel
        ? await this.channels.send(channel, notification.payload, { notificationId: notification.id, delivered: notification.payload.deliveredTo ?? [] })
        : { ok: false, status: null, retryable: false, error: `channel ${notification.channelName} no longer exists` };
    } catch (error) {
      outcome = { ok: false, status: null, retryable: true, error: error instanceof Error ? error.message : String(error) };
    }
    const durationMs = Date.now() - started;
    const last = !outcome.ok && (!outcome.retryable || notification.attempts >= notification.maxAttempts);
    const status = outcome.ok ? 'SENT' : last ? 'FAILED' : 'PENDING';
    const next = new Date(now.getTime() + (outcome.ok || last ? 0 : backoffMs(notification.attempts)));
    const delivered = 'delivered' in outcome && outcome.delivered ? outcome.delivered : null;
    try {
      await this.db.transaction(async (tx) => {
        await tx.query(sql`/* alerts.recordAttempt */
          INSERT INTO alert_notification_attempts (notification_id, attempt, started_at, duration_ms, succeeded, error, response_status, instance)
          VALUES (${notification.id}::bigint, ${notification.attempts}, ${startedAt}, ${durationMs}, ${outcome.ok}, ${outcome.error}, ${outcome.status}, ${this.instance})`);
        await tx.query(sql`/* alerts.finishAttempt */
          UPDATE alert_notifications SET status = ${status}::alert_notification_status, last_error = ${outcome.error},
            next_attempt_at = ${next}, lease_expires_at = NULL, sent_at = CASE WHEN ${outcome.ok} THEN ${new Date()}::timestamptz ELSE sent_at END,
            payload = CASE WHEN ${delivered !== null} THEN jsonb_set(payload, '{deliveredTo}', ${JSON.stringify(delivered ?? [])}::jsonb) ELSE payload END
          WHERE id = ${notification.id}::bigint AND status = 'SENDING' AND attempts = ${notification.attempts}`);
      });
    } catch (error) {
      // The lease lapses and the notification is claimed again: at least once, never lost.
      this.log.error({ err: error, notificationId: notification.id }, 'could not record a notification attempt');
    }
    const context = { notificationId: notification.id, channel: notification.channelName, kind: notification.kind, attempt: notification.attempts };
    if (outcome.ok) this.log.info(context, 'alert notification sent');
    else this.log[last ? 'error' : 'warn']({ ...context, error: outcome.error, final: last }, last ? 'alert notification failed for good' : 'alert notification failed; will retry');
    return outcome.ok ? 'sent' : last ? 'failed' : 'retrying';
  }

  /** Sends now what is due instead of waiting for the next poll (after a flush created notifications). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = (async () => {
      while (!this.stopped) {
        let busy = false;
        try {
          const summary = await this.deliverDue(new Date());
          busy = summary.sent + summary.retrying + summary.failed > 0;
        } catch (error) {
          this.log.warn({ err: error }, 'alert delivery loop: could not claim notifications');
        }
        if (this.stopped) break;
        if (busy || this.kicked) {
          this.kicked = false;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollMs);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    })();
  }

  /** Stops claiming; waits for the sends in progress (they are short: bounded by the delivery timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }
}

export type { JsonObject };
