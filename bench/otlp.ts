import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { AggregationTemporalityPreference, OTLPMetricExporter as OTLPJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, InstrumentType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { fixed, integer, percentile, table } from './format.js';
import { createScratchDatabase, DEFAULT_ADMIN_URL, postGraphQL, startService } from './harness.js';

/**
 * OTLP ingestion throughput: one OpenTelemetry exporter (the official SDK's, protobuf and JSON) sending exports
 * of `--points` gauge points one after another to the real service (its own process, on a scratch
 * PostgreSQL database), against the same records sent as one `recordApplicationMetrics` batch each. Reports
 * records/s and the export round trip (p50, p99), the SDK's serialisation included.
 *
 *   npx tsx bench/otlp.ts [--points 1000] [--requests 40]
 */

/** Collects on demand, in delta temporality (each collection holds what was recorded since the last one). */
class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: (_: InstrumentType) => AggregationTemporality.DELTA });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface Phase {
  name: string;
  records: number;
  seconds: number;
  latenciesMs: number[];
}

async function main() {
  const { values } = parseArgs({ options: { points: { type: 'string', default: '1000' }, requests: { type: 'string', default: '40' } } });
  const points = Number(values.points);
  const requests = Number(values.requests);
  if (!Number.isInteger(points) || points < 1 || points > 1000) throw new Error('--points must be 1-1000 (INSIGHTS_BATCH_SIZE)');
  if (!Number.isInteger(requests) || requests < 1 || requests > 10_000) throw new Error('--requests must be 1-10000');

  const database = await createScratchDatabase(process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL);
  const service = await startService(database.url, { env: { INSIGHTS_RATE_LIMIT_ADMIN: '0' } });
  try {
    const reader = new OnDemandReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'bench', 'host.name': 'bench-1' }), readers: [reader] });
    const gauge = provider.getMeter('bench').createGauge('bench.value', { unit: '1' });
    const collect = async (round: number): Promise<ResourceMetrics> => {
      for (let i = 0; i < points; i += 1) gauge.record(round * points + i, { series: i });
      return (await reader.collect()).resourceMetrics;
    };

    const phases: Phase[] = [];
    for (const [name, Exporter] of [
      ['OTLP protobuf', OTLPProtoExporter],
      ['OTLP JSON', OTLPJsonExporter],
    ] as const) {
      const exporter = new Exporter({
        url: `${service.url}/v1/metrics`,
        headers: { authorization: `Bearer ${service.apiKey}` },
        temporalityPreference: AggregationTemporalityPreference.DELTA,
      });
      const latenciesMs: number[] = [];
      let elapsed = 0;
      for (let round = 0; round < requests; round += 1) {
        const batch = await collect(round);
        const started = performance.now();
        await new Promise<void>((resolve, reject) =>
          // A failed export always carries its error.
          exporter.export(batch, (result) => (result.error ? reject(result.error) : resolve())),
        );
        const ms = performance.now() - started;
        latenciesMs.push(ms);
        elapsed += ms;
      }
      await exporter.shutdown();
      phases.push({ name, records: points * requests, seconds: elapsed / 1000, latenciesMs });
    }

    const mutation = 'mutation Bench($input: [ApplicationMetricInput!]!) { recordApplicationMetrics(input: $input) { count } }';
    const latenciesMs: number[] = [];
    let elapsed = 0;
    for (let round = 0; round < requests; round += 1) {
      const timestamp = new Date().toISOString();
      const input = Array.from({ length: points }, (_, i) => ({
        appName: 'bench',
        metricName: 'bench.value',
        metricType: 'GAUGE',
        value: round * points + i,
        unit: '1',
        tags: { app: 'bench', host: 'bench-1', series: i, 'otel.scope': 'bench' },
        timestamp,
      }));
      const started = performance.now();
      const answer = await postGraphQL(service.graphqlUrl, service.apiKey, JSON.stringify({ query: mutation, variables: { input } }), AbortSignal.timeout(60_000), 60_000);
      const ms = performance.now() - started;
      if (typeof answer === 'string' || answer.errors) throw new Error(`GraphQL batch failed: ${JSON.stringify(answer)}`);
      latenciesMs.push(ms);
      elapsed += ms;
    }
    phases.push({ name: 'GraphQL recordApplicationMetrics', records: points * requests, seconds: elapsed / 1000, latenciesMs });
    await provider.shutdown();

    process.stdout.write(`\nOTLP ingestion: ${integer(requests)} requests of ${integer(points)} gauge points, one client, sequential\n\n`);
    process.stdout.write(
      `${table(
        ['path', 'records/s', 'p50 ms', 'p99 ms'],
        phases.map((phase) => {
          const sorted = [...phase.latenciesMs].sort((a, b) => a - b);
          return [phase.name, integer(phase.records / phase.seconds), fixed(percentile(sorted, 0.5), 1), fixed(percentile(sorted, 0.99), 1)];
        }),
      )}\n`,
    );
  } finally {
    await service.stop();
    await database.drop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
