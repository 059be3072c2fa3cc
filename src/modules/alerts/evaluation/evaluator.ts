/**
 * One evaluation tick: every enabled rule's series read (batched, reader.ts), scored (anomaly rules), and each
 * (rule, series) moved through INACTIVE → PENDING → FIRING → RESOLVED as Prometheus' rule manager does, with
 * NO_DATA and ERROR applied per the rule's policies. State lives in the database (alerts rows), so any instance
 * may run the next tick; every transition is written with the status it expects, so two evaluations racing on
 * one tick cannot both announce it.
 */
import type { Logger } from 'pino';
import type { Database } from '../../../core/db/database.js';
import { sql } from '../../../core/db/sql.js';
import type { AnalyticsService } from '../../analytics/service.js';
import { scoreAnomaly } from '../anomaly/index.js';
import { compare, parseCondition, printSeries, type Condition } from '../condition/index.js';
import {
  ALERT_COLUMNS,
  alertColumns,
  canonicalLabels,
  groupKeyOf,
  hashOf,
  RULE_COLUMNS,
  type AlertEventType,
  type AlertRecord,
  type AlertStatus,
  type MissingDataPolicy,
  type RuleRecord,
  type RuleState,
} from '../model.js';
import { formatValue, renderTemplate } from '../templates.js';
import { BaselineStore } from './baseline.js';
import { planRule, type SeriesRead } from './plan.js';
import { readSeries, type ReadOutcome, type ReadRequest } from './reader.js';

export interface AlertEvent {
  type: AlertEventType;
  alert: AlertRecord;
}

export interface EvaluationSummary {
  rules: number;
  series: number;
  pending: number;
  firing: number;
  transitions: number;
  noData: number;
  errors: number;
  batches: number;
  queries: number;
  readMs: number;
  totalMs: number;
}

interface Compiled {
  version: number;
  condition: Condition;
  read: SeriesRead;
}

interface Observation {
  labels: Record<string, string>;
  value: number | null;
  breach: boolean;
  score: number | null;
  expected: number | null;
}

interface Insert {
  rule: RuleRecord;
  fingerprint: string;
  seriesKey: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: AlertStatus;
  value: number | null;
  score: number | null;
}

interface Update {
  alert: AlertRecord;
  status: AlertStatus;
  value: number | null;
  score: number | null;
  firedAt: Date | null;
  endsAt: Date | null;
  lastBreachAt: Date | null;
  awaitingFlush: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  severity: string;
}

export class Evaluator {
  private readonly compiled = new Map<string, Compiled | { version: number; error: string }>();
  private readonly baselines: BaselineStore;

  constructor(
    private readonly db: Database,
    private readonly analytics: AnalyticsService,
    private readonly log: Logger,
  ) {
    this.baselines = new BaselineStore(analytics, log);
  }

