import { DateTime } from 'luxon';
import type { ReportType } from './render/types.js';

// Report periods in a time zone, computed with Luxon so that calendar arithmetic follows the zone's rules: a
// Paris day is 23 hours on the last Sunday of March and 25 on the last Sunday of October, a week starts on
// Monday at local midnight (ISO), a month on the 1st. Periods are half-open: [start, end).

export interface Period {
  start: Date;
  end: Date;
}

export type CalendarType = Exclude<ReportType, 'CUSTOM'>;

const UNIT = { DAILY: 'day', WEEKLY: 'week', MONTHLY: 'month' } as const;

const local = (instant: Date, timeZone: string) => DateTime.fromJSDate(instant, { zone: timeZone });

/** The day, ISO week or month of `type` that contains `instant`, in `timeZone`. */
export function periodContaining(type: CalendarType, instant: Date, timeZone: string): Period {
  const start = local(instant, timeZone).startOf(UNIT[type]);
  return { start: start.toJSDate(), end: start.plus({ [`${UNIT[type]}s`]: 1 }).toJSDate() };
}

/** The latest period of `type` that has ended at `instant`: yesterday, last week, last month. */
export function latestCompletePeriod(type: CalendarType, instant: Date, timeZone: string): Period {
  return previousPeriod(type, periodContaining(type, instant, timeZone), timeZone);
}

/**
 * What a period is compared with: the previous calendar day, week or month (which may be of another length:
 * February after January, a 23-hour day after a 24-hour one), or for CUSTOM the span of the same length just before.
 */
export function previousPeriod(type: ReportType, period: Period, timeZone: string): Period {
  if (type === 'CUSTOM') {
    const length = period.end.getTime() - period.start.getTime();
    return { start: new Date(period.start.getTime() - length), end: period.start };
  }
  const start = local(period.start, timeZone).minus({ [`${UNIT[type]}s`]: 1 });
  return { start: start.toJSDate(), end: period.start };
}

/** `days` calendar days in `timeZone` ending at `end` (for DAU, WAU and MAU windows). */
export function daysEndingAt(end: Date, days: number, timeZone: string): Period {
  return { start: local(end, timeZone).minus({ days }).toJSDate(), end };
}

/** Parses `2024-01-15` as the local midnight starting that date in `timeZone`; null when it is not a date. */
export function localDate(text: string, timeZone: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const parsed = DateTime.fromISO(text, { zone: timeZone });
  return parsed.isValid ? parsed.startOf('day').toJSDate() : null;
}

/** The local calendar days a period covers, each as its start instant (DAY buckets of a chart). */
export function localDayStarts(period: Period, timeZone: string): Date[] {
  const days: Date[] = [];
  for (let day = local(period.start, timeZone).startOf('day'); day.toMillis() < period.end.getTime(); day = day.plus({ days: 1 })) {
    days.push(day.toJSDate());
  }
  return days;
}

/** UTC hours a period covers (HOUR buckets; the analytics layer cuts hours in UTC). */
export function hourStarts(period: Period): Date[] {
  const hours: Date[] = [];
  const first = Math.floor(period.start.getTime() / 3_600_000) * 3_600_000;
  for (let time = first; time < period.end.getTime(); time += 3_600_000) hours.push(new Date(time));
  return hours;
}

/** `2024-01-15` in `timeZone`. */
export function isoLocalDate(instant: Date, timeZone: string): string {
  return local(instant, timeZone).toISODate() ?? instant.toISOString().slice(0, 10);
}
