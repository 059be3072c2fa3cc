import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runScript } from './support/processes.js';
import { ConfigError, loadConfig, type Environment } from '../src/config.js';


/** loadConfig's ConfigError for env, failing the test when it does not throw one. */
function configError(env: Environment): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('uses the documented default for every variable', () => {
    // toMatchObject: each feature's own variables are checked in its own block below and in its tests.
    expect(loadConfig({})).toMatchObject({
      env: 'development',
      logLevel: 'info',
      http: { port: 4000, host: '0.0.0.0', maxBodyBytes: 1024 * 1024, maxIngestBodyBytes: 1024 * 1024, shutdownGraceMs: 10_000 },
      database: { url: undefined, poolSize: 10, dataDir: path.resolve('./.insights') },
      redisUrl: undefined,
      adminKey: undefined,
      ingest: { batchSize: 1000 },
      retention: { days: 90, archiveDir: undefined, schedule: '0 3 * * *' },
      realTimeUpdateIntervalSeconds: 30,
      realtime: { subscriptionBuffer: 10_000, maxSubscriptionsPerSocket: 100 },
      graphqlLimits: { maxDepth: 25, maxCost: 150_000, maxAliases: 20, maxDirectives: 50, maxTokens: 50_000 },
      rateLimits: { READ: 100, INGEST: 500, ADMIN: 500, burstSeconds: 2 },
      monitoringEnabled: true,
      // The alerting module's section (src/modules/alerts/config.ts): the thresholds and channels of its defaults.
      alerts: {
        emailRecipients: [],
        slackWebhookUrl: undefined,
        slowQueryThresholdMs: 1000,
        highErrorRatePercent: 5,
        cpuWarningPercent: 80,
        cpuCriticalPercent: 90,
        smtpUrl: undefined,
        smsWebhookUrl: undefined,
        smsRecipients: [],
        evalSchedule: '15s',
        allowPrivateUrls: false,
        delivery: { concurrency: 4, maxAttempts: 8, timeoutMs: 10_000 },
      },
    });
    expect(loadConfig({}).alerts.emailFrom).toMatch(/^Insights <insights@[a-z0-9.-]+>$/);
    expect(
      loadConfig({
        SMTP_URL: 'smtps://user:pass@mail.example.com:465',
        ALERT_EMAIL_FROM: 'Ops <ops@example.com>',
        SMS_WEBHOOK_URL: 'https://sms.example.com/send',
        SMS_RECIPIENTS: '+33 6 12 34 56 78, +15551234567',
        INSIGHTS_ALERT_EVAL_INTERVAL: '30s',
        INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: 'true',
      }).alerts,
    ).toMatchObject({
      smtpUrl: 'smtps://user:pass@mail.example.com:465',
      emailFrom: 'Ops <ops@example.com>',
      smsWebhookUrl: 'https://sms.example.com/send',
      smsRecipients: ['+33612345678', '+15551234567'],
      evalSchedule: '30s',
      allowPrivateUrls: true,
    });
  });

  it('treats empty strings as unset', () => {
    const empty = Object.fromEntries(
      [
        'NODE_ENV', 'LOG_LEVEL', 'PORT', 'HOST', 'DATABASE_URL', 'DATABASE_POOL_SIZE', 'REDIS_URL', 'INSIGHTS_DATA_DIR',
        'INSIGHTS_ADMIN_KEY', 'INSIGHTS_METRICS_TOKEN', 'INSIGHTS_BATCH_SIZE', 'INSIGHTS_RETENTION_DAYS', 'INSIGHTS_REAL_TIME_UPDATE_INTERVAL',
        'INSIGHTS_SUBSCRIPTION_BUFFER', 'MONITORING_ENABLED', 'ALERT_EMAIL_RECIPIENTS', 'SLACK_WEBHOOK_URL', 'SLOW_QUERY_THRESHOLD_MS',
        'HIGH_ERROR_RATE_THRESHOLD', 'CPU_WARNING_THRESHOLD', 'CPU_CRITICAL_THRESHOLD',
      ].map((name) => [name, '']),
    );
    expect(loadConfig(empty)).toEqual(loadConfig({}));
  });

  it('reads the given environment, not process.env', () => {
    vi.stubEnv('PORT', 'abc');
    try {
      expect(loadConfig({}).http.port).toBe(4000);
      expect(() => loadConfig()).toThrow(ConfigError);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('parses every variable when set', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgresql://user:pw@db.example:5432/insights',
      DATABASE_POOL_SIZE: '25',
      REDIS_URL: 'rediss://cache.example:6380',
      INSIGHTS_DATA_DIR: '/var/lib/insights',
      INSIGHTS_ADMIN_KEY: 'a'.repeat(24),
      INSIGHTS_METRICS_TOKEN: 'm'.repeat(32),
      INSIGHTS_BATCH_SIZE: '5000',
      INSIGHTS_RETENTION_DAYS: '30',
      INSIGHTS_REAL_TIME_UPDATE_INTERVAL: '5',
      INSIGHTS_SUBSCRIPTION_BUFFER: '500',
      INSIGHTS_MAX_SUBSCRIPTIONS_PER_SOCKET: '7',
      INSIGHTS_MAX_BODY_BYTES: '2048',
      INSIGHTS_MAX_INGEST_BODY_BYTES: '8192',
      INSIGHTS_SHUTDOWN_GRACE_MS: '500',
      INSIGHTS_MAX_DEPTH: '9',
      INSIGHTS_MAX_COST: '900',
      INSIGHTS_MAX_ALIASES: '3',
      INSIGHTS_MAX_DIRECTIVES: '4',
      INSIGHTS_MAX_TOKENS: '1000',
      INSIGHTS_RATE_LIMIT_READ: '1',
      INSIGHTS_RATE_LIMIT_INGEST: '2.5',
      INSIGHTS_RATE_LIMIT_ADMIN: '0',
      INSIGHTS_RATE_LIMIT_BURST_SECONDS: '10',
      MONITORING_ENABLED: 'no',
      ALERT_EMAIL_RECIPIENTS: ' ops@example.com, ,oncall@example.com ',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X',
      SLOW_QUERY_THRESHOLD_MS: '250',
      HIGH_ERROR_RATE_THRESHOLD: '2.5',
      CPU_WARNING_THRESHOLD: '70',
      CPU_CRITICAL_THRESHOLD: '95',
    });
    expect(config).toMatchObject({
      metricsToken: 'm'.repeat(32),
      env: 'production',
      logLevel: 'warn',
      http: { port: 8080, host: '127.0.0.1', maxBodyBytes: 2048, maxIngestBodyBytes: 8192, shutdownGraceMs: 500 },
      database: { url: 'postgresql://user:pw@db.example:5432/insights', poolSize: 25, dataDir: '/var/lib/insights' },
      redisUrl: 'rediss://cache.example:6380',
      adminKey: 'a'.repeat(24),
      ingest: { batchSize: 5000 },
      retention: expect.objectContaining({ days: 30 }),
      realTimeUpdateIntervalSeconds: 5,
      realtime: { subscriptionBuffer: 500, maxSubscriptionsPerSocket: 7 },
      graphqlLimits: { maxDepth: 9, maxCost: 900, maxAliases: 3, maxDirectives: 4, maxTokens: 1000 },
      rateLimits: { READ: 1, INGEST: 2.5, ADMIN: 0, burstSeconds: 10 },
      monitoringEnabled: false,
      alerts: {
        emailRecipients: ['ops@example.com', 'oncall@example.com'],
        slackWebhookUrl: 'https://hooks.slack.com/services/T/B/X',
        slowQueryThresholdMs: 250,
        highErrorRatePercent: 2.5,
        cpuWarningPercent: 70,
        cpuCriticalPercent: 95,
      },
    });
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/x' }).database.url).toBe('postgres://localhost/x');
    expect(loadConfig({ INSIGHTS_DATA_DIR: 'relative/dir' }).database.dataDir).toBe(path.resolve('relative/dir'));
    for (const [value, expected] of [['true', true], ['1', true], ['yes', true], ['false', false], ['0', false]] as const) {
      expect(loadConfig({ MONITORING_ENABLED: value }).monitoringEnabled).toBe(expected);
    }
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '40.5'],
    ['INSIGHTS_BATCH_SIZE', '0'],
    ['INSIGHTS_BATCH_SIZE', '-5'],
    ['INSIGHTS_RETENTION_DAYS', '0'],
    ['INSIGHTS_REAL_TIME_UPDATE_INTERVAL', 'soon'],
    ['INSIGHTS_SUBSCRIPTION_BUFFER', '9'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_POOL_SIZE', '0'],
    ['REDIS_URL', 'http://x'],
    ['MONITORING_ENABLED', 'maybe'],
    ['ALERT_EMAIL_RECIPIENTS', 'notanemail'],
    ['ALERT_EMAIL_RECIPIENTS', 'ops@example.com,notanemail'],
    ['SLACK_WEBHOOK_URL', 'hooks'],
    ['SLOW_QUERY_THRESHOLD_MS', '0'],
    ['HIGH_ERROR_RATE_THRESHOLD', '101'],
    ['CPU_WARNING_THRESHOLD', '-1'],
    ['CPU_CRITICAL_THRESHOLD', 'hot'],
    ['SMTP_URL', 'http://mail.example.com'],
    ['ALERT_EMAIL_FROM', 'not an address'],
    ['SMS_WEBHOOK_URL', 'ftp://sms.example.com'],
    ['SMS_RECIPIENTS', '+33612345678,call me'],
    ['INSIGHTS_ALERT_EVAL_INTERVAL', 'often'],
    ['INSIGHTS_ALERT_ALLOW_PRIVATE_URLS', 'maybe'],
    ['LOG_LEVEL', 'verbose'],
    ['NODE_ENV', 'staging'],
    ['INSIGHTS_ADMIN_KEY', 'short'],
    ['INSIGHTS_METRICS_TOKEN', 'short'],
    ['INSIGHTS_METRICS_TOKEN', 'a scrape token with spaces in it'],
  ])('rejects %s=%s with a ConfigError naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    // One variable can break more than one rule ("not a url" is neither a URL nor postgres://), never another's.
    expect(error.problems.length).toBeGreaterThanOrEqual(1);
    for (const problem of error.problems) expect(problem).toMatch(new RegExp(`^${name}(\\.\\d+)?: `));
    expect(error.message).toContain(name);
    expect(error.name).toBe('ConfigError');
  });

  it('treats a whitespace-only value as unset, never as 0', () => {
    // Number('  ') is 0: PORT=" " (a stray space in an env file) must not listen on a random port, and a blank
    // threshold must not alert on everything.
    const config = loadConfig({
      PORT: '  ',
      HIGH_ERROR_RATE_THRESHOLD: ' ',
      CPU_WARNING_THRESHOLD: '\t',
      DATABASE_POOL_SIZE: '  ',
      INSIGHTS_BATCH_SIZE: ' ',
    });
    expect(config.http.port).toBe(4000);
    expect(config.alerts.highErrorRatePercent).toBe(5);
    expect(config.alerts.cpuWarningPercent).toBe(80);
    expect(config.database.poolSize).toBe(10);
    expect(config.ingest.batchSize).toBe(1000);
  });

  it('rejects a warning threshold above the critical one', () => {
    const error = configError({ CPU_WARNING_THRESHOLD: '95', CPU_CRITICAL_THRESHOLD: '90' });
    expect(error.message).toContain('CPU_WARNING_THRESHOLD');
  });

  it('reports every problem at once', () => {
    const error = configError({
      PORT: 'abc',
      INSIGHTS_BATCH_SIZE: '0',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'http://x',
      MONITORING_ENABLED: 'maybe',
      ALERT_EMAIL_RECIPIENTS: 'notanemail',
    });
    const named = ['PORT', 'INSIGHTS_BATCH_SIZE', 'DATABASE_URL', 'REDIS_URL', 'MONITORING_ENABLED', 'ALERT_EMAIL_RECIPIENTS'];
    expect(error.problems).toHaveLength(named.length);
    for (const name of named) {
      expect(error.problems.some((problem) => problem.startsWith(name))).toBe(true);
      expect(error.message).toContain(name);
    }
  });

  it('reports the threshold ordering together with other problems', () => {
    // An operator fixing PORT should not then be told, on the next start, about the thresholds.
    const error = configError({ PORT: 'abc', CPU_WARNING_THRESHOLD: '95', CPU_CRITICAL_THRESHOLD: '90' });
    expect(error.message).toContain('PORT');
    expect(error.message).toContain('CPU_WARNING_THRESHOLD');
  });
});

/** Runs src/main.ts with env (on top of this process's, minus any database/redis/key), bounded by 20 s. */
function runEntryPoint(env: Environment) {
  return runScript('src/main.ts', [], { env, unset: ['DATABASE_URL', 'REDIS_URL', 'INSIGHTS_ADMIN_KEY', 'PORT'], timeoutMs: 20_000 });
}

describe('the entry point', () => {
  it('exits with code 1 and names the bad variable on stderr', async () => {
    const { code, stdout, stderr } = await runEntryPoint({ PORT: 'abc' });
    expect(code).toBe(1);
    expect(stderr).toContain('Invalid configuration');
    expect(stderr).toMatch(/PORT: /);
    // Nothing started: no key printed, no listening log.
    expect(stdout).not.toMatch(/ins_|listening/);
  });

  it('exits with code 1 when the database cannot be reached', async () => {
    const { code, stderr } = await runEntryPoint({ PORT: '0', DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/insights' });
    expect(code).toBe(1);
    expect(stderr).toContain('Insights could not start');
  });
});
