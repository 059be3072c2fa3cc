import { defineConfigSection, optionalVar, scheduleFromEnv } from '../../core/config.js';
import { defineModule } from '../../core/module.js';
import { parseSchedule } from '../../core/schedule.js';
import { aggregateApplicationMetricsJob } from './jobs/aggregateApplicationMetrics.js';
import { AnalyticsService } from './service.js';
import './schema.js';

// Reads over the records: statistics, trends, and the application rollup job.

export interface AnalyticsConfig {
  /** When aggregate-application-metrics runs (INSIGHTS_AGGREGATE_SCHEDULE). */
  aggregateSchedule: string;
}

declare module '../../core/config.js' {
  interface ModuleConfig {
    analytics: AnalyticsConfig;
  }
}

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Aggregates over the records for dashboards, reports and alert rules (see model.ts). */
    analytics: AnalyticsService;
  }
}

export const analyticsModule = defineModule({
  name: 'analytics',
  config: defineConfigSection({
    key: 'analytics',
    variables: { INSIGHTS_AGGREGATE_SCHEDULE: optionalVar(scheduleFromEnv.default('*/5 * * * *')) },
    build: (env) => ({ aggregateSchedule: env.INSIGHTS_AGGREGATE_SCHEDULE }),
  }),
  setup({ services }) {
    return {
      services: { analytics: new AnalyticsService(services.db, services.log) },
      jobs: [
        aggregateApplicationMetricsJob({
          schedule: parseSchedule(services.config.analytics.aggregateSchedule),
          db: services.db,
          ingestor: services.ingestor,
          batchSize: services.config.ingest.batchSize,
          environment: services.config.instance.environment,
        }),
      ],
    };
  },
});

export type { AggregateQuery, AggregateResult, AggregateRow, Measure, MeasureFunction, Interval, ReadPath } from './model.js';
export { aggregateQueryIssues, MAX_AGGREGATE_ROWS } from './service.js';
