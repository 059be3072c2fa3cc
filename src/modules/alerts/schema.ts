import { z } from 'zod';
import { invalidInput, parseInput, text } from '../../core/input.js';
import type { JsonValue } from '../../core/json.js';
import { ADMIN_ONLY, builder } from '../../schema/builder.js';
import type { Context } from '../../schema/context.js';
import { assertIdCursors, CONNECTION_SIZES, SHAREABLE } from '../../schema/helpers.js';
import type { ChannelView } from './channels/service.js';
import { ChannelNotFoundError, EnvironmentChannelError } from './channels/service.js';
import type { SilenceRecord } from './dispatch/flush.js';
import { formatDuration } from './durations.js';
import { ALERT_EVENTS_TOPIC, alertEventMatcher, type AlertEventPayload } from './events.js';
import type { AlertRecord, RuleRecord } from './model.js';
import { RuleNotFoundError, type RuleInput } from './rules.js';
import { AlertNotFoundError, SilenceNotFoundError, type SilenceView } from './service.js';

// ------------------------------------------------------------------------------------------------- enums

const RuleKindEnum = builder.enumType('AlertRuleKind', {
  description: 'How a rule decides that a series is in trouble.',
  values: {
    THRESHOLD: { description: 'The condition compares a series with a number, e.g. avg(cpu_usage[5m]) > 80.' },
    ANOMALY: { description: 'The condition is anomaly(…): the series is scored against its own trailing baseline.' },
  },
});
const FamilyEnum = builder.enumType('AlertRuleFamily', {
  description: 'The record family a metric name in a condition is read from (error_rate and responseTimeMs always read PERFORMANCE, activity reads ACTIVITY).',
  values: {
    SYSTEM: { description: 'System metrics (cpu_usage, memory_usage, disk_usage…; tags.host names the machine).' },
    APPLICATION: { description: 'Application metrics (appName, also matched as app).' },
    USER: { description: 'User metrics (userId, sessionId).' },
    PERFORMANCE: { description: 'Performance metrics (responseTimeMs, statusCode).' },
    ACTIVITY: { description: 'User activities (counted: count(activity…) and rate(activity…)).' },
  },
});
const SeverityEnum = builder.enumType('AlertSeverity', {
  description: 'How urgent an alert is. A firing CRITICAL alert inhibits the WARNING (and INFO) alerts of the same series.',
  values: {
    INFO: { description: 'For information: nothing to do at once.' },
    WARNING: { description: 'Needs attention soon.' },
    CRITICAL: { description: 'Needs attention now.' },
  },
});
const MissingDataEnum = builder.enumType('AlertMissingDataPolicy', {
  description: 'What a rule does with its open alerts when its data is missing (noDataState) or cannot be read (errorState).',
  values: {
    KEEP_STATE: { description: 'Neither fires nor resolves: open alerts stay as they are until data is back (default).' },
    OK: { description: 'Counts as not breaching: open alerts resolve.' },
    ALERTING: { description: 'Counts as breaching: open alerts keep firing, and one alert for the whole rule opens when none is.' },
  },
});
const RuleStateEnum = builder.enumType('AlertRuleState', {
  description: "A rule's state after its latest evaluation.",
  values: {
    INACTIVE: { description: 'Evaluated; no series breaches.' },
    PENDING: { description: 'A series breaches, for less than the rule\'s `for` duration.' },
    FIRING: { description: 'A series has breached for at least `for`.' },
    NO_DATA: { description: 'No record in the window (a metric that has no records yet reports this).' },
    ERROR: { description: 'The window could not be read; lastError says why.' },
  },
});
const AlertStatusEnum = builder.enumType('AlertStatus', {
  description: 'Where an alert (one episode of one series of a rule) stands.',
  values: {
    PENDING: { description: 'The condition holds, for less than `for`: never notified.' },
    FIRING: { description: 'The condition has held for `for` (or is kept firing by keepFiringFor).' },
    RESOLVED: { description: 'Over: the condition stopped holding (endsAt says when), or the rule was disabled or deleted.' },
  },
});
const ChannelTypeEnum = builder.enumType('AlertChannelType', {
  description: 'How a channel delivers notifications.',
  values: {
    WEBHOOK: { description: 'POST of a JSON body (Alertmanager webhook format), signed with HMAC-SHA256 when a secret is set.' },
    SLACK: { description: 'Slack incoming webhook, Block Kit message.' },
    EMAIL: { description: 'E-mail over SMTP (SMTP_URL), with nodemailer.' },
    SMS: { description: 'An HTTP SMS provider: one request per recipient, body from a template.' },
  },
});
const ChannelSourceEnum = builder.enumType('AlertChannelSource', {
  description: 'Where a channel is defined.',
  values: {
    API: { description: 'Created with createAlertChannel; editable.' },
    ENVIRONMENT: { description: 'The email, slack and sms channels, configured by environment variables; read-only here.' },
  },
});
const NotificationKindEnum = builder.enumType('AlertNotificationKind', {
  description: 'Why a notification was sent.',
  values: {
    FIRING: { description: 'A group started firing, or alerts the channel had not been told about fire.' },
    RESOLVED: { description: 'Alerts the channel had been told about resolved.' },
    REMINDER: { description: 'Still firing, nothing new: sent once repeatInterval has passed since the last notification.' },
    TEST: { description: 'A test message from testAlertChannel.' },
  },
});
const NotificationStatusEnum = builder.enumType('AlertNotificationStatus', {
  description: 'Where a delivery stands.',
  values: {
    PENDING: { description: 'Waiting for its first attempt or for a retry (nextAttemptAt).' },
    SENDING: { description: 'An instance is sending it now.' },
    SENT: { description: 'The channel accepted it.' },
    FAILED: { description: 'Given up: a permanent error, or the last allowed attempt failed.' },
  },
});
const EventTypeEnum = builder.enumType('AlertEventType', {
  description: 'What happened to an alert.',
  values: {
    PENDING: { description: 'It started to hold (status PENDING).' },
    FIRING: { description: 'It started firing.' },
    RESOLVED: { description: 'It resolved (or a pending alert stopped holding).' },
    ACKNOWLEDGED: { description: 'Someone acknowledged it (acknowledgeAlert).' },
    SILENCED: { description: 'A silence created just now covers it.' },
  },
});
const MatchOperatorEnum = builder.enumType('AlertMatchOperator', {
  description: 'How a label matcher compares a label value (an absent label reads as the empty string).',
  values: {
    EQUAL: { value: '=', description: 'Equals (=): the value is the text.' },
    NOT_EQUAL: { value: '!=', description: 'Differs (!=): the value is not the text.' },
    REGEX: { value: '=~', description: 'Matches (=~): the whole value matches the pattern (the safe subset of the condition grammar).' },
    NOT_REGEX: { value: '!~', description: 'Does not match (!~): the whole value does not match the pattern.' },
  },
});
const SilenceStatusEnum = builder.enumType('AlertSilenceStatus', {
  description: 'Whether a silence mutes notifications now.',
  values: {
    PENDING: { description: 'Starts later (startsAt is in the future).' },
    ACTIVE: { description: 'Mutes matching alerts now.' },
    EXPIRED: { description: 'Over (endsAt has passed, or it was expired).' },
  },
});

