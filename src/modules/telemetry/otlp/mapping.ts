import type { JsonObject, JsonValue } from '../../../core/json.js';
import type { MetricFamily, MetricTypeName } from '../../../core/records.js';
import type {
  AnyValue,
  ExportMetricsRequest,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  KeyValue,
  NumberDataPoint,
  OtlpMetric,
  SummaryDataPoint,
  Temporality,
} from './codec.js';
import { explicitBuckets, exponentialBuckets, histogramQuantiles } from './quantiles.js';

// How OTLP metric points become Insights records (README "OpenTelemetry and Prometheus" has the table):
//
// - family: `system.*` metrics (the host-metrics semantic conventions) are system metrics; HTTP and RPC
//   duration histograms (`http.server.*`, `http.client.*`, `rpc.server.*`, `rpc.client.*` in a time unit) are
//   performance metrics in milliseconds; everything else is an application metric of the resource's service.
// - type: gauges are GAUGE; delta sums are COUNTER (Insights sums counters over time, which only deltas allow);
//   cumulative sums are running totals, hence GAUGE; histograms and summaries become one SUMMARY record per
//   stored percentile, tagged `quantile`, each carrying the whole distribution (buckets, count, sum, min, max)
//   in `dimensions` (`metadata` for application metrics), so any percentile can be recomputed later.
// - tags: resource attributes, then scope name, then point attributes (which win on a clash), with the keys
//   Insights' dashboards and rollups group by renamed: host.name → host, service.name → app,
//   deployment.environment(.name) → environment, http.route → endpoint, http.request.method / http.method →
//   method. The SDK's own `telemetry.*` attributes and the `process.*` ones (pid, command line, runtime: noise
//   per process, and command lines may hold secrets) are left out.

/** One OTLP data point's records: they are accepted or refused together. */
export interface PointRecords {
  /** Where the point is in the request, for refusal messages. */
  where: string;
  family: MetricFamily;
  records: Record<string, unknown>[];
}

const RENAMED_RESOURCE_KEYS: Record<string, string> = {
  'host.name': 'host',
  'service.name': 'app',
  'deployment.environment.name': 'environment',
  'deployment.environment': 'environment',
};
const RENAMED_POINT_KEYS: Record<string, string> = {
  'http.route': 'endpoint',
  'http.request.method': 'method',
  'http.method': 'method',
};
const LEFT_OUT_RESOURCE_PREFIXES = ['telemetry.', 'process.'];
const STATUS_CODE_KEYS = ['http.response.status_code', 'http.status_code'];

/** The OTel SDKs' default service name, used when a resource names none. */
export const UNKNOWN_SERVICE = 'unknown_service';

const PERFORMANCE_NAME = /^(http|rpc)\.(server|client)\./;
const TO_MILLISECONDS: Record<string, number> = { s: 1000, ms: 1, us: 0.001, ns: 0.000001 };

/** Attribute values nested deeper than this (arrays of maps of arrays…) are cut there. */
const MAX_VALUE_DEPTH = 16;

function plainValue(value: AnyValue | undefined, depth = 0): JsonValue {
  if (!value?.value) return null;
  if (depth >= MAX_VALUE_DEPTH) return '(nested too deeply)';
  switch (value.value) {
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return value.boolValue ?? false;
    case 'intValue':
      return value.intValue ?? 0;
    case 'doubleValue':
      return value.doubleValue ?? 0;
    case 'bytesValue':
      return value.bytesValue ?? '';
    case 'arrayValue':
      return (value.arrayValue?.values ?? []).map((inner) => plainValue(inner, depth + 1));
    case 'kvlistValue':
      return Object.fromEntries((value.kvlistValue?.values ?? []).map((entry) => [entry.key, plainValue(entry.value, depth + 1)]));
  }
}

/** Tags are flat: arrays and maps are kept as their JSON text; non-finite numbers as text. */
function tagValue(value: AnyValue | undefined): string | number | boolean | null {
  const plain = plainValue(value);
  if (plain === null) return null;
  if (typeof plain === 'number') return Number.isFinite(plain) ? plain : String(plain);
  if (typeof plain === 'string' || typeof plain === 'boolean') return plain;
  return JSON.stringify(plain);
}

