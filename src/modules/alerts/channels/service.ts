/**
 * Notification channels: the API's (stored in alert_channels, secrets apart from what may be shown) and the
 * environment's `email`, `slack` and `sms` (built from the configuration, never stored, so a variable set later
 * takes effect at the next start). Sending lives here too: one function per type.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Database } from '../../../core/db/database.js';
import { sql, type Queryable } from '../../../core/db/sql.js';
import { InputValidationError, issue, text, type InputIssue } from '../../../core/input.js';
import type { JsonObject } from '../../../core/json.js';
import { createMailer, type Mailer } from '../../notifications/mailer.js';
import type { AlertsConfig } from '../config.js';
import { ENVIRONMENT_CHANNELS, type ChannelType } from '../model.js';
import { parseTemplate, renderTemplate, SMS_VARIABLES, TemplateError } from '../templates.js';
import { httpRequest, type Agents, type HttpOutcome } from './http.js';
import { emailMessage, slackMessage, smsText, type NotificationPayload } from './payload.js';
import { checkOutgoingUrl, outgoingAgents, UnsafeUrlError } from './ssrf.js';

export interface ChannelView {
  id: string;
  name: string;
  type: ChannelType;
  source: 'API' | 'ENVIRONMENT';
  configured: boolean;
  /** Why it is not configured. */
  problem: string | null;
  /** What may be shown: secret parts masked or left out. */
  config: JsonObject;
  /** Which secrets are stored (`secret`, `url`, `headers.Authorization`…), never their values. */
  secretFields: string[];
  createdAt: Date | null;
  updatedAt: Date | null;
}

interface Secrets {
  url?: string;
  secret?: string;
  headers?: Record<string, string>;
}

interface Resolved extends ChannelView {
  secrets: Secrets;
}

export interface SendOutcome extends HttpOutcome {
  /** SMS recipients (or e-mail addresses) reached so far: a retry skips them. */
  delivered?: string[];
}

export const DEFAULT_SMS_TEMPLATE = '{"to": "{{ $to }}", "message": "{{ $message }}"}';

const NAME = /^[A-Za-z0-9_.:-]+$/;
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { message: 'must be an HTTP header name' });
const headers = z
  .record(headerName, text(2000))
  .refine((value) => Object.keys(value).length <= 10, { message: 'must have at most 10 headers' })
  .refine((value) => !Object.keys(value).some((name) => /^(host|content-length|content-type|transfer-encoding|connection)$/i.test(name)), {
    message: 'must not set Host, Content-Length, Content-Type, Transfer-Encoding or Connection',
  });
const url = text(2000).url({ message: 'must be a URL' });
const phone = z.string().regex(/^\+?\d{6,15}$/, { message: 'must be a phone number such as +33612345678' });

const CONFIG_SCHEMAS = {
  WEBHOOK: z.strictObject({ url: url.optional(), secret: text(500).min(8, { message: 'must be at least 8 characters' }).optional(), headers: headers.optional() }),
  SLACK: z.strictObject({ url: url.optional(), channel: text(100).optional(), username: text(100).optional(), iconEmoji: text(100).optional() }),
  EMAIL: z.strictObject({
    to: z.array(z.email({ message: 'must be an e-mail address' })).min(1, { message: 'must hold at least one address' }).max(50),
    cc: z.array(z.email({ message: 'must be an e-mail address' })).max(50).optional(),
    from: text(200).optional(),
    subjectPrefix: text(100).optional(),
  }),
  SMS: z.strictObject({
    url: url.optional(),
    recipients: z.array(phone).min(1, { message: 'must hold at least one phone number' }).max(20),
    bodyTemplate: text(4000).optional(),
    contentType: z.enum(['application/json', 'application/x-www-form-urlencoded', 'text/plain']).optional(),
    method: z.enum(['POST', 'PUT']).optional(),
    headers: headers.optional(),
  }),
} as const;

