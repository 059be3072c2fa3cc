/**
 * What a notification says, decided at the group's flush and stored with it, so that every retry sends the
 * same message; and how each channel type renders it. The WEBHOOK body follows Alertmanager's webhook format
 * (version, groupKey, status, receiver, groupLabels, commonLabels, commonAnnotations, alerts[]), so receivers
 * written for Alertmanager read it as they are, plus Insights' own fields (kind, rule, value).
 */
import type { SendMailOptions } from 'nodemailer';
import type { NotificationKind, Severity } from '../model.js';
import { formatValue } from '../templates.js';

export interface PayloadAlert {
  id: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** Resolution time; null while firing. */
  endsAt: string | null;
  value: number | null;
  fingerprint: string;
}

export interface NotificationPayload {
  version: '4';
  kind: NotificationKind;
  /** firing while any alert in the message fires, resolved when none does. */
  status: 'firing' | 'resolved';
  groupKey: string;
  receiver: string;
  rule: { id: string | null; name: string; severity: Severity };
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  alerts: PayloadAlert[];
  /** Alerts left out of `alerts` (at most MAX_ALERTS are carried). */
  truncatedAlerts: number;
}

export const MAX_ALERTS = 100;

export function buildPayload(input: {
  kind: NotificationKind;
  groupKey: string;
  receiver: string;
  rule: NotificationPayload['rule'];
  alerts: PayloadAlert[];
}): NotificationPayload {
  const firing = input.alerts.filter((alert) => alert.status === 'firing');
  const ordered = [...firing, ...input.alerts.filter((alert) => alert.status === 'resolved')];
  const carried = ordered.slice(0, MAX_ALERTS);
  return {
    version: '4',
    kind: input.kind,
    status: firing.length > 0 ? 'firing' : 'resolved',
    groupKey: input.groupKey,
    receiver: input.receiver,
    rule: input.rule,
    groupLabels: { alertname: input.rule.name },
    commonLabels: common(carried.map((alert) => alert.labels)),
    commonAnnotations: common(carried.map((alert) => alert.annotations)),
    alerts: carried,
    truncatedAlerts: ordered.length - carried.length,
  };
}

function common(maps: Record<string, string>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const [first, ...rest] = maps;
  return Object.fromEntries(Object.entries(first!).filter(([key, value]) => rest.every((map) => map[key] === value)));
}

const EMOJI: Record<NotificationKind, string> = { FIRING: '🔥', REMINDER: '🔁', RESOLVED: '✅', TEST: '🧪' };

/** `[FIRING:2] high_cpu_usage (WARNING)`: the subject line, Slack's fallback text and the SMS's start. */
export function headline(payload: NotificationPayload): string {
  const firing = payload.alerts.filter((alert) => alert.status === 'firing').length + (payload.status === 'firing' ? payload.truncatedAlerts : 0);
  const state = payload.kind === 'TEST' ? 'TEST' : payload.kind === 'REMINDER' ? `STILL FIRING:${firing}` : payload.status === 'firing' ? `FIRING:${firing}` : 'RESOLVED';
  return `[${state}] ${payload.rule.name} (${payload.rule.severity})`;
}

function alertLine(alert: PayloadAlert): string {
  const labels = Object.entries(alert.labels)
    .filter(([key]) => key !== 'alertname' && key !== 'severity')
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
  const summary = alert.annotations.summary ?? `value ${formatValue(alert.value)}`;
  const when = alert.status === 'resolved' ? `resolved ${alert.endsAt ?? ''}` : `since ${alert.startsAt}`;
  return `${alert.status === 'firing' ? 'FIRING' : 'RESOLVED'} ${summary}${labels ? ` [${labels}]` : ''} (${when})`;
}

/** Slack incoming webhook: Block Kit, with `text` as the notification fallback. */
export function slackMessage(payload: NotificationPayload, options: { channel?: string; username?: string; iconEmoji?: string }) {
  const shown = payload.alerts.slice(0, 20);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: `${EMOJI[payload.kind]} ${headline(payload)}`.slice(0, 150), emoji: true } },
    ...shown.map((alert) => ({
      type: 'section',
      text: { type: 'mrkdwn', text: slackEscape(alertLine(alert)).slice(0, 2900) },
    })),
  ];
  const more = payload.alerts.length - shown.length + payload.truncatedAlerts;
  if (more > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${more} more` }] });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(`Insights · ${payload.kind.toLowerCase()} · rule ${payload.rule.name}`) }] });
  return {
    text: headline(payload),
    blocks,
    ...(options.channel ? { channel: options.channel } : {}),
    ...(options.username ? { username: options.username } : {}),
    ...(options.iconEmoji ? { icon_emoji: options.iconEmoji } : {}),
  };
}

// Slack's mrkdwn treats &, < and > as control characters.
const slackEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The e-mail: a plain-text body and a small HTML one. */
export function emailMessage(payload: NotificationPayload, options: { from: string; to: string[]; cc?: string[]; subjectPrefix?: string }): SendMailOptions {
  const lines = payload.alerts.map(alertLine);
  if (payload.truncatedAlerts > 0) lines.push(`…and ${payload.truncatedAlerts} more`);
  const text = `${headline(payload)}\n\n${lines.join('\n')}\n\n— Insights alerting (rule ${payload.rule.name}, group ${payload.groupKey})\n`;
  const rows = payload.alerts
    .map(
      (alert) =>
        `<tr><td style="padding:4px 8px;color:${alert.status === 'firing' ? '#b42318' : '#067647'}">${alert.status.toUpperCase()}</td>` +
        `<td style="padding:4px 8px">${html(alert.annotations.summary ?? formatValue(alert.value))}</td>` +
        `<td style="padding:4px 8px;color:#555">${html(
          Object.entries(alert.labels)
            .filter(([key]) => key !== 'alertname' && key !== 'severity')
            .map(([key, value]) => `${key}=${value}`)
            .join(', '),
        )}</td></tr>`,
    )
    .join('');
  const body = `<div style="font-family:sans-serif"><h2 style="font-size:16px">${html(headline(payload))}</h2><table style="border-collapse:collapse;font-size:14px">${rows}</table><p style="color:#777;font-size:12px">Insights alerting · rule ${html(payload.rule.name)}</p></div>`;
  const subject = `${options.subjectPrefix ? `${options.subjectPrefix} ` : ''}${headline(payload)}`.replace(/[\r\n]+/g, ' ');
  return { from: options.from, to: options.to, ...(options.cc?.length ? { cc: options.cc } : {}), subject, text, html: body };
}

const html = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The SMS text: the headline and the first alert's summary, at most 320 characters. */
export function smsText(payload: NotificationPayload): string {
  const first = payload.alerts[0];
  const text = `${headline(payload)}${first ? `: ${first.annotations.summary ?? formatValue(first.value)}` : ''}`;
  return text.length > 320 ? `${text.slice(0, 319)}…` : text;
}

/** A made-up alert for testAlertChannel. */
export function testPayload(receiver: string, now: Date): NotificationPayload {
  return buildPayload({
    kind: 'TEST',
    groupKey: 'test',
    receiver,
    rule: { id: null, name: 'insights_test_notification', severity: 'INFO' },
    alerts: [
      {
        id: '0',
        status: 'firing',
        labels: { alertname: 'insights_test_notification', severity: 'INFO' },
        annotations: { summary: `Test notification from Insights to channel ${receiver}: if you read this, the channel works.` },
        startsAt: now.toISOString(),
        endsAt: null,
        value: null,
        fingerprint: '0',
      },
    ],
  });
}
