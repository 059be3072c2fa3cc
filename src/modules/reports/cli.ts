import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CLI_ACTOR, CliError, formatCount, processOutput, progressBar, type CliCommand, type Output } from '../../core/cli.js';
import { InputValidationError } from '../../core/input.js';
import type { Services } from '../../core/module.js';
import { exportChunks, ExportInputError, exportFamilyName, FAMILY_NAMES, parseExportRequest } from './export.js';
import { localDate } from './periods.js';
import { REPORT_FORMATS } from './service.js';

// `insights export-analytics` and `insights generate-reports`: the product's export_analytics and
// generate_reports commands, on the same services as the server.

const single = (value: unknown) => (typeof value === 'string' ? value : undefined);

export const exportAnalyticsCommand: CliCommand<Services> = {
  name: 'export-analytics',
  usage:
    'insights export-analytics [--format csv|ndjson] (--date 2024-01-15 | --from <date or date-time> --to <…>)\n' +
    `    [--family ${FAMILY_NAMES.join('|')}] [--time-zone Europe/Paris] [--out FILE[.gz]]`,
  summary: 'Streams stored records of a day or range as CSV or NDJSON (every family when --family is absent), to stdout or a file.',
  options: {
    format: { type: 'string' },
    date: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    family: { type: 'string' },
    'time-zone': { type: 'string' },
    out: { type: 'string' },
  },
  validate({ positionals, values }) {
    if (positionals.length > 0) throw new CliError(`export-analytics takes no arguments besides its options, got "${positionals.join(' ')}"`, 2);
    try {
      // Checked again with the configured time zone once the configuration is read; this catches typos early.
      parseExportRequest(parameters(values), 'UTC');
    } catch (error) {
      if (error instanceof ExportInputError) throw new CliError(`--${flag(error.parameter)}: ${error.message}`, 2);
      throw error;
    }
  },
  async run(services, { values }, output) {
    let request;
    try {
      request = parseExportRequest(parameters(values), services.config.reports.timeZone);
    } catch (error) {
      if (error instanceof ExportInputError) throw new CliError(`--${flag(error.parameter)}: ${error.message}`, 2);
      throw error;
    }
    const out = single(values.out);
    // Data goes to stdout when there is no --out: the progress bar then goes to stderr, if that is a terminal.
    const barOutput: Output = out
      ? output
      : { ...output, out: output.err, isTTY: output === processOutput ? Boolean(process.stderr.isTTY) : false };
    const bar = progressBar(barOutput);
    const totals = new Map<string, number>();
    if (barOutput.isTTY) {
      for (const family of request.families) {
        const [row] = (await services.analytics.aggregate({ family, from: request.from, to: request.to, measures: [{ fn: 'count' }] })).rows;
        totals.set(family, row?.count ?? 0);
      }
    }
    const generator = exportChunks(services.db, services.config.database.url, request, (family, done) =>
      bar.update(exportFamilyName(family), done, totals.get(family) ?? done),
    );
    let counts: Record<string, number> = {};
    // Keeps the generator's return value (rows per family) while the stream consumes its chunks.
    async function* chunks() {
      counts = yield* generator;
    }
    const source = Readable.from(chunks());
    let destination: Writable;
    if (out) destination = createWriteStream(out);
    else if (output === processOutput) destination = process.stdout;
    else destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (output.out(chunk.toString('utf8')), done()) });
    try {
      if (out?.endsWith('.gz')) await pipeline(source, createGzip(), destination);
      else await pipeline(source, destination, { end: destination !== process.stdout });
    } finally {
      bar.clear();
    }
    const summary = Object.entries(counts)
      .map(([family, count]) => `${formatCount(count)} ${family}`)
      .join(', ');
    output.err(`Exported ${summary} record(s) from ${request.from.toISOString()} to ${request.to.toISOString()}${out ? ` to ${out}` : ''}.\n`);
    return 0;
  },
};