  async evaluate(now: Date): Promise<{ events: AlertEvent[]; summary: EvaluationSummary; firedGroups: RuleRecord[] }> {
    const started = performance.now();
    const rules = await this.db.query<RuleRecord>(sql`/* alerts.enabledRules */ SELECT ${RULE_COLUMNS} FROM alert_rules WHERE enabled ORDER BY name`);
    const ids = new Set(rules.map((rule) => rule.id));
    for (const id of this.compiled.keys()) if (!ids.has(id)) this.compiled.delete(id);
    this.baselines.retain(ids);

    const requests: ReadRequest[] = [];
    const plans = new Map<string, Compiled>();
    const compileErrors = new Map<string, string>();
    for (const rule of rules) {
      const compiled = this.compile(rule);
      if ('error' in compiled) compileErrors.set(rule.id, compiled.error);
      else {
        plans.set(rule.id, compiled);
        requests.push({ id: rule.id, read: compiled.read });
      }
    }
    const readStarted = performance.now();
    const { outcomes, stats } = await readSeries(this.analytics, requests, now, this.log);
    const readMs = performance.now() - readStarted;

    const active = await this.db.query<AlertRecord>(sql`/* alerts.activeAlerts */ SELECT ${ALERT_COLUMNS} FROM alerts WHERE status <> 'RESOLVED'`);
    const activeByRule = new Map<string, Map<string, AlertRecord>>();
    const orphans: AlertRecord[] = [];
    for (const alert of active) {
      if (!alert.ruleId || !ids.has(alert.ruleId)) {
        orphans.push(alert);
        continue;
      }
      let byFingerprint = activeByRule.get(alert.ruleId);
      if (!byFingerprint) activeByRule.set(alert.ruleId, (byFingerprint = new Map()));
      byFingerprint.set(alert.fingerprint, alert);
    }

    const inserts: Insert[] = [];
    const updates: Update[] = [];
    const health: { ruleId: string; state: RuleState; series: number; error: string | null }[] = [];
    let seriesCount = 0;
    for (const rule of rules) {
      const plan = plans.get(rule.id);
      const outcome: ReadOutcome = plan ? (outcomes.get(rule.id) ?? { ok: false, error: 'not read' }) : { ok: false, error: compileErrors.get(rule.id) ?? 'not compiled' };
      const existing = activeByRule.get(rule.id) ?? new Map<string, AlertRecord>();
      let observations: Observation[] = [];
      let missing: MissingDataPolicy | 'RESOLVE' = 'RESOLVE';
      let state: RuleState = 'INACTIVE';
      let error: string | null = null;
      if (!outcome.ok) {
        state = 'ERROR';
        error = outcome.error;
        missing = rule.errorState;
      } else if (outcome.series.length === 0) {
        state = 'NO_DATA';
        missing = rule.noDataState;
      } else {
        try {
          observations = await this.observe(rule, plan!, outcome.series, now);
        } catch (failure) {
          state = 'ERROR';
          error = failure instanceof Error ? failure.message : String(failure);
          missing = rule.errorState;
          this.log.warn({ err: failure, rule: rule.name }, 'anomaly baseline read failed');
        }
      }
      seriesCount += observations.length;
      const firstInsert = inserts.length;
      const firstUpdate = updates.length;
      const seen = new Set<string>();
      for (const observation of observations) {
        const fingerprint = hashOf(rule.id, canonicalLabels(observation.labels));
        seen.add(fingerprint);
        this.transition(rule, plan!, fingerprint, existing.get(fingerprint), observation, now, inserts, updates);
      }
      // Series with an open alert that this tick did not see.
      for (const [fingerprint, alert] of existing) {
        if (seen.has(fingerprint)) continue;
        const labels = seriesLabelsOf(alert, rule);
        if (missing === 'KEEP_STATE') continue;
        if (missing === 'RESOLVE' && plan?.read.zeroWhenEmpty) {
          this.transition(rule, plan, fingerprint, alert, this.observation(rule, plan.condition, labels, 0), now, inserts, updates);
          continue;
        }
        const breach = missing === 'ALERTING';
        this.transition(rule, plan, fingerprint, alert, { labels, value: null, breach, score: null, expected: null }, now, inserts, updates);
      }
      // No data or an error with "alerting": one alert for the rule as a whole.
      if (missing === 'ALERTING' && existing.size === 0 && state !== 'INACTIVE') {
        const fingerprint = hashOf(rule.id, canonicalLabels({}));
        this.transition(rule, plan, fingerprint, undefined, { labels: {}, value: null, breach: true, score: null, expected: null }, now, inserts, updates);
      }
      if (state === 'INACTIVE') {
        const statuses = new Map([...existing].map(([fingerprint, alert]) => [fingerprint, alert.status as AlertStatus]));
        for (const insert of inserts.slice(firstInsert)) statuses.set(insert.fingerprint, insert.status);
        for (const update of updates.slice(firstUpdate)) statuses.set(update.alert.fingerprint, update.status);
        const values = [...statuses.values()];
        state = values.includes('FIRING') ? 'FIRING' : values.includes('PENDING') ? 'PENDING' : 'INACTIVE';
      }
      health.push({ ruleId: rule.id, state, series: observations.length, error });
    }
    for (const alert of orphans) {
      updates.push({ ...carry(alert), status: 'RESOLVED', endsAt: now, awaitingFlush: alert.status === 'FIRING' });
    }

    const { events, firedRuleIds } = await this.persist(inserts, updates, health, now, new Map(rules.map((rule) => [rule.id, rule])));
    const latest = await this.db.query<{ status: AlertStatus; count: number }>(
      sql`/* alerts.openCounts */ SELECT status::text AS status, count(*)::int AS count FROM alerts WHERE status <> 'RESOLVED' GROUP BY status`,
    );
    const summary: EvaluationSummary = {
      rules: rules.length,
      series: seriesCount,
      pending: latest.find((row) => row.status === 'PENDING')?.count ?? 0,
      firing: latest.find((row) => row.status === 'FIRING')?.count ?? 0,
      transitions: events.length,
      noData: health.filter((entry) => entry.state === 'NO_DATA').length,
      errors: health.filter((entry) => entry.state === 'ERROR').length,
      batches: stats.batches,
      queries: stats.queries,
      readMs: Math.round(readMs),
      totalMs: Math.round(performance.now() - started),
    };
    return { events, summary, firedGroups: rules.filter((rule) => firedRuleIds.has(rule.id)) };
  }

