import { z } from 'zod';
import { booleanFromEnv, defineConfigSection, intFromEnv, optionalVar, scheduleFromEnv } from '../../core/config.js';
import { defineModule } from '../../core/module.js';
import { FAMILIES, type Family, type StoredByFamily } from '../../core/records.js';
import { parseSchedule } from '../../core/schedule.js';
import { METRIC_FAMILY_OF_KIND } from '../records/registry.js';
import { rebuildRollupsCommand } from './cli.js';
import { aggregateApplicationMetricsJob } from './jobs/aggregateApplicationMetrics.js';
import { pruneRollupsJob } from './jobs/pruneRollups.js';
import { ResultCache } from './rollups/cache.js';
import { RollupMaintainer, recordInvalidations } from './rollups/maintainer.js';
import { RollupReader } from './rollups/reader.js';
import { COUNT_CAP } from './model.js';
import { AnalyticsService } from './service.js';
import './schema.js';

// Reads over the records for dashboards, reports and alert rules (service.ts), served from rollups kept up to
// date as data arrives (rollups/), with a result cache; statistics and trends; the application rollup job.

export interface AnalyticsConfig {
  /** When aggregate-application-metrics runs (INSIGHTS_AGGREGATE_SCHEDULE). */
  aggregateSchedule: string;
  /** The tags that key the rollups (INSIGHTS_ROLLUP_TAGS). */
  rollupTags: string[];
  /** How often pending writes are folded into the rollups (INSIGHTS_ROLLUP_REFRESH_INTERVAL), in ms. */
  rollupRefreshMs: number;
  /** How long hourly and daily rollups are kept (INSIGHTS_ROLLUP_RETENTION_DAYS). */
  rollupRetentionDays: number;
  /** How long minute rollups are kept (INSIGHTS_ROLLUP_MINUTE_RETENTION_DAYS). */
  rollupMinuteRetentionDays: number;
  /** How far a count that rollups cannot serve may count raw rows (INSIGHTS_COUNT_CAP). */
  countCap: number;
  /** Whether identical reads are served from the result cache (INSIGHTS_ANALYTICS_CACHE). */
  cache: boolean;
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
    /** Keeps the rollups up to date; `rebuild-rollups` recomputes them. */
    rollups: RollupMaintainer;
  }
}

/** Rollups past their retention are pruned daily (UTC). */
const PRUNE_SCHEDULE = '30 3 * * *';

const TAG_LIST = z
  .string()
  .transform((value) => [...new Set(value.split(',').map((tag) => tag.trim()).filter(Boolean))])
  .pipe(
    z
      .array(z.string().regex(/^[A-Za-z0-9_.:/-]{1,100}$/, { message: 'each tag must be 1-100 characters of [A-Za-z0-9_.:/-]' }))
      .max(8, { message: 'must name at most 8 tags (each bucket is stored once per tag, and once per combination)' }),
  );

/** The oldest timestamp of a batch of records. */
function oldestOf(records: readonly { timestamp: Date }[]): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const record of records) oldest = Math.min(oldest, record.timestamp.getTime());
  return oldest;
}

