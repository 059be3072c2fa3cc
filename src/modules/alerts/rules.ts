/**
 * Alert rules: checking what a caller sends (the condition through the grammar, the evaluator's read plan, the
 * timers, the channels), and the writes, each recorded in the audit trail in its transaction.
 */
import { z } from 'zod';
import { conflict } from '../../core/errors.js';
import type { Database } from '../../core/db/database.js';
import { sql, type Queryable } from '../../core/db/sql.js';
import { InputValidationError, issue, text, type InputIssue } from '../../core/input.js';
import { TAG_KEY } from '../analytics/dimensions.js';
import type { Actor, AuditTrail } from '../audit/service.js';
import { ConditionSyntaxError, parseCondition, printCondition, RECORD_FAMILIES, type RecordFamily } from './condition/index.js';
import type { AlertsConfig } from './config.js';
import { DurationError, formatDuration, parseDuration } from './durations.js';
import { planRule, PlanError } from './evaluation/plan.js';
import {
  ALERT_COLUMNS,
  groupKeyOf,
  RULE_COLUMNS,
  SEVERITIES,
  type AlertRecord,
  type Annotations,
  type MissingDataPolicy,
  type RuleKind,
  type RuleRecord,
  type Severity,
} from './model.js';
import { ANNOTATION_VARIABLES, parseTemplate, TemplateError } from './templates.js';

export interface RuleInput {
  name?: string | null;
  description?: string | null;
  kind?: RuleKind | null;
  condition?: string | null;
  family?: RecordFamily | null;
  for?: string | null;
  keepFiringFor?: string | null;
  window?: string | null;
  severity?: Severity | null;
  groupBy?: string[] | null;
  labels?: unknown;
  annotations?: Annotations | null;
  channels?: string[] | null;
  enabled?: boolean | null;
  groupWait?: string | null;
  groupInterval?: string | null;
  repeatInterval?: string | null;
  noDataState?: MissingDataPolicy | null;
  errorState?: MissingDataPolicy | null;
}

/** A rule ready to be stored: every field checked and resolved. */
export type RuleValues = Omit<RuleRecord, 'id' | 'version' | 'createdAt' | 'updatedAt'>;

export const RULE_DEFAULTS = {
  family: 'SYSTEM' as RecordFamily,
  for: '0s',
  keepFiringFor: '0s',
  window: '5m',
  severity: 'WARNING' as Severity,
  groupWait: '30s',
  groupInterval: '5m',
  repeatInterval: '4h',
  noDataState: 'KEEP_STATE' as MissingDataPolicy,
  errorState: 'KEEP_STATE' as MissingDataPolicy,
};

const RULE_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const DAY = 86_400;
const TIMERS = {
  for: { min: 0, max: DAY },
  keepFiringFor: { min: 0, max: DAY },
  window: { min: 1, max: 31 * DAY },
  groupWait: { min: 0, max: DAY },
  groupInterval: { min: 1, max: DAY },
  repeatInterval: { min: 60, max: 30 * DAY },
} as const;

const labelsSchema = z
  .record(z.string().regex(TAG_KEY, { message: 'label names are 1-100 characters of A-Z a-z 0-9 _ . : / -' }), text(200))
  .refine((value) => Object.keys(value).length <= 20, { message: 'must have at most 20 labels' })
  .refine((value) => !('alertname' in value) && !('severity' in value), { message: 'must not set alertname or severity (they come from the rule)' });

export class RuleNotFoundError extends Error {}

