/**
 * The report as an e-mail (a nodemailer message); it is sent with the shared SMTP mailer
 * (src/modules/notifications/mailer.ts), which the alerting module's EMAIL channel uses too.
 *
 * What the message holds:
 * - `html`: the e-mail variant of the report ({@link renderHtml} with `variant: 'email'`): inline styles on
 *   every element, table layout, 680 px wide and NO inline SVG. Gmail and Outlook drop inline SVG, and a
 *   client that strips the element but keeps its text would show axis labels as loose words; so the body
 *   carries every figure as a table instead (the hourly/daily request series included), readable everywhere.
 * - `text`: a plain-text alternative with the same figures.
 * - attachments: the CSV (`insights-report-<type>-<date>.csv`) and, unless `attachHtmlReport: false`, the
 *   standalone HTML report with its charts (`insights-report-<type>-<date>.html`), which opens in any
 *   browser and prints to PDF.
 */
import type { SendMailOptions } from 'nodemailer';

import { renderCsv } from './csv.js';
import { isoDate, oneLine, reportTitle, typeWord } from './format.js';
import { renderHtml } from './html.js';
import { enforceMaxSize } from './size.js';
import { renderText } from './text.js';
import type { ReportData } from './types.js';

export type { SendMailOptions };

export interface ComposeReportEmailOptions {
  from: string;
  to: string[];
  cc?: string[];
  /** Put before the standard subject, e.g. `[staging]`. */
  subjectPrefix?: string;
  /** Attach the standalone HTML report with charts (default true). */
  attachHtmlReport?: boolean;
  /** Ceiling for each rendered part (HTML body, text, each attachment), in bytes (default 10 MiB). */
  maxArtifactBytes?: number;
}

export const DEFAULT_MAX_ARTIFACT_BYTES = 10 * 1024 * 1024;

/** `insights-report-daily-2024-01-15.csv`: the type, and the first day of the period in its time zone. */
export function reportFileName(data: ReportData, extension: 'csv' | 'html' | 'json'): string {
  return `insights-report-${typeWord(data.type)}-${isoDate(data.periodStart, data.timeZone)}.${extension}`;
}

/** `[prefix] Insights daily report — 2024-01-15 (Europe/Paris)`. */
export function reportSubject(data: ReportData, subjectPrefix?: string): string {
  const prefix = subjectPrefix ? oneLine(subjectPrefix) : '';
  return prefix ? `${prefix} ${reportTitle(data)}` : reportTitle(data);
}

export function composeReportEmail(data: ReportData, options: ComposeReportEmailOptions): SendMailOptions {
  if (options.to.length === 0) throw new Error('composeReportEmail: at least one recipient is needed in `to`');
  const max = options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const attachHtml = options.attachHtmlReport ?? true;
  const csvName = reportFileName(data, 'csv');
  const htmlName = reportFileName(data, 'html');

  const csv = enforceMaxSize('csv', renderCsv(data), max);
  const attachments: NonNullable<SendMailOptions['attachments']> = [
    { filename: csvName, content: csv, contentType: 'text/csv; charset=utf-8' },
  ];
  if (attachHtml) {
    attachments.push({ filename: htmlName, content: enforceMaxSize('html', renderHtml(data), max), contentType: 'text/html; charset=utf-8' });
  }
  const note = attachHtml
    ? `The full report with charts is attached as ${htmlName} (open it in a browser; it prints to PDF). The figures are also attached as ${csvName}.`
    : `The figures are attached as ${csvName}.`;

  const message: SendMailOptions = {
    from: options.from,
    to: options.to,
    subject: reportSubject(data, options.subjectPrefix),
    text: enforceMaxSize('text', renderText(data), max),
    html: enforceMaxSize('email', renderHtml(data, { variant: 'email', attachmentNote: note }), max),
    attachments,
    headers: { 'X-Insights-Report-Id': oneLine(data.id) },
  };
  if (options.cc && options.cc.length > 0) message.cc = options.cc;
  return message;
}

// ------------------------------------------------------------------------------------------------ mailer

// The SMTP mailer lives in src/modules/notifications/mailer.ts, shared with the alerting module's EMAIL channel.
export { createMailer, type Mailer, type MailerOptions, type SendResult } from '../../notifications/mailer.js';
