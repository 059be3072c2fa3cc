import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Environment } from '../src/config.js';
import { parseAge, parseSchedule, ScheduleError } from '../src/core/schedule.js';

const at = (iso: string) => new Date(iso);

function configProblems(env: Environment): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('schedules', () => {
  it('aligns intervals to the epoch, so every instance computes the same ticks whenever it started', () => {
    const schedule = parseSchedule('30s');
    expect(schedule).toMatchObject({ kind: 'interval', intervalMs: 30_000, spec: '30s' });
    expect(schedule.next(at('2026-01-10T12:00:29.999Z'))).toEqual(at('2026-01-10T12:00:30.000Z'));
    // Strictly after: a fire time that is exactly a tick moves on to the next one.
    expect(schedule.next(at('2026-01-10T12:00:30.000Z'))).toEqual(at('2026-01-10T12:01:00.000Z'));
    expect(schedule.latest(at('2026-01-10T12:00:59.999Z'))).toEqual(at('2026-01-10T12:00:30.000Z'));
    expect(schedule.latest(at('2026-01-10T12:01:00.000Z'))).toEqual(at('2026-01-10T12:01:00.000Z'));
    expect(schedule.previous(at('2026-01-10T12:01:00.000Z'))).toEqual(at('2026-01-10T12:00:30.000Z'));
    // A timer that fires late or with noise still stands for its tick.
    expect(schedule.tickFor(at('2026-01-10T12:00:30.437Z'))).toEqual(at('2026-01-10T12:00:30.000Z'));
    expect(parseSchedule('7m').next(at('2026-01-10T12:00:00Z')).getTime() % 420_000).toBe(0);
    expect(parseSchedule('1d').next(at('2026-01-10T12:00:00Z'))).toEqual(at('2026-01-11T00:00:00Z'));
  });

  it('reads cron expressions in UTC, with or without seconds', () => {
    const nightly = parseSchedule('0 3 * * *');
    expect(nightly).toMatchObject({ kind: 'cron', intervalMs: null });
    expect(nightly.next(at('2026-01-10T02:59:59Z'))).toEqual(at('2026-01-10T03:00:00Z'));
    expect(nightly.next(at('2026-01-10T03:00:00Z'))).toEqual(at('2026-01-11T03:00:00Z'));
    expect(nightly.previous(at('2026-01-10T03:00:00Z'))).toEqual(at('2026-01-09T03:00:00Z'));
    expect(nightly.latest(at('2026-01-10T03:00:00.500Z'))).toEqual(at('2026-01-10T03:00:00Z'));
    expect(nightly.latest(at('2026-01-10T02:59:59.999Z'))).toEqual(at('2026-01-09T03:00:00Z'));

    const fiveMinutes = parseSchedule('  */5   * * * * ');
    expect(fiveMinutes.spec).toBe('*/5 * * * *');
    expect(fiveMinutes.previous(at('2026-01-10T12:05:00Z'))).toEqual(at('2026-01-10T12:00:00Z'));
    expect(fiveMinutes.tickFor(at('2026-01-10T12:05:00.437Z'))).toEqual(at('2026-01-10T12:05:00Z'));

    const withSeconds = parseSchedule('*/10 * * * * *');
    expect(withSeconds.next(at('2026-01-10T12:00:05Z'))).toEqual(at('2026-01-10T12:00:10Z'));
  });

  it.each([
    ['', /cron expression .* or an interval/],
    ['soon', /cron expression .* or an interval/],
    ['* * *', /cron expression/],
    ['* * * * * * *', /cron expression/],
    ['61 * * * *', /not a valid cron expression/],
    ['0 25 * * *', /not a valid cron expression/],
    ['0s', /between 1s and 7d/],
    ['8d', /between 1s and 7d/],
    ['-5m', /cron expression .* or an interval/],
  ])('refuses the schedule %j', (spec, message) => {
    expect(() => parseSchedule(spec)).toThrow(ScheduleError);
    expect(() => parseSchedule(spec)).toThrow(message);
  });

  it('parses ages for --older-than', () => {
    expect(parseAge('90d')).toBe(90 * 86_400_000);
    expect(parseAge('12h')).toBe(12 * 3_600_000);
    expect(parseAge('30m')).toBe(30 * 60_000);
    for (const bad of ['0d', '90', 'd', '1.5d', '90s', '-1d', '']) expect(() => parseAge(bad), bad).toThrow(ScheduleError);
  });
});

describe('job configuration', () => {
  /** The job-related settings, wherever each module keeps them. */
  const jobSettings = (config: ReturnType<typeof loadConfig>) => ({
    instance: config.instance,
    archiveDir: config.retention.archiveDir,
    schedules: { collectSystemMetrics: config.system.collectSchedule, retention: config.retention.schedule, aggregateApplicationMetrics: config.analytics.aggregateSchedule },
  });

  it('defaults: this machine, no environment, no archive, collection every INSIGHTS_REAL_TIME_UPDATE_INTERVAL seconds', () => {
    expect(jobSettings(loadConfig({}))).toEqual({
      instance: { hostName: os.hostname(), environment: undefined },
      archiveDir: undefined,
      schedules: { collectSystemMetrics: '30s', retention: '0 3 * * *', aggregateApplicationMetrics: '*/5 * * * *' },
    });
    expect(loadConfig({ INSIGHTS_REAL_TIME_UPDATE_INTERVAL: '5' }).system.collectSchedule).toBe('5s');
    const blank = { INSIGHTS_HOSTNAME: ' ', INSIGHTS_ENVIRONMENT: '', INSIGHTS_ARCHIVE_DIR: '', INSIGHTS_COLLECT_SCHEDULE: '', INSIGHTS_RETENTION_SCHEDULE: ' ', INSIGHTS_AGGREGATE_SCHEDULE: '' };
    expect(jobSettings(loadConfig(blank))).toEqual(jobSettings(loadConfig({})));
  });

  it('reads every job variable', () => {
    expect(
      jobSettings(
        loadConfig({
          INSIGHTS_HOSTNAME: 'web-1',
          INSIGHTS_ENVIRONMENT: 'production',
          INSIGHTS_ARCHIVE_DIR: 'archive',
          INSIGHTS_COLLECT_SCHEDULE: '*/15 * * * * *',
          INSIGHTS_RETENTION_SCHEDULE: '30 2 * * 0',
          INSIGHTS_AGGREGATE_SCHEDULE: '1h',
        }),
      ),
    ).toEqual({
      instance: { hostName: 'web-1', environment: 'production' },
      archiveDir: path.resolve('archive'),
      schedules: { collectSystemMetrics: '*/15 * * * * *', retention: '30 2 * * 0', aggregateApplicationMetrics: '1h' },
    });
  });

  it.each([
    ['INSIGHTS_COLLECT_SCHEDULE', 'often'],
    ['INSIGHTS_RETENTION_SCHEDULE', '0 3 * *'],
    ['INSIGHTS_AGGREGATE_SCHEDULE', '0s'],
    ['INSIGHTS_HOSTNAME', 'h'.repeat(256)],
    ['INSIGHTS_ENVIRONMENT', 'e'.repeat(101)],
  ])('rejects %s=%j naming the variable', (name, value) => {
    const problems = configProblems({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: `));
  });
});
