import { gzipSync } from 'node:zlib';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { AggregationTemporalityPreference, OTLPMetricExporter as OTLPJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/gql.js';
import { createKey } from './support/keys.js';
import { observationCount, sampleValue, scrape } from './support/prometheus.js';
import { MAX_OPERATION_NAMES } from '../src/modules/telemetry/selfMetrics.js';
import { ADMIN_KEY, BACKENDS, startTestServer, type TestServer } from './support/server.js';
import { connectSubscriptions } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

const METRICS_TOKEN = 'scrape-token-0123456789abcdefghijkl';

const ApplicationMetrics = graphql(`
  query OtelApplicationMetrics($filter: ApplicationMetricFilter) {
    applicationMetrics(filter: $filter, first: 100) {
      totalCount
      edges { node { appName metricName metricType value unit tags metadata timestamp } }
    }
  }
`);
const SystemMetrics = graphql(`
  query OtelSystemMetrics($filter: SystemMetricFilter) {
    systemMetrics(filter: $filter, first: 100) { edges { node { metricName metricType value unit tags } } }
  }
`);
const PerformanceMetrics = graphql(`
  query OtelPerformanceMetrics($filter: PerformanceMetricFilter) {
    performanceMetrics(filter: $filter, first: 100) {
      edges { node { metricName metricType value unit responseTimeMs statusCode tags dimensions } }
    }
  }
`);
const Trends = graphql(`
  query OtelTrends($filter: PerformanceMetricFilter) {
    performanceTrends(filter: $filter, interval: HOUR) { count avg }
  }
`);

/** Warnings the OpenTelemetry SDK logs (it reports partial_success and failed exports there). */
const sdkWarnings: string[] = [];
diag.setLogger(
  {
    error: (...args: unknown[]) => sdkWarnings.push(args.map(String).join(' ')),
    warn: (...args: unknown[]) => sdkWarnings.push(args.map(String).join(' ')),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  },
  DiagLogLevel.WARN,
);

/** An application instrumented with the official SDK, exporting to the server with delta temporality. */
function instrumentedApp(url: string, key: string, protocol: 'json' | 'protobuf', resource: Record<string, string>, views: ViewOptions[] = []) {
  const options = {
    url: `${url}/v1/metrics`,
    headers: { authorization: `Bearer ${key}` },
    temporalityPreference: AggregationTemporalityPreference.DELTA,
  };
  const exporter = protocol === 'json' ? new OTLPJsonExporter(options) : new OTLPProtoExporter(options);
  // Exports happen when the test flushes; the interval only has to be longer than a test.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes(resource), readers: [reader], views });
  return { meter: provider.getMeter('shop'), flush: () => reader.forceFlush(), shutdown: () => provider.shutdown() };
}

async function postOtlp(url: string, body: string | Buffer, headers: Record<string, string>) {
  const response = await fetch(`${url}/v1/metrics`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]) });
  return { status: response.status, contentType: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
}

const nowNanos = () => String(BigInt(Date.now()) * 1_000_000n);

/** An OTLP/JSON export request of gauges `name` (one point per value) for service `service`. */
function jsonExport(service: string, points: { name: string; value: number | string }[]) {
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeMetrics: [
          {
            scope: { name: 'raw' },
            metrics: points.map(({ name, value }) => ({
              name,
              unit: '1',
              gauge: { dataPoints: [{ timeUnixNano: nowNanos(), asDouble: value }] },
            })),
          },
        ],
      },
    ],
  });
}