function parameters(values: Record<string, unknown>) {
  return {
    family: single(values.family),
    format: single(values.format),
    date: single(values.date),
    from: single(values.from),
    to: single(values.to),
    timeZone: single(values['time-zone']),
  };
}

const flag = (parameter: string) => (parameter === 'timeZone' ? 'time-zone' : parameter);

const PERIODS = { daily: 'DAILY', weekly: 'WEEKLY', monthly: 'MONTHLY' } as const;

export const generateReportsCommand: CliCommand<Services> = {
  name: 'generate-reports',
  usage: 'insights generate-reports --period daily|weekly|monthly [--date 2024-01-15] [--time-zone Europe/Paris] [--email] [--out-dir DIR]',
  summary:
    'Generates the report of the period containing --date (default: the latest complete one) now, unless it is READY already; prints where to get it.',
  options: {
    period: { type: 'string' },
    date: { type: 'string' },
    'time-zone': { type: 'string' },
    email: { type: 'boolean' },
    'out-dir': { type: 'string' },
  },
  validate({ positionals, values }) {
    if (positionals.length > 0) throw new CliError(`generate-reports takes no arguments besides its options, got "${positionals.join(' ')}"`, 2);
    const period = single(values.period);
    if (!period || !(period in PERIODS)) throw new CliError(`--period must be daily, weekly or monthly${period ? `, got "${period}"` : ''}`, 2);
    const date = single(values.date);
    if (date !== undefined && !localDate(date, 'UTC')) throw new CliError(`--date must be a calendar date such as 2024-01-15, got "${date}"`, 2);
  },
  async run(services, { values }, output) {
    const type = PERIODS[single(values.period) as keyof typeof PERIODS];
    const timeZone = single(values['time-zone']) ?? services.config.reports.timeZone;
    const date = single(values.date);
    const from = date ? localDate(date, timeZone) : null;
    if (date && !from) throw new CliError(`--time-zone: "${timeZone}" is not an IANA time zone such as UTC or Europe/Paris`, 2);
    let requested;
    try {
      requested = await services.reports.request({ type, from, timeZone, email: values.email === true }, { actor: CLI_ACTOR, name: CLI_ACTOR.keyName });
    } catch (error) {
      if (error instanceof InputValidationError) {
        throw new CliError(error.issues.map((problem) => `--${problem.field === 'from' ? 'date' : flag(problem.field)}: ${problem.message}`).join('\n'), 2);
      }
      throw error;
    }
    const report = (await services.reports.process(requested.report.id)) ?? requested.report;
    const period = `${report.periodStart.toISOString()} – ${report.periodEnd.toISOString()} (${report.timeZone})`;
    output.out(`Report ${report.id}: ${report.type} ${period}: ${report.status}${requested.created ? '' : ' (already requested before)'}\n`);
    if (report.status !== 'READY') {
      output.err(`${report.error ?? 'It is being generated by another instance.'}\n`);
      if (report.status === 'PENDING') output.err(`The service retries it at ${report.nextAttemptAt.toISOString()}.\n`);
      return 1;
    }
    const base = services.config.reports.publicUrl ?? `http://localhost:${services.config.http.port}`;
    output.out(`Download it (with a READ key, Bearer or as a browser sign-in password):\n`);
    for (const format of REPORT_FORMATS) output.out(`  ${base}/reports/${report.id}.${format}\n`);
    output.out(`or over GraphQL: { report(id: "${report.id}") { summary { users { activeUsers { value } } } artifacts { format url } } }\n`);
    if (report.emailStatus !== 'NOT_REQUESTED') output.out(`E-mail: ${report.emailStatus}${report.emailError ? ` (${report.emailError})` : ''}\n`);
    const outDir = single(values['out-dir']);
    if (outDir) {
      await fs.mkdir(outDir, { recursive: true });
      for (const format of REPORT_FORMATS) {
        const artifact = await services.reports.artifact(report.id, format);
        if (!artifact) continue;
        const file = path.join(outDir, artifact.fileName);
        await fs.writeFile(file, artifact.content);
        output.out(`Wrote ${file}\n`);
      }
    }
    return 0;
  },
};
