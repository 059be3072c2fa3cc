import { defineModule } from '../../core/module.js';
import { otlpMetricsRoute, prometheusRoute } from './routes.js';
import { SelfMetrics, useOperationMetrics } from './selfMetrics.js';
import { TelemetryService } from './service.js';

// OpenTelemetry in, Prometheus out: POST /v1/metrics takes OTLP/HTTP metric exports into the record families
// (otlp/mapping.ts says how), and GET /metrics shows the service's own metrics to Prometheus. It watches the
// other modules (ingests, job runs, live streams, pub/sub), so it is registered after all of them.

export const telemetryModule = defineModule({
  name: 'telemetry',
  setup({ services }) {
    // Only a serving instance has HTTP routes and GraphQL traffic to count.
    if (services.mode !== 'server') return {};
    const metrics = new SelfMetrics({ live: services.live, bus: services.bus });
    services.ingestor.onCommitted((stored) => metrics.rowsIngested(stored));
    services.scheduler.onRunRecorded((run) => metrics.jobRun(run));
    const telemetry = new TelemetryService(services.ingestor, services.config.ingest.batchSize);
    telemetry.onExport((result) => metrics.otlpExport(result));
    return {
      routes: [otlpMetricsRoute(telemetry, services.config.http.maxIngestBodyBytes), prometheusRoute(metrics, services.config.metricsToken)],
      graphqlPlugins: [useOperationMetrics(metrics)],
      listening: (transport) => metrics.observeTransport(transport),
    };
  },
});