/** Checks a complete rule (a creation, or an update merged over the stored rule); every problem at once. */
export function checkRule(input: RuleInput, base: RuleValues | null, channelNames: Set<string>, prefix = 'input'): RuleValues {
  const issues: InputIssue[] = [];
  const at = (field: string, message: string, extra: Record<string, unknown> = {}) => issues.push({ ...issue(`${prefix}.${field}`, message), ...extra });
  const pick = <K extends keyof RuleInput>(key: K): RuleInput[K] | undefined => (input[key] === null ? undefined : input[key]);

  const name = pick('name') ?? base?.name;
  if (name === undefined) at('name', 'is required');
  else if (!RULE_NAME.test(name)) at('name', 'must be 1-100 characters of A-Z a-z 0-9 _ . : - (it becomes the alertname label)');
  const description = pick('description') ?? base?.description ?? '';
  if (description.length > 4000) at('description', 'must be at most 4000 characters');
  const family = pick('family') ?? base?.family ?? RULE_DEFAULTS.family;
  if (!(RECORD_FAMILIES as readonly string[]).includes(family)) at('family', `must be one of ${RECORD_FAMILIES.join(', ')}`);
  const conditionText = pick('condition') ?? base?.condition;
  const kind: RuleKind = pick('kind') ?? (conditionText && /^\s*anomaly\s*\(/.test(conditionText) ? 'ANOMALY' : (base?.kind ?? 'THRESHOLD'));

  const duration = (field: keyof typeof TIMERS, stored: number | undefined, fallback: string): number => {
    const given = pick(field as keyof RuleInput) as string | undefined;
    if (given === undefined && stored !== undefined) return stored;
    try {
      return parseDuration(given ?? fallback, TIMERS[field]);
    } catch (error) {
      if (!(error instanceof DurationError)) throw error;
      at(field, error.message);
      return 0;
    }
  };
  const forSeconds = duration('for', base?.forSeconds, RULE_DEFAULTS.for);
  const keepFiringForSeconds = duration('keepFiringFor', base?.keepFiringForSeconds, RULE_DEFAULTS.keepFiringFor);
  const windowSeconds = duration('window', base?.windowSeconds, RULE_DEFAULTS.window);
  const groupWaitSeconds = duration('groupWait', base?.groupWaitSeconds, RULE_DEFAULTS.groupWait);
  const groupIntervalSeconds = duration('groupInterval', base?.groupIntervalSeconds, RULE_DEFAULTS.groupInterval);
  const repeatIntervalSeconds = duration('repeatInterval', base?.repeatIntervalSeconds, RULE_DEFAULTS.repeatInterval);

  const severity = pick('severity') ?? base?.severity ?? RULE_DEFAULTS.severity;
  if (!SEVERITIES.includes(severity)) at('severity', `must be one of ${SEVERITIES.join(', ')}`);
  const groupBy = pick('groupBy') ?? base?.groupBy ?? (family === 'SYSTEM' ? ['host'] : []);
  if (groupBy.length > 4) at('groupBy', 'must name at most 4 labels');
  groupBy.forEach((label, index) => {
    if (!TAG_KEY.test(label)) at(`groupBy[${index}]`, 'must be 1-100 characters of A-Z a-z 0-9 _ . : / -');
    else if (groupBy.indexOf(label) !== index) at(`groupBy[${index}]`, `repeats "${label}"`);
    else if (label === 'alertname' || label === 'severity') at(`groupBy[${index}]`, `"${label}" is set by the rule and cannot split series`);
  });

  let labels: Record<string, string> = base?.labels ?? {};
  if (input.labels !== undefined && input.labels !== null) {
    const parsed = labelsSchema.safeParse(input.labels);
    if (parsed.success) labels = parsed.data;
    else for (const zodIssue of parsed.error.issues) at(['labels', ...zodIssue.path.map(String)].join('.'), zodIssue.message);
  }
  const annotations: Annotations = { ...(base?.annotations ?? {}) };
  for (const key of ['summary', 'description'] as const) {
    const given = input.annotations?.[key];
    if (given === undefined) continue;
    if (given === null || given === '') delete annotations[key];
    else if (given.length > 2000) at(`annotations.${key}`, 'must be at most 2000 characters');
    else {
      try {
        parseTemplate(given, ANNOTATION_VARIABLES, { labels: true });
        annotations[key] = given;
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        at(`annotations.${key}`, error.message);
      }
    }
  }
  const channels = pick('channels') ?? base?.channels ?? [];
  if (channels.length > 20) at('channels', 'must name at most 20 channels');
  channels.forEach((channel, index) => {
    if (channels.indexOf(channel) !== index) at(`channels[${index}]`, `repeats "${channel}"`);
    else if (!channelNames.has(channel)) at(`channels[${index}]`, `no channel is called "${channel}"; create it with createAlertChannel, or use one of ${[...channelNames].sort().join(', ')}`);
  });
  const noDataState = pick('noDataState') ?? base?.noDataState ?? RULE_DEFAULTS.noDataState;
  const errorState = pick('errorState') ?? base?.errorState ?? RULE_DEFAULTS.errorState;
  const enabled = pick('enabled') ?? base?.enabled ?? true;

  let condition = '';
  if (conditionText === undefined) at('condition', 'is required');
  else if ((RECORD_FAMILIES as readonly string[]).includes(family)) {
    try {
      const parsed = parseCondition(conditionText, { kind, family });
      condition = printCondition(parsed);
      try {
        planRule({ condition: parsed, family, windowSeconds, groupBy });
      } catch (error) {
        if (!(error instanceof PlanError)) throw error;
        at(error.field, error.message);
      }
      if (parsed.kind === 'anomaly' && parsed.options.baseline.seconds <= (parsed.source.window?.seconds ?? windowSeconds)) {
        at('window', `must be shorter than the anomaly baseline (${formatDuration(parsed.options.baseline.seconds)})`);
      }
    } catch (error) {
      if (!(error instanceof ConditionSyntaxError)) throw error;
      at('condition', error.message, { position: error.position, expected: error.expected, found: error.found });
    }
  }
  if (issues.length > 0) throw new InputValidationError(issues);
  return {
    name: name!,
    description,
    kind,
    condition,
    family,
    forSeconds,
    keepFiringForSeconds,
    windowSeconds,
    severity,
    groupBy,
    labels,
    annotations,
    channels,
    enabled,
    groupWaitSeconds,
    groupIntervalSeconds,
    repeatIntervalSeconds,
    noDataState,
    errorState,
  };
}

export class RuleService {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditTrail,
    private readonly channelNames: (tx?: Queryable) => Promise<Set<string>>,
  ) {}

  async list(): Promise<RuleRecord[]> {
    return this.db.query<RuleRecord>(sql`/* alerts.rules */ SELECT ${RULE_COLUMNS} FROM alert_rules ORDER BY name`);
  }

  async get(id: string, tx: Queryable = this.db): Promise<RuleRecord | null> {
    if (!z.uuid().safeParse(id).success) return null;
    const [row] = await tx.query<RuleRecord>(sql`/* alerts.rule */ SELECT ${RULE_COLUMNS} FROM alert_rules WHERE id = ${id}::uuid`);
    return row ?? null;
  }

  async create(actor: Actor, input: RuleInput, options: { action?: string; tx?: Queryable } = {}): Promise<RuleRecord> {
    const values = checkRule(input, null, await this.channelNames(options.tx));
    const write = async (tx: Queryable) => {
      const [row] = await tx.query<RuleRecord>(sql`/* alerts.createRule */
        INSERT INTO alert_rules (id, name, description, kind, condition, family, for_seconds, keep_firing_for_seconds, window_seconds, severity,
          group_by, labels, annotations, channels, enabled, group_wait_seconds, group_interval_seconds, repeat_interval_seconds, no_data_state, error_state)
        VALUES (gen_random_uuid(), ${values.name}, ${values.description}, ${values.kind}::alert_rule_kind, ${values.condition},
          ${values.family}::alert_rule_family, ${values.forSeconds}, ${values.keepFiringForSeconds}, ${values.windowSeconds},
          ${values.severity}::alert_severity, ${values.groupBy}::text[], ${JSON.stringify(values.labels)}::jsonb,
          ${JSON.stringify(values.annotations)}::jsonb, ${values.channels}::text[], ${values.enabled}, ${values.groupWaitSeconds},
          ${values.groupIntervalSeconds}, ${values.repeatIntervalSeconds}, ${values.noDataState}::alert_missing_data_policy,
          ${values.errorState}::alert_missing_data_policy)
        ON CONFLICT (name) DO NOTHING
        RETURNING ${RULE_COLUMNS}`);
      if (!row) throw new InputValidationError([issue('input.name', `a rule called "${values.name}" already exists`)]);
      await this.audit.record(actor, options.action ?? 'alert_rule.created', { type: 'alert_rule', id: row.id }, `Alert rule "${row.name}" created`, {
        name: row.name,
        condition: row.condition,
      }, tx);
      return row;
    };
    return options.tx ? write(options.tx) : this.db.transaction(write);
  }

  async update(actor: Actor, id: string, input: RuleInput, expectedVersion: number | null): Promise<{ rule: RuleRecord; resolved: AlertRecord[] }> {
    const channelNames = await this.channelNames();
    return this.db.transaction(async (tx) => {
      const [current] = await tx.query<RuleRecord>(sql`/* alerts.lockRule */ SELECT ${RULE_COLUMNS} FROM alert_rules WHERE id = ${id}::uuid FOR UPDATE`);
      if (!current) throw new RuleNotFoundError(id);
      if (expectedVersion !== null && expectedVersion !== current.version) {
        throw conflict(`alert rule "${current.name}" is at version ${current.version}, not ${expectedVersion}: it was changed since it was read; nothing was changed`, {
          currentVersion: current.version,
        });
      }
      const values = checkRule(input, current, channelNames);
      const clash = await tx.query(sql`/* alerts.ruleNameTaken */ SELECT 1 FROM alert_rules WHERE name = ${values.name} AND id <> ${id}::uuid`);
      if (clash.length > 0) throw new InputValidationError([issue('input.name', `a rule called "${values.name}" already exists`)]);
      const [row] = await tx.query<RuleRecord>(sql`/* alerts.updateRule */
        UPDATE alert_rules SET name = ${values.name}, description = ${values.description}, kind = ${values.kind}::alert_rule_kind,
          condition = ${values.condition}, family = ${values.family}::alert_rule_family, for_seconds = ${values.forSeconds},
          keep_firing_for_seconds = ${values.keepFiringForSeconds}, window_seconds = ${values.windowSeconds},
          severity = ${values.severity}::alert_severity, group_by = ${values.groupBy}::text[], labels = ${JSON.stringify(values.labels)}::jsonb,
          annotations = ${JSON.stringify(values.annotations)}::jsonb, channels = ${values.channels}::text[], enabled = ${values.enabled},
          group_wait_seconds = ${values.groupWaitSeconds}, group_interval_seconds = ${values.groupIntervalSeconds},
          repeat_interval_seconds = ${values.repeatIntervalSeconds}, no_data_state = ${values.noDataState}::alert_missing_data_policy,
          error_state = ${values.errorState}::alert_missing_data_policy, version = version + 1, updated_at = now()
        WHERE id = ${id}::uuid RETURNING ${RULE_COLUMNS}`);
      // The group keeps notifying with the rule's current channels and timers.
      await tx.query(sql`/* alerts.refreshGroup */
        UPDATE alert_groups SET rule_name = ${values.name}, channels = ${values.channels}::text[], group_interval_seconds = ${values.groupIntervalSeconds},
          repeat_interval_seconds = ${values.repeatIntervalSeconds} WHERE group_key = ${groupKeyOf(id)}`);
      const resolved = values.enabled ? [] : await resolveRuleAlerts(tx, id, new Date());
      await this.audit.record(actor, 'alert_rule.updated', { type: 'alert_rule', id }, `Alert rule "${row!.name}" updated`, {
        name: row!.name,
        version: row!.version,
        changed: Object.keys(input).filter((key) => (input as Record<string, unknown>)[key] !== undefined),
      }, tx);
      return { rule: row!, resolved };
    });
  }

  async delete(actor: Actor, id: string): Promise<{ rule: RuleRecord; resolved: AlertRecord[] }> {
    return this.db.transaction(async (tx) => {
      const [current] = await tx.query<RuleRecord>(sql`/* alerts.lockRule */ SELECT ${RULE_COLUMNS} FROM alert_rules WHERE id = ${id}::uuid FOR UPDATE`);
      if (!current) throw new RuleNotFoundError(id);
      // Its open alerts end now; the firing ones' resolution is still announced by their group.
      const resolved = await resolveRuleAlerts(tx, id, new Date());
      await tx.query(sql`/* alerts.deleteRule */ DELETE FROM alert_rules WHERE id = ${id}::uuid`);
      await this.audit.record(actor, 'alert_rule.deleted', { type: 'alert_rule', id }, `Alert rule "${current.name}" deleted`, { name: current.name, condition: current.condition }, tx);
      return { rule: current, resolved };
    });
  }
}