function addAttributes(tags: JsonObject, attributes: readonly KeyValue[], renamed: Record<string, string>, leftOut: readonly string[] = []) {
  for (const { key, value } of attributes) {
    if (leftOut.some((prefix) => key.startsWith(prefix))) continue;
    const tag = tagValue(value);
    if (tag === null) continue;
    tags[renamed[key] ?? key] = tag;
  }
}

const timestampOf = (nanos: number | undefined) => (nanos ? new Date(Math.floor(nanos / 1e6)) : undefined);
const isoOf = (nanos: number | undefined) => timestampOf(nanos)?.toISOString() ?? null;
const temporalityName = (temporality: Temporality | undefined) =>
  temporality === 1 ? 'delta' : temporality === 2 ? 'cumulative' : 'unspecified';

// DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK: the point marks a series' end (staleness), it has no value.
const hasNoValue = (point: { flags?: number }) => ((point.flags ?? 0) & 1) === 1;

interface Context {
  resourceTags: JsonObject;
  appName: string;
  scopeName: string | undefined;
}

function familyOf(metric: OtlpMetric): MetricFamily {
  const name = metric.name ?? '';
  if (name.startsWith('system.')) return 'systemMetrics';
  const distribution = metric.data === 'histogram' || metric.data === 'exponentialHistogram' || metric.data === 'summary';
  if (distribution && PERFORMANCE_NAME.test(name) && (metric.unit ?? '') in TO_MILLISECONDS) return 'performanceMetrics';
  return 'applicationMetrics';
}

/**
 * Every data point of the request as the records it becomes, in request order. Points without a value (the
 * NO_RECORDED_VALUE flag, or a histogram with no observation) become nothing: there is nothing to store.
 */
export function pointsOf(request: ExportMetricsRequest): { points: PointRecords[]; total: number } {
  const points: PointRecords[] = [];
  let total = 0;
  request.resourceMetrics.forEach((resourceMetrics, r) => {
    const resourceTags: JsonObject = {};
    addAttributes(resourceTags, resourceMetrics.resource?.attributes ?? [], RENAMED_RESOURCE_KEYS, LEFT_OUT_RESOURCE_PREFIXES);
    const service = resourceTags.app;
    const appName = typeof service === 'string' && service.length > 0 ? service : UNKNOWN_SERVICE;
    resourceMetrics.scopeMetrics.forEach((scopeMetrics, s) => {
      const context: Context = { resourceTags, appName, scopeName: scopeMetrics.scope?.name || undefined };
      scopeMetrics.metrics.forEach((metric, m) => {
        const family = familyOf(metric);
        const dataPoints = dataPointsOf(metric);
        total += dataPoints.length;
        dataPoints.forEach((point, p) => {
          const records = recordsOf(metric, point, family, context);
          if (records.length === 0) return;
          points.push({
            where: `resourceMetrics[${r}].scopeMetrics[${s}].metrics[${m}] (${JSON.stringify(metric.name ?? '')}) dataPoints[${p}]`,
            family,
            records,
          });
        });
      });
    });
  });
  return { points, total };
}

type AnyPoint = NumberDataPoint | HistogramDataPoint | ExponentialHistogramDataPoint | SummaryDataPoint;

function dataPointsOf(metric: OtlpMetric): AnyPoint[] {
  switch (metric.data) {
    case 'gauge':
      return metric.gauge?.dataPoints ?? [];
    case 'sum':
      return metric.sum?.dataPoints ?? [];
    case 'histogram':
      return metric.histogram?.dataPoints ?? [];
    case 'exponentialHistogram':
      return metric.exponentialHistogram?.dataPoints ?? [];
    case 'summary':
      return metric.summary?.dataPoints ?? [];
    default:
      return [];
  }
}

