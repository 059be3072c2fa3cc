import { defineConfigSection, optionalVar, scheduleFromEnv } from '../../core/config.js';
import { defineModule } from '../../core/module.js';
import { parseSchedule } from '../../core/schedule.js';
import { collectSystemMetricsJob, HostCollector } from './collectSystemMetrics.js';
import { SystemSnapshotFeeds } from './snapshots.js';
import './schema.js';

// The machines: collecting this host's metrics, and the current values per host, read and live.

export interface SystemConfig {
  /** When collect-system-metrics runs (INSIGHTS_COLLECT_SCHEDULE, default every INSIGHTS_REAL_TIME_UPDATE_INTERVAL s). */
  collectSchedule: string;
}

declare module '../../core/config.js' {
  interface ModuleConfig {
    system: SystemConfig;
  }
}

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Live currentSystemMetrics snapshots, one shared feed per host argument. */
    snapshots: SystemSnapshotFeeds;
  }
}

export const systemModule = defineModule({
  name: 'system',
  config: defineConfigSection({
    key: 'system',
    variables: { INSIGHTS_COLLECT_SCHEDULE: optionalVar(scheduleFromEnv.optional()) },
    build: (env, core) => ({ collectSchedule: env.INSIGHTS_COLLECT_SCHEDULE ?? `${core.realTimeUpdateIntervalSeconds}s` }),
  }),
  setup({ services }) {
    const { config } = services;
    const snapshots = new SystemSnapshotFeeds(services.db, services.live, services.log, config.realTimeUpdateIntervalSeconds * 1000);
    return {
      services: { snapshots },
      jobs: [
        collectSystemMetricsJob({
          schedule: parseSchedule(config.system.collectSchedule),
          collector: new HostCollector({ host: config.instance.hostName, environment: config.instance.environment }),
          ingestor: services.ingestor,
        }),
      ],
      stop: () => snapshots.close(),
    };
  },
});