// ------------------------------------------------------------------------------------- per-request caches

interface Mutes {
  silences: SilenceRecord[];
  firing: { id: string; seriesKey: string; severity: string }[];
}
const RANK: Record<string, number> = { INFO: 0, WARNING: 1, CRITICAL: 2 };
// Keyed by the operation's context and refreshed after a second, so that a long-lived subscription sees
// silences created after it started.
const mutesCache = new WeakMap<object, { at: number; mutes: Promise<Mutes> }>();
function mutesOf(ctx: Context): Promise<Mutes> {
  const cached = mutesCache.get(ctx);
  if (cached && Date.now() - cached.at < 1_000) return cached.mutes;
  const mutes = (async () => {
    const { silences } = await ctx.alerting.mutes([]);
    const firing = await ctx.db.prisma.alert.findMany({ where: { status: 'FIRING' }, select: { id: true, seriesKey: true, severity: true } });
    return { silences, firing: firing.map((row) => ({ id: String(row.id), seriesKey: row.seriesKey, severity: row.severity })) };
  })();
  mutesCache.set(ctx, { at: Date.now(), mutes });
  return mutes;
}

/** Alert rows from Prisma (bigint ids) and from the service (text ids) alike. */
type AlertShape = Omit<AlertRecord, 'id' | 'labels' | 'annotations'> & { id: bigint | string; labels: unknown; annotations: unknown };
const asRecord = (alert: AlertShape): AlertRecord => ({ ...alert, id: String(alert.id) }) as AlertRecord;

// ------------------------------------------------------------------------------------------------ objects

const AnnotationsObject = builder.simpleObject('AlertAnnotations', {
  description: "Texts of a rule's alerts; templates may use {{ $value }}, {{ $threshold }}, {{ $score }}, {{ $expected }}, {{ $alertname }}, {{ $severity }} and {{ $labels.<name> }}.",
  fields: (t) => ({
    summary: t.string({ nullable: true, description: 'One line about the alert; null: a summary is generated from the condition and the value.' }),
    description: t.string({ nullable: true, description: 'More detail (what to check, a runbook link); null when none.' }),
  }),
});

const RuleHealthObject = builder.simpleObject('AlertRuleHealth', {
  description: "The outcome of a rule's latest evaluation.",
  fields: (t) => ({
    state: t.field({ type: RuleStateEnum, description: 'INACTIVE, PENDING, FIRING, NO_DATA or ERROR.' }),
    seriesCount: t.int({ description: 'Series the rule saw (one per groupBy value).' }),
    lastError: t.string({ nullable: true, description: 'Why the window could not be read; null when it was.' }),
    lastEvaluatedAt: t.field({ type: 'DateTime', description: 'The tick of that evaluation.' }),
  }),
});

