/**
 * Scheduled reports and their delivery: the daily job at 00:05 in INSIGHTS_TIMEZONE generates the previous
 * Paris day and e-mails it to a real local SMTP server (HTML inline, CSV attached); a transient failure is
 * retried with backoff (and shows its error meanwhile); the alerts section appears once an alerting module
 * provides counts; an artifact over INSIGHTS_REPORT_MAX_BYTES fails the report at once with a clear error;
 * check-monitoring tells when SMTP is not configured.
 */
import type { AddressInfo } from 'node:net';
import { parse } from 'csv-parse/sync';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMonitoring } from '../src/cli/checkMonitoring.js';
import { sql } from '../src/core/db/sql.js';
import { reportsCheck } from '../src/modules/reports/health.js';
import { parseSchedule } from '../src/core/schedule.js';
import { generate, seedReportDay, settled } from './support/reports.js';
import { startTestServer, type TestServer } from './support/server.js';
import { waitUntil } from './support/wait.js';

/** Unfolds header lines (RFC 5322) and decodes encoded words (RFC 2047) of a raw message. */
function readable(raw: string): string {
  const unfolded = raw.replace(/\r\n[ \t]+/g, ' ');
  const word = /=\?UTF-8\?([QB])\?([^?]*)\?=/gi;
  return unfolded.replace(/(=\?UTF-8\?[QB]\?[^?]*\?=)\s+(?==\?UTF-8\?)/gi, '$1').replace(word, (_match, encoding: string, text: string) =>
    encoding.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_hex, code: string) => String.fromCharCode(parseInt(code, 16))), 'latin1').toString('utf8'),
  );
}

interface Mail {
  to: string[];
  raw: string;
}

describe('scheduled reports, e-mail and retries', () => {
  let smtp: SMTPServer;
  const mails: Mail[] = [];
  let server: TestServer;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('latin1') });
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      smtp.once('error', reject);
      smtp.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (smtp.server.address() as AddressInfo).port;
    server = await startTestServer('postgres', {
      label: 'reports_delivery',
      env: {
        INSIGHTS_TIMEZONE: 'Europe/Paris',
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        ALERT_EMAIL_RECIPIENTS: 'ops@example.com, cto@example.com',
        REPORT_EMAIL_FROM: 'Insights <reports@example.com>',
        INSIGHTS_REPORT_RETRY_SECONDS: '1',
        INSIGHTS_REPORT_MAX_ATTEMPTS: '3',
      },
    });
    await seedReportDay(server);
  });
  afterAll(async () => {
    await server?.destroy();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  it('runs daily at 00:05 Paris time, generates the previous Paris day once, and e-mails it (HTML inline, CSV attached)', async () => {
    const { scheduler } = server.app.services;
    const job = scheduler.job('report-daily');
    expect(job.schedule.spec).toBe('CRON_TZ=Europe/Paris 5 0 * * *');
    // 00:05 in Paris is 23:05 UTC in winter and 22:05 in summer.
    expect(job.schedule.next(new Date('2024-01-15T12:00:00Z')).toISOString()).toBe('2024-01-15T23:05:00.000Z');
    expect(job.schedule.next(new Date('2024-07-15T12:00:00Z')).toISOString()).toBe('2024-07-15T22:05:00.000Z');
    expect(scheduler.list().map((entry) => entry.name)).toEqual(expect.arrayContaining(['report-daily', 'report-weekly', 'report-monthly']));

    const run = await scheduler.tick('report-daily', new Date('2024-01-15T23:05:00Z'));
    expect(run?.status).toBe('SUCCEEDED');
    expect(run?.result).toMatchObject({ status: 'READY', periodStart: '2024-01-14T23:00:00.000Z', periodEnd: '2024-01-15T23:00:00.000Z', timeZone: 'Europe/Paris' });
    const id = String(run!.result!.reportId);
    // The same tick again (another instance, a manual run) claims nothing and generates nothing.
    expect(await scheduler.tick('report-daily', new Date('2024-01-15T23:05:00Z'))).toBeNull();

    await waitUntil(() => mails.length === 1, 'the report e-mail');
    const report = await settled(server, id);
    expect(report.email).toMatchObject({ status: 'SENT', recipients: ['ops@example.com', 'cto@example.com'], error: null });
    expect(report.requestedBy).toBe('schedule');
    const mail = mails[0]!;
    expect(mail.to).toEqual(['ops@example.com', 'cto@example.com']);
    const message = readable(mail.raw);
    expect(message).toMatch(/^Subject: Insights daily report — 2024-01-15 \(Europe\/Paris\)\r$/m);
    expect(message).toMatch(/^From: Insights <reports@example.com>\r$/m);
    // The HTML body inline (not an attachment), the CSV attached.
    expect(message).toMatch(/Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: [\w-]+\r\n\r\n/);
    expect(message).toMatch(/Content-Disposition: attachment; filename=insights-report-daily-2024-01-15\.csv/);
    // The attached CSV is the report's own CSV, and parses.
    const attached = /filename=insights-report-daily-2024-01-15\.csv\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--/.exec(message)?.[1];
    const csv = Buffer.from(attached!.replace(/\r\n/g, ''), 'base64').toString('utf8');
    const download = await fetch(`${server.url}/reports/${id}.csv`, { headers: { authorization: `Bearer test-admin-key-0123456789abcdefghij` } });
    expect(csv).toBe(await download.text());
    expect((parse(csv, { relax_column_count: true }) as string[][]).length).toBeGreaterThan(20);
  });

  it('retries a failed attempt with backoff, shows its error meanwhile, and adds the alerts section when alerting exists', async () => {
    let calls = 0;
    // What the alerting module will provide: counts by rule over a period. Its first answer fails.
    Object.assign(server.app.services, {
      alerts: {
        alertCountsByRule: async () => {
          calls += 1;
          if (calls === 1) throw new Error('alert store unavailable');
          return [
            { rule: 'High error rate', fired: 3, resolved: 2 },
            { rule: 'CPU critical', fired: 1, resolved: 1 },
          ];
        },
      },
    });
    try {
      const requested = await generate(server, { type: 'CUSTOM', from: '2024-01-15T06:00:00Z', to: '2024-01-15T18:00:00Z' });
      await waitUntil(async () => {
        const [row] = await server.app.services.db.query<{ attempts: number; status: string }>(
          sql`SELECT attempts, status::text AS status FROM reports WHERE id = ${requested.id}::int8`,
        );
        return row!.attempts === 1 && row!.status === 'PENDING';
      }, 'the first attempt to fail');
      const waiting = await server.query(`query($id: ID!) { report(id: $id) { status error nextAttemptAt attempts } }` as never, { id: requested.id } as never);
      expect(waiting).toMatchObject({ report: { status: 'PENDING', error: 'alert store unavailable', attempts: 1 } });
      expect((waiting as { report: { nextAttemptAt: string | null } }).report.nextAttemptAt).not.toBeNull();
      const done = await settled(server, requested.id);
      expect(done.status).toBe('READY');
      expect(done.attempts).toBe(2);
      expect(done.error).toBeNull();
      expect(done.summary.alerts).toEqual([
        { rule: 'High error rate', fired: 3, resolved: 2 },
        { rule: 'CPU critical', fired: 1, resolved: 1 },
      ]);
      expect(done.email.status).toBe('NOT_REQUESTED');
    } finally {
      delete (server.app.services as { alerts?: unknown }).alerts;
    }
  });

  it('stays FAILED with its error after the last attempt, and a new request starts it again', async () => {
    Object.assign(server.app.services, {
      alerts: {
        alertCountsByRule: async () => {
          throw new Error('alert store gone');
        },
      },
    });
    try {
      const requested = await generate(server, { type: 'DAILY', from: '2024-01-10T12:00:00Z' });
      const failed = await settled(server, requested.id, 30_000);
      expect(failed).toMatchObject({ status: 'FAILED', error: 'alert store gone', attempts: 3, nextAttemptAt: null });
    } finally {
      delete (server.app.services as { alerts?: unknown }).alerts;
    }
    const again = await generate(server, { type: 'DAILY', from: '2024-01-10T12:00:00Z' });
    const ready = await settled(server, again.id);
    expect(ready).toMatchObject({ status: 'READY', attempts: 1, error: null });
  }, 60_000);
});

