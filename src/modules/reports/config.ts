import { z } from 'zod';
import { defineConfigSection, emailListFromEnv, intFromEnv, optionalVar, scheduleFromEnv } from '../../core/config.js';
import { timeZone } from '../../core/input.js';

// The reports module's variables. The mail server is the alerting module's SMTP_URL (defined once, there).

export interface ReportsConfig {
  /** IANA zone of the scheduled periods (INSIGHTS_TIMEZONE). */
  timeZone: string;
  /** Cron expressions (read in `timeZone`) or intervals. */
  schedules: { daily: string; weekly: string; monthly: string };
  /** Largest artifact stored with a report, in bytes (INSIGHTS_REPORT_MAX_BYTES). */
  maxArtifactBytes: number;
  /** Attempts before a report stays FAILED (INSIGHTS_REPORT_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** First retry delay; each further one doubles, up to an hour (INSIGHTS_REPORT_RETRY_SECONDS). */
  retryBaseSeconds: number;
  /** SMTP_URL (the alerting module's setting); unset: nothing is e-mailed. */
  smtpUrl: string | undefined;
  /** REPORT_EMAIL_RECIPIENTS, or ALERT_EMAIL_RECIPIENTS when that is empty. */
  emailRecipients: string[];
  emailFrom: string;
  /** Absolute base of the links in reports, e-mails and the command line (INSIGHTS_PUBLIC_URL); unset: paths only. */
  publicUrl: string | undefined;
}

declare module '../../core/config.js' {
  interface ModuleConfig {
    reports: ReportsConfig;
  }
}

export const reportsConfig = defineConfigSection({
  key: 'reports',
  variables: {
    INSIGHTS_TIMEZONE: optionalVar(timeZone.default('UTC')),
    INSIGHTS_REPORT_DAILY_SCHEDULE: optionalVar(scheduleFromEnv.default('5 0 * * *')),
    INSIGHTS_REPORT_WEEKLY_SCHEDULE: optionalVar(scheduleFromEnv.default('10 0 * * 1')),
    INSIGHTS_REPORT_MONTHLY_SCHEDULE: optionalVar(scheduleFromEnv.default('15 0 1 * *')),
    INSIGHTS_REPORT_MAX_BYTES: optionalVar(intFromEnv(1024, 1024 ** 3).default(10 * 1024 * 1024)),
    INSIGHTS_REPORT_MAX_ATTEMPTS: optionalVar(intFromEnv(1, 20).default(5)),
    INSIGHTS_REPORT_RETRY_SECONDS: optionalVar(intFromEnv(1, 3600).default(60)),
    REPORT_EMAIL_RECIPIENTS: optionalVar(emailListFromEnv.default([])),
    REPORT_EMAIL_FROM: optionalVar(z.string().trim().max(200).optional()),
    INSIGHTS_PUBLIC_URL: optionalVar(
      z
        .string()
        .url({ message: 'must be a URL' })
        .refine((value) => /^https?:\/\//.test(value), { message: 'must start with http:// or https://' })
        .transform((value) => value.replace(/\/+$/, ''))
        .optional(),
    ),
  },
  build: (env, config) => ({
    timeZone: env.INSIGHTS_TIMEZONE,
    schedules: {
      daily: env.INSIGHTS_REPORT_DAILY_SCHEDULE,
      weekly: env.INSIGHTS_REPORT_WEEKLY_SCHEDULE,
      monthly: env.INSIGHTS_REPORT_MONTHLY_SCHEDULE,
    },
    maxArtifactBytes: env.INSIGHTS_REPORT_MAX_BYTES,
    maxAttempts: env.INSIGHTS_REPORT_MAX_ATTEMPTS,
    retryBaseSeconds: env.INSIGHTS_REPORT_RETRY_SECONDS,
    smtpUrl: config.alerts?.smtpUrl,
    emailRecipients: env.REPORT_EMAIL_RECIPIENTS.length > 0 ? env.REPORT_EMAIL_RECIPIENTS : (config.alerts?.emailRecipients ?? []),
    emailFrom: env.REPORT_EMAIL_FROM ?? config.alerts?.emailFrom ?? 'Insights <insights@localhost>',
    publicUrl: env.INSIGHTS_PUBLIC_URL,
  }),
});