const AlertRuleRef = builder.objectRef<RuleRecord>('AlertRule');
const AlertObject = builder.prismaObject('Alert', {
  description: 'One episode of one series of a rule: PENDING, then FIRING, then RESOLVED.',
  fields: (t) => ({
    id: t.id({ description: 'Unique id, increasing in the order alerts opened.', resolve: (alert) => String(alert.id) }),
    rule: t.field({
      type: AlertRuleRef,
      nullable: true,
      description: 'The rule; null once the rule was deleted (ruleName keeps its name).',
      resolve: (alert, _args, ctx) => (alert.ruleId ? ctx.alerting.rules.get(alert.ruleId) : null),
    }),
    ruleName: t.exposeString('ruleName', { description: 'The rule\'s name when the alert opened (its alertname label).' }),
    status: t.field({ type: AlertStatusEnum, description: 'PENDING, FIRING or RESOLVED.', resolve: (alert) => alert.status }),
    severity: t.field({ type: SeverityEnum, description: "The rule's severity.", resolve: (alert) => alert.severity }),
    labels: t.field({ type: 'JSON', description: "The alert's labels: the rule's labels, the series' (groupBy) labels, alertname and severity.", resolve: (alert) => alert.labels as JsonValue }),
    annotations: t.field({ type: 'JSON', description: 'The rule summary (and description) rendered with the latest value: an object of strings.', resolve: (alert) => alert.annotations as JsonValue }),
    value: t.exposeFloat('value', { nullable: true, description: 'The series value at the latest evaluation, in the metric\'s unit (error_rate in percent); null when there was no data.' }),
    score: t.exposeFloat('score', { nullable: true, description: 'ANOMALY rules: the z-score at the latest evaluation; null for THRESHOLD rules.' }),
    fingerprint: t.exposeString('fingerprint', { description: "The series' identity within its rule (a hash of its labels)." }),
    startsAt: t.expose('startsAt', { type: 'DateTime', description: 'When the condition started to hold (the alert opened as PENDING, or FIRING when `for` is 0).' }),
    firedAt: t.expose('firedAt', { type: 'DateTime', nullable: true, description: 'When it started firing; null while PENDING, or if it never fired.' }),
    endsAt: t.expose('endsAt', { type: 'DateTime', nullable: true, description: 'When it resolved; null while open.' }),
    lastEvaluatedAt: t.expose('lastEvaluatedAt', { type: 'DateTime', description: 'The tick of the latest evaluation that saw it.' }),
    silenced: t.boolean({
      description: 'Whether an active silence matches its labels now (silenced alerts are not notified). Always false once resolved.',
      resolve: async (alert, _args, ctx) => alert.status !== 'RESOLVED' && ctx.alerting.silencedBy((await mutesOf(ctx)).silences, asRecord(alert as AlertShape)).length > 0,
    }),
    silencedBy: t.idList({
      description: 'The active silences that match it now.',
      resolve: async (alert, _args, ctx) => ctx.alerting.silencedBy((await mutesOf(ctx)).silences, asRecord(alert as AlertShape)),
    }),
    inhibited: t.boolean({
      description: 'Whether a firing alert of higher severity on the same series (e.g. critical_cpu_usage over high_cpu_usage) mutes it now.',
      resolve: async (alert, _args, ctx) => {
        if (alert.status === 'RESOLVED') return false;
        const { firing } = await mutesOf(ctx);
        return firing.some((source) => source.seriesKey === alert.seriesKey && source.id !== String(alert.id) && RANK[source.severity]! > RANK[alert.severity]!);
      },
    }),
    acknowledgedAt: t.expose('acknowledgedAt', { type: 'DateTime', nullable: true, description: 'When it was acknowledged (its notifications and reminders stop; its resolution is still announced); null if not.' }),
    acknowledgement: t.exposeString('acknowledgement', { nullable: true, description: 'The comment given with acknowledgeAlert; null when none.' }),
    acknowledgedBy: t.exposeString('acknowledgedBy', { nullable: true, description: 'The API key (name) that acknowledged it; null if not acknowledged.' }),
  }),
});

