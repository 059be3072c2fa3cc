import { table } from '../../core/cli.js';
import { sql } from '../../core/db/sql.js';
import type { MonitoringCheck } from '../../core/module.js';
import type { ReportService } from './service.js';

interface LatestRow {
  id: string;
  type: string;
  status: string;
  periodStart: Date;
  error: string | null;
  emailStatus: string;
  emailError: string | null;
}

/**
 * The reports part of check-monitoring: the latest report of each scheduled type, and whether e-mail can be
 * sent. A latest report that FAILED, or whose e-mail FAILED, is a problem; SMTP not being configured is a note
 * (nothing is e-mailed, by choice or not).
 */
export function reportsCheck(reports: ReportService): MonitoringCheck {
  return async (services) => {
    const problems: string[] = [];
    const notes: string[] = [];
    const config = services.config.reports;
    const latest = await services.db.query<LatestRow>(sql`/* reports.latestPerType */
      SELECT DISTINCT ON (type) id::text AS id, type::text AS type, status::text AS status, period_start AS "periodStart", error,
        email_status::text AS "emailStatus", email_error AS "emailError"
      FROM reports WHERE type <> 'CUSTOM' ORDER BY type, period_start DESC`);
    for (const row of latest) {
      if (row.status === 'FAILED') problems.push(`${row.type} report ${row.id} (${row.periodStart.toISOString()}) failed: ${row.error ?? 'no error recorded'}`);
      if (row.emailStatus === 'FAILED') problems.push(`${row.type} report ${row.id} could not be e-mailed: ${row.emailError ?? 'no error recorded'}`);
    }
    let smtp = 'not configured';
    if (!config.smtpUrl) {
      notes.push('SMTP_URL is not set: reports are not e-mailed (set SMTP_URL and REPORT_EMAIL_RECIPIENTS to send them)');
    } else if (config.emailRecipients.length === 0) {
      smtp = `${redact(config.smtpUrl)}, no recipients`;
      notes.push('neither REPORT_EMAIL_RECIPIENTS nor ALERT_EMAIL_RECIPIENTS is set: reports are not e-mailed');
    } else {
      smtp = `${redact(config.smtpUrl)} → ${config.emailRecipients.join(', ')}`;
    }
    const text = [
      table([
        ['Reports', `time zone ${config.timeZone}; e-mail: ${smtp}`],
        ...latest.map((row) => [`  latest ${row.type.toLowerCase()}`, `${row.status} ${row.periodStart.toISOString()} (report ${row.id}, e-mail ${row.emailStatus})`]),
      ]),
    ].join('\n');
    return {
      fields: { reports: { timeZone: config.timeZone, emailConfigured: reports.mailConfigured, latest } },
      text,
      problems,
      notes,
    };
  };
}

/** The SMTP URL without its password. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'an invalid URL';
  }
}
