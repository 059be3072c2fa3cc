/**
 * Charts as inline SVG, drawn on the server by Apache ECharts' server-side SVG renderer (no browser, no DOM).
 *
 * Every function returns the `<svg>` markup, or null when there is nothing to draw (the caller then shows
 * "No data for this period" instead of an empty chart). ECharts escapes the text it draws (axis labels,
 * legend entries), so hostnames or activity types holding markup come out as text.
 */
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

import { bucketLabel, escapeHtml, formatCount, spansSeveralDays } from './format.js';
import type { ActivityTypeRow, Granularity, HostSeries, RequestsPoint } from './types.js';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, SVGRenderer]);

export interface ChartSize {
  width: number;
  height: number;
}

export const FONT_FAMILY =
  "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Liberation Sans', sans-serif";

/** Colours of the report (also used by the HTML), readable on white and in print. */
export const PALETTE = ['#2563eb', '#0d9488', '#d97706', '#7c3aed', '#db2777', '#0891b2', '#65a30d', '#dc2626', '#4b5563', '#9333ea'];
const ACCENT = '#2563eb';
const TEXT = '#475569';
const GRID_LINE = '#e2e8f0';
const AXIS_LINE = '#cbd5e1';
const ERROR_COLOUR = '#dc2626';
const PREVIOUS_COLOUR = '#cbd5e1';

/** At most this many lines in a per-host chart; the busiest hosts are kept. */
export const MAX_HOSTS_PER_CHART = 8;
/** At most this many bars in the activity chart; the largest counts are kept. */
export const MAX_ACTIVITY_BARS = 15;

let chartCounter = 0;

/**
 * Renders one ECharts option to an SVG string. The instance is always disposed. Element ids and classes are
 * renamed from ECharts' process-wide counters (`zr12-cls-140`) to `<idPrefix>-cls-0`…, so that the output
 * does not depend on how many charts the process drew before (same data, same bytes), and ids stay unique
 * when several charts share one HTML page.
 */
export function renderChartSvg(option: echarts.EChartsCoreOption, size: ChartSize, ariaLabel: string, idPrefix?: string): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height });
  try {
    chart.setOption({
      animation: false,
      backgroundColor: 'transparent',
      textStyle: { fontFamily: FONT_FAMILY, color: TEXT },
      ...option,
    });
    const prefix = idPrefix ?? `chart${++chartCounter}`;
    // ECharts numbers ids and classes (`zr3-c0`, `zr3-cls-141`) from counters shared by the whole process;
    // renumber them per chart, in order of first appearance.
    const renumbered = new Map<string, string>();
    const perKind = new Map<string, number>();
    const rename = (token: string, kind: string) => {
      let name = renumbered.get(token);
      if (name === undefined) {
        const n = perKind.get(kind) ?? 0;
        perKind.set(kind, n + 1);
        name = `${prefix}-${kind}${n}`;
        renumbered.set(token, name);
      }
      return name;
    };
    // Only inside tags and the <style> block: text drawn from the data (a host named `zr1-db2`) stays as is.
    return chart
      .renderToSVGString()
      .replace(/<style[\s\S]*?<\/style>|<[^>]*>/g, (markup) => markup.replace(/\bzr\d+-([a-z]+-?)(\d+)\b/g, rename))
      .replace(/^<svg /, `<svg role="img" aria-label="${escapeHtml(ariaLabel)}" `);
  } finally {
    chart.dispose();
  }
}

const axisCommon = {
  axisLine: { lineStyle: { color: AXIS_LINE } },
  axisTick: { lineStyle: { color: AXIS_LINE } },
  axisLabel: { color: TEXT, fontSize: 11 },
  splitLine: { lineStyle: { color: GRID_LINE } },
};

const legendCommon = {
  top: 0,
  left: 'center',
  itemWidth: 14,
  itemHeight: 8,
  textStyle: { color: TEXT, fontSize: 12 },
};