builder.objectType(AlertRuleRef, {
  description: 'An alert rule: a condition evaluated every INSIGHTS_ALERT_EVAL_INTERVAL for each series, and where its alerts are notified.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The rule id (a UUID).' }),
    name: t.exposeString('name', { description: 'Unique name; the alertname label of its alerts.' }),
    description: t.exposeString('description', { description: 'What the rule watches, for people; empty when none.' }),
    kind: t.field({ type: RuleKindEnum, description: 'THRESHOLD or ANOMALY.', resolve: (rule) => rule.kind }),
    condition: t.exposeString('condition', { description: 'The condition in canonical form (see the README for the grammar), e.g. avg(cpu_usage{host="web-1"}[5m]) > 80.' }),
    family: t.field({ type: FamilyEnum, description: 'Where a metric name in the condition is read.', resolve: (rule) => rule.family }),
    for: t.string({ description: 'How long the condition must hold before the alert fires, e.g. 5m; 0s fires at once.', resolve: (rule) => formatDuration(rule.forSeconds) }),
    keepFiringFor: t.string({ description: 'How long a firing alert stays firing after the condition stops holding (damps flapping); 0s: resolves at once.', resolve: (rule) => formatDuration(rule.keepFiringForSeconds) }),
    window: t.string({ description: 'The window of a condition that names none (cpu_usage > 80 reads the latest value within it), e.g. 5m.', resolve: (rule) => formatDuration(rule.windowSeconds) }),
    severity: t.field({ type: SeverityEnum, description: 'The severity of its alerts.', resolve: (rule) => rule.severity }),
    groupBy: t.exposeStringList('groupBy', { description: 'The labels (tag keys or record fields such as host) that split series: one alert per value; [] for one series.' }),
    labels: t.field({ type: 'JSON', description: 'Extra labels added to its alerts: an object of strings.', resolve: (rule) => rule.labels }),
    annotations: t.field({ type: AnnotationsObject, description: 'Summary and description templates.', resolve: (rule) => ({ summary: rule.annotations.summary ?? null, description: rule.annotations.description ?? null }) }),
    channels: t.exposeStringList('channels', { description: 'Names of the channels notified (see alertChannels).' }),
    enabled: t.exposeBoolean('enabled', { description: 'False: not evaluated, and its open alerts were resolved.' }),
    groupWait: t.string({ description: 'Wait before the first notification of a group, e.g. 30s (Alertmanager group_wait).', resolve: (rule) => formatDuration(rule.groupWaitSeconds) }),
    groupInterval: t.string({ description: 'Wait between notifications about changes in a group, e.g. 5m (group_interval).', resolve: (rule) => formatDuration(rule.groupIntervalSeconds) }),
    repeatInterval: t.string({ description: 'Wait before reminding about a group that still fires, e.g. 4h (repeat_interval).', resolve: (rule) => formatDuration(rule.repeatIntervalSeconds) }),
    noDataState: t.field({ type: MissingDataEnum, description: 'What no data does to open alerts.', resolve: (rule) => rule.noDataState }),
    errorState: t.field({ type: MissingDataEnum, description: 'What an error reading the window does to open alerts.', resolve: (rule) => rule.errorState }),
    version: t.exposeInt('version', { description: 'Increases with every update; pass it as expectedVersion to updateAlertRule to refuse stale writes.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it was last changed.' }),
    health: t.field({
      type: RuleHealthObject,
      nullable: true,
      description: 'Its latest evaluation; null until it has been evaluated once.',
      resolve: async (rule, _args, ctx) => {
        const row = await ctx.db.prisma.alertRuleHealth.findUnique({ where: { ruleId: rule.id } });
        return row ? { state: row.state, seriesCount: row.seriesCount, lastError: row.lastError, lastEvaluatedAt: row.lastEvaluatedAt } : null;
      },
    }),
    activeAlerts: t.field({
      type: [AlertObject],
      description: 'Its open (PENDING and FIRING) alerts.',
      resolve: (rule, _args, ctx) => ctx.db.prisma.alert.findMany({ where: { ruleId: rule.id, status: { not: 'RESOLVED' } }, orderBy: { id: 'desc' } }),
    }),
  }),
});

const LabelMatcherObject = builder.simpleObject('AlertLabelMatcher', {
  description: 'A condition on one label of an alert.',
  fields: (t) => ({
    label: t.string({ description: 'The label, e.g. alertname, host, severity.' }),
    op: t.field({ type: MatchOperatorEnum, description: 'How it compares.' }),
    value: t.string({ description: 'The text or pattern.' }),
  }),
});

const SilenceRef = builder.objectRef<SilenceView>('AlertSilence');
builder.objectType(SilenceRef, {
  description: 'Mutes the notifications of alerts whose labels match, between startsAt and endsAt (alerts still open and show silenced: true).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The silence id (a UUID).' }),
    matchers: t.field({ type: [LabelMatcherObject], description: 'All must match.', resolve: (silence) => silence.matchers }),
    startsAt: t.expose('startsAt', { type: 'DateTime', description: 'When it starts muting.' }),
    endsAt: t.expose('endsAt', { type: 'DateTime', description: 'When it stops (expireSilence sets it to now).' }),
    comment: t.exposeString('comment', { description: 'Why.' }),
    createdBy: t.exposeString('createdBy', { description: 'The API key (name) that created it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    status: t.field({
      type: SilenceStatusEnum,
      description: 'PENDING, ACTIVE or EXPIRED, now.',
      resolve: (silence) => {
        const now = Date.now();
        return silence.endsAt.getTime() <= now ? 'EXPIRED' : silence.startsAt.getTime() > now ? 'PENDING' : 'ACTIVE';
      },
    }),
  }),
});

const ChannelRef = builder.objectRef<ChannelView>('AlertChannel');
builder.objectType(ChannelRef, {
  description: 'Where notifications go. Secrets (signing secrets, header values, secret URLs) are stored but never returned.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'A UUID, or environment:email / environment:slack / environment:sms for the channels of the environment.' }),
    name: t.exposeString('name', { description: 'Unique name, used in rules\' channels.' }),
    type: t.field({ type: ChannelTypeEnum, description: 'WEBHOOK, SLACK, EMAIL or SMS.', resolve: (channel) => channel.type }),
    source: t.field({ type: ChannelSourceEnum, description: 'API or ENVIRONMENT.', resolve: (channel) => channel.source }),
    configured: t.exposeBoolean('configured', { description: 'Whether it can send; a channel that is not is skipped (and check-monitoring says so).' }),
    problem: t.exposeString('problem', { nullable: true, description: 'Why it is not configured (e.g. SMTP_URL is not set); null when it is.' }),
    config: t.field({ type: 'JSON', description: 'Its settings with secrets masked (****) or left out.', resolve: (channel) => channel.config }),
    hasSecret: t.boolean({ description: 'Whether a secret is stored (see secretFields).', resolve: (channel) => channel.secretFields.length > 0 }),
    secretFields: t.exposeStringList('secretFields', { description: 'Which secrets are stored, e.g. ["secret", "headers.Authorization", "url"]; never their values.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', nullable: true, description: 'When it was created; null for the environment\'s.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', nullable: true, description: 'When it was last changed; null for the environment\'s.' }),
  }),
});

