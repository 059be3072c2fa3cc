import { z } from 'zod';
import {
  booleanFromEnv,
  defineConfigSection,
  emailListFromEnv,
  intFromEnv,
  numberFromEnv,
  optionalVar,
  scheduleFromEnv,
} from '../../core/config.js';

/**
 * The alerting module's settings. `smtpUrl`, `emailFrom` and `emailRecipients` are also what the reports module
 * mails with (SMTP_URL is defined here, once): read them as `config.alerts.smtpUrl` etc.
 */
export interface AlertsConfig {
  /** ALERT_EMAIL_RECIPIENTS: the environment's `email` channel (and the reports' fallback recipients). */
  emailRecipients: string[];
  /** ALERT_EMAIL_FROM: the From of alert (and report) e-mails. */
  emailFrom: string;
  /** SMTP_URL: smtp://[user:pass@]host[:port] or smtps://…; unset: no e-mail is sent. */
  smtpUrl: string | undefined;
  /** SLACK_WEBHOOK_URL: the environment's `slack` channel. */
  slackWebhookUrl: string | undefined;
  /** SMS_WEBHOOK_URL + SMS_RECIPIENTS (+ SMS_BODY_TEMPLATE): the environment's `sms` channel. */
  smsWebhookUrl: string | undefined;
  smsRecipients: string[];
  smsBodyTemplate: string | undefined;
  /** Thresholds of the default rules created on first start. */
  slowQueryThresholdMs: number;
  highErrorRatePercent: number;
  cpuWarningPercent: number;
  cpuCriticalPercent: number;
  /** INSIGHTS_ALERT_EVAL_INTERVAL: when evaluate-alerts runs (default every 15 s). */
  evalSchedule: string;
  /** INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: let channels reach loopback, link-local and private addresses. */
  allowPrivateUrls: boolean;
  delivery: {
    /** Sends in flight at once on one instance (INSIGHTS_ALERT_DELIVERY_CONCURRENCY). */
    concurrency: number;
    /** Attempts before a notification is given up as FAILED (INSIGHTS_ALERT_DELIVERY_MAX_ATTEMPTS). */
    maxAttempts: number;
    /** Per attempt: connect, TLS, request and answer (INSIGHTS_ALERT_DELIVERY_TIMEOUT_MS). */
    timeoutMs: number;
  };
}

declare module '../../core/config.js' {
  interface ModuleConfig {
    alerts: AlertsConfig;
  }
}

const httpUrl = z
  .string()
  .url({ message: 'must be a URL' })
  .refine((value) => /^https?:\/\//i.test(value), { message: 'must be an http:// or https:// URL' });

const smtpUrl = z
  .string()
  .url({ message: 'must be a URL' })
  .refine((value) => /^smtps?:\/\//i.test(value), { message: 'must start with smtp:// or smtps://' });

/** `ops@example.com` or `Insights <ops@example.com>`. */
const mailbox = z
  .string()
  .trim()
  .max(200)
  .refine((value) => z.email().safeParse(/<([^<>]+)>\s*$/.exec(value)?.[1] ?? value).success, {
    message: 'must be an e-mail address, or a name and an address such as Insights <alerts@example.com>',
  });

/** Phone numbers for the SMS provider: E.164-like, `+` and 6-15 digits. */
const phoneList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim().replace(/[\s().-]/g, ''))
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^\+?\d{6,15}$/, { message: 'must be a comma-separated list of phone numbers such as +33612345678' })));

export const alertsConfigSection = defineConfigSection({
  key: 'alerts',
  variables: {
    ALERT_EMAIL_RECIPIENTS: optionalVar(emailListFromEnv.default([])),
    ALERT_EMAIL_FROM: optionalVar(mailbox.optional()),
    SMTP_URL: optionalVar(smtpUrl.optional()),
    SLACK_WEBHOOK_URL: optionalVar(httpUrl.optional()),
    SMS_WEBHOOK_URL: optionalVar(httpUrl.optional()),
    SMS_RECIPIENTS: optionalVar(phoneList.default([])),
    SMS_BODY_TEMPLATE: optionalVar(z.string().max(4000, { message: 'must be at most 4000 characters' }).optional()),
    SLOW_QUERY_THRESHOLD_MS: optionalVar(intFromEnv(1, 3_600_000).default(1000)),
    HIGH_ERROR_RATE_THRESHOLD: optionalVar(numberFromEnv(0, 100).default(5)),
    CPU_WARNING_THRESHOLD: optionalVar(numberFromEnv(0, 100).default(80)),
    CPU_CRITICAL_THRESHOLD: optionalVar(numberFromEnv(0, 100).default(90)),
    INSIGHTS_ALERT_EVAL_INTERVAL: optionalVar(scheduleFromEnv.default('15s')),
    INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: optionalVar(booleanFromEnv.default(false)),
    INSIGHTS_ALERT_DELIVERY_CONCURRENCY: optionalVar(intFromEnv(1, 64).default(4)),
    INSIGHTS_ALERT_DELIVERY_MAX_ATTEMPTS: optionalVar(intFromEnv(1, 50).default(8)),
    INSIGHTS_ALERT_DELIVERY_TIMEOUT_MS: optionalVar(intFromEnv(500, 120_000).default(10_000)),
  },
  build: (env, core) => ({
    emailRecipients: env.ALERT_EMAIL_RECIPIENTS,
    emailFrom: env.ALERT_EMAIL_FROM ?? `Insights <insights@${safeHostName(core.instance.hostName)}>`,
    smtpUrl: env.SMTP_URL,
    slackWebhookUrl: env.SLACK_WEBHOOK_URL,
    smsWebhookUrl: env.SMS_WEBHOOK_URL,
    smsRecipients: env.SMS_RECIPIENTS,
    smsBodyTemplate: env.SMS_BODY_TEMPLATE,
    slowQueryThresholdMs: env.SLOW_QUERY_THRESHOLD_MS,
    highErrorRatePercent: env.HIGH_ERROR_RATE_THRESHOLD,
    cpuWarningPercent: env.CPU_WARNING_THRESHOLD,
    cpuCriticalPercent: env.CPU_CRITICAL_THRESHOLD,
    evalSchedule: env.INSIGHTS_ALERT_EVAL_INTERVAL,
    allowPrivateUrls: env.INSIGHTS_ALERT_ALLOW_PRIVATE_URLS,
    delivery: {
      concurrency: env.INSIGHTS_ALERT_DELIVERY_CONCURRENCY,
      maxAttempts: env.INSIGHTS_ALERT_DELIVERY_MAX_ATTEMPTS,
      timeoutMs: env.INSIGHTS_ALERT_DELIVERY_TIMEOUT_MS,
    },
  }),
  check(env) {
    const problems: string[] = [];
    const { CPU_WARNING_THRESHOLD: warning, CPU_CRITICAL_THRESHOLD: critical } = env;
    if (warning !== undefined && critical !== undefined && warning > critical) problems.push('CPU_WARNING_THRESHOLD: must not be above CPU_CRITICAL_THRESHOLD');
    return problems;
  },
});

// A machine name may hold characters an address cannot (underscores, spaces in containers' names).
function safeHostName(host: string): string {
  const cleaned = host.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[.-]+|[.-]+$/g, '');
  return cleaned || 'localhost';
}