export class ChannelNotFoundError extends Error {}
export class EnvironmentChannelError extends Error {}

export interface ChannelInput {
  name?: string;
  type?: ChannelType;
  config?: unknown;
}

export class ChannelService {
  readonly agents: Agents;
  private mailer: Mailer | undefined;

  constructor(
    private readonly db: Database,
    private readonly config: AlertsConfig,
    private readonly log: Logger,
  ) {
    this.agents = outgoingAgents(config.allowPrivateUrls);
  }

  close(): void {
    this.mailer?.close();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  async list(): Promise<ChannelView[]> {
    const rows = await this.db.query<StoredChannel>(sql`/* alerts.channels */ SELECT ${CHANNEL_COLUMNS} FROM alert_channels ORDER BY name`);
    return [...this.environmentChannels(), ...rows.map((row) => this.view(row))].map(strip);
  }

  async get(id: string): Promise<ChannelView | null> {
    const found = await this.resolveById(id);
    return found ? strip(found) : null;
  }

  /** Every channel name a rule may use. */
  async names(tx: Queryable = this.db): Promise<Set<string>> {
    const rows = await tx.query<{ name: string }>(sql`/* alerts.channelNames */ SELECT name FROM alert_channels`);
    return new Set([...ENVIRONMENT_CHANNELS, ...rows.map((row) => row.name)]);
  }

  async resolveByName(name: string): Promise<Resolved | null> {
    const env = this.environmentChannels().find((channel) => channel.name === name);
    if (env) return env;
    const [row] = await this.db.query<StoredChannel>(sql`/* alerts.channelByName */ SELECT ${CHANNEL_COLUMNS} FROM alert_channels WHERE name = ${name}`);
    return row ? this.view(row) : null;
  }

  async resolveById(id: string): Promise<Resolved | null> {
    const env = this.environmentChannels().find((channel) => channel.id === id);
    if (env) return env;
    if (!z.uuid().safeParse(id).success) return null;
    const [row] = await this.db.query<StoredChannel>(sql`/* alerts.channelById */ SELECT ${CHANNEL_COLUMNS} FROM alert_channels WHERE id = ${id}::uuid`);
    return row ? this.view(row) : null;
  }

  /** Checks a channel to create (or the result of an update) and splits it into what may be shown and secrets. */
  async prepare(input: { name: string; type: ChannelType; config: unknown }, previous: Resolved | null, prefix: string): Promise<{ config: JsonObject; secrets: Secrets }> {
    const issues: InputIssue[] = [];
    if (!NAME.test(input.name) || input.name.length > 100) issues.push(issue(`${prefix}.name`, 'must be 1-100 characters of A-Z a-z 0-9 _ . : -'));
    if ((ENVIRONMENT_CHANNELS as readonly string[]).includes(input.name)) {
      issues.push(issue(`${prefix}.name`, `"${input.name}" is the name of a channel configured by the environment (${ENVIRONMENT_CHANNELS.join(', ')}); choose another`));
    }
    const parsed = CONFIG_SCHEMAS[input.type].safeParse(input.config ?? {});
    if (!parsed.success) {
      for (const zodIssue of parsed.error.issues) {
        const path = zodIssue.path.map((segment) => (typeof segment === 'number' ? `[${segment}]` : `.${String(segment)}`)).join('');
        issues.push(issue(`${prefix}.config${path}`, zodIssue.code === 'unrecognized_keys' ? `unknown setting(s) ${zodIssue.keys.join(', ')} for a ${input.type} channel` : zodIssue.message));
      }
      throw new InputValidationError(issues);
    }
    const values = parsed.data as Record<string, unknown>;
    const secrets: Secrets = {};
    const config: JsonObject = {};
    for (const [key, value] of Object.entries(values)) if (key !== 'url' && key !== 'secret' && key !== 'headers' && value !== undefined) config[key] = value as never;

    if (input.type !== 'EMAIL') {
      const given = values.url as string | undefined;
      if (given?.includes('****')) issues.push(issue(`${prefix}.config.url`, 'holds a masked value: send the whole URL, or leave url out to keep the stored one'));
      const full = given ?? previous?.secrets.url;
      if (!full) issues.push(issue(`${prefix}.config.url`, 'is required'));
      else if (!given?.includes('****')) {
        try {
          await checkOutgoingUrl(full, this.config.allowPrivateUrls);
          secrets.url = full;
          config.url = maskUrl(full, input.type);
        } catch (error) {
          if (!(error instanceof UnsafeUrlError)) throw error;
          issues.push(issue(`${prefix}.config.url`, error.message));
        }
      }
    }
    if (input.type === 'WEBHOOK') {
      const secret = (values.secret as string | undefined) ?? previous?.secrets.secret;
      if (secret) secrets.secret = secret;
    }
    if (input.type === 'WEBHOOK' || input.type === 'SMS') {
      const given = (values.headers as Record<string, string> | undefined) ?? previous?.secrets.headers;
      if (given && Object.keys(given).length > 0) {
        secrets.headers = given;
        config.headers = Object.fromEntries(Object.keys(given).map((name) => [name, '****']));
      }
    }
    if (input.type === 'SMS') {
      const template = (values.bodyTemplate as string | undefined) ?? DEFAULT_SMS_TEMPLATE;
      const problem = smsTemplateProblem(template, (values.contentType as string | undefined) ?? 'application/json');
      if (problem) issues.push(issue(`${prefix}.config.bodyTemplate`, problem));
    }
    if (input.type === 'EMAIL' && values.from !== undefined && !z.email().safeParse(/<([^<>]+)>\s*$/.exec(values.from as string)?.[1] ?? values.from).success) {
      issues.push(issue(`${prefix}.config.from`, 'must be an e-mail address, or a name and an address such as Insights <alerts@example.com>'));
    }
    if (issues.length > 0) throw new InputValidationError(issues);
    return { config, secrets };
  }

  // ---------------------------------------------------------------------------------------------- sending

  /** Sends one notification to one channel: one attempt. */
  async send(channel: Resolved, payload: NotificationPayload, context: { notificationId: string; delivered: string[] }): Promise<SendOutcome> {
    if (!channel.configured) return { ok: false, status: null, retryable: false, error: `channel ${channel.name} is not configured: ${channel.problem ?? 'unknown reason'}` };
    const timeoutMs = this.config.delivery.timeoutMs;
    const target = channel.secrets.url ? new URL(channel.secrets.url) : null;
    switch (channel.type) {
      case 'WEBHOOK': {
        const body = JSON.stringify(payload);
        const timestamp = Math.floor(Date.now() / 1000);
        const signature: Record<string, string> = channel.secrets.secret
          ? { 'x-insights-signature': `t=${timestamp},v1=${createHmac('sha256', channel.secrets.secret).update(`${timestamp}.${body}`).digest('hex')}` }
          : {};
        return httpRequest(target!, {
          method: 'POST',
          headers: {
            ...channel.secrets.headers,
            'content-type': 'application/json',
            'x-insights-notification-id': context.notificationId,
            'x-insights-event': `alert.${payload.kind.toLowerCase()}`,
            'x-insights-timestamp': String(timestamp),
            ...signature,
          },
          body,
          timeoutMs,
          agents: this.agents,
        });
      }
      case 'SLACK': {
        const options = channel.config as { channel?: string; username?: string; iconEmoji?: string };
        return httpRequest(target!, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(slackMessage(payload, options)),
          timeoutMs,
          agents: this.agents,
        });
      }
      case 'SMS':
        return this.sendSms(channel, target!, payload, context.delivered);
      case 'EMAIL':
        return this.sendEmail(channel, payload);
    }
  }

