/**
 * The report renderers, on a fixture with known numbers: HTML (figures, tables, SVG charts, no network
 * resource, escaping), JSON, CSV read back by csv-parse, the size ceiling, an e-mail through a real SMTP
 * server, and the HTML in headless Chromium (charts laid out, page not blank, prints to several pages).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';

import { parse } from 'csv-parse/sync';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ArtifactTooLargeError,
  byteLength,
  composeReportEmail,
  createMailer,
  CSV_TABLES,
  enforceMaxSize,
  NO_DATA,
  renderCsv,
  renderHtml,
  renderJson,
  renderText,
  reportFileName,
  stringifyTables,
  type ReportData,
} from '../src/modules/reports/render/index.js';
import { emptyReport, fixtureReport, TOTAL_ERRORS, TOTAL_REQUESTS, XSS } from './support/reportFixture.js';

const CHROMIUM = '/usr/bin/chromium';
/** Where the browser test leaves its screenshot and PDF, to be looked at. */
const ARTIFACT_DIR = path.join(os.tmpdir(), 'insights-report-render');

function count(haystack: string, needle: string | RegExp): number {
  return typeof needle === 'string' ? haystack.split(needle).length - 1 : (haystack.match(needle) ?? []).length;
}

/** Every href/src/xlink:href/url()/@import that points to a network address. */
function networkReferences(html: string): string[] {
  return [
    ...(html.match(/\b(?:href|src|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:|ftp:)?\/\/[^"'\s>]*/gi) ?? []),
    ...(html.match(/url\(\s*["']?\s*(?:https?:)?\/\/[^)]*\)/gi) ?? []),
    ...(html.match(/@import/gi) ?? []),
  ];
}

// ------------------------------------------------------------------------------------------------- HTML

describe('renderHtml', () => {
  const data = fixtureReport();
  const html = renderHtml(data);

  it('is one standalone document with the period, the time zone and the figures', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(count(html, '<html')).toBe(1);
    expect(html).toContain('<title>Insights daily report — 2024-01-15 (Europe/Paris)</title>');
    expect(html).toContain('Monday 15 January 2024');
    expect(html).toContain('15 Jan 2024, 00:00 → 16 Jan 2024, 00:00 (Europe/Paris)');
    // Summary cards: value, previous value and a coloured change with an arrow.
    expect(count(html, 'class="card"')).toBe(8);
    const activeCard = html.slice(html.indexOf('data-metric="activeUsers"'), html.indexOf('data-metric="newUsers"'));
    expect(activeCard).toContain('1,234');
    expect(activeCard).toContain('Previous: <span style="font-variant-numeric:tabular-nums;color:#475569;">1,100</span>');
    expect(activeCard).toMatch(/color:#15803d;[^>]*>▲&nbsp;\+12\.2%/); // up and good: green
    const errorCard = html.slice(html.indexOf('data-metric="errorRate"'), html.indexOf('data-metric="published"'));
    expect(errorCard).toContain(`${((TOTAL_ERRORS / TOTAL_REQUESTS) * 100).toFixed(1)}%`);
    expect(errorCard).toMatch(/color:#b91c1c;[^>]*>▲&nbsp;\+/); // error rate up: red
    // Figures of each section.
    for (const figure of ['87', '4,321', '9,876', '12.5%', '25,000', '3,456', TOTAL_REQUESTS.toLocaleString('en-US'), '84 ms', '412 ms', '1,250 ms', '18,250', '9,420', '4,820 ms', '93.1%', '91.2%']) {
      expect(html, figure).toContain(figure);
    }
    expect(html).toContain('High error rate (&gt; 5 % over 5 min)');
  });

  it('has a table per list and at least three SVG charts', () => {
    for (const id of ['users', 'projects', 'activities', 'performance', 'system', 'alerts']) {
      expect(html, id).toContain(`<section class="report-section" id="${id}"`);
    }
    expect(count(html, '<table role="table"')).toBe(8); // users, projects, activities, performance, slowest, errors, hosts, alerts
    // Body rows of the tables, and the total rows of activities and alerts.
    expect(count(html, /<tr><td style="padding:8px 10px;/g)).toBe(7 + 3 + 8 + 5 + 10 + 5 + 3 + 3 + 2);
    for (const endpoint of ['POST /graphql exportProject', 'POST /ingest/batch', 'GET /metrics']) expect(html).toContain(endpoint);
    expect(count(html, '<svg')).toBe(4);
    for (const label of ['Requests and error rate per hour', 'Activities by type', 'CPU use per host', 'Memory use per host']) {
      expect(html).toContain(`<svg role="img" aria-label="${label}"`);
    }
    expect(html).not.toContain(NO_DATA);
    // Server-side rendering without animation, and ids that do not depend on the process's chart counter.
    expect(html).not.toMatch(/<animate|@keyframes|animation:/);
    expect(html).not.toMatch(/\bzr\d+-/);
    expect(renderHtml(data)).toBe(html);
    // …but text from the data that looks like such an id is left alone.
    const odd = fixtureReport();
    odd.system.timeSeries.series[0]!.host = 'zr12-cls-3';
    expect(renderHtml(odd)).toContain('>zr12-cls-3</text>');
  });

  it('loads nothing from the network', () => {
    expect(networkReferences(html)).toEqual([]);
    expect(html).not.toMatch(/<(?:script|link|img|iframe|object|embed|video|audio|source|base)\b/i);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
    // The check itself finds such references.
    expect(networkReferences('<img src="https://cdn.example/x.png"><link href="//fonts.example/css">')).toHaveLength(2);
  });

  it('escapes every string from the data, in tables and in charts', () => {
    const evil = renderHtml(fixtureReport({ xss: true }));
    expect(evil).not.toMatch(/<script/i);
    expect(evil).not.toMatch(/<img/i);
    expect(networkReferences(evil)).toEqual([]);
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=&quot;https://evil.example/x.png&quot; onerror=&quot;alert(1)&quot;&gt;';
    // id (header, footer), activity type, endpoint, host, alert rule.
    expect(count(evil, escaped)).toBeGreaterThanOrEqual(6);
    expect(evil).toContain(`db-1.prod.internal${escaped}`);
    expect(evil).toContain(`GET /reports/${escaped}latest`);
    // In the SVG: the legend of the host charts (ECharts escapes what it draws).
    const svgs = evil.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(4);
    expect(svgs.some((svg) => svg.includes('db-1.prod.internal&lt;script&gt;'))).toBe(true);
    for (const svg of svgs) expect(svg).not.toMatch(/<script|<img|\sonerror\s*=\s*["']/i);
  });

  it('shows "No data for this period" instead of empty charts and tables, and leaves out an absent alerts section', () => {
    const empty = renderHtml(emptyReport());
    expect(count(empty, '<svg')).toBe(0);
    // activities, requests chart, slowest endpoints, error endpoints, system
    expect(count(empty, `>${NO_DATA}</p>`)).toBe(5);
    expect(empty).not.toContain('id="alerts"');
    expect(empty).not.toContain('Alerts:');
    expect(empty).not.toMatch(/fired/i);
    // A present alerts section with no rule is shown as "no data", not as zeros.
    const quiet = renderHtml({ ...emptyReport(), alerts: { byRule: [] } });
    expect(quiet).toContain('id="alerts"');
    expect(count(quiet, `>${NO_DATA}</p>`)).toBe(6);
    // Null figures are a dash, not zero.
    const avgAt = empty.indexOf('Avg response time');
    const avgRow = empty.slice(avgAt, empty.indexOf('p95 response time', avgAt));
    expect(avgRow).toContain('—');
    expect(avgRow).not.toContain('0 ms');
  });

  it('has an e-mail variant with the same figures, inline styles and no SVG', () => {
    const mail = renderHtml(data, { variant: 'email', attachmentNote: 'Attached: report.html' });
    expect(count(mail, '<svg')).toBe(0);
    expect(mail).toContain('Attached: report.html');
    for (const figure of ['1,234', '18,250', '412 ms', '93.1%', '4,820 ms']) expect(mail).toContain(figure);
    // The hourly series that the chart shows is a table in the e-mail.
    expect(mail).toContain('Requests and error rate per hour');
    for (const hour of ['00:00', '14:00', '23:00']) expect(mail).toContain(`>${hour}</td>`);
    // Every visible element carries its own style (clients may drop the <style> block).
    const body = mail.slice(mail.indexOf('<body'));
    const unstyled = (body.match(/<(?:td|th|table|h1|h2|h3|p|div|span)\b(?![^>]*\bstyle=)[^>]*>/g) ?? []).filter((t) => !t.startsWith('<td class="card-cell"'));
    expect(unstyled).toEqual([]);
    expect(byteLength(mail)).toBeLessThan(102 * 1024); // Gmail clips longer messages
  });
});

// ------------------------------------------------------------------------------------------------- JSON

describe('renderJson', () => {
  it('writes the data with sorted keys, the same whatever the construction order', () => {
    const data = fixtureReport();
    const json = renderJson(data);
    expect(JSON.parse(json)).toEqual(data);
    const reversed = JSON.parse(JSON.stringify(data), (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    ) as ReportData;
    expect(Object.keys(reversed)[0]).toBe('alerts');
    expect(renderJson(reversed)).toBe(json);
    expect(Object.keys(JSON.parse(json) as object)).toEqual([...Object.keys(data)].sort());
    expect(json).toMatch(/^\{\n {2}"activities": \[/);
    expect(renderJson(emptyReport())).not.toContain('"alerts"');
  });
});

// -------------------------------------------------------------------------------------------------- CSV

/** Reads the multi-table CSV back: a one-field record names a table, an empty record ends it. */
function readTables(csv: string): Map<string, { header: string[]; rows: string[][] }> {
  const records = parse(csv, { relax_column_count: true }) as string[][];
  const tables = new Map<string, { header: string[]; rows: string[][] }>();
  let current: { header: string[]; rows: string[][] } | undefined;
  for (const record of records) {
    if (record.length === 1 && record[0] === '') current = undefined;
    else if (record.length === 1) {
      expect(current, `table ${record[0]} starts before the previous one ended`).toBeUndefined();
      current = { header: [], rows: [] };
      tables.set(record[0]!, current);
    } else if (!current) throw new Error(`record outside a table: ${JSON.stringify(record)}`);
    else if (current.header.length === 0) current.header = record;
    else current.rows.push(record);
  }
  return tables;
}

describe('renderCsv', () => {
  it('is RFC 4180 text that csv-parse reads back, one table per section', () => {
    const data = fixtureReport({ xss: true });
    const csv = renderCsv(data);
    expect(csv).toContain('\r\n\r\n');
    expect(csv.replace(/\r\n/g, '')).not.toContain('\n'); // CRLF only
    const tables = readTables(csv);
    expect([...tables.keys()]).toEqual([...CSV_TABLES]);
    const rowsPer = Object.fromEntries([...tables].map(([name, t]) => [name, t.rows.length]));
    expect(rowsPer).toEqual({
      report: 6,
      users: 7,
      projects: 3,
      activities: 8,
      performance: 5,
      slowest_endpoints: 10,
      error_endpoints: 5,
      requests_timeseries: 24,
      hosts: 3,
      host_timeseries: 72,
      alerts: 3,
    });
    for (const [name, t] of tables) for (const row of t.rows) expect(row.length, name).toBe(t.header.length);

    expect(tables.get('users')!.header).toEqual(['metric', 'value', 'previous', 'change_absolute', 'change_relative']);
    expect(tables.get('users')!.rows[0]).toEqual(['newUsers', '87', '95', '-8', String(-8 / 95)]);
    expect(tables.get('report')!.rows).toContainEqual(['time_zone', 'Europe/Paris']);
    expect(tables.get('report')!.rows).toContainEqual(['period_start', '2024-01-14T23:00:00.000Z']);
    expect(tables.get('performance')!.rows[0]).toEqual(['totalRequests', String(TOTAL_REQUESTS), '21870', String(TOTAL_REQUESTS - 21870), String((TOTAL_REQUESTS - 21870) / 21870)]);
    // null is an empty cell, text with quotes and markup comes back as it was.
    expect(tables.get('slowest_endpoints')!.rows[9]).toEqual(['GET /metrics', '1440', '9.4', '18', '']);
    expect(tables.get('activities')!.rows[7]).toEqual([`EXPORT${XSS}`, '9', '0', '9', '']);
    expect(tables.get('hosts')!.rows[2]![0]).toBe(`db-1.prod.internal${XSS}`);
    expect(tables.get('requests_timeseries')!.rows[14]![0]).toBe('2024-01-15T13:00:00.000Z');
  });

  it('writes JSON values as JSON text, neutralises formulas, and leaves out an absent alerts section', () => {
    const csv = stringifyTables([{ name: 'extra', header: ['key', 'value'], rows: [['json', { a: [1, 'b"c'] }], ['formula', '=HYPERLINK("x")'], ['minus', -3]] }]);
    const t = readTables(csv).get('extra')!;
    expect(JSON.parse(t.rows[0]![1]!)).toEqual({ a: [1, 'b"c'] });
    expect(t.rows[1]).toEqual(['formula', `'=HYPERLINK("x")`]);
    expect(t.rows[2]).toEqual(['minus', '-3']);
    expect(readTables(stringifyTables([{ name: 'x', header: ['a', 'b'], rows: [['@SUM(A1)', 1]] }], { neutralizeFormulas: false })).get('x')!.rows[0]).toEqual(['@SUM(A1)', '1']);

    const empty = readTables(renderCsv(emptyReport()));
    expect([...empty.keys()]).toEqual(CSV_TABLES.filter((n) => n !== 'alerts'));
    expect(empty.get('activities')).toEqual({ header: ['type', 'count', 'previous', 'change_absolute', 'change_relative'], rows: [] });
    expect(empty.get('performance')!.rows[1]).toEqual(['avgResponseMs', '', '', '', '']);
  });
});

// ------------------------------------------------------------------------------------------------- size

describe('enforceMaxSize', () => {
  it('passes an artifact under the ceiling and throws ArtifactTooLargeError over it, in bytes', () => {
    const html = renderHtml(fixtureReport());
    const size = Buffer.byteLength(html);
    expect(enforceMaxSize('html', html, size)).toBe(html);
    let error: unknown;
    try {
      enforceMaxSize('html', html, 50_000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ArtifactTooLargeError);
    const e = error as ArtifactTooLargeError;
    expect([e.format, e.size, e.maxBytes, e.name]).toEqual(['html', size, 50_000, 'ArtifactTooLargeError']);
    expect(e.message).toContain('html');
    expect(e.message).toContain(`${size.toLocaleString('en-US')} bytes`);
    expect(e.message).toContain('50,000 bytes');
    // UTF-8 bytes, not characters: "—" is three bytes.
    expect(() => enforceMaxSize('csv', '——', 5)).toThrow(ArtifactTooLargeError);
    expect(enforceMaxSize('csv', '——', 6)).toBe('——');
    expect(() => composeReportEmail(fixtureReport(), { from: 'a@example.com', to: ['b@example.com'], maxArtifactBytes: 20_000 })).toThrow(
      /The (csv|html|text|email) report artifact is/,
    );
  });
});

// ------------------------------------------------------------------------------------------------ email

interface MimePart {
  headers: Map<string, string>;
  body: Buffer;
  parts: MimePart[];
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`). */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}

function decodeBody(raw: string, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(raw.replace(/\s+/g, ''), 'base64');
  if (encoding === 'quoted-printable') {
    const bytes = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1');
  }
  return Buffer.from(raw, 'latin1');
}

/** A small MIME reader, enough for what nodemailer writes. */
function parseMime(raw: string): MimePart {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const bodyRaw = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.toLowerCase().startsWith('multipart/') && boundary) {
    const chunks = bodyRaw.split(`--${boundary}`).slice(1, -1);
    return { headers, body: Buffer.alloc(0), parts: chunks.map((c) => parseMime(c.replace(/^\r\n/, '').replace(/\r\n$/, ''))) };
  }
  return { headers, body: decodeBody(bodyRaw, (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase()), parts: [] };
}

function leaves(part: MimePart): MimePart[] {
  return part.parts.length === 0 ? [part] : part.parts.flatMap(leaves);
}

describe('composeReportEmail and createMailer', () => {
  const received: { from: string; to: string[]; raw: string }[] = [];
  let server: SMTPServer;
  let port = 0;

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('latin1'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    port = (server.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('composes the subject, both bodies and the attachments', () => {
    const data = fixtureReport();
    const message = composeReportEmail(data, { from: 'Insights <reports@example.com>', to: ['ops@example.com'], subjectPrefix: '[staging]' });
    expect(message.subject).toBe('[staging] Insights daily report — 2024-01-15 (Europe/Paris)');
    expect(composeReportEmail({ ...data, type: 'WEEKLY', periodEnd: '2024-01-21T23:00:00.000Z' }, { from: 'a@example.com', to: ['b@example.com'] }).subject).toBe(
      'Insights weekly report — 2024-01-15 to 2024-01-21 (Europe/Paris)',
    );
    expect(message.text).toBe(renderText(data));
    expect(message.text).toContain('Active users');
    expect(String(message.html)).not.toContain('<svg');
    expect((message.attachments ?? []).map((a) => a.filename)).toEqual(['insights-report-daily-2024-01-15.csv', 'insights-report-daily-2024-01-15.html']);
    expect(reportFileName({ ...data, type: 'MONTHLY' }, 'json')).toBe('insights-report-monthly-2024-01-15.json');
    expect(composeReportEmail(data, { from: 'a@example.com', to: ['b@example.com'], attachHtmlReport: false }).attachments).toHaveLength(1);
    expect(() => composeReportEmail(data, { from: 'a@example.com', to: [] })).toThrow(/recipient/);
    expect(() => createMailer('http://127.0.0.1:25')).toThrow(/unsupported protocol http:/);
  });

  it('sends the report through a real SMTP server', async () => {
    const data = fixtureReport({ xss: true });
    const mailer = createMailer(`smtp://127.0.0.1:${port}`);
    try {
      await mailer.verify();
      const result = await mailer.sendMail(
        composeReportEmail(data, { from: 'Insights <reports@example.com>', to: ['ops@example.com', 'cto@example.com'] }),
      );
      expect(result.accepted).toEqual(['ops@example.com', 'cto@example.com']);
      expect(result.rejected).toEqual([]);
      expect(result.messageId).toMatch(/^<.+@.+>$/);
      expect(result.response).toMatch(/^250/);
    } finally {
      mailer.close();
    }

    expect(received).toHaveLength(1);
    const mail = received[0]!;
    expect(mail.from).toBe('reports@example.com');
    expect(mail.to).toEqual(['ops@example.com', 'cto@example.com']);
    const root = parseMime(mail.raw);
    expect(decodeWords(root.headers.get('subject')!)).toBe('Insights daily report — 2024-01-15 (Europe/Paris)');
    expect(decodeWords(root.headers.get('x-insights-report-id')!)).toBe(data.id.replace(/[\r\n]/g, ' '));

    const parts = leaves(root);
    const html = parts.find((p) => /^text\/html/i.test(p.headers.get('content-type')!) && !/attachment/i.test(p.headers.get('content-disposition') ?? ''));
    const text = parts.find((p) => /^text\/plain/i.test(p.headers.get('content-type')!));
    expect(html, 'HTML body').toBeDefined();
    const htmlBody = html!.body.toString('utf8');
    expect(htmlBody).toContain('1,234');
    expect(htmlBody).toContain('insights-report-daily-2024-01-15.html');
    expect(htmlBody).not.toContain('<svg');
    expect(htmlBody).not.toMatch(/<script/i);
    expect(text!.body.toString('utf8').replace(/\r\n/g, '\n')).toBe(renderText(data));

    const attachment = (name: string) =>
      parts.find((p) => (p.headers.get('content-disposition') ?? '').includes(`filename=${name}`) || (p.headers.get('content-disposition') ?? '').includes(`filename="${name}"`));
    const csv = attachment('insights-report-daily-2024-01-15.csv');
    expect(csv, 'CSV attachment').toBeDefined();
    expect(csv!.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv!.body.toString('utf8')).toBe(renderCsv(data));
    expect(readTables(csv!.body.toString('utf8')).get('users')!.rows[1]).toEqual(['activeUsers', '1234', '1100', '134', String(134 / 1100)]);
    const report = attachment('insights-report-daily-2024-01-15.html');
    expect(report!.body.toString('utf8')).toBe(renderHtml(data));
  });
});

// ---------------------------------------------------------------------------------------------- browser

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) and counts its distinct colours. */
function pngStats(png: Buffer): { width: number; height: number; colours: number; nonWhite: number } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const chunk = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = chunk.readUInt32BE(0);
      height = chunk.readUInt32BE(4);
      expect([chunk[8], chunk[12]]).toEqual([8, 0]); // bit depth, interlace
      channels = chunk[9] === 6 ? 4 : chunk[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
    } else if (type === 'IDAT') idat.push(chunk);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const row = Buffer.alloc(stride);
  const colours = new Set<number>();
  let nonWhite = 0;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[i] = (line[i]! + pred) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = x * channels;
      const rgb = (row[o]! << 16) | (row[o + 1]! << 8) | row[o + 2]!;
      colours.add(rgb);
      if (rgb !== 0xffffff) nonWhite++;
    }
    row.copy(prev);
  }
  return { width, height, colours: colours.size, nonWhite };
}

describe('the HTML in headless Chromium', () => {
  it('lays out every chart, is not blank, loads nothing, and prints one section per page', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is missing at ${CHROMIUM}: run \`apt-get install -y chromium\` (Debian package), then run the tests again.`);
    }
    const { chromium } = await import('playwright-core');
    mkdirSync(ARTIFACT_DIR, { recursive: true });
    const file = path.join(ARTIFACT_DIR, 'report.html');
    writeFileSync(file, renderHtml(fixtureReport()));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const consoleErrors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text());
      });
      await page.goto(`file://${file}`, { waitUntil: 'load' });
      expect(requests).toEqual([`file://${file}`]);
      expect(consoleErrors).toEqual([]);

      const boxes = await page.locator('svg').evaluateAll((svgs) =>
        svgs.map((s) => {
          const r = s.getBoundingClientRect();
          return { label: s.getAttribute('aria-label'), width: r.width, height: r.height, shapes: s.querySelectorAll('path,rect,text').length };
        }),
      );
      expect(boxes).toHaveLength(4);
      for (const box of boxes) {
        expect(box.width, `${box.label} width`).toBeGreaterThan(300);
        expect(box.height, `${box.label} height`).toBeGreaterThan(150);
        expect(box.shapes, `${box.label} shapes`).toBeGreaterThan(20);
      }
      // The inline styles were read (a broken style attribute would fall back to the default serif font).
      const fontFamily = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
      expect(fontFamily).toMatch(/^-apple-system/);
      const layout = await page.evaluate(() => ({ cards: document.querySelectorAll('.card').length, height: document.documentElement.scrollHeight, width: document.documentElement.scrollWidth }));
      expect(layout.cards).toBe(8);
      expect(layout.width).toBeLessThanOrEqual(1100); // no horizontal overflow
      expect(layout.height).toBeGreaterThan(3000);

      const screenshot = await page.screenshot({ path: path.join(ARTIFACT_DIR, 'report.png'), fullPage: true });
      const stats = pngStats(screenshot);
      expect(stats.width).toBe(1100);
      expect(stats.colours).toBeGreaterThan(200); // text anti-aliasing, charts, badges
      expect(stats.nonWhite / (stats.width * stats.height)).toBeGreaterThan(0.03);

      await page.emulateMedia({ media: 'print' });
      const pdf = await page.pdf({ path: path.join(ARTIFACT_DIR, 'report.pdf'), format: 'A4', printBackground: true });
      const pages = Number(/\/Type\s*\/Pages[\s\S]*?\/Count\s+(\d+)/.exec(pdf.toString('latin1'))?.[1] ?? /\/Count\s+(\d+)/.exec(pdf.toString('latin1'))?.[1]);
      expect(pages).toBeGreaterThanOrEqual(7); // the summary, then one page or more per section
    } finally {
      await browser.close();
    }
  });
});
