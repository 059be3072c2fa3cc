/**
 * Alertmanager's notification pipeline, on the database. Each rule's alerts form one aggregation group
 * (group_by: [alertname]); the group is flushed groupWait after it starts firing, then every groupInterval. At a
 * flush, per channel of the rule: inhibited, silenced and acknowledged alerts are taken out, and the
 * notification log entry of (group, channel) decides, as Alertmanager's dedup stage does, whether to notify:
 * first firing, new alerts, resolutions, or a reminder once repeatInterval has passed since the last one.
 *
 * A flush runs in one transaction holding the group row (FOR UPDATE SKIP LOCKED): a second instance flushing
 * the same group at the same time skips it, and one that comes later finds next_flush_at in the future. The
 * notification row is unique per (group, channel, sequence), so even a flush repeated after a crash between
 * two statements cannot create a second one. Sending is not done here (delivery.ts): a slow channel never
 * holds a flush or the evaluator up.
 */
import type { Logger } from 'pino';
import type { Database } from '../../../core/db/database.js';
import { sql, type Queryable } from '../../../core/db/sql.js';
import { compileMatchers, type LabelMatcher } from '../condition/index.js';
import { ALERT_COLUMNS, SEVERITY_RANK, type AlertRecord, type NotificationKind, type Severity } from '../model.js';
import { buildPayload, type PayloadAlert } from '../channels/payload.js';
import type { ChannelService } from '../channels/service.js';

interface GroupRow {
  groupKey: string;
  ruleId: string | null;
  ruleName: string;
  channels: string[];
  groupIntervalSeconds: number;
  repeatIntervalSeconds: number;
}

interface LogEntry {
  channel: string;
  firing: string[];
  resolved: string[];
  sequence: number;
  sentAt: Date;
}

export interface SilenceRecord {
  id: string;
  matchers: LabelMatcher[];
  startsAt: Date;
  endsAt: Date;
}

/** Whether each alert is silenced, by which silences (active at `now`). */
export function silencedBy(silences: readonly SilenceRecord[], labels: Record<string, string>, now: Date): string[] {
  return silences
    .filter((silence) => silence.startsAt <= now && silence.endsAt > now && compileMatchers(silence.matchers)((label) => labels[label]))
    .map((silence) => silence.id);
}

export async function activeSilences(db: Queryable, now: Date): Promise<SilenceRecord[]> {
  return db.query<SilenceRecord>(sql`/* alerts.activeSilences */
    SELECT id::text AS id, matchers, starts_at AS "startsAt", ends_at AS "endsAt" FROM alert_silences
    WHERE starts_at <= ${now} AND ends_at > ${now}`);
}

/** Alerts (by id) inhibited by a firing alert of higher severity on the same series, with the inhibitor's id. */
export async function inhibitions(db: Queryable, alerts: readonly AlertRecord[]): Promise<Map<string, string>> {
  const keys = [...new Set(alerts.map((alert) => alert.seriesKey))];
  if (keys.length === 0) return new Map();
  const sources = await db.query<{ id: string; seriesKey: string; severity: Severity }>(sql`/* alerts.inhibitors */
    SELECT id::text AS id, series_key AS "seriesKey", severity::text AS severity FROM alerts
    WHERE status = 'FIRING' AND series_key = ANY(${keys}::text[]) AND severity <> 'INFO'`);
  const inhibited = new Map<string, string>();
  for (const alert of alerts) {
    const source = sources.find((s) => s.seriesKey === alert.seriesKey && s.id !== alert.id && SEVERITY_RANK[s.severity] > SEVERITY_RANK[alert.severity]);
    if (source) inhibited.set(alert.id, source.id);
  }
  return inhibited;
}

export interface FlushSummary {
  groups: number;
  notifications: number;
}

export class Dispatcher {
  constructor(
    private readonly db: Database,
    private readonly channels: ChannelService,
    private readonly maxAttempts: number,
    private readonly log: Logger,
  ) {}