/** Resolves a rule's open alerts (rule disabled or deleted). */
async function resolveRuleAlerts(tx: Queryable, ruleId: string, now: Date): Promise<AlertRecord[]> {
  return tx.query<AlertRecord>(sql`/* alerts.resolveRuleAlerts */
    UPDATE alerts SET status = 'RESOLVED', ends_at = ${now}, awaiting_flush = (status = 'FIRING'), last_evaluated_at = ${now}
    WHERE rule_id = ${ruleId}::uuid AND status <> 'RESOLVED' RETURNING ${ALERT_COLUMNS}`);
}

/** The rules created from the environment on first start (see README "Defaults from the environment"). */
export function defaultRules(config: AlertsConfig): RuleInput[] {
  return [
    {
      name: 'high_cpu_usage',
      description: 'CPU usage above CPU_WARNING_THRESHOLD for 5 minutes on a host.',
      condition: `cpu_usage > ${config.cpuWarningPercent}`,
      for: '5m',
      severity: 'WARNING',
      channels: ['email', 'slack'],
      annotations: { summary: 'CPU usage on {{ $labels.host }} is {{ $value }}% (above {{ $threshold }}%)' },
    },
    {
      name: 'critical_cpu_usage',
      description: 'CPU usage above CPU_CRITICAL_THRESHOLD for 5 minutes on a host.',
      condition: `cpu_usage > ${config.cpuCriticalPercent}`,
      for: '5m',
      severity: 'CRITICAL',
      channels: ['email', 'slack'],
      annotations: { summary: 'CPU usage on {{ $labels.host }} is {{ $value }}% (above {{ $threshold }}%)' },
    },
    {
      name: 'high_error_rate',
      description: 'More than HIGH_ERROR_RATE_THRESHOLD percent of requests answered 5xx over the last 5 minutes.',
      condition: `error_rate > ${config.highErrorRatePercent}`,
      family: 'PERFORMANCE',
      for: '2m',
      severity: 'CRITICAL',
      channels: ['email', 'slack', 'sms'],
      annotations: { summary: 'Error rate is {{ $value }}% (above {{ $threshold }}%)' },
    },
    {
      name: 'disk_space_low',
      description: 'A disk more than 90 % full.',
      condition: 'disk_usage > 90',
      for: '1m',
      severity: 'CRITICAL',
      groupBy: ['host', 'mount'],
      channels: ['email', 'slack'],
      annotations: { summary: 'Disk {{ $labels.mount }} on {{ $labels.host }} is {{ $value }}% full' },
    },
    {
      name: 'slow_responses',
      description: 'The 95th percentile of response times above SLOW_QUERY_THRESHOLD_MS over 5 minutes.',
      condition: `p95(responseTimeMs[5m]) > ${config.slowQueryThresholdMs}`,
      family: 'PERFORMANCE',
      for: '5m',
      severity: 'WARNING',
      channels: ['email', 'slack'],
      annotations: { summary: 'p95 response time is {{ $value }} ms (above {{ $threshold }} ms)' },
    },
  ];
}

/**
 * Creates the default rules once: a marker row per default (alert_rule_defaults) is inserted in the same
 * transaction, so instances starting together create each default once, and a default that was edited or
 * deleted is never created or changed again, whatever the environment says later.
 */
export async function seedDefaultRules(db: Database, rules: RuleService, config: AlertsConfig): Promise<string[]> {
  const created: string[] = [];
  for (const input of defaultRules(config)) {
    await db.transaction(async (tx) => {
      const marked = await tx.query(sql`/* alerts.markDefault */ INSERT INTO alert_rule_defaults (name) VALUES (${input.name!}) ON CONFLICT (name) DO NOTHING RETURNING name`);
      if (marked.length === 0) return;
      const taken = await tx.query(sql`/* alerts.ruleNameTaken */ SELECT 1 FROM alert_rules WHERE name = ${input.name!}`);
      if (taken.length > 0) return;
      await rules.create({ keyId: null, keyName: 'environment defaults' }, input, { tx, action: 'alert_rule.created' });
      created.push(input.name!);
    });
  }
  return created;
}
