import { defineConfigSection, intFromEnv, optionalVar } from '../../core/config.js';
import { defineModule } from '../../core/module.js';
import { Ingestor } from './ingestor.js';
import { REGISTRY } from './registry.js';
import './schema.js';

// The five record families: ingest (validation, bulk writes, idempotency), filters, live topics and the
// GraphQL fields of each family, all driven by the registry (registry.ts).

export interface RecordsConfig {
  /** Most records accepted in one request (INSIGHTS_BATCH_SIZE). */
  batchSize: number;
}

declare module '../../core/config.js' {
  interface ModuleConfig {
    ingest: RecordsConfig;
  }
}

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Validates and stores records, then publishes them for live subscribers; jobs write through it too. */
    ingestor: Ingestor;
  }
}

export const recordsModule = defineModule({
  name: 'records',
  config: defineConfigSection({
    key: 'ingest',
    variables: { INSIGHTS_BATCH_SIZE: optionalVar(intFromEnv(1, 100_000).default(1000)) },
    build: (env) => ({ batchSize: env.INSIGHTS_BATCH_SIZE }),
  }),
  setup({ services }) {
    services.live.listen('metrics.recorded');
    services.live.listen('activities.recorded');
    return {
      services: { ingestor: new Ingestor(services.db, services.bus, services.config.ingest.batchSize) },
      // Every write a service sends comes through these: worth compiling (see src/http/compiledExecute.ts).
      compiledMutations: ['ingest', ...Object.values(REGISTRY).flatMap(({ graphql }) => [graphql.recordOne, graphql.recordMany])],
    };
  },
});

export { Ingestor } from './ingestor.js';
export type { IngestRequest, IngestResult } from './ingestor.js';