describe.each(BACKENDS)('OpenTelemetry ingestion and Prometheus metrics on %s', (backend) => {
  let server: TestServer;
  let ingestKey: string;
  let readKey: string;
  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'telemetry', env: { INSIGHTS_METRICS_TOKEN: METRICS_TOKEN } });
    ingestKey = (await createKey(server.app.services, { name: 'otel exporter', scopes: ['INGEST'] })).key;
    readKey = (await createKey(server.app.services, { name: 'dashboard', scopes: ['READ'] })).key;
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it.each(['json', 'protobuf'] as const)('stores what the OpenTelemetry SDK exports over OTLP/HTTP %s, queryable over GraphQL', async (protocol) => {
    const service = `checkout-${protocol}`;
    const live = connectSubscriptions(server.url);
    await live.connected;
    const stream = live.subscribe<{ metricRecorded: { metricName: string; tags: Record<string, unknown> } }>(
      `subscription Live($filter: MetricStreamFilter) { metricRecorded(filter: $filter) { metricName tags } }`,
      { filter: { kinds: ['APPLICATION'], appName: service, metricNames: ['orders.placed'] } },
    );
    // A subscription is live once the server has answered something on the socket; a query round trip ensures it.
    await server.query(SystemMetrics, { filter: { host: 'nobody' } });

    const app = instrumentedApp(server.url, ingestKey, protocol, {
      'service.name': service,
      'host.name': 'web-1',
      'deployment.environment.name': 'staging',
    });
    const orders = app.meter.createCounter('orders.placed', { unit: '{order}' });
    orders.add(3, { region: 'eu' });
    orders.add(2, { region: 'eu' });
    app.meter.createGauge('queue.depth').record(17, { queue: 'emails' });
    app.meter
      .createObservableGauge('system.memory.usage', { unit: 'By' })
      .addCallback((result) => result.observe(123_456_789, { 'system.memory.state': 'used' }));
    const duration = app.meter.createHistogram('http.server.request.duration', {
      unit: 's',
      advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 0.75, 1] },
    });
    // 0.01 s … 1.00 s, evenly: the true median is 0.5 s, the 95th percentile 0.95 s, the 99th 0.99 s.
    for (let i = 1; i <= 100; i += 1) {
      duration.record(i / 100, { 'http.route': '/api/orders/:id', 'http.request.method': 'GET', 'http.response.status_code': 200 });
    }
    await app.flush();
    await app.shutdown();

    const application = await server.query(ApplicationMetrics, { filter: { appName: service } });
    const byName = new Map(application.applicationMetrics.edges.map(({ node }) => [node.metricName, node]));
    expect(byName.get('orders.placed')).toMatchObject({
      appName: service,
      metricType: 'COUNTER',
      value: 5,
      unit: '{order}',
      tags: { app: service, host: 'web-1', environment: 'staging', region: 'eu', 'otel.scope': 'shop' },
      metadata: { otel: 'sum', temporality: 'delta', monotonic: true },
    });
    expect(byName.get('queue.depth')).toMatchObject({ metricType: 'GAUGE', value: 17, tags: { queue: 'emails', app: service } });
    // The SDK's own resource attributes (telemetry.sdk.*) are not tags.
    expect(Object.keys(byName.get('queue.depth')?.tags as object).some((key) => key.startsWith('telemetry.'))).toBe(false);

    const system = await server.query(SystemMetrics, { filter: { host: 'web-1', metricName: 'system.memory.usage', tags: { app: service } } });
    // Observed at each collection: the flush and the shutdown each export one point.
    expect(system.systemMetrics.edges.length).toBeGreaterThanOrEqual(1);
    for (const { node } of system.systemMetrics.edges) {
      expect(node).toMatchObject({ metricType: 'GAUGE', value: 123_456_789, unit: 'By', tags: { 'system.memory.state': 'used' } });
    }

    const performance = await server.query(PerformanceMetrics, { filter: { metricName: 'http.server.request.duration', tags: { app: service } } });
    const quantiles = new Map(performance.performanceMetrics.edges.map(({ node }) => [(node.tags as { quantile: string }).quantile, node]));
    expect([...quantiles.keys()].sort()).toEqual(['0.5', '0.9', '0.95', '0.99']);
    expect(quantiles.get('0.5')?.responseTimeMs).toBeCloseTo(500, 6);
    expect(quantiles.get('0.95')?.responseTimeMs).toBeCloseTo(950, 6);
    expect(quantiles.get('0.99')?.responseTimeMs).toBeCloseTo(990, 6);
    expect(quantiles.get('0.95')).toMatchObject({
      metricType: 'SUMMARY',
      unit: 'ms',
      statusCode: 200,
      tags: { endpoint: '/api/orders/:id', method: 'GET', host: 'web-1' },
      dimensions: { otel: 'histogram', count: 100, min: 0.01, max: 1, explicitBounds: [0.05, 0.1, 0.25, 0.5, 0.75, 1], quantile: 0.95 },
    });
    expect((quantiles.get('0.95')?.dimensions as { bucketCounts: number[] }).bucketCounts).toEqual([5, 5, 15, 25, 25, 25, 0]);
    // The analytics read them like any performance record: the p95 series of the endpoint.
    const trends = await server.query(Trends, { filter: { metricName: 'http.server.request.duration', tags: { app: service, quantile: '0.95' } } });
    expect(trends.performanceTrends).toEqual([expect.objectContaining({ count: 1 })]);
    expect(trends.performanceTrends[0]?.avg).toBeCloseTo(950, 6);

    // Written through the records' ingest path: live subscribers hear of it.
    const [event] = await stream.waitFor(1);
    expect(event?.metricRecorded).toMatchObject({ metricName: 'orders.placed', tags: { app: service } });
    await live.dispose();
  });

  it.each(['json', 'protobuf'] as const)('reports refused points in partial_success to the SDK (%s) and stores the others', async (protocol) => {
    const service = `partial-${protocol}`;
    sdkWarnings.length = 0;
    const app = instrumentedApp(server.url, ingestKey, protocol, { 'service.name': service });
    // A valid OpenTelemetry name (up to 255 characters) that is longer than record names may be (100).
    const longName = `orders.${'x'.repeat(120)}`;
    app.meter.createCounter(longName).add(1);
    app.meter.createCounter('orders.ok').add(1);
    await app.flush();
    await app.shutdown();
    const partial = sdkWarnings.find((warning) => warning.includes('Partial Success'));
    expect(partial).toBeDefined();
    const reported = JSON.parse(partial?.slice(partial.indexOf('{')) ?? '{}') as { rejectedDataPoints: string | number; errorMessage: string };
    expect(Number(reported.rejectedDataPoints)).toBe(1);
    expect(reported.errorMessage).toContain(`"${longName}"`);
    expect(reported.errorMessage).toContain('metricName must be at most 100 characters');
    const stored = await server.query(ApplicationMetrics, { filter: { appName: service } });
    expect(stored.applicationMetrics.edges.map(({ node }) => node.metricName)).toEqual(['orders.ok']);
  });

  it('keeps the percentiles of exponential histograms (SDK view) and of summaries', async () => {
    const service = 'exponential';
    const app = instrumentedApp(server.url, ingestKey, 'protobuf', { 'service.name': service }, [
      { instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
    ]);
    const sizes = app.meter.createHistogram('payload.size', { unit: 'By' });
    for (let i = 1; i <= 1000; i += 1) sizes.record(i);
    await app.flush();
    await app.shutdown();
    const stored = await server.query(ApplicationMetrics, { filter: { appName: service, metricName: 'payload.size' } });
    const byQuantile = new Map(stored.applicationMetrics.edges.map(({ node }) => [(node.tags as { quantile: string }).quantile, node]));
    // 160 buckets over 1…1000 give a scale of 4 (buckets 4.4 % wide): each estimate is within that of the truth.
    for (const [quantile, truth] of [['0.5', 500], ['0.9', 900], ['0.95', 950], ['0.99', 990]] as const) {
      const value = byQuantile.get(quantile)?.value ?? Number.NaN;
      expect(Math.abs(value - truth) / truth, `p${Number(quantile) * 100}: ${value}`).toBeLessThan(0.045);
    }
    expect(byQuantile.get('0.5')).toMatchObject({ metricType: 'SUMMARY', unit: 'By', metadata: { otel: 'exponentialHistogram', count: 1000, sum: 500_500, min: 1, max: 1000 } });

    // Summaries (from Prometheus-style sources through a collector) carry their quantiles as they are.
    const summary = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'summaries' } }] },
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'rpc.server.duration',
                  unit: 'ms',
                  summary: {
                    dataPoints: [
                      {
                        timeUnixNano: nowNanos(),
                        count: '40',
                        sum: 2000,
                        quantileValues: [
                          { quantile: 0.5, value: 42 },
                          { quantile: 0.99, value: 180 },
                        ],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const answer = await postOtlp(server.url, summary, { 'content-type': 'application/json', authorization: `Bearer ${ingestKey}` });
    expect(answer.status).toBe(200);
    const performance = await server.query(PerformanceMetrics, { filter: { metricName: 'rpc.server.duration', tags: { app: 'summaries' } } });
    expect(
      performance.performanceMetrics.edges.map(({ node }) => [(node.tags as { quantile: string }).quantile, node.responseTimeMs]).sort(),
    ).toEqual([
      ['0.5', 42],
      ['0.99', 180],
    ]);
  });

  it('answers OTLP/JSON with partial_success as protobuf JSON, and stores a retried export once', async () => {
    const body = jsonExport('raw-json', [
      { name: 'good.one', value: 1 },
      { name: 'not.finite', value: 'NaN' },
      { name: 'good.two', value: 2 },
    ]);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${ingestKey}` };
    const first = await postOtlp(server.url, body, headers);
    expect(first.status).toBe(200);
    expect(first.contentType).toBe('application/json');
    const answer = JSON.parse(first.body.toString()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    // int64 as a decimal string, as protobuf's JSON mapping writes it.
    expect(answer.partialSuccess.rejectedDataPoints).toBe('1');
    expect(answer.partialSuccess.errorMessage).toMatch(/^1 of 3 data points refused: .*\("not\.finite"\).*value must be finite/);
    // An exporter's retry sends the same bytes: answered alike, stored once.
    const retry = await postOtlp(server.url, body, headers);
    expect(retry.status).toBe(200);
    expect(JSON.parse(retry.body.toString())).toEqual(answer);
    const stored = await server.query(ApplicationMetrics, { filter: { appName: 'raw-json' } });
    expect(stored.applicationMetrics.totalCount).toBe(2);

    // A fully accepted export has no partial_success; gzip bodies are read.
    const accepted = await postOtlp(server.url, gzipSync(jsonExport('raw-gzip', [{ name: 'zipped', value: 3 }])), { ...headers, 'content-encoding': 'gzip' });
    expect(accepted.status).toBe(200);
    expect(JSON.parse(accepted.body.toString())).toEqual({});
    expect((await server.query(ApplicationMetrics, { filter: { appName: 'raw-gzip' } })).applicationMetrics.totalCount).toBe(1);
  });

  it('refuses bad bodies with 400 and a clear google.rpc.Status, and writes nothing', async () => {
    const auth = { authorization: `Bearer ${ingestKey}` };
    const notJson = await postOtlp(server.url, '{"resourceMetrics": [', { ...auth, 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body.toString())).toMatchObject({ code: 3, message: expect.stringContaining('not valid JSON') });

    const wrongShape = await postOtlp(server.url, JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x', gauge: 7 }] }] }] }), {
      ...auth,
      'content-type': 'application/json',
    });
    expect(wrongShape.status).toBe(400);
    expect(JSON.parse(wrongShape.body.toString()).message).toMatch(/Metric\.gauge: object expected/);

    const garbage = await postOtlp(server.url, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), { ...auth, 'content-type': 'application/x-protobuf' });
    expect(garbage.status).toBe(400);
    expect(garbage.contentType).toBe('application/x-protobuf');

    const badGzip = await postOtlp(server.url, Buffer.from('not gzip'), { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(badGzip.status).toBe(400);
    expect(JSON.parse(badGzip.body.toString()).message).toContain('could not be decompressed');

    // A small gzip body that inflates past the body limit (1 MiB) is refused without inflating it all.
    const bomb = await postOtlp(server.url, gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20)), { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(bomb.status).toBe(413);
    expect(JSON.parse(bomb.body.toString()).message).toContain('once decompressed');

    const unsupported = await postOtlp(server.url, 'a=b', { ...auth, 'content-type': 'application/x-www-form-urlencoded' });
    expect(unsupported.status).toBe(415);
    expect(JSON.parse(unsupported.body.toString()).message).toContain('application/x-protobuf or application/json');

    const stored = await server.query(ApplicationMetrics, { filter: { metricName: 'x' } });
    expect(stored.applicationMetrics.totalCount).toBe(0);
  });

  it('needs a key holding INGEST', async () => {
    const body = jsonExport('auth-check', [{ name: 'refused', value: 1 }]);
    const none = await postOtlp(server.url, body, { 'content-type': 'application/json' });
    expect(none.status).toBe(401);
    const wrong = await postOtlp(server.url, body, { 'content-type': 'application/json', authorization: 'Bearer ins_not_a_key_at_all_000000000' });
    expect(wrong.status).toBe(401);
    const readOnly = await postOtlp(server.url, body, { 'content-type': 'application/json', authorization: `Bearer ${readKey}` });
    expect(readOnly.status).toBe(403);
    expect(JSON.parse(readOnly.body.toString()).errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['INGEST'] });
    expect((await server.query(ApplicationMetrics, { filter: { appName: 'auth-check' } })).applicationMetrics.totalCount).toBe(0);
  });

  it('serves /metrics to ADMIN keys and the scrape token only', async () => {
    expect((await scrape(server.url, null)).status).toBe(401);
    expect((await scrape(server.url, `Bearer ${readKey}`)).status).toBe(403);
    expect((await scrape(server.url, `Bearer ${ingestKey}`)).status).toBe(403);
    expect((await scrape(server.url, `Bearer ${METRICS_TOKEN}x`)).status).toBe(401);
    const byToken = await scrape(server.url, `Bearer ${METRICS_TOKEN}`);
    expect(byToken.status).toBe(200);
    expect(byToken.contentType).toContain('text/plain');
    expect((await scrape(server.url, `Bearer ${ADMIN_KEY}`)).status).toBe(200);
    // The token opens /metrics, nothing else.
    const graphqlWithToken = await server.request(`{ __typename }`, undefined, { key: METRICS_TOKEN });
    expect(graphqlWithToken.status).toBe(401);
  });

  it('exposes Prometheus metrics that move with traffic', async () => {
    const token = `Bearer ${METRICS_TOKEN}`;
    const before = await scrape(server.url, token);
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'insights_pubsub_up',
      'insights_live_subscriptions',
      'insights_websocket_connections',
    ]) {
      expect(before.families.has(name), name).toBe(true);
    }
    expect(sampleValue(before.families, 'insights_pubsub_up', { mode: 'in-process' })).toBe(1);

    // GraphQL operations: by name, with their duration, and errors by code.
    const operation = { operation: 'MetricsProbe', type: 'query' };
    await server.request(`query MetricsProbe { __typename }`);
    await server.request(`query MetricsProbe { __typename }`);
    await server.request(`query MetricsProbe { noSuchField }`);
    // Rows ingested by family, through OTLP.
    const exported = await postOtlp(server.url, jsonExport('metrics-probe', [{ name: 'probe.a', value: 1 }, { name: 'probe.b', value: 2 }]), {
      'content-type': 'application/json',
      authorization: `Bearer ${ingestKey}`,
    });
    expect(exported.status).toBe(200);
    // A job run.
    const run = await server.app.services.scheduler.runNow('prune-rollups');
    // A socket with a live subscription.
    const live = connectSubscriptions(server.url);
    await live.connected;
    live.subscribe(`subscription { metricRecorded { metricName } }`);
    await waitUntil(async () => sampleValue((await scrape(server.url, token)).families, 'insights_live_subscriptions') > 0, 'the subscription to be live');

    const after = await scrape(server.url, token);
    const delta = (name: string, labels: Record<string, string> = {}) => sampleValue(after.families, name, labels) - sampleValue(before.families, name, labels);
    expect(delta('insights_graphql_operations_total', { ...operation, outcome: 'ok' })).toBe(2);
    expect(delta('insights_graphql_operations_total', { ...operation, outcome: 'error' })).toBe(1);
    expect(delta('insights_graphql_errors_total', { ...operation, code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(observationCount(after.text, 'insights_graphql_operation_duration_seconds', operation) - observationCount(before.text, 'insights_graphql_operation_duration_seconds', operation)).toBe(2);
    expect(after.families.get('insights_graphql_operation_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(delta('insights_ingested_rows_total', { family: 'applicationMetrics' })).toBe(2);
    expect(delta('insights_otlp_data_points_total', { outcome: 'accepted' })).toBe(2);
    expect(delta('insights_job_runs_total', { job: 'prune-rollups', status: run.status })).toBe(1);
    expect(sampleValue(after.families, 'insights_websocket_connections')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after.families, 'insights_websocket_operations')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after.families, 'insights_live_subscriptions')).toBeGreaterThanOrEqual(1);
    await live.dispose();
    await waitUntil(async () => sampleValue((await scrape(server.url, token)).families, 'insights_websocket_connections') === 0, 'the socket to be closed');
  });

  // Last: once the cap is reached, every new operation name counts as (other).
  it('bounds the operation names it keeps apart (callers choose them)', async () => {
    for (let i = 0; i < MAX_OPERATION_NAMES + 5; i += 1) await server.request(`query Random${i} { __typename }`);
    const { families } = await scrape(server.url, `Bearer ${METRICS_TOKEN}`);
    const names = new Set(families.get('insights_graphql_operations_total')?.metrics.map((sample) => sample.labels?.operation));
    expect(names.has('(other)')).toBe(true);
    expect(names.size).toBe(MAX_OPERATION_NAMES + 1);
  });
});