  private compile(rule: RuleRecord): Compiled | { version: number; error: string } {
    const cached = this.compiled.get(rule.id);
    if (cached && cached.version === rule.version) return cached;
    let compiled: Compiled | { version: number; error: string };
    try {
      const condition = parseCondition(rule.condition, { kind: rule.kind, family: rule.family });
      compiled = { version: rule.version, condition, read: planRule({ condition, family: rule.family, windowSeconds: rule.windowSeconds, groupBy: rule.groupBy }) };
    } catch (error) {
      compiled = { version: rule.version, error: `the stored condition cannot be evaluated: ${error instanceof Error ? error.message : String(error)}` };
    }
    this.compiled.set(rule.id, compiled);
    return compiled;
  }

  private async observe(rule: RuleRecord, plan: Compiled, series: { labels: Record<string, string>; value: number }[], now: Date): Promise<Observation[]> {
    const { condition } = plan;
    if (condition.kind === 'threshold') return series.map((entry) => this.observation(rule, condition, entry.labels, entry.value));
    const baselines = await this.baselines.points(rule.id, rule.version, plan.read, condition.options, now);
    return series.map((entry) => {
      const key = JSON.stringify(plan.read.seriesLabels.map(({ label }) => entry.labels[label] ?? null));
      const score = scoreAnomaly(baselines.get(key) ?? [], { t: now.getTime(), v: entry.value }, {
        model: condition.options.model,
        threshold: condition.options.threshold,
        direction: condition.options.direction,
        seasonality: condition.options.seasonality,
        minPoints: condition.options.minPoints,
        ...(condition.options.alpha !== undefined ? { alpha: condition.options.alpha } : {}),
      });
      return {
        labels: entry.labels,
        value: entry.value,
        breach: score.anomalous,
        score: Number.isFinite(score.score) ? score.score : null,
        expected: Number.isFinite(score.expected) ? score.expected : null,
      };
    });
  }

  private observation(_rule: RuleRecord, condition: Condition, labels: Record<string, string>, value: number): Observation {
    const breach = condition.kind === 'threshold' ? compare(value, condition.comparator, condition.threshold) : false;
    return { labels, value, breach, score: null, expected: null };
  }

  private transition(
    rule: RuleRecord,
    plan: Compiled | undefined,
    fingerprint: string,
    alert: AlertRecord | undefined,
    observation: Observation,
    now: Date,
    inserts: Insert[],
    updates: Update[],
  ): void {
    const labels = alertLabels(rule, observation.labels);
    const annotations = renderAnnotations(rule, plan?.condition, labels, observation);
    if (!alert) {
      if (!observation.breach) return;
      inserts.push({
        rule,
        fingerprint,
        seriesKey: hashOf(plan?.read.sourceKey ?? rule.id, canonicalLabels(observation.labels)),
        labels,
        annotations,
        status: rule.forSeconds === 0 ? 'FIRING' : 'PENDING',
        value: observation.value,
        score: observation.score,
      });
      return;
    }
    const base: Update = {
      ...carry(alert),
      value: observation.value,
      score: observation.score,
      labels,
      annotations,
      severity: rule.severity,
    };
    const elapsed = (since: Date | null) => (since ? now.getTime() - since.getTime() : Infinity);
    if (observation.breach) {
      if (alert.status === 'PENDING' && elapsed(alert.startsAt) >= rule.forSeconds * 1000) updates.push({ ...base, status: 'FIRING', firedAt: now, lastBreachAt: now });
      else updates.push({ ...base, lastBreachAt: now });
      return;
    }
    if (alert.status === 'PENDING') updates.push({ ...base, status: 'RESOLVED', endsAt: now });
    else if (rule.keepFiringForSeconds > 0 && elapsed(alert.lastBreachAt) < rule.keepFiringForSeconds * 1000) updates.push(base);
    else updates.push({ ...base, status: 'RESOLVED', endsAt: now, awaitingFlush: true });
  }