const AttemptObject = builder.prismaObject('AlertNotificationAttempt', {
  description: 'One attempt at delivering a notification.',
  fields: (t) => ({
    attempt: t.exposeInt('attempt', { description: 'Its number, from 1.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When it started.' }),
    durationMs: t.exposeInt('durationMs', { description: 'How long it took, in milliseconds.' }),
    succeeded: t.exposeBoolean('succeeded', { description: 'Whether the channel accepted the notification.' }),
    error: t.exposeString('error', { nullable: true, description: 'What went wrong; null when it succeeded.' }),
    responseStatus: t.exposeInt('responseStatus', { nullable: true, description: 'The HTTP (or SMTP) status answered; null when none came.' }),
    instance: t.exposeString('instance', { description: 'The instance (host/pid/random) that made it.' }),
  }),
});

const NotificationObject = builder.prismaObject('AlertNotification', {
  description: 'A notification to one channel: delivered at least once, with retries; every attempt is listed.',
  fields: (t) => ({
    id: t.id({ description: 'Unique id, increasing in creation order (also sent as X-Insights-Notification-Id).', resolve: (n) => String(n.id) }),
    channel: t.exposeString('channelName', { description: 'The channel\'s name.' }),
    channelType: t.field({ type: ChannelTypeEnum, description: 'The channel\'s type.', resolve: (n) => n.channelType }),
    kind: t.field({ type: NotificationKindEnum, description: 'FIRING, RESOLVED, REMINDER or TEST.', resolve: (n) => n.kind }),
    status: t.field({ type: NotificationStatusEnum, description: 'PENDING, SENDING, SENT or FAILED.', resolve: (n) => n.status }),
    groupKey: t.exposeString('groupKey', { nullable: true, description: 'The aggregation group (rule:<rule id>); null for TEST.' }),
    attempts: t.exposeInt('attempts', { description: 'Attempts made so far.' }),
    maxAttempts: t.exposeInt('maxAttempts', { description: 'Attempts allowed (INSIGHTS_ALERT_DELIVERY_MAX_ATTEMPTS).' }),
    lastError: t.exposeString('lastError', { nullable: true, description: "The latest attempt's error; null when it succeeded or none was made." }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', description: 'When it is (or was) due for its next attempt.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the flush decided it.' }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true, description: 'When the channel accepted it; null until then.' }),
    payload: t.field({ type: 'JSON', description: 'What it says: the Alertmanager-style webhook body, which every channel renders in its own way.', resolve: (n) => n.payload as JsonValue }),
    alerts: t.field({
      type: [AlertObject],
      description: 'The alerts it carried.',
      resolve: (n, _args, ctx) => (n.alertIds.length === 0 ? [] : ctx.db.prisma.alert.findMany({ where: { id: { in: n.alertIds } }, orderBy: { id: 'asc' } })),
    }),
    attemptLog: t.relation('attemptLog', { description: 'Every attempt, oldest first.', query: { orderBy: { attempt: 'asc' } } }),
  }),
});
void AttemptObject;

const AlertEventRef = builder.objectRef<AlertEventPayload>('AlertEvent');
builder.objectType(AlertEventRef, {
  description: 'Something that happened to an alert.',
  fields: (t) => ({
    type: t.field({ type: EventTypeEnum, description: 'PENDING, FIRING, RESOLVED, ACKNOWLEDGED or SILENCED.', resolve: (event) => event.type }),
    alert: t.field({ type: AlertObject, description: 'The alert as it was right after the event.', resolve: (event) => ({ ...event.alert, id: BigInt(event.alert.id) }) as never }),
  }),
});

// ------------------------------------------------------------------------------------------------- inputs

const AnnotationsInput = builder.inputType('AlertAnnotationsInput', {
  description: 'Summary and description templates ({{ $value }}, {{ $threshold }}, {{ $labels.host }}…); an empty string removes one.',
  fields: (t) => ({
    summary: t.string({ description: 'One line, at most 2,000 characters; absent: generated from the condition.' }),
    description: t.string({ description: 'More detail, at most 2,000 characters.' }),
  }),
});

const ruleFields = (t: PothosSchemaTypes.InputFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<never>, 'InputObject'>, create: boolean) => ({
  name: t.string({ required: create, description: 'Unique, 1-100 characters of A-Z a-z 0-9 _ . : - (the alertname label).' }),
  description: t.string({ description: 'What it watches, for people; at most 4,000 characters.' }),
  kind: t.field({ type: RuleKindEnum, description: 'THRESHOLD or ANOMALY; absent: ANOMALY when the condition is anomaly(…), else THRESHOLD.' }),
  condition: t.string({ required: create, description: 'The condition (README "Alert conditions"), e.g. p95(responseTimeMs{endpoint="/api/orders"}[5m]) > 1000.' }),
  family: t.field({ type: FamilyEnum, description: 'Where a metric name is read; default SYSTEM.' }),
  for: t.string({ description: 'Pending duration before firing, 0s to 1d, e.g. 5m; default 0s.' }),
  keepFiringFor: t.string({ description: 'Keep firing this long after the condition stops holding, 0s to 1d; default 0s.' }),
  window: t.string({ description: 'Window of a condition that names none, 1s to 31d; default 5m.' }),
  severity: t.field({ type: SeverityEnum, description: 'Default WARNING.' }),
  groupBy: t.stringList({ description: 'Labels that split series (at most 4); default ["host"] for SYSTEM, [] otherwise.' }),
  labels: t.field({ type: 'JSON', description: 'Extra labels: an object of at most 20 strings (not alertname or severity).' }),
  annotations: t.field({ type: AnnotationsInput, description: 'Summary and description templates.' }),
  channels: t.stringList({ description: 'Channel names to notify (at most 20); default none.' }),
  enabled: t.boolean({ description: 'Default true. Disabling resolves its open alerts.' }),
  groupWait: t.string({ description: 'Wait before the first notification of a group, 0s to 1d; default 30s.' }),
  groupInterval: t.string({ description: 'Wait between notifications about a group\'s changes, 1s to 1d; default 5m.' }),
  repeatInterval: t.string({ description: 'Reminder interval while a group fires, 1m to 30d; default 4h.' }),
  noDataState: t.field({ type: MissingDataEnum, description: 'What no data does; default KEEP_STATE.' }),
  errorState: t.field({ type: MissingDataEnum, description: 'What a read error does; default KEEP_STATE.' }),
});

const AlertRuleInput = builder.inputType('AlertRuleInput', { description: 'A rule to create.', fields: (t) => ruleFields(t as never, true) });
const AlertRuleUpdateInput = builder.inputType('AlertRuleUpdateInput', {
  description: 'What to change in a rule: absent fields keep their value.',
  fields: (t) => ruleFields(t as never, false),
});

const AlertFilter = builder.inputType('AlertFilter', {
  description: 'Which alerts to list: every given condition must hold.',
  fields: (t) => ({
    statuses: t.field({ type: [AlertStatusEnum], description: 'Only these statuses.' }),
    severities: t.field({ type: [SeverityEnum], description: 'Only these severities.' }),
    ruleIds: t.idList({ description: 'Only alerts of these rules.' }),
    from: t.field({ type: 'DateTime', description: 'Only alerts open at or after this instant (not resolved before it).' }),
    to: t.field({ type: 'DateTime', description: 'Only alerts that started before this instant (exclusive).' }),
  }),
});

const LabelMatcherInput = builder.inputType('AlertLabelMatcherInput', {
  description: 'A condition on one label (alertname is the rule\'s name).',
  fields: (t) => ({
    label: t.string({ required: true, description: 'The label, e.g. alertname or host.' }),
    op: t.field({ type: MatchOperatorEnum, defaultValue: '=', description: 'How to compare; default EQUAL.' }),
    value: t.string({ required: true, description: 'The text, or for REGEX/NOT_REGEX a pattern matched against the whole value.' }),
  }),
});

const SilenceInput = builder.inputType('AlertSilenceInput', {
  description: 'A silence to create.',
  fields: (t) => ({
    matchers: t.field({ type: [LabelMatcherInput], required: true, description: 'All must match (1-20); at least one must not match an empty label.' }),
    startsAt: t.field({ type: 'DateTime', description: 'When it starts; default now.' }),
    endsAt: t.field({ type: 'DateTime', required: true, description: 'When it ends: in the future, at most a year after startsAt.' }),
    comment: t.string({ required: true, description: 'Why (required), at most 2,000 characters.' }),
  }),
});

const ChannelInput = builder.inputType('AlertChannelInput', {
  description: 'A channel to create. config per type (README "Channels"): WEBHOOK { url, secret?, headers? }, SLACK { url, channel?, username?, iconEmoji? }, EMAIL { to, cc?, from?, subjectPrefix? }, SMS { url, recipients, bodyTemplate?, contentType?, method?, headers? }.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique, 1-100 characters of A-Z a-z 0-9 _ . : - (not email, slack or sms).' }),
    type: t.field({ type: ChannelTypeEnum, required: true, description: 'WEBHOOK, SLACK, EMAIL or SMS.' }),
    config: t.field({ type: 'JSON', required: true, description: 'Its settings (see the type description). URLs must be http(s) and public unless INSIGHTS_ALERT_ALLOW_PRIVATE_URLS=true.' }),
  }),
});
const ChannelUpdateInput = builder.inputType('AlertChannelUpdateInput', {
  description: 'What to change in a channel. A config replaces the old one, except that url, secret and headers left out (or sent back masked) keep their stored values.',
  fields: (t) => ({
    name: t.string({ description: 'A new name (rules using it follow).' }),
    config: t.field({ type: 'JSON', description: 'New settings.' }),
  }),
});

