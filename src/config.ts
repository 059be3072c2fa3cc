import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseSchedule } from './jobs/schedule.js';

// The only module that reads process.env. Everything else receives a Config.

const booleanFromEnv = z
  .string()
  .transform((value) => value.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }))
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const intFromEnv = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

const numberFromEnv = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

// A blank value means "not set": `PORT=` or `PORT=" "` must not become 0.
const emptyAsUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

const postgresUrl = z
  .string()
  .url({ message: 'must be a URL' })
  .refine((value) => /^postgres(ql)?:\/\//.test(value), { message: 'must start with postgres:// or postgresql://' });

const redisUrl = z
  .string()
  .url({ message: 'must be a URL' })
  .refine((value) => /^rediss?:\/\//.test(value), { message: 'must start with redis:// or rediss://' });

/** A job schedule: cron (UTC) or an interval such as 30s; see src/jobs/schedule.ts. */
const scheduleFromEnv = z
  .string()
  .transform((value) => value.trim())
  .superRefine((value, ctx) => {
    try {
      parseSchedule(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  });

const envSchema = z.object({
  NODE_ENV: z.preprocess(emptyAsUndefined, z.enum(['development', 'production', 'test']).default('development')),
  LOG_LEVEL: z.preprocess(
    emptyAsUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  PORT: z.preprocess(emptyAsUndefined, intFromEnv(0, 65535).default(4000)),
  HOST: z.preprocess(emptyAsUndefined, z.string().default('0.0.0.0')),
  DATABASE_URL: z.preprocess(emptyAsUndefined, postgresUrl.optional()),
  DATABASE_POOL_SIZE: z.preprocess(emptyAsUndefined, intFromEnv(1, 200).default(10)),
  REDIS_URL: z.preprocess(emptyAsUndefined, redisUrl.optional()),
  INSIGHTS_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('./.insights')),
  INSIGHTS_ADMIN_KEY: z.preprocess(
    emptyAsUndefined,
    z.string().min(24, { message: 'must be at least 24 characters' }).max(200).optional(),
  ),
  INSIGHTS_BATCH_SIZE: z.preprocess(emptyAsUndefined, intFromEnv(1, 100_000).default(1000)),
  INSIGHTS_RETENTION_DAYS: z.preprocess(emptyAsUndefined, intFromEnv(1, 36_500).default(90)),
  INSIGHTS_REAL_TIME_UPDATE_INTERVAL: z.preprocess(emptyAsUndefined, intFromEnv(1, 86_400).default(30)),
  INSIGHTS_SUBSCRIPTION_BUFFER: z.preprocess(emptyAsUndefined, intFromEnv(10, 1_000_000).default(10_000)),
  INSIGHTS_MAX_BODY_BYTES: z.preprocess(emptyAsUndefined, intFromEnv(1024, 1024 ** 3).default(1024 * 1024)),
  INSIGHTS_MAX_INGEST_BODY_BYTES: z.preprocess(emptyAsUndefined, intFromEnv(1024, 1024 ** 3).default(1024 * 1024)),
  INSIGHTS_MAX_DEPTH: z.preprocess(emptyAsUndefined, intFromEnv(1, 1000).default(25)),
  INSIGHTS_MAX_COST: z.preprocess(emptyAsUndefined, intFromEnv(1, 100_000_000).default(100_000)),
  INSIGHTS_MAX_ALIASES: z.preprocess(emptyAsUndefined, intFromEnv(0, 10_000).default(20)),
  INSIGHTS_MAX_DIRECTIVES: z.preprocess(emptyAsUndefined, intFromEnv(0, 10_000).default(50)),
  INSIGHTS_MAX_TOKENS: z.preprocess(emptyAsUndefined, intFromEnv(100, 10_000_000).default(50_000)),
  INSIGHTS_MAX_SUBSCRIPTIONS_PER_SOCKET: z.preprocess(emptyAsUndefined, intFromEnv(1, 100_000).default(100)),
  INSIGHTS_RATE_LIMIT_READ: z.preprocess(emptyAsUndefined, numberFromEnv(0, 1_000_000).default(100)),
  INSIGHTS_RATE_LIMIT_INGEST: z.preprocess(emptyAsUndefined, numberFromEnv(0, 1_000_000).default(500)),
  INSIGHTS_RATE_LIMIT_ADMIN: z.preprocess(emptyAsUndefined, numberFromEnv(0, 1_000_000).default(500)),
  INSIGHTS_RATE_LIMIT_BURST_SECONDS: z.preprocess(emptyAsUndefined, numberFromEnv(0.1, 3600).default(2)),
  INSIGHTS_SHUTDOWN_GRACE_MS: z.preprocess(emptyAsUndefined, intFromEnv(0, 600_000).default(10_000)),
  MONITORING_ENABLED: z.preprocess(emptyAsUndefined, booleanFromEnv.default(true)),
  INSIGHTS_HOSTNAME: z.preprocess(emptyAsUndefined, z.string().trim().max(255, { message: 'must be at most 255 characters' }).optional()),
  INSIGHTS_ENVIRONMENT: z.preprocess(emptyAsUndefined, z.string().trim().max(100, { message: 'must be at most 100 characters' }).optional()),
  INSIGHTS_ARCHIVE_DIR: z.preprocess(emptyAsUndefined, z.string().optional()),
  INSIGHTS_COLLECT_SCHEDULE: z.preprocess(emptyAsUndefined, scheduleFromEnv.optional()),
  INSIGHTS_RETENTION_SCHEDULE: z.preprocess(emptyAsUndefined, scheduleFromEnv.default('0 3 * * *')),
  INSIGHTS_AGGREGATE_SCHEDULE: z.preprocess(emptyAsUndefined, scheduleFromEnv.default('*/5 * * * *')),
  ALERT_EMAIL_RECIPIENTS: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().email({ message: 'must be a comma-separated list of e-mail addresses' })))
      .default([]),
  ),
  SLACK_WEBHOOK_URL: z.preprocess(emptyAsUndefined, z.string().url({ message: 'must be a URL' }).optional()),
  SLOW_QUERY_THRESHOLD_MS: z.preprocess(emptyAsUndefined, intFromEnv(1, 3_600_000).default(1000)),
  HIGH_ERROR_RATE_THRESHOLD: z.preprocess(emptyAsUndefined, numberFromEnv(0, 100).default(5)),
  CPU_WARNING_THRESHOLD: z.preprocess(emptyAsUndefined, numberFromEnv(0, 100).default(80)),
  CPU_CRITICAL_THRESHOLD: z.preprocess(emptyAsUndefined, numberFromEnv(0, 100).default(90)),
});

export type Environment = Record<string, string | undefined>;

export interface Config {
  env: 'development' | 'production' | 'test';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  database: { url: string | undefined; poolSize: number; dataDir: string };
  redisUrl: string | undefined;
  adminKey: string | undefined;
  ingest: { batchSize: number };
  retentionDays: number;
  realTimeUpdateIntervalSeconds: number;
  realtime: { subscriptionBuffer: number; maxSubscriptionsPerSocket: number };
  http: { port: number; host: string; maxBodyBytes: number; maxIngestBodyBytes: number; shutdownGraceMs: number };
  graphqlLimits: { maxDepth: number; maxCost: number; maxAliases: number; maxDirectives: number; maxTokens: number };
  /** Requests per second per API key, by scope (0: unlimited); buckets hold `burstSeconds` worth. */
  rateLimits: { READ: number; INGEST: number; ADMIN: number; burstSeconds: number };
  monitoringEnabled: boolean;
  /** Scheduled jobs (src/jobs): what names this host, where retention archives, and when each job runs. */
  jobs: {
    hostName: string;
    environment: string | undefined;
    archiveDir: string | undefined;
    schedules: { collectSystemMetrics: string; retention: string; aggregateApplicationMetrics: string };
  };
  alerts: {
    emailRecipients: string[];
    slackWebhookUrl: string | undefined;
    slowQueryThresholdMs: number;
    highErrorRatePercent: number;
    cpuWarningPercent: number;
    cpuCriticalPercent: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the whole environment at once so an operator sees every problem in one start attempt. */
export function loadConfig(environment: Environment = process.env): Config {
  const parsed = envSchema.safeParse(environment);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  // Checked on its own so it is reported together with any other problem.
  const thresholds = envSchema.pick({ CPU_WARNING_THRESHOLD: true, CPU_CRITICAL_THRESHOLD: true }).safeParse(environment);
  if (thresholds.success && thresholds.data.CPU_WARNING_THRESHOLD > thresholds.data.CPU_CRITICAL_THRESHOLD) {
    problems.push('CPU_WARNING_THRESHOLD: must not be above CPU_CRITICAL_THRESHOLD');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const env = parsed.data;
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    http: {
      port: env.PORT,
      host: env.HOST,
      maxBodyBytes: env.INSIGHTS_MAX_BODY_BYTES,
      maxIngestBodyBytes: env.INSIGHTS_MAX_INGEST_BODY_BYTES,
      shutdownGraceMs: env.INSIGHTS_SHUTDOWN_GRACE_MS,
    },
    database: { url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE, dataDir: path.resolve(env.INSIGHTS_DATA_DIR) },
    redisUrl: env.REDIS_URL,
    adminKey: env.INSIGHTS_ADMIN_KEY,
    ingest: { batchSize: env.INSIGHTS_BATCH_SIZE },
    retentionDays: env.INSIGHTS_RETENTION_DAYS,
    realTimeUpdateIntervalSeconds: env.INSIGHTS_REAL_TIME_UPDATE_INTERVAL,
    realtime: {
      subscriptionBuffer: env.INSIGHTS_SUBSCRIPTION_BUFFER,
      maxSubscriptionsPerSocket: env.INSIGHTS_MAX_SUBSCRIPTIONS_PER_SOCKET,
    },
    graphqlLimits: {
      maxDepth: env.INSIGHTS_MAX_DEPTH,
      maxCost: env.INSIGHTS_MAX_COST,
      maxAliases: env.INSIGHTS_MAX_ALIASES,
      maxDirectives: env.INSIGHTS_MAX_DIRECTIVES,
      maxTokens: env.INSIGHTS_MAX_TOKENS,
    },
    rateLimits: {
      READ: env.INSIGHTS_RATE_LIMIT_READ,
      INGEST: env.INSIGHTS_RATE_LIMIT_INGEST,
      ADMIN: env.INSIGHTS_RATE_LIMIT_ADMIN,
      burstSeconds: env.INSIGHTS_RATE_LIMIT_BURST_SECONDS,
    },
    monitoringEnabled: env.MONITORING_ENABLED,
    jobs: {
      hostName: env.INSIGHTS_HOSTNAME ?? os.hostname(),
      environment: env.INSIGHTS_ENVIRONMENT,
      archiveDir: env.INSIGHTS_ARCHIVE_DIR === undefined ? undefined : path.resolve(env.INSIGHTS_ARCHIVE_DIR),
      schedules: {
        collectSystemMetrics: env.INSIGHTS_COLLECT_SCHEDULE ?? `${env.INSIGHTS_REAL_TIME_UPDATE_INTERVAL}s`,
        retention: env.INSIGHTS_RETENTION_SCHEDULE,
        aggregateApplicationMetrics: env.INSIGHTS_AGGREGATE_SCHEDULE,
      },
    },
    alerts: {
      emailRecipients: env.ALERT_EMAIL_RECIPIENTS,
      slackWebhookUrl: env.SLACK_WEBHOOK_URL,
      slowQueryThresholdMs: env.SLOW_QUERY_THRESHOLD_MS,
      highErrorRatePercent: env.HIGH_ERROR_RATE_THRESHOLD,
      cpuWarningPercent: env.CPU_WARNING_THRESHOLD,
      cpuCriticalPercent: env.CPU_CRITICAL_THRESHOLD,
    },
  };
}