export const analyticsModule = defineModule({
  name: 'analytics',
  commands: [rebuildRollupsCommand],
  config: defineConfigSection({
    key: 'analytics',
    variables: {
      INSIGHTS_AGGREGATE_SCHEDULE: optionalVar(scheduleFromEnv.default('*/5 * * * *')),
      INSIGHTS_ROLLUP_TAGS: optionalVar(TAG_LIST.default(['endpoint', 'method', 'app', 'host', 'environment'])),
      INSIGHTS_ROLLUP_REFRESH_INTERVAL: optionalVar(
        scheduleFromEnv
          .transform((spec) => parseSchedule(spec))
          .refine((schedule) => schedule.intervalMs !== null && schedule.intervalMs <= 3_600_000, { message: 'must be an interval such as 5s, at most 1h' })
          .transform((schedule) => schedule.intervalMs as number)
          .default(5_000),
      ),
      INSIGHTS_ROLLUP_RETENTION_DAYS: optionalVar(intFromEnv(1, 36_500).default(400)),
      INSIGHTS_ROLLUP_MINUTE_RETENTION_DAYS: optionalVar(intFromEnv(1, 36_500).default(14)),
      INSIGHTS_COUNT_CAP: optionalVar(intFromEnv(1, 100_000_000).default(COUNT_CAP)),
      INSIGHTS_ANALYTICS_CACHE: optionalVar(booleanFromEnv.default(true)),
    },
    build: (env) => ({
      aggregateSchedule: env.INSIGHTS_AGGREGATE_SCHEDULE,
      rollupTags: env.INSIGHTS_ROLLUP_TAGS,
      rollupRefreshMs: env.INSIGHTS_ROLLUP_REFRESH_INTERVAL,
      rollupRetentionDays: env.INSIGHTS_ROLLUP_RETENTION_DAYS,
      rollupMinuteRetentionDays: env.INSIGHTS_ROLLUP_MINUTE_RETENTION_DAYS,
      countCap: env.INSIGHTS_COUNT_CAP,
      cache: env.INSIGHTS_ANALYTICS_CACHE,
    }),
  }),
  setup({ services }) {
    const { config } = services;
    const tags = config.analytics.rollupTags;
    const cache = new ResultCache(config.realTimeUpdateIntervalSeconds * 1000, services.bus.commands, services.log);
    const rollups = new RollupMaintainer(services.db, services.log, tags, config.analytics.rollupRefreshMs, config.analytics.rollupMinuteRetentionDays);
    // Every write records the minutes it touched, in its own transaction (the rollups' invalidation log).
    services.ingestor.onWrite(recordInvalidations);
    // This instance's writes reach the cache before their answer; other instances' with their live events.
    const reader = new RollupReader(services.db, tags, config.analytics.rollupMinuteRetentionDays);
    rollups.onPendingChanged = (family) => reader.forgetPending(family);
    const noteBatch = (family: Family, records: readonly { timestamp: Date; createdAt: Date }[]) => {
      if (records.length === 0) return;
      reader.forgetPending(family);
      cache.noteWrite(family, (records[0] as { createdAt: Date }).createdAt.getTime(), oldestOf(records));
    };
    services.ingestor.onCommitted((stored: StoredByFamily) => {
      for (const family of FAMILIES) noteBatch(family, stored[family]);
    });
    const stopMetrics = services.live.on('metrics.recorded', (batch) => noteBatch(METRIC_FAMILY_OF_KIND[batch.kind], batch.records));
    const stopActivities = services.live.on('activities.recorded', (batch) => noteBatch('activities', batch.records));
    return {
      services: {
        analytics: new AnalyticsService(services.db, services.log, reader, cache, {
          countCap: config.analytics.countCap,
          cache: config.analytics.cache,
        }),
        rollups,
      },
      jobs: [
        aggregateApplicationMetricsJob({
          schedule: parseSchedule(config.analytics.aggregateSchedule),
          db: services.db,
          ingestor: services.ingestor,
          batchSize: config.ingest.batchSize,
          environment: config.instance.environment,
        }),
        pruneRollupsJob({
          schedule: parseSchedule(PRUNE_SCHEDULE),
          db: services.db,
          minuteDays: config.analytics.rollupMinuteRetentionDays,
          days: config.analytics.rollupRetentionDays,
        }),
      ],
      start: async () => {
        await rollups.reconcileTags();
      },
      listening: () => rollups.start(),
      drain: () => rollups.stop(),
      stop: () => {
        stopMetrics();
        stopActivities();
      },
    };
  },
});

export type { AggregateQuery, AggregateResult, AggregateRow, Measure, MeasureFunction, Interval, ReadPath } from './model.js';
export { aggregateQueryIssues, MAX_AGGREGATE_ROWS } from './service.js';
