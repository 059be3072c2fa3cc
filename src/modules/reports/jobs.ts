import { setTimeout } from 'node:timers/promises';
import type { JobDefinition } from '../../core/jobs.js';
import { parseSchedule } from '../../core/schedule.js';
import { latestCompletePeriod, type CalendarType } from './periods.js';
import type { ReportService } from './service.js';

/**
 * A cron schedule read in the reports' time zone (`CRON_TZ=<zone> …`), so "daily at 00:05" is 00:05 there all
 * year; a spec that names its own CRON_TZ, or an interval, is kept as given.
 */
export function zonedSchedule(spec: string, timeZone: string) {
  const interval = /^\d+[smhd]$/.test(spec.trim());
  return parseSchedule(interval || spec.trim().startsWith('CRON_TZ=') ? spec : `CRON_TZ=${timeZone} ${spec}`);
}

const NAMES: Record<CalendarType, string> = { DAILY: 'report-daily', WEEKLY: 'report-weekly', MONTHLY: 'report-monthly' };
const WORDS: Record<CalendarType, string> = { DAILY: 'day', WEEKLY: 'week', MONTHLY: 'month' };

/**
 * Each tick asks for the report of the latest complete period before it (in the reports' time zone) and generates
 * it. The job claim makes a tick run once across the cluster, and the report's period key makes the period
 * generated once even when ticks or manual runs repeat it; a manual run stands for the latest tick, so it returns
 * that period's report rather than another one.
 */
export function reportJob(type: CalendarType, spec: string, reports: ReportService): JobDefinition {
  const timeZone = reports.config.timeZone;
  return {
    name: NAMES[type],
    description: `Generates and e-mails the ${type.toLowerCase()} report of the previous calendar ${WORDS[type]} in ${timeZone}.`,
    schedule: zonedSchedule(spec, timeZone),
    scope: 'cluster',
    manualAnchor: 'latestTick',
    async run({ fireTime, signal }) {
      const period = latestCompletePeriod(type, fireTime, timeZone);
      const { report } = await reports.request({ type, from: period.start, timeZone, email: true }, { actor: null, name: 'schedule' });
      let done = (await reports.process(report.id)) ?? report;
      // Another worker (an API request, another instance) has it: the run reports how that attempt ended.
      while ((done.status === 'RUNNING' || (done.status === 'PENDING' && done.attempts === 0)) && !signal.aborted) {
        await setTimeout(250, undefined, { signal }).catch(() => undefined);
        done = (await reports.get(report.id)) ?? done;
      }
      return {
        reportId: done.id,
        status: done.status,
        periodStart: done.periodStart.toISOString(),
        periodEnd: done.periodEnd.toISOString(),
        timeZone,
        email: done.emailStatus,
        ...(done.error ? { error: done.error } : {}),
      };
    },
  };
}
