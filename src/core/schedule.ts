import cronParser from 'cron-parser';

/**
 * When a job runs: a cron expression (5 fields, or 6 with seconds first), read in UTC unless it starts with
 * `CRON_TZ=<IANA zone> ` (as cronie and Kubernetes CronJobs write it: `CRON_TZ=Europe/Paris 5 0 * * *` is
 * 00:05 Paris time, whatever the offset that day), or an interval such as `30s`, `5m`, `2h`, `1d`.
 *
 * Ticks are pure functions of the specification, never of when a process started: intervals are aligned to
 * the Unix epoch (a `30s` job ticks at :00 and :30 of every minute, on every instance) and cron is read in
 * UTC whatever the machine's time zone. That is what lets several instances agree on a tick's time to the
 * millisecond, which the claim in job_runs depends on (its unique key includes the tick).
 */
export interface Schedule {
  /** As configured, e.g. `30s` or `0 3 * * *`. */
  readonly spec: string;
  readonly kind: 'cron' | 'interval';
  /** The zone cron fields are read in (`UTC` unless the spec says `CRON_TZ=…`; intervals are zone-free). */
  readonly timeZone: string;
  /** For intervals, the period in milliseconds; cron periods vary from tick to tick. */
  readonly intervalMs: number | null;
  /** The first tick strictly after `after`. */
  next(after: Date): Date;
  /** The latest tick at or before `at`. */
  latest(at: Date): Date;
  /** The tick before `tick`: the start of the period `tick` ends. */
  previous(tick: Date): Date;
  /** The tick a timer's fire time stands for, with any sub-second (or sub-period) noise removed. */
  tickFor(fireTime: Date): Date;
}

const INTERVAL = /^(\d{1,6})(s|m|h|d)$/;
const CRON_TZ = /^CRON_TZ=(\S+) (.*)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_INTERVAL_MS = 7 * UNIT_MS.d;

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** Parses a schedule; throws ScheduleError with a message fit for an operator. */
export function parseSchedule(input: string): Schedule {
  const spec = input.trim().replace(/\s+/g, ' ');
  const interval = INTERVAL.exec(spec);
  if (interval) {
    const ms = Number(interval[1]) * UNIT_MS[interval[2] as keyof typeof UNIT_MS];
    if (ms < 1_000 || ms > MAX_INTERVAL_MS) throw new ScheduleError('an interval must be between 1s and 7d');
    return intervalSchedule(spec, ms);
  }
  const zoned = CRON_TZ.exec(spec);
  const timeZone = zoned ? (zoned[1] as string) : 'UTC';
  const expression = zoned ? (zoned[2] as string) : spec;
  if (zoned && !isZone(timeZone)) throw new ScheduleError(`CRON_TZ=${timeZone} is not an IANA time zone such as UTC or Europe/Paris`);
  const fields = expression.split(' ').length;
  if (fields !== 5 && fields !== 6) {
    throw new ScheduleError(
      'must be a cron expression (5 fields, or 6 with seconds; read in UTC, or in the zone of a CRON_TZ=<zone> prefix) or an interval like 30s, 5m, 1h, 1d',
    );
  }
  try {
    cronParser.parseExpression(expression, { tz: timeZone }).next();
  } catch (error) {
    throw new ScheduleError(`is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`);
  }
  return cronSchedule(spec, expression, timeZone);
}

function isZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function intervalSchedule(spec: string, ms: number): Schedule {
  const floor = (time: number) => Math.floor(time / ms) * ms;
  return {
    spec,
    kind: 'interval',
    timeZone: 'UTC',
    intervalMs: ms,
    next: (after) => new Date(floor(after.getTime()) + ms),
    latest: (at) => new Date(floor(at.getTime())),
    previous: (tick) => new Date(tick.getTime() - ms),
    tickFor: (fireTime) => new Date(floor(fireTime.getTime())),
  };
}

function cronSchedule(spec: string, cron: string, timeZone: string): Schedule {
  const expression = (currentDate: Date) => cronParser.parseExpression(cron, { tz: timeZone, currentDate });
  const toSecond = (time: number) => Math.floor(time / 1000) * 1000;
  return {
    spec,
    kind: 'cron',
    timeZone,
    intervalMs: null,
    next: (after) => expression(after).next().toDate(),
    // prev() is strictly before its start, so start one millisecond after `at` to include `at` itself.
    latest: (at) => expression(new Date(toSecond(at.getTime()) + 1)).prev().toDate(),
    previous: (tick) => expression(tick).prev().toDate(),
    // Cron ticks fall on whole seconds; the timer's date may carry milliseconds of arithmetic noise.
    tickFor: (fireTime) => new Date(toSecond(fireTime.getTime())),
  };
}

/** `90d`, `12h`, `30m` as milliseconds (for the command line's --older-than). */
export function parseAge(input: string): number {
  const match = /^(\d{1,6})(d|h|m)$/.exec(input.trim());
  if (!match) throw new ScheduleError('must be a number of days, hours or minutes, like 90d, 12h or 30m');
  const ms = Number(match[1]) * UNIT_MS[match[2] as 'd' | 'h' | 'm'];
  if (ms <= 0) throw new ScheduleError('must be more than zero');
  return ms;
}
