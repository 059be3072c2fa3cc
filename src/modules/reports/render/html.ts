/**
 * The report as ONE standalone HTML file: no network resource (no external CSS, script, font or image; a
 * Content-Security-Policy forbids them anyway), charts as inline SVG drawn on the server, printable to PDF.
 *
 * Styles are inline `style` attributes on the elements, so that the same markup survives e-mail clients that
 * drop `<style>` blocks; the one `<style>` block only adds what attributes cannot say (print rules, small
 * screens), and the page is complete without it. Layout uses tables rather than flex/grid for the same reason.
 *
 * Every string that comes from the data is escaped ({@link escapeHtml}); ECharts escapes the text it draws.
 *
 * Variants:
 * - `standalone` (default): 1000 px wide, with charts.
 * - `email`: 680 px wide, without charts (Gmail and Outlook do not show inline SVG, and some clients that
 *   strip it would show its labels as loose text); every figure of the charts is in a table as well.
 */
import { activitiesChart, FONT_FAMILY, hostMetricChart, MAX_ACTIVITY_BARS, MAX_HOSTS_PER_CHART, requestsChart } from './charts.js';
import {
  ARROWS,
  bucketLabel,
  DASH,
  escapeHtml,
  formatAbsoluteChange,
  formatCount,
  formatDateTime,
  formatMs,
  formatPct100,
  formatPercent,
  formatRelativeChange,
  formatValue,
  type MetricDef,
  PERFORMANCE_METRICS,
  periodLongLabel,
  previousWord,
  PROJECT_METRICS,
  reportTitle,
  spansSeveralDays,
  SUMMARY_METRICS,
  type Tone,
  toneOf,
  trendOf,
  typeWord,
  USER_METRICS,
} from './format.js';
import type { Change, ReportData } from './types.js';

export type HtmlVariant = 'standalone' | 'email';

export interface RenderHtmlOptions {
  variant?: HtmlVariant;
  /** E-mail variant: a line under the header telling that the full report is attached under this name. */
  attachmentNote?: string;
}

export const NO_DATA = 'No data for this period';

// ------------------------------------------------------------------------------------------------ styles

const C = {
  text: '#0f172a',
  muted: '#64748b',
  faint: '#94a3b8',
  border: '#e2e8f0',
  soft: '#f8fafc',
  accent: '#2563eb',
  accentSoft: '#dbeafe',
  good: '#15803d',
  goodSoft: '#dcfce7',
  bad: '#b91c1c',
  badSoft: '#fee2e2',
  neutral: '#475569',
  neutralSoft: '#f1f5f9',
  warn: '#b45309',
};

const TONE_COLOURS: Record<Tone, { fg: string; bg: string }> = {
  good: { fg: C.good, bg: C.goodSoft },
  bad: { fg: C.bad, bg: C.badSoft },
  neutral: { fg: C.neutral, bg: C.neutralSoft },
};

const NUM = 'text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;';
const S = {
  body: `margin:0;padding:0;background:#ffffff;color:${C.text};font-family:${FONT_FAMILY};font-size:14px;line-height:1.45;`,
  h2: `margin:0 0 4px;font-size:19px;line-height:1.3;font-weight:650;color:${C.text};`,
  h3: `margin:22px 0 8px;font-size:14px;font-weight:650;color:${C.text};`,
  note: `margin:0 0 14px;color:${C.muted};font-size:13px;`,
  table: `width:100%;border-collapse:collapse;font-size:13px;`,
  th: `padding:8px 10px;background:${C.soft};border-bottom:1px solid ${C.border};color:${C.muted};font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;text-align:left;white-space:nowrap;`,
  td: `padding:8px 10px;border-bottom:1px solid ${C.border};vertical-align:middle;`,
  code: `font-family:'SFMono-Regular',Consolas,'Liberation Mono',Menlo,monospace;font-size:12px;word-break:break-all;`,
  empty: `margin:0;padding:22px 16px;border:1px dashed ${C.border};border-radius:8px;background:${C.soft};color:${C.muted};text-align:center;font-size:13px;`,
  figure: `margin:18px 0 8px;padding:14px 14px 10px;border:1px solid ${C.border};border-radius:8px;background:#ffffff;`,
  figcaption: `margin:0 0 6px;font-size:13px;font-weight:600;color:${C.text};`,
};

