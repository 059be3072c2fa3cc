/**
 * The report as CSV (RFC 4180: comma-separated, CRLF line ends, fields quoted when needed, written by
 * csv-stringify).
 *
 * Multi-table convention — one table per section, in this order, each made of:
 *   1. a row with ONE field: the table's name (see {@link CSV_TABLES}, e.g. `users`);
 *   2. the header row (snake_case column names; every table has at least two columns);
 *   3. zero or more data rows;
 *   4. one empty line before the next table.
 * So a reader splits on records with a single field: an empty one ends a table, a non-empty one names the
 * next. csv-parse reads the file with `relax_column_count: true` (tables differ in width).
 *
 * Cells: numbers as plain JSON numbers (ratios as shares 0–1, durations in ms, cpu/memory/disk in percent),
 * instants as ISO 8601 UTC, null as an empty cell, any object or array as its JSON text. Text from the data
 * that starts with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` so that spreadsheets do not run it as a
 * formula (OWASP "CSV injection"); turn that off with `{ neutralizeFormulas: false }`.
 * The `alerts` table is present only when the report has an alerts section.
 */
import { stringify } from 'csv-stringify/sync';

import { type MetricDef, PERFORMANCE_METRICS, PROJECT_METRICS, USER_METRICS } from './format.js';
import type { Change, ReportData } from './types.js';

export const CSV_TABLES = [
  'report',
  'users',
  'projects',
  'activities',
  'performance',
  'slowest_endpoints',
  'error_endpoints',
  'requests_timeseries',
  'hosts',
  'host_timeseries',
  'alerts',
] as const;
export type CsvTableName = (typeof CSV_TABLES)[number];

export interface RenderCsvOptions {
  /** Prefix text cells that a spreadsheet would take for a formula with `'` (default true). */
  neutralizeFormulas?: boolean;
}

export type CsvCell = string | number | boolean | null | undefined | object;

export interface CsvTable {
  name: CsvTableName | (string & {});
  header: string[];
  rows: CsvCell[][];
}

const METRIC_HEADER = ['metric', 'value', 'previous', 'change_absolute', 'change_relative'];

/** One row per figure, in the catalogue's order (not the data's key order). */
function metricRows(defs: readonly MetricDef[], data: ReportData): CsvCell[][] {
  return defs.map((d) => {
    const m = d.get(data);
    return [d.key, m.value, m.previous, m.change.absolute, m.change.relative];
  });
}

function changeCells(c: Change): CsvCell[] {
  return [c.absolute, c.relative];
}

/** The tables of the CSV, before serialisation (also what a test compares the parsed file with). */
export function csvTables(data: ReportData): CsvTable[] {
  const p = data.performance;
  const tables: CsvTable[] = [
    {
      name: 'report',
      header: ['field', 'value'],
      rows: [
        ['id', data.id],
        ['type', data.type],
        ['period_start', data.periodStart],
        ['period_end', data.periodEnd],
        ['time_zone', data.timeZone],
        ['generated_at', data.generatedAt],
      ],
    },
    { name: 'users', header: METRIC_HEADER, rows: metricRows(USER_METRICS, data) },
    { name: 'projects', header: METRIC_HEADER, rows: metricRows(PROJECT_METRICS, data) },
    {
      name: 'activities',
      header: ['type', 'count', 'previous', 'change_absolute', 'change_relative'],
      rows: data.activities.map((a) => [a.type, a.count, a.previous, ...changeCells(a.change)]),
    },
    {
      name: 'performance',
      header: METRIC_HEADER,
      rows: metricRows(PERFORMANCE_METRICS, data),
    },
    {
      name: 'slowest_endpoints',
      header: ['endpoint', 'requests', 'p95_ms', 'p99_ms', 'error_rate'],
      rows: p.slowestEndpoints.map((e) => [e.endpoint, e.requests, e.p95Ms, e.p99Ms, e.errorRate]),
    },
    {
      name: 'error_endpoints',
      header: ['endpoint', 'errors', 'requests', 'error_rate'],
      rows: p.topErrorEndpoints.map((e) => [e.endpoint, e.errors, e.requests, e.errorRate]),
    },
    {
      name: 'requests_timeseries',
      header: ['bucket_start', 'granularity', 'requests', 'error_rate'],
      rows: p.timeSeries.points.map((pt) => [pt.bucketStart, p.timeSeries.granularity, pt.requests, pt.errorRate]),
    },
    {
      name: 'hosts',
      header: ['host', 'cpu_avg', 'cpu_max', 'memory_avg', 'memory_max', 'disk_avg', 'disk_max'],
      rows: data.system.hosts.map((h) => [h.host, h.cpuAvg, h.cpuMax, h.memoryAvg, h.memoryMax, h.diskAvg, h.diskMax]),
    },
    {
      name: 'host_timeseries',
      header: ['host', 'bucket_start', 'granularity', 'cpu', 'memory'],
      rows: data.system.timeSeries.series.flatMap((s) =>
        s.points.map((pt) => [s.host, pt.bucketStart, data.system.timeSeries.granularity, pt.cpu, pt.memory]),
      ),
    },
  ];
  if (data.alerts) {
    tables.push({ name: 'alerts', header: ['rule', 'fired', 'resolved'], rows: data.alerts.byRule.map((r) => [r.rule, r.fired, r.resolved]) });
  }
  return tables;
}

const FORMULA_START = /^[=+\-@\t\r]/;

export function renderCsv(data: ReportData, options: RenderCsvOptions = {}): string {
  return stringifyTables(csvTables(data), options);
}

/** Writes tables with the multi-table convention of this module. */
export function stringifyTables(tables: readonly CsvTable[], options: RenderCsvOptions = {}): string {
  const neutralize = options.neutralizeFormulas ?? true;
  const stringOut = (value: string) => (neutralize && FORMULA_START.test(value) ? `'${value}` : value);
  const write = (records: CsvCell[][]) =>
    stringify(records, {
      record_delimiter: 'windows',
      cast: {
        string: stringOut,
        number: (n) => (Number.isFinite(n) ? String(n) : ''),
        boolean: (b) => (b ? 'true' : 'false'),
        object: (o) => stringOut(JSON.stringify(o)),
        date: (d) => d.toISOString(),
      },
    });
  return tables
    .map((t) => write([[t.name], t.header, ...t.rows]))
    .join('\r\n');
}