describe('artifact size limit and check-monitoring without SMTP', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('postgres', { label: 'reports_limits', env: { INSIGHTS_REPORT_MAX_BYTES: '4096' } });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('fails a report whose file is over INSIGHTS_REPORT_MAX_BYTES at once, with a clear error, and stores no file', async () => {
    const requested = await generate(server, { type: 'DAILY', from: '2024-01-15T12:00:00Z' });
    const failed = await settled(server, requested.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.attempts).toBe(1);
    expect(failed.error).toMatch(/^ArtifactTooLargeError: The html report artifact is [\d.]+ KiB \([\d,]+ bytes\), over the maximum of 4\.0 KiB \(4,096 bytes\)$/);
    expect(failed.artifacts).toEqual([]);
    const download = await fetch(`${server.url}/reports/${requested.id}.html`, { headers: { authorization: 'Bearer test-admin-key-0123456789abcdefghij' } });
    expect(download.status).toBe(404);
    expect((await download.json()).errors[0].message).toMatch(/is FAILED/);
  });

  it('says in check-monitoring that reports are not e-mailed, and reports the failed daily report', async () => {
    const withChecks = await checkMonitoring(server.app.services, [reportsCheck(server.app.services.reports)], new Date());
    expect(withChecks.report.notes).toContain('SMTP_URL is not set: reports are not e-mailed (set SMTP_URL and REPORT_EMAIL_RECIPIENTS to send them)');
    expect(withChecks.report.problems.some((problem) => /^DAILY report \d+ \(2024-01-15T00:00:00.000Z\) failed: ArtifactTooLargeError/.test(problem))).toBe(true);
    expect(withChecks.text).toContain('Notes:');
    expect(parseSchedule('CRON_TZ=Europe/Paris 5 0 * * *').timeZone).toBe('Europe/Paris');
    expect(() => parseSchedule('CRON_TZ=Mars/Olympus 5 0 * * *')).toThrow(/not an IANA time zone/);
  });
});