/** Classes only serve the `<style>` block below (print and small screens); the look comes from the attributes. */
const STYLE_BLOCK = `
  *{box-sizing:border-box}
  svg{max-width:100%;height:auto;display:block}
  @media screen and (max-width:720px){
    .cards td.card-cell{display:block;width:100%!important}
    .page{padding:16px!important}
  }
  @page{size:A4;margin:12mm}
  @media print{
    html,body{background:#ffffff!important}
    *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
    .page{max-width:none!important;width:auto!important;padding:0!important}
    .report-section{break-before:page;page-break-before:always;border-top:none!important;padding-top:0!important}
    h2,h3,figcaption{break-after:avoid;page-break-after:avoid}
    tr,.card,figure,.empty{break-inside:avoid;page-break-inside:avoid}
    thead{display:table-header-group}
  }`;

// ----------------------------------------------------------------------------------------------- helpers

interface Column<R> {
  header: string;
  numeric?: boolean;
  width?: string;
  cell(row: R): string;
}

function table<R>(columns: readonly Column<R>[], rows: readonly R[], footer?: string): string {
  const head = columns
    .map((c) => `<th style="${S.th}${c.numeric ? 'text-align:right;' : ''}${c.width ? `width:${c.width};` : ''}">${escapeHtml(c.header)}</th>`)
    .join('');
  const body = rows
    .map((r) => `<tr>${columns.map((c) => `<td style="${S.td}${c.numeric ? NUM : ''}">${c.cell(r)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table role="table" cellpadding="0" cellspacing="0" style="${S.table}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody>${footer ?? ''}</table>`;
}

function empty(message = NO_DATA): string {
  return `<p class="empty" style="${S.empty}">${escapeHtml(message)}</p>`;
}

function changeBadge(change: Change, def: Pick<MetricDef, 'kind' | 'polarity'>): string {
  const trend = trendOf(change);
  if (trend === 'unknown') return `<span style="color:${C.faint};">${DASH}</span>`;
  const { fg, bg } = TONE_COLOURS[toneOf(trend, def.polarity)];
  const rel = formatRelativeChange(change);
  const text = rel === DASH || rel === 'new' ? formatAbsoluteChange(def.kind, change.absolute) : rel;
  return `<span class="change change-${trend}" style="display:inline-block;padding:1px 7px;border-radius:999px;background:${bg};color:${fg};font-size:12px;font-weight:600;white-space:nowrap;">${ARROWS[trend]}&nbsp;${escapeHtml(text)}</span>`;
}

function card(def: MetricDef, data: ReportData): string {
  const m = def.get(data);
  const abs = m.change.absolute === null ? '' : ` (${escapeHtml(formatAbsoluteChange(def.kind, m.change.absolute))})`;
  return `<div class="card" data-metric="${escapeHtml(def.key)}" style="height:100%;padding:14px 16px;border:1px solid ${C.border};border-radius:10px;background:#ffffff;">
<div style="color:${C.muted};font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.05em;white-space:nowrap;">${escapeHtml(def.label)}</div>
<div class="card-value" style="margin:4px 0 6px;font-size:26px;line-height:1.15;font-weight:650;color:${C.text};font-variant-numeric:tabular-nums;">${escapeHtml(formatValue(def.kind, m.value))}</div>
<div style="font-size:12px;color:${C.muted};white-space:nowrap;">${changeBadge(m.change, def)}<span style="font-variant-numeric:tabular-nums;">${abs}</span></div>
<div style="margin-top:4px;font-size:12px;color:${C.muted};">Previous: <span style="font-variant-numeric:tabular-nums;color:${C.neutral};">${escapeHtml(formatValue(def.kind, m.previous))}</span></div>
</div>`;
}

function cardGrid(defs: readonly MetricDef[], data: ReportData, columns: number): string {
  const rows: string[] = [];
  const width = `${(100 / columns).toFixed(2)}%`;
  for (let i = 0; i < defs.length; i += columns) {
    const cells = defs
      .slice(i, i + columns)
      .map((d) => `<td class="card-cell" style="width:${width};padding:6px;vertical-align:top;">${card(d, data)}</td>`);
    while (cells.length < columns) cells.push(`<td class="card-cell" style="width:${width};padding:6px;"></td>`);
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  return `<table class="cards" role="presentation" cellpadding="0" cellspacing="0" style="width:calc(100% + 12px);margin:0 -6px;border-collapse:separate;table-layout:fixed;">${rows.join('\n')}</table>`;
}

function metricTable(defs: readonly MetricDef[], data: ReportData): string {
  const prev = previousWord(data.type);
  return table<MetricDef>(
    [
      { header: 'Metric', cell: (d) => escapeHtml(d.label) },
      { header: 'This period', numeric: true, cell: (d) => `<strong>${escapeHtml(formatValue(d.kind, d.get(data).value))}</strong>` },
      { header: prev.charAt(0).toUpperCase() + prev.slice(1), numeric: true, cell: (d) => escapeHtml(formatValue(d.kind, d.get(data).previous)) },
      { header: 'Change', numeric: true, cell: (d) => escapeHtml(formatAbsoluteChange(d.kind, d.get(data).change.absolute)) },
      { header: 'Change %', numeric: true, width: '110px', cell: (d) => changeBadge(d.get(data).change, d) },
    ],
    defs,
  );
}

function figure(caption: string, svg: string | null, note?: string): string {
  if (svg === null) {
    return `<figure style="${S.figure}"><figcaption style="${S.figcaption}">${escapeHtml(caption)}</figcaption>${empty()}</figure>`;
  }
  const extra = note ? `<div style="margin-top:6px;color:${C.muted};font-size:12px;">${escapeHtml(note)}</div>` : '';
  return `<figure class="chart" style="${S.figure}"><figcaption style="${S.figcaption}">${escapeHtml(caption)}</figcaption>${svg}${extra}</figure>`;
}

function section(id: string, title: string, intro: string, body: string): string {
  return `<section class="report-section" id="${id}" style="margin:0;padding:28px 0 8px;border-top:1px solid ${C.border};">
<h2 style="${S.h2}">${escapeHtml(title)}</h2>
<p style="${S.note}">${escapeHtml(intro)}</p>
${body}
</section>`;
}

function h3(text: string): string {
  return `<h3 style="${S.h3}">${escapeHtml(text)}</h3>`;
}

function code(text: string): string {
  return `<span style="${S.code}">${escapeHtml(text)}</span>`;
}

/** Colour for a resource usage percentage: amber from 75 %, red from 90 %. */
function usage(pct: number | null): string {
  const colour = pct === null ? C.faint : pct >= 90 ? C.bad : pct >= 75 ? C.warn : C.text;
  const weight = pct !== null && pct >= 75 ? 'font-weight:600;' : '';
  return `<span style="color:${colour};${weight}">${escapeHtml(formatPct100(pct))}</span>`;
}

/** A bar as wide as value / max: the e-mail's stand-in for a chart. */
function relativeBar(value: number, max: number): string {
  const width = max > 0 && value > 0 ? Math.max(1, Math.round((value / max) * 100)) : 0;
  return `<div style="width:100%;height:8px;border-radius:4px;background:${C.neutralSoft};"><div style="width:${width}%;height:8px;border-radius:4px;background:${C.accent};"></div></div>`;
}

/** A bar (as wide as the share) and the share in percent, in a layout table: e-mail clients lack flexbox. */
function dataBar(value: number, total: number): string {
  const share = total > 0 ? value / total : 0;
  const width = share > 0 ? Math.max(1, Math.round(share * 100)) : 0;
  return `<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;border-collapse:collapse;"><tr>
<td style="padding:0;vertical-align:middle;"><div style="width:100%;min-width:60px;height:8px;border-radius:4px;background:${C.neutralSoft};"><div style="width:${width}%;height:8px;border-radius:4px;background:${C.accent};"></div></div></td>
<td style="padding:0 0 0 10px;width:52px;${NUM}color:${C.muted};font-size:12px;">${escapeHtml(formatPercent(share))}</td>
</tr></table>`;
}

// ---------------------------------------------------------------------------------------------- sections

interface Layout {
  variant: HtmlVariant;
  width: number;
  chartWidth: number;
  cardColumns: number;
}

function header(data: ReportData, layout: Layout, attachmentNote?: string): string {
  const type = typeWord(data.type);
  const title = `${type.charAt(0).toUpperCase()}${type.slice(1)} report`;
  const tz = escapeHtml(data.timeZone);
  const meta = [
    `Period: ${escapeHtml(formatDateTime(data.periodStart, data.timeZone))} → ${escapeHtml(formatDateTime(data.periodEnd, data.timeZone))} (${tz})`,
    `Compared with the ${escapeHtml(previousWord(data.type))}`,
    `Generated ${escapeHtml(formatDateTime(data.generatedAt, data.timeZone))}`,
  ].join(' &nbsp;·&nbsp; ');
  const note = attachmentNote
    ? `<p style="margin:12px 0 0;padding:8px 12px;border-radius:6px;background:${C.accentSoft};color:#1e3a8a;font-size:13px;">${escapeHtml(attachmentNote)}</p>`
    : '';
  return `<header style="padding:0 0 20px;border-top:4px solid ${C.accent};">
<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;border-collapse:collapse;margin-top:18px;"><tr>
<td style="vertical-align:top;">
<div style="color:${C.accent};font-size:12px;font-weight:700;letter-spacing:.14em;text-transform:uppercase;">Insights</div>
<h1 style="margin:4px 0 2px;font-size:${layout.variant === 'email' ? 24 : 28}px;line-height:1.2;font-weight:700;color:${C.text};">${escapeHtml(title)}</h1>
<div class="period" style="font-size:16px;color:${C.text};">${escapeHtml(periodLongLabel(data))} <span style="color:${C.muted};">· ${tz}</span></div>
</td>
<td style="vertical-align:top;text-align:right;color:${C.muted};font-size:12px;white-space:nowrap;">Report <span style="${S.code}">${escapeHtml(data.id)}</span></td>
</tr></table>
<div style="margin-top:8px;color:${C.muted};font-size:12px;">${meta}</div>
${note}
</header>`;
}

function summarySection(data: ReportData, layout: Layout): string {
  const alertCards = data.alerts ? alertsSummary(data) : '';
  return `<section id="summary" style="margin:0;padding:4px 0 20px;">
<h2 style="${S.h2}margin-bottom:10px;">Key figures</h2>
${cardGrid(SUMMARY_METRICS, data, layout.cardColumns)}
${alertCards}
</section>`;
}

function alertsSummary(data: ReportData): string {
  const rules = data.alerts?.byRule ?? [];
  const fired = rules.reduce((n, r) => n + r.fired, 0);
  const resolved = rules.reduce((n, r) => n + r.resolved, 0);
  const colour = fired > 0 ? C.bad : C.good;
  return `<p style="margin:12px 0 0;font-size:13px;color:${C.muted};">Alerts: <strong style="color:${colour};">${escapeHtml(formatCount(fired))} fired</strong>, ${escapeHtml(formatCount(resolved))} resolved.</p>`;
}

function usersSection(data: ReportData): string {
  return section(
    'users',
    'Users',
    'New users had their first activity ever in the period; DAU, WAU and MAU are as of the end of the period.',
    metricTable(USER_METRICS, data),
  );
}

function projectsSection(data: ReportData): string {
  return section(
    'projects',
    'Projects',
    'Created and published count PROJECT_CREATE and PROJECT_PUBLISH activities; the total is as of the end of the period.',
    metricTable(PROJECT_METRICS, data),
  );
}

function activitiesSection(data: ReportData, layout: Layout): string {
  const rows = [...data.activities].sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
  if (rows.length === 0) return section('activities', 'Activity by type', 'Activities recorded in the period, by type.', empty());
  const chart =
    layout.variant === 'standalone'
      ? figure(
          `Activities by type, this period and the ${previousWord(data.type)}`,
          activitiesChart(rows, layout.chartWidth, 'c-activities'),
          rows.length > MAX_ACTIVITY_BARS ? `The ${MAX_ACTIVITY_BARS} most frequent types of ${rows.length}; all are in the table.` : undefined,
        ) + h3('All types')
      : '';
  const total = rows.reduce((n, r) => n + r.count, 0);
  const pol = { kind: 'count', polarity: 'neutral' } as const;
  const tbl = table(
    [
      { header: 'Type', cell: (r) => code(r.type) },
      { header: 'Count', numeric: true, cell: (r) => `<strong>${escapeHtml(formatCount(r.count))}</strong>` },
      { header: 'Share of total', width: '24%', cell: (r) => dataBar(r.count, total) },
      { header: 'Previous', numeric: true, cell: (r) => escapeHtml(formatCount(r.previous)) },
      { header: 'Change', numeric: true, cell: (r) => escapeHtml(formatAbsoluteChange('count', r.change.absolute)) },
      { header: 'Change %', numeric: true, width: '110px', cell: (r) => changeBadge(r.change, pol) },
    ],
    rows,
    `<tfoot><tr><td style="${S.td}font-weight:600;">Total</td><td style="${S.td}${NUM}font-weight:600;">${escapeHtml(formatCount(total))}</td><td style="${S.td}" colspan="4"></td></tr></tfoot>`,
  );
  return section('activities', 'Activity by type', 'Activities recorded in the period, by type, against the previous period.', chart + tbl);
}

function performanceSection(data: ReportData, layout: Layout): string {
  const p = data.performance;
  const parts: string[] = [metricTable(PERFORMANCE_METRICS, data)];
  const bucketWord = p.timeSeries.granularity === 'HOUR' ? 'hour' : 'day';
  const hasTraffic = p.timeSeries.points.some((pt) => pt.requests > 0);
  if (layout.variant === 'standalone') {
    parts.push(figure(`Requests per ${bucketWord} (bars, left axis) and error rate (line, right axis)`, requestsChart(p.timeSeries.points, p.timeSeries.granularity, data.timeZone, { width: layout.chartWidth, height: 300 }, 'c-requests')));
  } else {
    parts.push(h3(`Requests and error rate per ${bucketWord}`));
    if (!hasTraffic) parts.push(empty());
    else {
      const maxRequests = Math.max(...p.timeSeries.points.map((pt) => pt.requests));
      const multiDay = spansSeveralDays(
        p.timeSeries.points.map((pt) => pt.bucketStart),
        data.timeZone,
      );
      parts.push(
        table(
          [
            { header: bucketWord === 'hour' ? 'Hour' : 'Day', cell: (pt) => escapeHtml(bucketLabel(pt.bucketStart, data.timeZone, p.timeSeries.granularity, multiDay)) },
            { header: 'Requests', numeric: true, cell: (pt) => escapeHtml(formatCount(pt.requests)) },
            { header: '', width: '40%', cell: (pt) => relativeBar(pt.requests, maxRequests) },
            { header: 'Error rate', numeric: true, cell: (pt) => escapeHtml(formatPercent(pt.errorRate)) },
          ],
          p.timeSeries.points,
        ),
      );
    }
  }
  parts.push(h3('Slowest endpoints (by p95)'));
  parts.push(
    p.slowestEndpoints.length === 0
      ? empty()
      : table(
          [
            { header: 'Endpoint', cell: (r) => code(r.endpoint) },
            { header: 'Requests', numeric: true, cell: (r) => escapeHtml(formatCount(r.requests)) },
            { header: 'p95', numeric: true, cell: (r) => `<strong>${escapeHtml(formatMs(r.p95Ms))}</strong>` },
            { header: 'p99', numeric: true, cell: (r) => escapeHtml(formatMs(r.p99Ms)) },
            { header: 'Error rate', numeric: true, cell: (r) => escapeHtml(formatPercent(r.errorRate)) },
          ],
          p.slowestEndpoints,
        ),
  );
  parts.push(h3('Endpoints with the most errors'));
  parts.push(
    p.topErrorEndpoints.length === 0
      ? empty()
      : table(
          [
            { header: 'Endpoint', cell: (r) => code(r.endpoint) },
            { header: 'Errors', numeric: true, cell: (r) => `<strong style="color:${r.errors > 0 ? C.bad : C.text};">${escapeHtml(formatCount(r.errors))}</strong>` },
            { header: 'Requests', numeric: true, cell: (r) => escapeHtml(formatCount(r.requests)) },
            { header: 'Error rate', numeric: true, cell: (r) => escapeHtml(formatPercent(r.errorRate)) },
          ],
          p.topErrorEndpoints,
        ),
  );
  return section('performance', 'Performance', 'Response times are in milliseconds; the error rate is the share of failed requests.', parts.join('\n'));
}

function systemSection(data: ReportData, layout: Layout): string {
  const s = data.system;
  const intro = 'Resource use per host over the period, in percent (average and maximum of the samples). Amber from 75 %, red from 90 %.';
  if (s.hosts.length === 0 && s.timeSeries.series.length === 0) return section('system', 'System', intro, empty());
  const parts: string[] = [];
  parts.push(
    s.hosts.length === 0
      ? empty()
      : table(
          [
            { header: 'Host', cell: (r) => code(r.host) },
            { header: 'CPU avg', numeric: true, cell: (r) => usage(r.cpuAvg) },
            { header: 'CPU max', numeric: true, cell: (r) => usage(r.cpuMax) },
            { header: 'Memory avg', numeric: true, cell: (r) => usage(r.memoryAvg) },
            { header: 'Memory max', numeric: true, cell: (r) => usage(r.memoryMax) },
            { header: 'Disk avg', numeric: true, cell: (r) => usage(r.diskAvg) },
            { header: 'Disk max', numeric: true, cell: (r) => usage(r.diskMax) },
          ],
          [...s.hosts].sort((a, b) => a.host.localeCompare(b.host)),
        ),
  );
  if (layout.variant === 'standalone') {
    const { granularity, series } = s.timeSeries;
    const size = { width: layout.chartWidth, height: 260 };
    for (const metric of ['cpu', 'memory'] as const) {
      const label = metric === 'cpu' ? 'CPU' : 'Memory';
      const withData = series.filter((x) => x.points.some((pt) => pt[metric] !== null)).length;
      const note =
        withData > MAX_HOSTS_PER_CHART
          ? `The ${MAX_HOSTS_PER_CHART} hosts with the highest peak of ${withData}; all are in the table.`
          : undefined;
      parts.push(figure(`${label} use per host (%, average per ${granularity === 'HOUR' ? 'hour' : 'day'})`, hostMetricChart(series, metric, granularity, data.timeZone, size, `c-${metric}`), note));
    }
  }
  return section('system', 'System', intro, parts.join('\n'));
}

function alertsSection(data: ReportData): string {
  const rules = data.alerts?.byRule ?? [];
  const intro = 'Alerts fired and resolved in the period, by rule.';
  if (rules.length === 0) return section('alerts', 'Alerts', intro, empty());
  const sorted = [...rules].sort((a, b) => b.fired - a.fired || a.rule.localeCompare(b.rule));
  const fired = rules.reduce((n, r) => n + r.fired, 0);
  const resolved = rules.reduce((n, r) => n + r.resolved, 0);
  return section(
    'alerts',
    'Alerts',
    intro,
    table(
      [
        { header: 'Rule', cell: (r) => escapeHtml(r.rule) },
        { header: 'Fired', numeric: true, cell: (r) => `<strong style="color:${r.fired > 0 ? C.bad : C.text};">${escapeHtml(formatCount(r.fired))}</strong>` },
        { header: 'Resolved', numeric: true, cell: (r) => escapeHtml(formatCount(r.resolved)) },
      ],
      sorted,
      `<tfoot><tr><td style="${S.td}font-weight:600;">Total</td><td style="${S.td}${NUM}font-weight:600;">${escapeHtml(formatCount(fired))}</td><td style="${S.td}${NUM}font-weight:600;">${escapeHtml(formatCount(resolved))}</td></tr></tfoot>`,
    ),
  );
}

function footer(data: ReportData): string {
  return `<footer style="margin-top:28px;padding-top:12px;border-top:1px solid ${C.border};color:${C.faint};font-size:11px;">
Insights · report ${escapeHtml(data.id)} · generated ${escapeHtml(formatDateTime(data.generatedAt, data.timeZone))} · all times in ${escapeHtml(data.timeZone)}
</footer>`;
}

// -------------------------------------------------------------------------------------------------- entry

/** The report as one standalone HTML document (see the module comment for the variants). */
export function renderHtml(data: ReportData, options: RenderHtmlOptions = {}): string {
  const variant = options.variant ?? 'standalone';
  const layout: Layout =
    variant === 'email'
      ? { variant, width: 680, chartWidth: 620, cardColumns: 2 }
      : { variant, width: 1000, chartWidth: 940, cardColumns: 4 };
  const sections = [
    usersSection(data),
    projectsSection(data),
    activitiesSection(data, layout),
    performanceSection(data, layout),
    systemSection(data, layout),
  ];
  if (data.alerts) sections.push(alertsSection(data));
  const title = escapeHtml(reportTitle(data));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light only">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="Insights report renderer">
<title>${title}</title>
<style>${STYLE_BLOCK}
</style>
</head>
<body style="${S.body}">
<div class="page" style="max-width:${layout.width}px;margin:0 auto;padding:24px 30px 32px;background:#ffffff;">
${header(data, layout, options.attachmentNote)}
${summarySection(data, layout)}
${sections.join('\n')}
${footer(data)}
</div>
</body>
</html>
`;
}