function pctAxisLabel(max: number): (v: number) => string {
  return (v: number) => `${Number((v * 100).toFixed(max < 0.1 ? 2 : 1))}%`;
}

/** Requests per bucket (bars, left axis) and error rate (line, right axis). */
export function requestsChart(
  points: readonly RequestsPoint[],
  granularity: Granularity,
  timeZone: string,
  size: ChartSize,
  idPrefix?: string,
): string | null {
  if (points.length === 0 || points.every((p) => p.requests === 0)) return null;
  const multiDay = spansSeveralDays(
    points.map((p) => p.bucketStart),
    timeZone,
  );
  const labels = points.map((p) => bucketLabel(p.bucketStart, timeZone, granularity, multiDay));
  const maxRate = Math.max(0, ...points.map((p) => p.errorRate ?? 0));
  const bucketWord = granularity === 'HOUR' ? 'hour' : 'day';
  return renderChartSvg(
    {
      color: [ACCENT, ERROR_COLOUR],
      legend: { ...legendCommon, data: [`Requests per ${bucketWord}`, 'Error rate'] },
      grid: { left: 8, right: 8, top: 36, bottom: 4, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
      xAxis: {
        type: 'category',
        data: labels,
        ...axisCommon,
        axisLabel: { ...axisCommon.axisLabel, hideOverlap: true },
        splitLine: { show: false },
      },
      yAxis: [
        {
          type: 'value',
          name: 'Requests',
          nameTextStyle: { color: TEXT, fontSize: 11, align: 'left' },
          minInterval: 1,
          ...axisCommon,
          axisLabel: { ...axisCommon.axisLabel, formatter: (v: number) => formatCount(v) },
        },
        {
          type: 'value',
          name: 'Error rate',
          nameTextStyle: { color: TEXT, fontSize: 11, align: 'right' },
          min: 0,
          max: maxRate === 0 ? 0.01 : undefined,
          ...axisCommon,
          splitLine: { show: false },
          axisLabel: { ...axisCommon.axisLabel, formatter: pctAxisLabel(maxRate) },
        },
      ],
      series: [
        {
          name: `Requests per ${bucketWord}`,
          type: 'bar',
          yAxisIndex: 0,
          data: points.map((p) => p.requests),
          barMaxWidth: 28,
          itemStyle: { borderRadius: [2, 2, 0, 0] },
        },
        {
          name: 'Error rate',
          type: 'line',
          yAxisIndex: 1,
          data: points.map((p) => p.errorRate ?? '-'),
          symbol: 'circle',
          symbolSize: 5,
          lineStyle: { width: 2 },
          connectNulls: false,
        },
      ],
    },
    size,
    `Requests and error rate per ${bucketWord}`,
    idPrefix,
  );
}

/** Activities by type, this period against the previous one, as horizontal bars (largest first). */
export function activitiesChart(rows: readonly ActivityTypeRow[], width: number, idPrefix?: string): string | null {
  const shown = [...rows].sort((a, b) => b.count - a.count).slice(0, MAX_ACTIVITY_BARS);
  if (shown.length === 0 || shown.every((r) => r.count === 0 && !r.previous)) return null;
  const hasPrevious = shown.some((r) => r.previous !== null);
  // Bars go bottom-up in a category axis: reverse so that the largest count is on top.
  const ordered = [...shown].reverse();
  const series: unknown[] = [
    {
      name: 'This period',
      type: 'bar',
      data: ordered.map((r) => r.count),
      barMaxWidth: 14,
      barGap: '15%',
      itemStyle: { color: ACCENT, borderRadius: [0, 2, 2, 0] },
      label: { show: true, position: 'right', color: TEXT, fontSize: 11, formatter: (p: { value: unknown }) => formatCount(typeof p.value === 'number' ? p.value : null) },
    },
  ];
  if (hasPrevious) {
    series.push({
      name: 'Previous period',
      type: 'bar',
      data: ordered.map((r) => r.previous ?? '-'),
      barMaxWidth: 14,
      itemStyle: { color: PREVIOUS_COLOUR, borderRadius: [0, 2, 2, 0] },
    });
  }
  const perRow = hasPrevious ? 34 : 26;
  return renderChartSvg(
    {
      legend: { ...legendCommon, data: hasPrevious ? ['This period', 'Previous period'] : ['This period'] },
      grid: { left: 8, right: 48, top: 32, bottom: 4, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
      xAxis: { type: 'value', minInterval: 1, ...axisCommon, axisLabel: { ...axisCommon.axisLabel, formatter: (v: number) => formatCount(v) } },
      yAxis: {
        type: 'category',
        data: ordered.map((r) => r.type),
        ...axisCommon,
        axisLabel: { ...axisCommon.axisLabel, fontSize: 12, width: Math.round(width * 0.3), overflow: 'truncate' },
        splitLine: { show: false },
      },
      series,
    },
    { width, height: 56 + perRow * shown.length },
    'Activities by type',
    idPrefix,
  );
}

/** The hosts a per-host chart keeps: those with the highest peak of the metric. */
export function hostsForChart(series: readonly HostSeries[], metric: 'cpu' | 'memory'): HostSeries[] {
  const peak = (s: HostSeries) => Math.max(-1, ...s.points.map((p) => p[metric] ?? -1));
  return series
    .filter((s) => s.points.some((p) => p[metric] !== null))
    .sort((a, b) => peak(b) - peak(a) || a.host.localeCompare(b.host))
    .slice(0, MAX_HOSTS_PER_CHART);
}

/** One line per host for cpu or memory use (percent, 0–100). */
export function hostMetricChart(
  series: readonly HostSeries[],
  metric: 'cpu' | 'memory',
  granularity: Granularity,
  timeZone: string,
  size: ChartSize,
  idPrefix?: string,
): string | null {
  // Colours follow the host (by name over every host), so a host has the same colour in every chart.
  const allHosts = [...new Set(series.map((s) => s.host))].sort();
  const colourOf = (host: string) => PALETTE[allHosts.indexOf(host) % PALETTE.length] ?? ACCENT;
  const shown = hostsForChart(series, metric).sort((a, b) => a.host.localeCompare(b.host));
  if (shown.length === 0) return null;
  // One shared time axis: the union of the buckets of every host, in order.
  const norm = (iso: string) => new Date(iso).toISOString();
  const buckets = [...new Set(shown.flatMap((s) => s.points.map((p) => norm(p.bucketStart))))].sort();
  const multiDay = spansSeveralDays(buckets, timeZone);
  const label = metric === 'cpu' ? 'CPU' : 'Memory';
  return renderChartSvg(
    {
      color: shown.map((s) => colourOf(s.host)),
      legend: { ...legendCommon, data: shown.map((s) => s.host), type: 'plain' },
      grid: { left: 8, right: 16, top: 36 + 18 * Math.floor((shown.length - 1) / 4), bottom: 4, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
      xAxis: {
        type: 'category',
        boundaryGap: false,
        data: buckets.map((b) => bucketLabel(b, timeZone, granularity, multiDay)),
        ...axisCommon,
        axisLabel: { ...axisCommon.axisLabel, hideOverlap: true },
        splitLine: { show: false },
      },
      yAxis: { type: 'value', min: 0, max: 100, interval: 25, ...axisCommon, axisLabel: { ...axisCommon.axisLabel, formatter: '{value}%' } },
      series: shown.map((s) => {
        const byBucket = new Map(s.points.map((p) => [norm(p.bucketStart), p[metric]]));
        return {
          name: s.host,
          type: 'line',
          showSymbol: false,
          lineStyle: { width: 2 },
          data: buckets.map((b) => byBucket.get(b) ?? '-'),
        };
      }),
    },
    size,
    `${label} use per host`,
    idPrefix,
  );
}