function recordsOf(metric: OtlpMetric, point: AnyPoint, family: MetricFamily, context: Context): Record<string, unknown>[] {
  if (hasNoValue(point)) return [];
  const tags: JsonObject = { ...context.resourceTags };
  if (context.scopeName) tags['otel.scope'] = context.scopeName;
  addAttributes(tags, point.attributes, RENAMED_POINT_KEYS);
  const base = {
    metricName: metric.name,
    unit: metric.unit || undefined,
    tags,
    timestamp: timestampOf(point.timeUnixNano),
  };
  const detailsField = family === 'applicationMetrics' ? 'metadata' : 'dimensions';
  const familyFields: Record<string, unknown> = family === 'applicationMetrics' ? { appName: context.appName } : {};

  if (metric.data === 'gauge' || metric.data === 'sum') {
    const number = point as NumberDataPoint;
    const value = number.value === 'asInt' ? number.asInt : number.asDouble;
    const sum = metric.sum;
    const metricType: MetricTypeName = metric.data === 'sum' && sum?.aggregationTemporality === 1 ? 'COUNTER' : 'GAUGE';
    const details = sum
      ? {
          otel: 'sum',
          temporality: temporalityName(sum.aggregationTemporality),
          monotonic: sum.isMonotonic ?? false,
          startTime: isoOf(point.startTimeUnixNano),
        }
      : undefined;
    return [{ ...base, ...familyFields, metricType, value, [detailsField]: details }];
  }

  const distribution = distributionOf(metric, point);
  if (!distribution) return [];
  const toMs = family === 'performanceMetrics' ? (TO_MILLISECONDS[metric.unit ?? ''] ?? 1) : 1;
  const performance = family === 'performanceMetrics' ? { statusCode: statusCodeOf(tags) } : {};
  return distribution.quantiles.map(({ quantile, value }) => {
    const scaled = value * toMs;
    return {
      ...base,
      ...familyFields,
      ...performance,
      ...(family === 'performanceMetrics' ? { unit: 'ms', responseTimeMs: scaled } : {}),
      metricType: 'SUMMARY',
      value: scaled,
      tags: { ...tags, quantile: String(quantile) },
      [detailsField]: { ...distribution.details, quantile },
    };
  });
}

function statusCodeOf(tags: JsonObject): number | undefined {
  for (const key of STATUS_CODE_KEYS) {
    const value = tags[key];
    const code = typeof value === 'string' ? Number(value) : value;
    if (typeof code === 'number' && Number.isInteger(code) && code >= 100 && code <= 599) return code;
  }
  return undefined;
}

/** A distribution's stored percentiles and what is kept of it beside them (JSON-safe: finite numbers only). */
function distributionOf(metric: OtlpMetric, point: AnyPoint): { quantiles: { quantile: number; value: number }[]; details: JsonObject } | null {
  const finite = (value: number | undefined) => (value !== undefined && Number.isFinite(value) ? value : null);
  const common = (p: { count?: number; sum?: number; startTimeUnixNano?: number }): JsonObject => ({
    otel: metric.data ?? null,
    count: p.count ?? 0,
    sum: finite(p.sum),
    startTime: isoOf(p.startTimeUnixNano),
  });
  const bounded = (p: HistogramDataPoint | ExponentialHistogramDataPoint, temporality: Temporality | undefined): JsonObject => ({
    ...common(p),
    temporality: temporalityName(temporality),
    min: finite(p.min),
    max: finite(p.max),
  });
  if (metric.data === 'histogram') {
    const histogram = point as HistogramDataPoint;
    const quantiles = histogramQuantiles(explicitBuckets(histogram), histogram);
    if (!quantiles) return null;
    return {
      quantiles,
      details: {
        ...bounded(histogram, metric.histogram?.aggregationTemporality),
        explicitBounds: histogram.explicitBounds.map((bound) => finite(bound)),
        bucketCounts: histogram.bucketCounts,
      },
    };
  }
  if (metric.data === 'exponentialHistogram') {
    const histogram = point as ExponentialHistogramDataPoint;
    const quantiles = histogramQuantiles(exponentialBuckets(histogram), histogram);
    if (!quantiles) return null;
    return {
      quantiles,
      details: {
        ...bounded(histogram, metric.exponentialHistogram?.aggregationTemporality),
        scale: histogram.scale ?? 0,
        zeroCount: histogram.zeroCount ?? 0,
        zeroThreshold: histogram.zeroThreshold ?? 0,
        positive: { offset: histogram.positive?.offset ?? 0, bucketCounts: histogram.positive?.bucketCounts ?? [] },
        negative: { offset: histogram.negative?.offset ?? 0, bucketCounts: histogram.negative?.bucketCounts ?? [] },
      },
    };
  }
  const summary = point as SummaryDataPoint;
  if (summary.quantileValues.length === 0) return null;
  return {
    quantiles: summary.quantileValues.map((entry) => ({ quantile: entry.quantile ?? 0, value: entry.value ?? Number.NaN })),
    details: { ...common(summary), quantileValues: summary.quantileValues.map((entry) => ({ quantile: entry.quantile ?? 0, value: finite(entry.value) })) },
  };
}
