import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseSchedule } from './schedule.js';

// The only module that reads process.env. Everything else receives a Config.
//
// The core's variables are declared here; each module declares its own in a ConfigSection (its `config.ts`),
// and loadConfigWith() validates all of them in one pass, so an operator sees every problem at once.

export const booleanFromEnv = z
  .string()
  .transform((value) => value.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }))
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

export const intFromEnv = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

export const numberFromEnv = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

// A blank value means "not set": `PORT=` or `PORT=" "` must not become 0.
export const emptyAsUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

export const postgresUrl = z
  .string()
  .url({ message: 'must be a URL' })
  .refine((value) => /^postgres(ql)?:\/\//.test(value), { message: 'must start with postgres:// or postgresql://' });

export const redisUrl = z
  .string()
  .url({ message: 'must be a URL' })
  .refine((value) => /^rediss?:\/\//.test(value), { message: 'must start with redis:// or rediss://' });

/** A job schedule: cron (UTC) or an interval such as 30s; see src/core/schedule.ts. */
export const scheduleFromEnv = z
  .string()
  .transform((value) => value.trim())
  .superRefine((value, ctx) => {
    try {
      parseSchedule(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  });

/** An optional variable: blank counts as unset. */
export const optionalVar = <T extends z.ZodType>(schema: T) => z.preprocess(emptyAsUndefined, schema);

/** A comma-separated list of e-mail addresses. */
export const emailListFromEnv = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().email({ message: 'must be a comma-separated list of e-mail addresses' })));

const coreVariables = {
  NODE_ENV: optionalVar(z.enum(['development', 'production', 'test']).default('development')),
  LOG_LEVEL: optionalVar(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  PORT: optionalVar(intFromEnv(0, 65535).default(4000)),
  HOST: optionalVar(z.string().default('0.0.0.0')),
  DATABASE_URL: optionalVar(postgresUrl.optional()),
  DATABASE_POOL_SIZE: optionalVar(intFromEnv(1, 200).default(10)),
  REDIS_URL: optionalVar(redisUrl.optional()),
  INSIGHTS_DATA_DIR: optionalVar(z.string().default('./.insights')),
  INSIGHTS_ADMIN_KEY: optionalVar(z.string().min(24, { message: 'must be at least 24 characters' }).max(200).optional()),
  // Sent as a Bearer token, so no whitespace; as long as an API key's strength calls for.
  INSIGHTS_METRICS_TOKEN: optionalVar(
    z
      .string()
      .min(24, { message: 'must be at least 24 characters' })
      .max(200, { message: 'must be at most 200 characters' })
      .regex(/^\S+$/, { message: 'must not contain spaces' })
      .optional(),
  ),
  INSIGHTS_REAL_TIME_UPDATE_INTERVAL: optionalVar(intFromEnv(1, 86_400).default(30)),
  INSIGHTS_SUBSCRIPTION_BUFFER: optionalVar(intFromEnv(10, 1_000_000).default(10_000)),
  INSIGHTS_MAX_BODY_BYTES: optionalVar(intFromEnv(1024, 1024 ** 3).default(1024 * 1024)),
  INSIGHTS_MAX_INGEST_BODY_BYTES: optionalVar(intFromEnv(1024, 1024 ** 3).default(1024 * 1024)),
  INSIGHTS_MAX_DEPTH: optionalVar(intFromEnv(1, 1000).default(25)),
  INSIGHTS_MAX_COST: optionalVar(intFromEnv(1, 100_000_000).default(150_000)),
  INSIGHTS_MAX_ALIASES: optionalVar(intFromEnv(0, 10_000).default(20)),
  INSIGHTS_MAX_DIRECTIVES: optionalVar(intFromEnv(0, 10_000).default(50)),
  INSIGHTS_MAX_TOKENS: optionalVar(intFromEnv(100, 10_000_000).default(50_000)),
  INSIGHTS_MAX_SUBSCRIPTIONS_PER_SOCKET: optionalVar(intFromEnv(1, 100_000).default(100)),
  INSIGHTS_RATE_LIMIT_READ: optionalVar(numberFromEnv(0, 1_000_000).default(100)),
  INSIGHTS_RATE_LIMIT_INGEST: optionalVar(numberFromEnv(0, 1_000_000).default(500)),
  INSIGHTS_RATE_LIMIT_ADMIN: optionalVar(numberFromEnv(0, 1_000_000).default(500)),
  INSIGHTS_RATE_LIMIT_BURST_SECONDS: optionalVar(numberFromEnv(0.1, 3600).default(2)),
  INSIGHTS_SHUTDOWN_GRACE_MS: optionalVar(intFromEnv(0, 600_000).default(10_000)),
  MONITORING_ENABLED: optionalVar(booleanFromEnv.default(true)),
  INSIGHTS_HOSTNAME: optionalVar(z.string().trim().max(255, { message: 'must be at most 255 characters' }).optional()),
  INSIGHTS_ENVIRONMENT: optionalVar(z.string().trim().max(100, { message: 'must be at most 100 characters' }).optional()),
} satisfies z.ZodRawShape;

type CoreEnv = z.output<z.ZodObject<typeof coreVariables>>;

export type Environment = Record<string, string | undefined>;

/** The core's settings: what every part of the service needs. */
export interface CoreConfig {
  env: 'development' | 'production' | 'test';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  database: { url: string | undefined; poolSize: number; dataDir: string };
  redisUrl: string | undefined;
  adminKey: string | undefined;
  /** Bearer token that may read GET /metrics besides ADMIN keys (INSIGHTS_METRICS_TOKEN), for scrapers. */
  metricsToken: string | undefined;
  realTimeUpdateIntervalSeconds: number;
  realtime: { subscriptionBuffer: number; maxSubscriptionsPerSocket: number };
  http: { port: number; host: string; maxBodyBytes: number; maxIngestBodyBytes: number; shutdownGraceMs: number };
  graphqlLimits: { maxDepth: number; maxCost: number; maxAliases: number; maxDirectives: number; maxTokens: number };
  /** Requests per second per API key, by scope (0: unlimited); buckets hold `burstSeconds` worth. */
  rateLimits: { READ: number; INGEST: number; ADMIN: number; burstSeconds: number };
  /** Whether this instance fires the scheduled jobs (manual runs work either way). */
  monitoringEnabled: boolean;
  /** What names this instance's machine (tags.host of collected metrics, job run records, lock keys). */
  instance: { hostName: string; environment: string | undefined };
}

/**
 * What modules add to the configuration: each module augments this interface with its own section, e.g.
 * `declare module '../../core/config.js' { interface ModuleConfig { retention: RetentionConfig } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModuleConfig {}

export type Config = CoreConfig & ModuleConfig;

/**
 * A module's environment variables: their zod schemas (blank values count as unset: wrap them in optionalVar),
 * how the parsed values become the module's section of Config, and checks across variables.
 */
export interface ConfigSection<Key extends keyof ModuleConfig = keyof ModuleConfig, Shape extends z.ZodRawShape = z.ZodRawShape> {
  key: Key;
  variables: Shape;
  /** Builds the section; `config` holds the core's settings and the sections of modules registered before this one. */
  build(env: z.output<z.ZodObject<Shape>>, config: CoreConfig & Partial<ModuleConfig>): ModuleConfig[Key];
  /** Problems that involve several variables, reported with every other problem; a variable that is itself invalid is absent. */
  check?(env: Partial<z.output<z.ZodObject<Shape>>>): string[];
}

/** Declares a module's section with its variables' types inferred. */
export function defineConfigSection<Key extends keyof ModuleConfig, Shape extends z.ZodRawShape>(
  section: ConfigSection<Key, Shape>,
): ConfigSection<Key, Shape> {
  return section;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function buildCore(env: CoreEnv): CoreConfig {
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
    metricsToken: env.INSIGHTS_METRICS_TOKEN,
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
    instance: { hostName: env.INSIGHTS_HOSTNAME ?? os.hostname(), environment: env.INSIGHTS_ENVIRONMENT },
  };
}

/**
 * Parses each variable on its own, so that every bad one is reported, and checks across variables still run
 * on the ones that are valid (their values are present in `values`; a bad one is absent).
 */
function parseVariables(shape: z.ZodRawShape, environment: Environment): { values: Record<string, unknown>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(shape)) {
    const parsed = (schema as z.ZodType).safeParse(environment[name]);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(...parsed.error.issues.map((issue) => `${[name, ...issue.path.map(String)].join('.')}: ${issue.message}`));
  }
  return { values, problems };
}

/**
 * Validates the core's variables and every section's at once, so an operator sees every problem in one start
 * attempt. Checks across variables run on the valid ones and are reported together with any other problem.
 */
export function loadConfigWith(environment: Environment, sections: readonly ConfigSection[]): Config {
  const core = parseVariables(coreVariables, environment);
  const problems = [...core.problems];
  const parsedSections = sections.map((section) => {
    const parsed = parseVariables(section.variables, environment);
    problems.push(...parsed.problems, ...(section.check?.(parsed.values as never) ?? []));
    return { section, env: parsed.values };
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const config = buildCore(core.values as CoreEnv) as unknown as Record<string, unknown>;
  for (const { section, env } of parsedSections) config[section.key] = section.build(env as never, config as unknown as CoreConfig & Partial<ModuleConfig>);
  return config as unknown as Config;
}