  private async persist(
    inserts: Insert[],
    updates: Update[],
    health: { ruleId: string; state: RuleState; series: number; error: string | null }[],
    now: Date,
    rulesById: Map<string, RuleRecord>,
  ): Promise<{ events: AlertEvent[]; firedRuleIds: Set<string> }> {
    const at = now.toISOString();
    return this.db.transaction(async (tx) => {
      const events: AlertEvent[] = [];
      const firedRuleIds = new Set<string>();
      if (inserts.length > 0) {
        const rows = await tx.query<AlertRecord>(sql`/* alerts.openAlerts */
          INSERT INTO alerts (rule_id, rule_name, fingerprint, series_key, group_key, labels, annotations, severity, status, value, score,
                              starts_at, fired_at, last_breach_at, last_evaluated_at)
          SELECT v.rule_id::uuid, v.rule_name, v.fingerprint, v.series_key, v.group_key, v.labels::jsonb, v.annotations::jsonb,
                 v.severity::alert_severity, v.status::alert_status, v.value, v.score, ${at}::timestamptz,
                 CASE WHEN v.status = 'FIRING' THEN ${at}::timestamptz END, ${at}::timestamptz, ${at}::timestamptz
          FROM unnest(${inserts.map((i) => i.rule.id)}::text[], ${inserts.map((i) => i.rule.name)}::text[], ${inserts.map((i) => i.fingerprint)}::text[],
                      ${inserts.map((i) => i.seriesKey)}::text[], ${inserts.map((i) => groupKeyOf(i.rule.id))}::text[],
                      ${inserts.map((i) => JSON.stringify(i.labels))}::text[], ${inserts.map((i) => JSON.stringify(i.annotations))}::text[],
                      ${inserts.map((i) => i.rule.severity)}::text[], ${inserts.map((i) => i.status)}::text[],
                      ${inserts.map((i) => i.value)}::float8[], ${inserts.map((i) => i.score)}::float8[])
            AS v(rule_id, rule_name, fingerprint, series_key, group_key, labels, annotations, severity, status, value, score)
          ON CONFLICT (rule_id, fingerprint) WHERE status <> 'RESOLVED' DO NOTHING
          RETURNING ${ALERT_COLUMNS}`);
        for (const row of rows) {
          events.push({ type: row.status === 'FIRING' ? 'FIRING' : 'PENDING', alert: row });
          if (row.status === 'FIRING' && row.ruleId) firedRuleIds.add(row.ruleId);
        }
      }
      if (updates.length > 0) {
        const iso = (date: Date | null) => (date ? date.toISOString() : null);
        const rows = await tx.query<AlertRecord & { previous: AlertStatus }>(sql`/* alerts.advanceAlerts */
          UPDATE alerts a SET status = v.status::alert_status, value = v.value, score = v.score, fired_at = v.fired_at::timestamptz,
                 ends_at = v.ends_at::timestamptz, last_breach_at = v.last_breach_at::timestamptz, last_evaluated_at = ${at}::timestamptz,
                 awaiting_flush = v.awaiting_flush, labels = v.labels::jsonb, annotations = v.annotations::jsonb,
                 severity = v.severity::alert_severity
          FROM unnest(${updates.map((u) => u.alert.id)}::text[], ${updates.map((u) => u.alert.status)}::text[], ${updates.map((u) => u.status)}::text[],
                      ${updates.map((u) => u.value)}::float8[], ${updates.map((u) => u.score)}::float8[], ${updates.map((u) => iso(u.firedAt))}::text[],
                      ${updates.map((u) => iso(u.endsAt))}::text[], ${updates.map((u) => iso(u.lastBreachAt))}::text[],
                      ${updates.map((u) => u.awaitingFlush)}::boolean[], ${updates.map((u) => JSON.stringify(u.labels))}::text[],
                      ${updates.map((u) => JSON.stringify(u.annotations))}::text[], ${updates.map((u) => u.severity)}::text[])
            AS v(id, expected, status, value, score, fired_at, ends_at, last_breach_at, awaiting_flush, labels, annotations, severity)
          WHERE a.id = v.id::bigint AND a.status::text = v.expected
          RETURNING ${alertColumns('a')}, v.expected AS "previous"`);
        for (const { previous, ...row } of rows) {
          if (row.status === previous) continue;
          events.push({ type: row.status, alert: row });
          if (row.status === 'FIRING' && row.ruleId) firedRuleIds.add(row.ruleId);
        }
      }
      // A rule whose alert starts firing gets its aggregation group (first flush after groupWait), or keeps the
      // one it has, with the rule's current channels and timers.
      const fired = [...firedRuleIds].map((id) => rulesById.get(id)).filter((rule): rule is RuleRecord => rule !== undefined);
      if (fired.length > 0) {
        await tx.query(sql`/* alerts.openGroups */
          INSERT INTO alert_groups (group_key, rule_id, rule_name, channels, group_interval_seconds, repeat_interval_seconds, next_flush_at)
          SELECT v.group_key, v.rule_id::uuid, v.rule_name, string_to_array(v.channels, chr(31)), v.group_interval, v.repeat_interval,
                 ${at}::timestamptz + make_interval(secs => v.group_wait)
          FROM unnest(${fired.map((r) => groupKeyOf(r.id))}::text[], ${fired.map((r) => r.id)}::text[], ${fired.map((r) => r.name)}::text[],
                      ${fired.map((r) => r.channels.join('\u001f'))}::text[], ${fired.map((r) => r.groupIntervalSeconds)}::int4[],
                      ${fired.map((r) => r.repeatIntervalSeconds)}::int4[], ${fired.map((r) => r.groupWaitSeconds)}::int4[])
            AS v(group_key, rule_id, rule_name, channels, group_interval, repeat_interval, group_wait)
          ON CONFLICT (group_key) DO UPDATE SET rule_name = EXCLUDED.rule_name, channels = EXCLUDED.channels,
            group_interval_seconds = EXCLUDED.group_interval_seconds, repeat_interval_seconds = EXCLUDED.repeat_interval_seconds`);
      }
      if (health.length > 0) {
        await tx.query(sql`/* alerts.ruleHealth */
          INSERT INTO alert_rule_health (rule_id, state, series_count, last_error, last_evaluated_at)
          SELECT v.rule_id::uuid, v.state::alert_rule_state, v.series_count, v.last_error, ${at}::timestamptz
          FROM unnest(${health.map((h) => h.ruleId)}::text[], ${health.map((h) => h.state)}::text[],
                      ${health.map((h) => h.series)}::int4[], ${health.map((h) => h.error)}::text[]) AS v(rule_id, state, series_count, last_error)
          WHERE EXISTS (SELECT 1 FROM alert_rules r WHERE r.id = v.rule_id::uuid)
          ON CONFLICT (rule_id) DO UPDATE SET state = EXCLUDED.state, series_count = EXCLUDED.series_count,
            last_error = EXCLUDED.last_error, last_evaluated_at = EXCLUDED.last_evaluated_at`);
      }
      return { events, firedRuleIds };
    });
  }
}