  /** Flushes every group that is due at `now`. */
  async flushDue(now: Date): Promise<FlushSummary> {
    const due = await this.db.query<{ groupKey: string }>(sql`/* alerts.dueGroups */
      SELECT group_key AS "groupKey" FROM alert_groups WHERE next_flush_at <= ${now} ORDER BY next_flush_at LIMIT 1000`);
    let notifications = 0;
    for (const { groupKey } of due) {
      try {
        notifications += await this.flush(groupKey, now);
      } catch (error) {
        // One group's failure (a database hiccup) must not keep the others from being flushed.
        this.log.error({ err: error, groupKey }, 'alert group flush failed');
      }
    }
    return { groups: due.length, notifications };
  }

  private async flush(groupKey: string, now: Date): Promise<number> {
    // Channels are resolved before the transaction: they may read the channels table.
    const [peek] = await this.db.query<{ channels: string[] }>(sql`/* alerts.groupChannels */ SELECT channels FROM alert_groups WHERE group_key = ${groupKey}`);
    if (!peek) return 0;
    const resolved = new Map<string, Awaited<ReturnType<ChannelService['resolveByName']>>>();
    for (const name of peek.channels) resolved.set(name, await this.channels.resolveByName(name));

    return this.db.transaction(async (tx) => {
      const [group] = await tx.query<GroupRow>(sql`/* alerts.lockGroup */
        SELECT group_key AS "groupKey", rule_id::text AS "ruleId", rule_name AS "ruleName", channels,
               group_interval_seconds AS "groupIntervalSeconds", repeat_interval_seconds AS "repeatIntervalSeconds"
        FROM alert_groups WHERE group_key = ${groupKey} AND next_flush_at <= ${now} FOR UPDATE SKIP LOCKED`);
      if (!group) return 0;
      const alerts = await tx.query<AlertRecord>(sql`/* alerts.groupAlerts */
        SELECT ${ALERT_COLUMNS} FROM alerts
        WHERE group_key = ${groupKey} AND (status = 'FIRING' OR (status = 'RESOLVED' AND awaiting_flush)) ORDER BY id`);
      const silences = await activeSilences(tx, now);
      const inhibited = await inhibitions(tx, alerts.filter((alert) => alert.status === 'FIRING'));
      const firing = alerts.filter((alert) => alert.status === 'FIRING');
      const resolvedAlerts = alerts.filter((alert) => alert.status === 'RESOLVED');
      // Muted: silenced, inhibited or acknowledged. An acknowledged alert's resolution is still announced.
      const visibleFiring = firing.filter((alert) => !alert.acknowledgedAt && !inhibited.has(alert.id) && silencedBy(silences, alert.labels, now).length === 0);
      const visibleResolved = resolvedAlerts.filter((alert) => silencedBy(silences, alert.labels, now).length === 0);
      const entries = await tx.query<LogEntry>(sql`/* alerts.notificationLog */
        SELECT channel, firing_fingerprints AS firing, resolved_fingerprints AS resolved, sequence, sent_at AS "sentAt"
        FROM alert_notification_log WHERE group_key = ${groupKey}`);

      let created = 0;
      for (const name of group.channels) {
        const channel = resolved.get(name);
        if (!channel || !channel.configured) continue;
        const entry = entries.find((candidate) => candidate.channel === name);
        const announced = visibleResolved.filter((alert) => entry?.firing.includes(alert.fingerprint) && !entry.resolved.includes(alert.fingerprint));
        const decision = decide(entry, visibleFiring, announced, firing.length > 0, group.repeatIntervalSeconds * 1000, now);
        if (decision === null) continue;
        const firingFingerprints = visibleFiring.map((alert) => alert.fingerprint);
        if (decision === 'CLOSE') {
          // Everything the channel was told about is now muted: close its sequence without a message, so that
          // the alerts it sees again later count as new.
          await writeLog(tx, groupKey, name, [], [], entry?.sequence ?? 0, entry?.sentAt ?? now);
          continue;
        }
        const sequence = (entry?.sequence ?? 0) + 1;
        const carried = [...visibleFiring, ...announced];
        const payload = buildPayload({
          kind: decision,
          groupKey,
          receiver: name,
          rule: { id: group.ruleId, name: group.ruleName, severity: (carried[0]?.severity ?? firing[0]?.severity ?? 'WARNING') as Severity },
          alerts: carried.map(payloadAlert),
        });
        const inserted = await tx.query<{ id: string }>(sql`/* alerts.createNotification */
          INSERT INTO alert_notifications (group_key, channel_name, channel_type, kind, status, sequence, alert_ids, payload, max_attempts, next_attempt_at)
          VALUES (${groupKey}, ${name}, ${channel.type}::alert_channel_type, ${decision}::alert_notification_kind, 'PENDING', ${sequence},
                  ${carried.map((alert) => alert.id)}::text[]::bigint[], ${JSON.stringify(payload)}::jsonb, ${this.maxAttempts}, ${now})
          ON CONFLICT (group_key, channel_name, sequence) DO NOTHING RETURNING id::text AS id`);
        created += inserted.length;
        const resolvedFingerprints = firing.length === 0 ? [] : [...new Set([...(entry?.resolved ?? []), ...announced.map((alert) => alert.fingerprint)])].filter((fp) => !firingFingerprints.includes(fp));
        await writeLog(tx, groupKey, name, firingFingerprints, resolvedFingerprints, sequence, now);
      }
      if (resolvedAlerts.length > 0) {
        await tx.query(sql`/* alerts.flushedResolved */ UPDATE alerts SET awaiting_flush = false WHERE id = ANY(${resolvedAlerts.map((alert) => alert.id)}::text[]::bigint[])`);
      }
      if (firing.length === 0) await tx.query(sql`/* alerts.closeGroup */ DELETE FROM alert_groups WHERE group_key = ${groupKey}`);
      else {
        await tx.query(sql`/* alerts.scheduleGroup */
          UPDATE alert_groups SET next_flush_at = ${new Date(now.getTime() + group.groupIntervalSeconds * 1000)}, last_flush_at = ${now}
          WHERE group_key = ${groupKey}`);
      }
      return created;
    });
  }
}