const EventFilter = builder.inputType('AlertEventFilter', {
  description: 'Which alert events to deliver: every given condition must hold.',
  fields: (t) => ({
    severities: t.field({ type: [SeverityEnum], description: 'Only alerts of these severities.' }),
    ruleIds: t.idList({ description: 'Only alerts of these rules.' }),
    statuses: t.field({ type: [AlertStatusEnum], description: 'Only alerts in these statuses after the event.' }),
    types: t.field({ type: [EventTypeEnum], description: 'Only these event types.' }),
  }),
});

// ----------------------------------------------------------------------------------------------- helpers

const uuid = z.uuid();
function ruleId(id: string, argument = 'id'): string {
  if (!uuid.safeParse(id).success) throw invalidInput(argument, 'must be an alert rule id (UUID)');
  return id;
}
function notFound(error: unknown, argument: string, what: string): never {
  if (error instanceof RuleNotFoundError || error instanceof AlertNotFoundError || error instanceof SilenceNotFoundError || error instanceof ChannelNotFoundError) {
    throw invalidInput(argument, `no ${what} has this id`);
  }
  if (error instanceof EnvironmentChannelError) {
    throw invalidInput(argument, `channel "${error.message}" is configured by the environment (its variables); it cannot be changed or deleted here`);
  }
  throw error;
}
const ruleInput = (input: Record<string, unknown>): RuleInput => input as RuleInput;
const actorOf = (ctx: Context) => ({ keyId: ctx.principal.keyId, keyName: ctx.principal.keyName });

