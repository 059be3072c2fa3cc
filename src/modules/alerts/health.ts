import { table } from '../../core/cli.js';
import { sql } from '../../core/db/sql.js';
import type { MonitoringCheck } from '../../core/module.js';
import type { AlertingService } from './service.js';

/**
 * The alerting part of `insights check-monitoring`: the rules and how many fire, the channels (configured or
 * not), the last evaluation, and deliveries that failed for good.
 *
 * A channel that is not configured is a note, not a problem: the environment's email/slack/sms are optional,
 * and a rule naming one that is unset simply skips it (even a rule none of whose channels is configured, as the
 * default rules on a fresh install without SMTP_URL or SLACK_WEBHOOK_URL: its alerts are still in the API and in
 * alertEvents). A rule that cannot be evaluated (ERROR) and notifications given up in the last hour are problems:
 * they mean a condition is not watched, or someone was not told.
 */
export function alertsCheck(alerting: AlertingService): MonitoringCheck {
  return async (services, now) => {
    const { db } = services;
    const problems: string[] = [];
    const notes: string[] = [];
    const rules = await alerting.rules.list();
    const channels = await alerting.channels.list();
    const health = await db.query<{ name: string; state: string; lastError: string | null; lastEvaluatedAt: Date }>(sql`/* alerts.checkHealth */
      SELECT r.name, h.state::text AS state, h.last_error AS "lastError", h.last_evaluated_at AS "lastEvaluatedAt"
      FROM alert_rule_health h JOIN alert_rules r ON r.id = h.rule_id WHERE r.enabled`);
    const counts = await db.query<{ status: string; count: number }>(sql`/* alerts.checkCounts */
      SELECT status::text AS status, count(*)::int AS count FROM alerts WHERE status <> 'RESOLVED' GROUP BY status`);
    const [failed] = await db.query<{ count: number }>(sql`/* alerts.checkFailed */
      SELECT count(*)::int AS count FROM alert_notifications WHERE status = 'FAILED' AND kind <> 'TEST' AND created_at > ${new Date(now.getTime() - 3_600_000)}`);
    const [lastRun] = await db.query<{ scheduledAt: Date; status: string; durationMs: number | null; result: Record<string, unknown> | null }>(sql`/* alerts.checkLastRun */
      SELECT scheduled_at AS "scheduledAt", status::text AS status, duration_ms AS "durationMs", result FROM job_runs
      WHERE job_name = 'evaluate-alerts' AND status <> 'SKIPPED' ORDER BY id DESC LIMIT 1`);

    const firing = counts.find((row) => row.status === 'FIRING')?.count ?? 0;
    const pending = counts.find((row) => row.status === 'PENDING')?.count ?? 0;
    const enabled = rules.filter((rule) => rule.enabled);
    for (const entry of health.filter((row) => row.state === 'ERROR')) problems.push(`alert rule ${entry.name} cannot be evaluated: ${entry.lastError ?? 'unknown error'}`);
    const configured = new Map(channels.map((channel) => [channel.name, channel]));
    for (const channel of channels.filter((c) => !c.configured)) {
      const users = enabled.filter((rule) => rule.channels.includes(channel.name)).map((rule) => rule.name);
      notes.push(`alert channel ${channel.name} (${channel.type}) is not configured (${channel.problem ?? 'unknown'}): skipped${users.length > 0 ? ` by ${users.join(', ')}` : ''}`);
    }
    for (const rule of enabled) {
      if (rule.channels.length === 0) notes.push(`alert rule ${rule.name} has no channel: its alerts are only visible in the API`);
      else if (!rule.channels.some((name) => configured.get(name)?.configured)) notes.push(`alert rule ${rule.name} notifies no one: none of its channels (${rule.channels.join(', ')}) is configured`);
    }
    if ((failed?.count ?? 0) > 0) problems.push(`${failed!.count} alert notification(s) failed for good in the last hour (see alertNotifications)`);

    const last = lastRun
      ? `${lastRun.status} at ${lastRun.scheduledAt.toISOString()}${lastRun.durationMs === null ? '' : ` in ${lastRun.durationMs} ms`}`
      : 'never';
    const text = [
      table([
        ['Alert rules', `${rules.length} (${enabled.length} enabled): ${firing} alert(s) firing, ${pending} pending`],
        ['Last evaluation', last],
        ['Channels', channels.map((channel) => `${channel.name} ${channel.configured ? 'configured' : 'missing'}`).join(', ')],
      ]),
    ].join('\n');
    return {
      fields: {
        alerts: {
          rules: rules.length,
          enabledRules: enabled.length,
          firing,
          pending,
          ruleStates: health.map((row) => ({ name: row.name, state: row.state, lastError: row.lastError })),
          channels: channels.map((channel) => ({ name: channel.name, type: channel.type, source: channel.source, configured: channel.configured, problem: channel.problem })),
          lastEvaluation: lastRun ?? null,
          failedNotificationsLastHour: failed?.count ?? 0,
        },
      },
      text,
      problems,
      notes,
    };
  };
}