/**
 * What to tell one channel (Alertmanager's dedup stage): FIRING for a first notification or alerts it has not
 * been told about, RESOLVED when alerts it was told about resolved, REMINDER after repeatInterval with nothing
 * new, CLOSE (record only) when what it was told about is all muted, null for nothing.
 */
export function decide(
  entry: LogEntry | undefined,
  visibleFiring: readonly AlertRecord[],
  announcedResolved: readonly AlertRecord[],
  _anyFiring: boolean,
  repeatMs: number,
  now: Date,
): NotificationKind | 'CLOSE' | null {
  const told = entry?.firing ?? [];
  if (told.length === 0) return visibleFiring.length > 0 ? 'FIRING' : null;
  if (visibleFiring.some((alert) => !told.includes(alert.fingerprint))) return 'FIRING';
  if (announcedResolved.length > 0) return 'RESOLVED';
  if (visibleFiring.length === 0) return 'CLOSE';
  if (now.getTime() - entry!.sentAt.getTime() >= repeatMs) return 'REMINDER';
  return null;
}

async function writeLog(tx: Queryable, groupKey: string, channel: string, firing: string[], resolved: string[], sequence: number, sentAt: Date): Promise<void> {
  await tx.query(sql`/* alerts.writeNotificationLog */
    INSERT INTO alert_notification_log (group_key, channel, firing_fingerprints, resolved_fingerprints, sequence, sent_at)
    VALUES (${groupKey}, ${channel}, ${firing}::text[], ${resolved}::text[], ${sequence}, ${sentAt})
    ON CONFLICT (group_key, channel) DO UPDATE SET firing_fingerprints = EXCLUDED.firing_fingerprints,
      resolved_fingerprints = EXCLUDED.resolved_fingerprints, sequence = EXCLUDED.sequence, sent_at = EXCLUDED.sent_at`);
}

function payloadAlert(alert: AlertRecord): PayloadAlert {
  return {
    id: alert.id,
    status: alert.status === 'RESOLVED' ? 'resolved' : 'firing',
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt.toISOString(),
    endsAt: alert.endsAt ? alert.endsAt.toISOString() : null,
    value: alert.value,
    fingerprint: alert.fingerprint,
  };
}