  private async sendSms(channel: Resolved, target: URL, payload: NotificationPayload, already: string[]): Promise<SendOutcome> {
    const config = channel.config as { recipients: string[]; bodyTemplate?: string; contentType?: string; method?: 'POST' | 'PUT' };
    const contentType = config.contentType ?? 'application/json';
    const escape = contentType === 'application/json' ? (v: string) => JSON.stringify(v).slice(1, -1) : contentType === 'text/plain' ? (v: string) => v : encodeURIComponent;
    const delivered = [...already];
    const errors: string[] = [];
    let retryable = false;
    let status: number | null = null;
    for (const recipient of config.recipients) {
      if (delivered.includes(recipient)) continue;
      const values = { $to: recipient, $message: smsText(payload), $status: payload.status, $severity: payload.rule.severity, $alertname: payload.rule.name };
      const outcome = await httpRequest(target, {
        method: config.method ?? 'POST',
        headers: { ...channel.secrets.headers, 'content-type': contentType },
        body: renderTemplate(config.bodyTemplate ?? DEFAULT_SMS_TEMPLATE, values, {}, escape),
        timeoutMs: this.config.delivery.timeoutMs,
        agents: this.agents,
      });
      status = outcome.status;
      if (outcome.ok) delivered.push(recipient);
      else {
        errors.push(`${recipient}: ${outcome.error}`);
        retryable ||= outcome.retryable;
      }
    }
    if (errors.length === 0) return { ok: true, status, retryable: false, error: null, delivered };
    return { ok: false, status, retryable, error: errors.join('; '), delivered };
  }