const filterSchema = z.object({
  statuses: z.array(z.enum(['PENDING', 'FIRING', 'RESOLVED'])).nullish(),
  severities: z.array(z.enum(['INFO', 'WARNING', 'CRITICAL'])).nullish(),
  ruleIds: z.array(z.uuid({ message: 'must be an alert rule id (UUID)' })).max(100).nullish(),
  from: z.date().nullish(),
  to: z.date().nullish(),
});

// ------------------------------------------------------------------------------------------------ fields

builder.queryFields((t) => ({
  alertRules: t.field({
    type: [AlertRuleRef],
    description: 'Every alert rule, by name.',
    resolve: (_root, _args, ctx) => ctx.alerting.rules.list(),
  }),
  alertRule: t.field({
    type: AlertRuleRef,
    nullable: true,
    description: 'One rule; null when no rule has this id.',
    args: { id: t.arg.id({ required: true, description: 'The rule id (a UUID).' }) },
    resolve: (_root, args, ctx) => ctx.alerting.rules.get(ruleId(String(args.id))),
  }),
  activeAlerts: t.field({
    type: [AlertObject],
    description: 'Open alerts (PENDING and FIRING), most severe first, then newest.',
    resolve: async (_root, _args, ctx) => (await ctx.alerting.activeAlerts()).map((alert) => ({ ...alert, id: BigInt(alert.id) })) as never,
  }),
  alerts: t.prismaConnection(
    {
      type: AlertObject,
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'Alerts, open and resolved, newest first.',
      args: { filter: t.arg({ type: AlertFilter, description: 'Which alerts; all when absent.' }) },
      resolve: (query, _root, args, ctx) => {
        assertIdCursors(args);
        const filter = parseInput(filterSchema, args.filter ?? {}, 'filter');
        return ctx.db.prisma.alert.findMany({
          ...query,
          where: {
            ...(filter.statuses?.length ? { status: { in: filter.statuses } } : {}),
            ...(filter.severities?.length ? { severity: { in: filter.severities } } : {}),
            ...(filter.ruleIds?.length ? { ruleId: { in: filter.ruleIds } } : {}),
            ...(filter.to ? { startsAt: { lt: filter.to } } : {}),
            ...(filter.from ? { OR: [{ endsAt: null }, { endsAt: { gte: filter.from } }] } : {}),
          },
          orderBy: { id: 'desc' },
        });
      },
    },
    { description: 'A page of alerts.' },
    { description: 'One alert and its cursor.' },
  ),
  silences: t.field({
    type: [SilenceRef],
    description: 'Silences, latest ending first (at most 1,000).',
    resolve: (_root, _args, ctx) => ctx.alerting.silences(),
  }),
  alertChannels: t.field({
    type: [ChannelRef],
    ...ADMIN_ONLY,
    description: 'Every channel: the environment\'s (email, slack, sms) and those created over the API.',
    resolve: (_root, _args, ctx) => ctx.alerting.channels.list(),
  }),
  alertNotifications: t.prismaConnection(
    {
      type: NotificationObject,
      cursor: 'id',
      ...CONNECTION_SIZES,
      description: 'Every notification (and test message), newest first, with its attempts.',
      resolve: (query, _root, args, ctx) => {
        assertIdCursors(args);
        return ctx.db.prisma.alertNotification.findMany({ ...query, orderBy: { id: 'desc' } });
      },
    },
    { description: 'A page of notifications.' },
    { description: 'One notification and its cursor.' },
  ),
}));

