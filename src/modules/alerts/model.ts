/** The alerting module's records as its code reads them (raw SQL aliased to these names, or Prisma rows). */
import { createHash } from 'node:crypto';
import { Prisma } from '../../generated/prisma/client.js';
import type { RecordFamily } from './condition/index.js';

export type RuleKind = 'THRESHOLD' | 'ANOMALY';
export type Severity = 'INFO' | 'WARNING' | 'CRITICAL';
export const SEVERITIES: readonly Severity[] = ['INFO', 'WARNING', 'CRITICAL'];
export const SEVERITY_RANK: Record<Severity, number> = { INFO: 0, WARNING: 1, CRITICAL: 2 };
export type MissingDataPolicy = 'KEEP_STATE' | 'OK' | 'ALERTING';
export type RuleState = 'INACTIVE' | 'PENDING' | 'FIRING' | 'NO_DATA' | 'ERROR';
export type AlertStatus = 'PENDING' | 'FIRING' | 'RESOLVED';
export type ChannelType = 'WEBHOOK' | 'SLACK' | 'EMAIL' | 'SMS';
export type NotificationKind = 'FIRING' | 'RESOLVED' | 'REMINDER' | 'TEST';
export type NotificationStatus = 'PENDING' | 'SENDING' | 'SENT' | 'FAILED';
export type AlertEventType = 'PENDING' | 'FIRING' | 'RESOLVED' | 'ACKNOWLEDGED' | 'SILENCED';

export interface Annotations {
  summary?: string;
  description?: string;
}

export interface RuleRecord {
  id: string;
  name: string;
  description: string;
  kind: RuleKind;
  condition: string;
  family: RecordFamily;
  forSeconds: number;
  keepFiringForSeconds: number;
  windowSeconds: number;
  severity: Severity;
  groupBy: string[];
  labels: Record<string, string>;
  annotations: Annotations;
  channels: string[];
  enabled: boolean;
  groupWaitSeconds: number;
  groupIntervalSeconds: number;
  repeatIntervalSeconds: number;
  noDataState: MissingDataPolicy;
  errorState: MissingDataPolicy;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export const RULE_COLUMNS = Prisma.raw(`id::text AS "id", name, description, kind::text AS "kind", condition, family::text AS "family",
  for_seconds AS "forSeconds", keep_firing_for_seconds AS "keepFiringForSeconds", window_seconds AS "windowSeconds",
  severity::text AS "severity", group_by AS "groupBy", labels, annotations, channels, enabled,
  group_wait_seconds AS "groupWaitSeconds", group_interval_seconds AS "groupIntervalSeconds",
  repeat_interval_seconds AS "repeatIntervalSeconds", no_data_state::text AS "noDataState", error_state::text AS "errorState",
  version, created_at AS "createdAt", updated_at AS "updatedAt"`);

/** An alert as the evaluator, the dispatcher and live events carry it (id as text: it travels through Redis as JSON). */
export interface AlertRecord {
  id: string;
  ruleId: string | null;
  ruleName: string;
  fingerprint: string;
  seriesKey: string;
  groupKey: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  severity: Severity;
  status: AlertStatus;
  value: number | null;
  score: number | null;
  startsAt: Date;
  firedAt: Date | null;
  endsAt: Date | null;
  lastBreachAt: Date | null;
  lastEvaluatedAt: Date;
  awaitingFlush: boolean;
  acknowledgedAt: Date | null;
  acknowledgement: string | null;
  acknowledgedBy: string | null;
}

const ALERT_COLUMN_LIST: [string, string][] = [
  ['id::text', 'id'], ['rule_id::text', 'ruleId'], ['rule_name', 'ruleName'], ['fingerprint', 'fingerprint'], ['series_key', 'seriesKey'],
  ['group_key', 'groupKey'], ['labels', 'labels'], ['annotations', 'annotations'], ['severity::text', 'severity'], ['status::text', 'status'],
  ['value', 'value'], ['score', 'score'], ['starts_at', 'startsAt'], ['fired_at', 'firedAt'], ['ends_at', 'endsAt'],
  ['last_breach_at', 'lastBreachAt'], ['last_evaluated_at', 'lastEvaluatedAt'], ['awaiting_flush', 'awaitingFlush'],
  ['acknowledged_at', 'acknowledgedAt'], ['acknowledgement', 'acknowledgement'], ['acknowledged_by', 'acknowledgedBy'],
];

/** The SELECT list of an AlertRecord, optionally qualified by a table alias (for UPDATE … FROM). */
export function alertColumns(alias?: string) {
  return Prisma.raw(ALERT_COLUMN_LIST.map(([column, name]) => `${alias ? `${alias}.` : ''}${column} AS "${name}"`).join(', '));
}

export const ALERT_COLUMNS = alertColumns();

/** The Prisma model's shape (id as bigint), which the GraphQL Alert type reads. */
export function alertModel(alert: AlertRecord) {
  return { ...alert, id: BigInt(alert.id) };
}

export const groupKeyOf = (ruleId: string) => `rule:${ruleId}`;

export function hashOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** Labels in a stable order, so equal label sets hash alike. */
export function canonicalLabels(labels: Record<string, string>): string {
  return JSON.stringify(Object.keys(labels).sort().map((key) => [key, labels[key]]));
}

/** Names the environment's channels take; API channels cannot use them. */
export const ENVIRONMENT_CHANNELS = ['email', 'slack', 'sms'] as const;
export type EnvironmentChannelName = (typeof ENVIRONMENT_CHANNELS)[number];