function carry(alert: AlertRecord): Update {
  return {
    alert,
    status: alert.status,
    value: alert.value,
    score: alert.score,
    firedAt: alert.firedAt,
    endsAt: alert.endsAt,
    lastBreachAt: alert.lastBreachAt,
    awaitingFlush: alert.awaitingFlush,
    labels: alert.labels,
    annotations: alert.annotations,
    severity: alert.severity,
  };
}

/** The labels of an alert: the rule's own, then the series', then alertname and severity (which nothing overrides). */
export function alertLabels(rule: RuleRecord, series: Record<string, string>): Record<string, string> {
  return { ...rule.labels, ...series, alertname: rule.name, severity: rule.severity };
}

/** The series part of an open alert's labels, by the rule's series labels (for a series that went missing). */
function seriesLabelsOf(alert: AlertRecord, rule: RuleRecord): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(alert.labels)) {
    if (key === 'alertname' || key === 'severity' || rule.labels[key] === value) continue;
    labels[key] = value;
  }
  return labels;
}

function renderAnnotations(rule: RuleRecord, condition: Condition | undefined, labels: Record<string, string>, observation: Observation): Record<string, string> {
  const values: Record<string, string> = {
    $value: formatValue(observation.value),
    $threshold: condition?.kind === 'threshold' ? formatValue(condition.threshold) : '',
    $score: observation.score === null ? '' : formatValue(observation.score),
    $expected: observation.expected === null ? '' : formatValue(observation.expected),
    $alertname: rule.name,
    $severity: rule.severity,
  };
  const annotations: Record<string, string> = {};
  const series = condition ? printSeries(condition.aggregation, condition.source) : rule.condition;
  const where = Object.entries(labels)
    .filter(([key]) => key !== 'alertname' && key !== 'severity')
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
  const fallback =
    condition?.kind === 'anomaly'
      ? `${series} is ${values.$value}${values.$expected ? `, expected about ${values.$expected}` : ''}${values.$score ? ` (z = ${values.$score})` : ''}`
      : `${series} is ${values.$value}${condition ? ` (${condition.comparator} ${values.$threshold})` : ''}`;
  annotations.summary = rule.annotations.summary ? renderTemplate(rule.annotations.summary, values, labels) : `${fallback}${where ? ` for ${where}` : ''}`;
  if (rule.annotations.description) annotations.description = renderTemplate(rule.annotations.description, values, labels);
  return annotations;
}