builder.mutationFields((t) => ({
  createAlertRule: t.field({
    type: AlertRuleRef,
    ...ADMIN_ONLY,
    description: 'Creates a rule; recorded in the audit trail. A malformed condition is refused with BAD_USER_INPUT naming its position.',
    args: { input: t.arg({ type: AlertRuleInput, required: true, description: 'The rule.' }) },
    resolve: (_root, args, ctx) => ctx.alerting.rules.create(actorOf(ctx), ruleInput(args.input)),
  }),
  updateAlertRule: t.field({
    type: AlertRuleRef,
    ...ADMIN_ONLY,
    description: 'Changes a rule (absent fields are kept); recorded in the audit trail.',
    args: {
      id: t.arg.id({ required: true, description: 'The rule id.' }),
      input: t.arg({ type: AlertRuleUpdateInput, required: true, description: 'What to change.' }),
      expectedVersion: t.arg.int({ description: 'The version the change is based on: a rule changed since is refused with CONFLICT; absent: no check.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.alerting.updateRule(actorOf(ctx), ruleId(String(args.id)), ruleInput(args.input), args.expectedVersion ?? null).catch((error: unknown) => notFound(error, 'id', 'alert rule')),
  }),
  deleteAlertRule: t.field({
    type: AlertRuleRef,
    ...ADMIN_ONLY,
    description: 'Deletes a rule and returns it as it was; its open alerts resolve (firing ones are notified as resolved).',
    args: { id: t.arg.id({ required: true, description: 'The rule id.' }) },
    resolve: (_root, args, ctx) => ctx.alerting.deleteRule(actorOf(ctx), ruleId(String(args.id))).catch((error: unknown) => notFound(error, 'id', 'alert rule')),
  }),
  acknowledgeAlert: t.field({
    type: AlertObject,
    ...ADMIN_ONLY,
    description: 'Acknowledges an open alert: its notifications and reminders stop until it resolves (its resolution is still announced).',
    args: {
      id: t.arg.id({ required: true, description: 'The alert id.' }),
      comment: t.arg.string({ description: 'Who is on it, a ticket…; at most 2,000 characters.' }),
    },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      if (!/^\d{1,18}$/.test(id)) throw invalidInput('id', 'must be an alert id (a positive whole number)');
      const comment = args.comment === null || args.comment === undefined ? null : parseInput(text(2000), args.comment, 'comment');
      const alert = await ctx.alerting.acknowledge(actorOf(ctx), id, comment).catch((error: unknown) => notFound(error, 'id', 'alert'));
      return { ...alert, id: BigInt(alert.id) } as never;
    },
  }),
  createSilence: t.field({
    type: SilenceRef,
    ...ADMIN_ONLY,
    description: 'Mutes the notifications of alerts whose labels match, from startsAt to endsAt.',
    args: { input: t.arg({ type: SilenceInput, required: true, description: 'The silence.' }) },
    resolve: (_root, args, ctx) =>
      ctx.alerting.createSilence(actorOf(ctx), {
        matchers: args.input.matchers.map((m) => ({ label: m.label, op: (m.op ?? '=') as never, value: m.value })),
        startsAt: args.input.startsAt ?? null,
        endsAt: args.input.endsAt,
        comment: args.input.comment,
      }),
  }),
  expireSilence: t.field({
    type: SilenceRef,
    ...ADMIN_ONLY,
    description: 'Ends a silence now (a pending one never starts).',
    args: { id: t.arg.id({ required: true, description: 'The silence id.' }) },
    resolve: (_root, args, ctx) => ctx.alerting.expireSilence(actorOf(ctx), String(args.id)).catch((error: unknown) => notFound(error, 'id', 'silence')),
  }),
  createAlertChannel: t.field({
    type: ChannelRef,
    ...ADMIN_ONLY,
    description: 'Creates a channel; its URL is checked (http/https, public address) and its secrets are stored, never returned.',
    args: { input: t.arg({ type: ChannelInput, required: true, description: 'The channel.' }) },
    resolve: (_root, args, ctx) => ctx.alerting.createChannel(actorOf(ctx), { name: args.input.name, type: args.input.type, config: args.input.config }),
  }),
  updateAlertChannel: t.field({
    type: ChannelRef,
    ...ADMIN_ONLY,
    description: 'Changes a channel created over the API.',
    args: {
      id: t.arg.id({ required: true, description: 'The channel id.' }),
      input: t.arg({ type: ChannelUpdateInput, required: true, description: 'What to change.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.alerting.updateChannel(actorOf(ctx), String(args.id), { name: args.input.name ?? null, config: args.input.config ?? null }).catch((error: unknown) => notFound(error, 'id', 'channel')),
  }),
  deleteAlertChannel: t.field({
    type: ChannelRef,
    ...ADMIN_ONLY,
    description: 'Deletes a channel that no rule uses, and returns it as it was.',
    args: { id: t.arg.id({ required: true, description: 'The channel id.' }) },
    resolve: (_root, args, ctx) => ctx.alerting.deleteChannel(actorOf(ctx), String(args.id)).catch((error: unknown) => notFound(error, 'id', 'channel')),
  }),
  testAlertChannel: t.prismaField({
    type: NotificationObject,
    ...ADMIN_ONLY,
    description: 'Sends a test message now (one attempt, no retry) and returns the delivery, SENT or FAILED with its error.',
    args: { id: t.arg.id({ required: true, description: 'The channel id.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = await ctx.alerting.testChannel(actorOf(ctx), String(args.id)).catch((error: unknown) => notFound(error, 'id', 'channel'));
      return ctx.db.prisma.alertNotification.findUniqueOrThrow({ ...query, where: { id: BigInt(id) } });
    },
  }),
}));

builder.subscriptionFields((t) => ({
  alertEvents: t.field({
    type: AlertEventRef,
    ...SHAREABLE,
    description: 'Alert events from now on, on every instance (through Redis when configured): transitions, acknowledgements, silencings.',
    args: { filter: t.arg({ type: EventFilter, description: 'Which events; all when absent.' }) },
    subscribe: (_root, args, ctx) =>
      ctx.live.stream(
        ALERT_EVENTS_TOPIC,
        alertEventMatcher({
          severities: args.filter?.severities ?? null,
          ruleIds: args.filter?.ruleIds?.map(String) ?? null,
          statuses: args.filter?.statuses ?? null,
          types: args.filter?.types ?? null,
        }),
      ),
    resolve: (event) => event,
  }),
}));