  private async sendEmail(channel: Resolved, payload: NotificationPayload): Promise<SendOutcome> {
    const config = channel.config as { to: string[]; cc?: string[]; from?: string; subjectPrefix?: string };
    this.mailer ??= createMailer(this.config.smtpUrl!, { connectionTimeoutMs: this.config.delivery.timeoutMs, greetingTimeoutMs: this.config.delivery.timeoutMs, socketTimeoutMs: this.config.delivery.timeoutMs });
    try {
      const result = await this.mailer.sendMail(emailMessage(payload, { from: config.from ?? this.config.emailFrom, to: config.to, cc: config.cc, subjectPrefix: config.subjectPrefix }));
      if (result.accepted.length === 0) return { ok: false, status: null, retryable: false, error: `every recipient was refused: ${result.rejected.join(', ')}` };
      if (result.rejected.length > 0) this.log.warn({ channel: channel.name, rejected: result.rejected }, 'some e-mail recipients were refused');
      return { ok: true, status: null, retryable: false, error: null };
    } catch (error) {
      const failure = error as { responseCode?: number; message?: string; code?: string };
      // SMTP 5xx answers are permanent (bad address, refused sender); everything else may pass on retry.
      const permanent = typeof failure.responseCode === 'number' && failure.responseCode >= 500;
      return { ok: false, status: failure.responseCode ?? null, retryable: !permanent, error: `SMTP: ${failure.message ?? failure.code ?? 'send failed'}` };
    }
  }

  // -------------------------------------------------------------------------------------------- views

