/** The report as plain text: the e-mail's text alternative, with every figure of the HTML (not the charts). */
import {
  bucketLabel,
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
  USER_METRICS,
} from './format.js';
import type { ReportData } from './types.js';

const NO_DATA = '  No data for this period';

/** Left-aligns the first column and right-aligns the others. */
function columns(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('   ')}`.trimEnd();
  return [line(header), `  ${widths.map((w) => '-'.repeat(w)).join('   ')}`, ...rows.map(line)];
}

function metricLines(defs: readonly MetricDef[], data: ReportData): string[] {
  const prev = previousWord(data.type);
  return columns(
    ['Metric', 'This period', prev.charAt(0).toUpperCase() + prev.slice(1), 'Change', 'Change %'],
    defs.map((d) => {
      const m = d.get(data);
      return [d.label, formatValue(d.kind, m.value), formatValue(d.kind, m.previous), formatAbsoluteChange(d.kind, m.change.absolute), formatRelativeChange(m.change)];
    }),
  );
}

function heading(title: string): string[] {
  return ['', title.toUpperCase(), ''];
}

export function renderText(data: ReportData): string {
  const p = data.performance;
  const out: string[] = [
    reportTitle(data),
    '',
    `${periodLongLabel(data)} (${data.timeZone})`,
    `Period: ${formatDateTime(data.periodStart, data.timeZone)} to ${formatDateTime(data.periodEnd, data.timeZone)} (${data.timeZone}), compared with the ${previousWord(data.type)}.`,
    `Report ${data.id}, generated ${formatDateTime(data.generatedAt, data.timeZone)}.`,
  ];

  out.push(...heading('Users'), ...metricLines(USER_METRICS, data));
  out.push(...heading('Projects'), ...metricLines(PROJECT_METRICS, data));

  out.push(...heading('Activity by type'));
  if (data.activities.length === 0) out.push(NO_DATA);
  else
    out.push(
      ...columns(
        ['Type', 'Count', 'Previous', 'Change', 'Change %'],
        [...data.activities]
          .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type))
          .map((a) => [a.type, formatCount(a.count), formatCount(a.previous), formatAbsoluteChange('count', a.change.absolute), formatRelativeChange(a.change)]),
      ),
    );

  out.push(...heading('Performance'), ...metricLines(PERFORMANCE_METRICS, data));
  const bucketWord = p.timeSeries.granularity === 'HOUR' ? 'hour' : 'day';
  out.push('', `  Requests and error rate per ${bucketWord}:`, '');
  if (!p.timeSeries.points.some((pt) => pt.requests > 0)) out.push(NO_DATA);
  else {
    const multiDay = spansSeveralDays(
      p.timeSeries.points.map((pt) => pt.bucketStart),
      data.timeZone,
    );
    out.push(
      ...columns(
        [bucketWord === 'hour' ? 'Hour' : 'Day', 'Requests', 'Error rate'],
        p.timeSeries.points.map((pt) => [bucketLabel(pt.bucketStart, data.timeZone, p.timeSeries.granularity, multiDay), formatCount(pt.requests), formatPercent(pt.errorRate)]),
      ),
    );
  }
  out.push('', '  Slowest endpoints (by p95):', '');
  if (p.slowestEndpoints.length === 0) out.push(NO_DATA);
  else
    out.push(
      ...columns(
        ['Endpoint', 'Requests', 'p95', 'p99', 'Error rate'],
        p.slowestEndpoints.map((e) => [e.endpoint, formatCount(e.requests), formatMs(e.p95Ms), formatMs(e.p99Ms), formatPercent(e.errorRate)]),
      ),
    );
  out.push('', '  Endpoints with the most errors:', '');
  if (p.topErrorEndpoints.length === 0) out.push(NO_DATA);
  else
    out.push(
      ...columns(
        ['Endpoint', 'Errors', 'Requests', 'Error rate'],
        p.topErrorEndpoints.map((e) => [e.endpoint, formatCount(e.errors), formatCount(e.requests), formatPercent(e.errorRate)]),
      ),
    );

  out.push(...heading('System'));
  if (data.system.hosts.length === 0) out.push(NO_DATA);
  else
    out.push(
      ...columns(
        ['Host', 'CPU avg', 'CPU max', 'Mem avg', 'Mem max', 'Disk avg', 'Disk max'],
        [...data.system.hosts]
          .sort((a, b) => a.host.localeCompare(b.host))
          .map((h) => [h.host, ...[h.cpuAvg, h.cpuMax, h.memoryAvg, h.memoryMax, h.diskAvg, h.diskMax].map(formatPct100)]),
      ),
    );

  if (data.alerts) {
    out.push(...heading('Alerts'));
    if (data.alerts.byRule.length === 0) out.push(NO_DATA);
    else
      out.push(
        ...columns(
          ['Rule', 'Fired', 'Resolved'],
          [...data.alerts.byRule].sort((a, b) => b.fired - a.fired || a.rule.localeCompare(b.rule)).map((r) => [r.rule, formatCount(r.fired), formatCount(r.resolved)]),
        ),
      );
  }
  out.push('', '--', 'Insights');
  return `${out.join('\n')}\n`;
}
