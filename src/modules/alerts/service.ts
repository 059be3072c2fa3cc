/**
 * The alerting module's actions, used by GraphQL, the command line, the jobs and the tests alike: rules,
 * channels, silences, acknowledgements, evaluation ticks and deliveries. Writes are audited in their
 * transaction; live events are published after the commit.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { EventBus } from '../../core/bus/pubsub.js';
import type { Database } from '../../core/db/database.js';
import { sql } from '../../core/db/sql.js';
import { InputValidationError, invalidInput, issue, text, type InputIssue } from '../../core/input.js';
import type { JsonObject } from '../../core/json.js';
import type { AnalyticsService } from '../analytics/service.js';
import type { Actor, AuditTrail } from '../audit/service.js';
import { compileLabelPattern, PatternError, type LabelMatcher } from './condition/index.js';
import type { AlertsConfig } from './config.js';
import { testPayload } from './channels/payload.js';
import { ChannelNotFoundError, ChannelService, EnvironmentChannelError, type ChannelView } from './channels/service.js';
import { DeliveryWorker, type DeliverySummary } from './dispatch/delivery.js';
import { activeSilences, Dispatcher, inhibitions, silencedBy, type SilenceRecord } from './dispatch/flush.js';
import { Evaluator, type EvaluationSummary } from './evaluation/evaluator.js';
import { ALERT_EVENTS_TOPIC, type AlertEventPayload } from './events.js';
import { ALERT_COLUMNS, type AlertRecord, type ChannelType, type RuleRecord } from './model.js';
import { RuleService, seedDefaultRules, type RuleInput } from './rules.js';

export interface SilenceInput {
  matchers: { label: string; op?: LabelMatcher['op'] | null; value: string }[];
  startsAt?: Date | null;
  endsAt: Date;
  comment: string;
}

export class AlertNotFoundError extends Error {}
export class SilenceNotFoundError extends Error {}

export interface TickResult extends EvaluationSummary {
  groupsFlushed: number;
  notifications: number;
}

export class AlertingService {
  readonly rules: RuleService;
  readonly channels: ChannelService;
  readonly delivery: DeliveryWorker;
  private readonly evaluator: Evaluator;
  private readonly dispatcher: Dispatcher;
  readonly instance = `${process.pid}/${randomBytes(3).toString('hex')}`;

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly audit: AuditTrail,
    analytics: AnalyticsService,
    readonly config: AlertsConfig,
    private readonly log: Logger,
    hostName: string,
  ) {
    this.channels = new ChannelService(db, config, log);
    this.rules = new RuleService(db, audit, (tx) => this.channels.names(tx));
    this.evaluator = new Evaluator(db, analytics, log);
    this.dispatcher = new Dispatcher(db, this.channels, config.delivery.maxAttempts, log);
    this.delivery = new DeliveryWorker(db, this.channels, config, `${hostName}/${this.instance}`, log);
  }

  /**
   * One evaluation tick at `now` (the job's tick): evaluate every enabled rule, publish the transitions, flush
   * the groups that are due, and wake this instance's delivery loop.
   */
  async tick(now: Date): Promise<TickResult> {
    const { events, summary } = await this.evaluator.evaluate(now);
    this.publish(events);
    const flushed = await this.dispatcher.flushDue(now);
    if (flushed.notifications > 0) this.delivery.kick();
    return { ...summary, groupsFlushed: flushed.groups, notifications: flushed.notifications };
  }

  /** Flushes due groups only (what tick does after evaluating). */
  flush(now: Date) {
    return this.dispatcher.flushDue(now);
  }

  /** Claims and sends what is due at `now`, once (the delivery loop does this continuously). */
  deliverDue(now: Date = new Date()): Promise<DeliverySummary> {
    return this.delivery.deliverDue(now);
  }

  seedDefaults(): Promise<string[]> {
    return seedDefaultRules(this.db, this.rules, this.config);
  }

  publish(events: readonly AlertEventPayload[]): void {
    if (events.length > 0) this.bus.publish(ALERT_EVENTS_TOPIC, { events: [...events] });
  }

  async updateRule(actor: Actor, id: string, input: RuleInput, expectedVersion: number | null): Promise<RuleRecord> {
    const { rule, resolved } = await this.rules.update(actor, id, input, expectedVersion);
    this.publish(resolved.map((alert) => ({ type: 'RESOLVED', alert })));
    return rule;
  }

  async deleteRule(actor: Actor, id: string): Promise<RuleRecord> {
    const { rule, resolved } = await this.rules.delete(actor, id);
    this.publish(resolved.map((alert) => ({ type: 'RESOLVED', alert })));
    return rule;
  }

  // ------------------------------------------------------------------------------------------- alerts

  async alert(id: string): Promise<AlertRecord | null> {
    if (!/^\d{1,18}$/.test(id)) return null;
    const [row] = await this.db.query<AlertRecord>(sql`/* alerts.alert */ SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = ${id}::bigint`);
    return row ?? null;
  }

  async activeAlerts(): Promise<AlertRecord[]> {
    return this.db.query<AlertRecord>(sql`/* alerts.active */
      SELECT ${ALERT_COLUMNS} FROM alerts WHERE status <> 'RESOLVED'
      ORDER BY CASE severity WHEN 'CRITICAL' THEN 0 WHEN 'WARNING' THEN 1 ELSE 2 END, status, starts_at DESC, id DESC`);
  }

  /**
   * How many alerts of each rule fired (fired_at) and resolved (ends_at) in [from, to): the alerts section of the
   * reports. Rules with neither are left out; ordered by rule name.
   */
  async alertCountsByRule(from: Date, to: Date): Promise<{ rule: string; fired: number; resolved: number }[]> {
    return this.db.query<{ rule: string; fired: number; resolved: number }>(sql`/* alerts.countsByRule */
      SELECT rule_name AS rule,
        (count(*) FILTER (WHERE fired_at >= ${from} AND fired_at < ${to}))::int AS fired,
        (count(*) FILTER (WHERE status = 'RESOLVED' AND fired_at IS NOT NULL AND ends_at >= ${from} AND ends_at < ${to}))::int AS resolved
      FROM alerts
      WHERE (fired_at >= ${from} AND fired_at < ${to}) OR (ends_at >= ${from} AND ends_at < ${to})
      GROUP BY rule_name
      HAVING count(*) FILTER (WHERE fired_at >= ${from} AND fired_at < ${to}) > 0
          OR count(*) FILTER (WHERE status = 'RESOLVED' AND fired_at IS NOT NULL AND ends_at >= ${from} AND ends_at < ${to}) > 0
      ORDER BY rule_name`);
  }

  /** Silences and inhibitions of alerts at `now`, for the `silenced`/`inhibited` fields. */
  async mutes(alerts: readonly AlertRecord[], now = new Date()): Promise<{ silences: SilenceRecord[]; inhibited: Map<string, string> }> {
    const [silences, inhibited] = await Promise.all([activeSilences(this.db, now), inhibitions(this.db, alerts.filter((a) => a.status !== 'RESOLVED'))]);
    return { silences, inhibited };
  }

  silencedBy(silences: readonly SilenceRecord[], alert: AlertRecord, now = new Date()): string[] {
    return alert.status === 'RESOLVED' ? [] : silencedBy(silences, alert.labels, now);
  }

  async acknowledge(actor: Actor, id: string, comment: string | null): Promise<AlertRecord> {
    const alert = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<AlertRecord>(sql`/* alerts.acknowledge */
        UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, now()), acknowledgement = ${comment}, acknowledged_by = ${actor.keyName.slice(0, 100)}
        WHERE id = ${id}::bigint AND status <> 'RESOLVED' RETURNING ${ALERT_COLUMNS}`);
      if (!row) {
        const [exists] = await tx.query<{ status: string }>(sql`/* alerts.alertStatus */ SELECT status::text AS status FROM alerts WHERE id = ${id}::bigint`);
        if (!exists) throw new AlertNotFoundError(id);
        throw invalidInput('id', 'this alert is already resolved: there is nothing left to acknowledge');
      }
      await this.audit.record(actor, 'alert.acknowledged', { type: 'alert', id }, `Alert ${id} of rule "${row.ruleName}" acknowledged`, {
        rule: row.ruleName,
        labels: row.labels,
        comment,
      }, tx);
      return row;
    });
    this.publish([{ type: 'ACKNOWLEDGED', alert }]);
    return alert;
  }

  // ----------------------------------------------------------------------------------------- silences

  async silences(): Promise<SilenceView[]> {
    return this.db.query<SilenceView>(sql`/* alerts.silences */ SELECT ${SILENCE_COLUMNS} FROM alert_silences ORDER BY ends_at DESC, created_at DESC LIMIT 1000`);
  }

  async createSilence(actor: Actor, input: SilenceInput): Promise<SilenceView> {
    const now = new Date();
    const issues: InputIssue[] = [];
    const matchers: LabelMatcher[] = [];
    if (input.matchers.length === 0) issues.push(issue('input.matchers', 'must hold at least one matcher'));
    if (input.matchers.length > 20) issues.push(issue('input.matchers', 'must hold at most 20 matchers'));
    input.matchers.forEach((matcher, index) => {
      const path = `input.matchers[${index}]`;
      if (!/^[A-Za-z0-9_.:/-]{1,100}$/.test(matcher.label)) issues.push(issue(`${path}.label`, 'must be a label name (1-100 characters of A-Z a-z 0-9 _ . : / -)'));
      if (matcher.value.length > 1000) issues.push(issue(`${path}.value`, 'must be at most 1000 characters'));
      const op = matcher.op ?? '=';
      if (op === '=~' || op === '!~') {
        try {
          compileLabelPattern(matcher.value);
        } catch (error) {
          if (!(error instanceof PatternError)) throw error;
          issues.push(issue(`${path}.value`, error.message));
        }
      }
      matchers.push({ label: matcher.label, op, value: matcher.value });
    });
    // A silence whose every matcher matches the empty label would silence everything (as Alertmanager refuses).
    if (issues.length === 0 && matchers.length > 0 && silencedBy([{ id: '', matchers, startsAt: now, endsAt: new Date(now.getTime() + 1) }], {}, now).length > 0) {
      issues.push(issue('input.matchers', 'at least one matcher must not match an empty or absent label, or the silence would mute every alert'));
    }
    const startsAt = input.startsAt ?? now;
    if (input.endsAt.getTime() <= Math.max(startsAt.getTime(), now.getTime())) issues.push(issue('input.endsAt', 'must be in the future and after startsAt'));
    if (input.endsAt.getTime() - startsAt.getTime() > 366 * 86_400_000) issues.push(issue('input.endsAt', 'a silence lasts at most a year'));
    const comment = input.comment.trim();
    if (!comment) issues.push(issue('input.comment', 'must say why (e.g. "maintenance of web-1, ticket OPS-42")'));
    if (comment.length > 2000) issues.push(issue('input.comment', 'must be at most 2000 characters'));
    if (issues.length > 0) throw new InputValidationError(issues);
    const { silence, affected } = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<SilenceView>(sql`/* alerts.createSilence */
        INSERT INTO alert_silences (id, matchers, starts_at, ends_at, comment, created_by)
        VALUES (gen_random_uuid(), ${JSON.stringify(matchers)}::jsonb, ${startsAt}, ${input.endsAt}, ${comment}, ${actor.keyName.slice(0, 100)})
        RETURNING ${SILENCE_COLUMNS}`);
      await this.audit.record(actor, 'alert_silence.created', { type: 'alert_silence', id: row!.id }, `Silence ${row!.id} created`, {
        matchers: matchers as unknown as JsonObject[],
        startsAt: startsAt.toISOString(),
        endsAt: input.endsAt.toISOString(),
        comment,
      }, tx);
      const open = await tx.query<AlertRecord>(sql`/* alerts.openAlerts */ SELECT ${ALERT_COLUMNS} FROM alerts WHERE status <> 'RESOLVED'`);
      const record: SilenceRecord = { id: row!.id, matchers, startsAt, endsAt: input.endsAt };
      return { silence: row!, affected: startsAt <= now ? open.filter((alert) => silencedBy([record], alert.labels, now).length > 0) : [] };
    });
    this.publish(affected.map((alert) => ({ type: 'SILENCED', alert })));
    return silence;
  }

  async expireSilence(actor: Actor, id: string): Promise<SilenceView> {
    if (!z.uuid().safeParse(id).success) throw invalidInput('id', 'must be a silence id (UUID)');
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<SilenceView>(sql`/* alerts.expireSilence */
        UPDATE alert_silences SET ends_at = LEAST(ends_at, now()), starts_at = LEAST(starts_at, now()), updated_at = now()
        WHERE id = ${id}::uuid RETURNING ${SILENCE_COLUMNS}`);
      if (!row) throw new SilenceNotFoundError(id);
      await this.audit.record(actor, 'alert_silence.expired', { type: 'alert_silence', id }, `Silence ${id} expired`, { endsAt: row.endsAt.toISOString() }, tx);
      return row;
    });
  }

  // ----------------------------------------------------------------------------------------- channels

  async createChannel(actor: Actor, input: { name: string; type: ChannelType; config: unknown }): Promise<ChannelView> {
    const prepared = await this.channels.prepare(input, null, 'input');
    const id = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ id: string }>(sql`/* alerts.createChannel */
        INSERT INTO alert_channels (id, name, type, config, secrets) VALUES (gen_random_uuid(), ${input.name}, ${input.type}::alert_channel_type,
          ${JSON.stringify(prepared.config)}::jsonb, ${JSON.stringify(prepared.secrets)}::jsonb)
        ON CONFLICT (name) DO NOTHING RETURNING id::text AS id`);
      if (!row) throw invalidInput('input.name', `a channel called "${input.name}" already exists`);
      await this.audit.record(actor, 'alert_channel.created', { type: 'alert_channel', id: row.id }, `Alert channel "${input.name}" (${input.type}) created`, {
        name: input.name,
        type: input.type,
        config: prepared.config,
      }, tx);
      return row.id;
    });
    return (await this.channels.get(id))!;
  }

  async updateChannel(actor: Actor, id: string, input: { name?: string | null; config?: unknown }): Promise<ChannelView> {
    const current = await this.channels.resolveById(id);
    if (!current) throw new ChannelNotFoundError(id);
    if (current.source === 'ENVIRONMENT') throw new EnvironmentChannelError(current.name);
    const name = input.name ?? current.name;
    const merged = input.config === undefined || input.config === null ? { ...current.config, url: undefined } : input.config;
    const prepared = await this.channels.prepare({ name, type: current.type, config: stripMasked(merged, current.type) }, current, 'input');
    await this.db.transaction(async (tx) => {
      if (name !== current.name) {
        const taken = await tx.query(sql`/* alerts.channelNameTaken */ SELECT 1 FROM alert_channels WHERE name = ${name} AND id <> ${id}::uuid`);
        if (taken.length > 0) throw invalidInput('input.name', `a channel called "${name}" already exists`);
        // Rules and groups name their channels: a rename follows through.
        await tx.query(sql`/* alerts.renameChannelInRules */ UPDATE alert_rules SET channels = array_replace(channels, ${current.name}, ${name}) WHERE ${current.name} = ANY(channels)`);
        await tx.query(sql`/* alerts.renameChannelInGroups */ UPDATE alert_groups SET channels = array_replace(channels, ${current.name}, ${name}) WHERE ${current.name} = ANY(channels)`);
      }
      await tx.query(sql`/* alerts.updateChannel */
        UPDATE alert_channels SET name = ${name}, config = ${JSON.stringify(prepared.config)}::jsonb, secrets = ${JSON.stringify(prepared.secrets)}::jsonb, updated_at = now()
        WHERE id = ${id}::uuid`);
      await this.audit.record(actor, 'alert_channel.updated', { type: 'alert_channel', id }, `Alert channel "${name}" updated`, { name, config: prepared.config }, tx);
    });
    return (await this.channels.get(id))!;
  }

  async deleteChannel(actor: Actor, id: string): Promise<ChannelView> {
    const current = await this.channels.resolveById(id);
    if (!current) throw new ChannelNotFoundError(id);
    if (current.source === 'ENVIRONMENT') throw new EnvironmentChannelError(current.name);
    await this.db.transaction(async (tx) => {
      const users = await tx.query<{ name: string }>(sql`/* alerts.channelUsers */ SELECT name FROM alert_rules WHERE ${current.name} = ANY(channels) ORDER BY name LIMIT 20`);
      if (users.length > 0) {
        throw invalidInput('id', `channel "${current.name}" is used by the rules ${users.map((user) => user.name).join(', ')}; remove it from them first`);
      }
      await tx.query(sql`/* alerts.deleteChannel */ DELETE FROM alert_channels WHERE id = ${id}::uuid`);
      await this.audit.record(actor, 'alert_channel.deleted', { type: 'alert_channel', id }, `Alert channel "${current.name}" deleted`, { name: current.name }, tx);
    });
    const { secrets: _secrets, ...view } = current;
    return view;
  }

  /** Sends a test message now (one attempt, recorded like any delivery) and returns the notification. */
  async testChannel(actor: Actor, id: string): Promise<string> {
    const channel = await this.channels.resolveById(id);
    if (!channel) throw new ChannelNotFoundError(id);
    const now = new Date();
    const payload = testPayload(channel.name, now);
    const [row] = await this.db.query<{ id: string }>(sql`/* alerts.createTestNotification */
      INSERT INTO alert_notifications (group_key, channel_name, channel_type, kind, status, alert_ids, payload, attempts, max_attempts, next_attempt_at, lease_expires_at)
      VALUES (NULL, ${channel.name}, ${channel.type}::alert_channel_type, 'TEST', 'SENDING', '{}', ${JSON.stringify(payload)}::jsonb, 1, 1, ${now}, ${new Date(now.getTime() + 120_000)})
      RETURNING id::text AS id`);
    const notificationId = row!.id;
    const started = Date.now();
    const outcome = await this.channels.send(channel, payload, { notificationId, delivered: [] }).catch((error: unknown) => ({
      ok: false,
      status: null,
      retryable: false,
      error: error instanceof Error ? error.message : String(error),
    }));
    await this.db.transaction(async (tx) => {
      await tx.query(sql`/* alerts.recordAttempt */
        INSERT INTO alert_notification_attempts (notification_id, attempt, started_at, duration_ms, succeeded, error, response_status, instance)
        VALUES (${notificationId}::bigint, 1, ${now}, ${Date.now() - started}, ${outcome.ok}, ${outcome.error}, ${outcome.status}, ${this.delivery ? this.instance : ''})`);
      await tx.query(sql`/* alerts.finishTest */
        UPDATE alert_notifications SET status = ${outcome.ok ? 'SENT' : 'FAILED'}::alert_notification_status, last_error = ${outcome.error},
          lease_expires_at = NULL, sent_at = ${outcome.ok ? new Date() : null} WHERE id = ${notificationId}::bigint`);
      await this.audit.record(actor, 'alert_channel.tested', { type: 'alert_channel', id }, `Test message sent to channel "${channel.name}": ${outcome.ok ? 'delivered' : 'failed'}`, {
        notificationId,
        ok: outcome.ok,
        error: outcome.error,
      }, tx);
    });
    return notificationId;
  }

  close(): void {
    this.channels.close();
  }
}

export interface SilenceView {
  id: string;
  matchers: LabelMatcher[];
  startsAt: Date;
  endsAt: Date;
  comment: string;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

const SILENCE_COLUMNS = sql`id::text AS id, matchers, starts_at AS "startsAt", ends_at AS "endsAt", comment, created_by AS "createdBy",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/** An update's config may come back from a query with masked values: those mean "keep what is stored". */
function stripMasked(config: unknown, _type: ChannelType): unknown {
  if (!config || typeof config !== 'object' || Array.isArray(config)) return config;
  const copy: Record<string, unknown> = { ...(config as Record<string, unknown>) };
  if (typeof copy.url === 'string' && copy.url.includes('****')) delete copy.url;
  if (copy.url === undefined) delete copy.url;
  if (copy.headers && typeof copy.headers === 'object' && Object.values(copy.headers).every((value) => value === '****')) delete copy.headers;
  return copy;
}

export { text };