  private environmentChannels(): Resolved[] {
    const c = this.config;
    const smtpProblem = c.smtpUrl ? null : 'SMTP_URL is not set';
    const base = { source: 'ENVIRONMENT' as const, createdAt: null, updatedAt: null };
    return [
      {
        ...base,
        id: 'environment:email',
        name: 'email',
        type: 'EMAIL',
        configured: !smtpProblem && c.emailRecipients.length > 0,
        problem: smtpProblem ?? (c.emailRecipients.length === 0 ? 'ALERT_EMAIL_RECIPIENTS is empty' : null),
        config: { to: c.emailRecipients, from: c.emailFrom },
        secretFields: [],
        secrets: {},
      },
      {
        ...base,
        id: 'environment:slack',
        name: 'slack',
        type: 'SLACK',
        configured: Boolean(c.slackWebhookUrl),
        problem: c.slackWebhookUrl ? null : 'SLACK_WEBHOOK_URL is not set',
        config: c.slackWebhookUrl ? { url: maskUrl(c.slackWebhookUrl, 'SLACK') } : {},
        secretFields: c.slackWebhookUrl ? ['url'] : [],
        secrets: c.slackWebhookUrl ? { url: c.slackWebhookUrl } : {},
      },
      {
        ...base,
        id: 'environment:sms',
        name: 'sms',
        type: 'SMS',
        configured: Boolean(c.smsWebhookUrl) && c.smsRecipients.length > 0,
        problem: !c.smsWebhookUrl ? 'SMS_WEBHOOK_URL is not set' : c.smsRecipients.length === 0 ? 'SMS_RECIPIENTS is empty' : null,
        config: {
          ...(c.smsWebhookUrl ? { url: maskUrl(c.smsWebhookUrl, 'SMS') } : {}),
          recipients: c.smsRecipients,
          bodyTemplate: c.smsBodyTemplate ?? DEFAULT_SMS_TEMPLATE,
        },
        secretFields: c.smsWebhookUrl ? ['url'] : [],
        secrets: c.smsWebhookUrl ? { url: c.smsWebhookUrl } : {},
      },
    ];
  }

  private view(row: StoredChannel): Resolved {
    const secrets = row.secrets as Secrets;
    const secretFields = [
      ...(secrets.url && secrets.url !== (row.config as { url?: string }).url ? ['url'] : []),
      ...(secrets.secret ? ['secret'] : []),
      ...Object.keys(secrets.headers ?? {}).map((name) => `headers.${name}`),
    ];
    const problem = row.type === 'EMAIL' && !this.config.smtpUrl ? 'SMTP_URL is not set' : null;
    return {
      id: row.id,
      name: row.name,
      type: row.type,
      source: 'API',
      configured: problem === null,
      problem,
      config: row.config,
      secretFields,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      secrets,
    };
  }
}

interface StoredChannel {
  id: string;
  name: string;
  type: ChannelType;
  config: JsonObject;
  secrets: JsonObject;
  createdAt: Date;
  updatedAt: Date;
}

export const CHANNEL_COLUMNS = sql`id::text AS "id", name, type::text AS "type", config, secrets, created_at AS "createdAt", updated_at AS "updatedAt"`;

/** Never hand the secrets to a caller. */
function strip(channel: Resolved): ChannelView {
  const { secrets: _secrets, ...view } = channel;
  return view;
}

/**
 * A URL as it may be shown: the password and query values replaced by ****; for Slack (whose path is the token)
 * every path segment after the first two.
 */
export function maskUrl(value: string, type: ChannelType): string {
  const url = new URL(value);
  if (url.password) url.password = '****';
  for (const key of [...url.searchParams.keys()]) url.searchParams.set(key, '****');
  if (type === 'SLACK') {
    const segments = url.pathname.split('/');
    url.pathname = segments.map((segment, index) => (index > 2 && segment ? '****' : segment)).join('/');
  }
  return url.toString().replace(/%2A%2A%2A%2A/g, '****');
}

function smsTemplateProblem(template: string, contentType: string): string | null {
  try {
    parseTemplate(template, SMS_VARIABLES, { labels: false });
  } catch (error) {
    if (error instanceof TemplateError) return error.message;
    throw error;
  }
  if (contentType === 'application/json') {
    const sample = renderTemplate(template, { $to: '+10000000000', $message: 'a "quoted" message\non two lines', $status: 'firing', $severity: 'CRITICAL', $alertname: 'x' }, {}, (v) =>
      JSON.stringify(v).slice(1, -1),
    );
    try {
      JSON.parse(sample);
    } catch {
      return 'with contentType application/json the template must be JSON once filled in, e.g. {"to": "{{ $to }}", "message": "{{ $message }}"} (placeholders inside quotes)';
    }
  }
  return null;
}
