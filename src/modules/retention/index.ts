import path from 'node:path';
import { z } from 'zod';
import { defineConfigSection, intFromEnv, optionalVar, scheduleFromEnv } from '../../core/config.js';
import { defineModule } from '../../core/module.js';
import { parseSchedule } from '../../core/schedule.js';
import { cleanupCommand } from './cli.js';
import { maintainPartitions, maintainPartitionsJob } from './partitions.js';
import { retentionJob } from './retentionJob.js';

// The raw records' lifecycle: daily partitions made ahead of time, the nightly retention job (whole days
// dropped, archived first when asked) and the `cleanup` command.

/** Partitions are made at start-up, then daily (UTC), ahead of the days they serve. */
const PARTITION_SCHEDULE = '15 0 * * *';

const DAY_MS = 86_400_000;

export interface RetentionConfig {
  /** How long raw records are kept (INSIGHTS_RETENTION_DAYS). */
  days: number;
  /** Where deleted records are archived first (INSIGHTS_ARCHIVE_DIR); undefined: not archived. */
  archiveDir: string | undefined;
  /** When retention runs (INSIGHTS_RETENTION_SCHEDULE). */
  schedule: string;
}

declare module '../../core/config.js' {
  interface ModuleConfig {
    retention: RetentionConfig;
  }
}

export const retentionModule = defineModule({
  name: 'retention',
  config: defineConfigSection({
    key: 'retention',
    variables: {
      INSIGHTS_RETENTION_DAYS: optionalVar(intFromEnv(1, 36_500).default(90)),
      INSIGHTS_ARCHIVE_DIR: optionalVar(z.string().optional()),
      INSIGHTS_RETENTION_SCHEDULE: optionalVar(scheduleFromEnv.default('0 3 * * *')),
    },
    build: (env) => ({
      days: env.INSIGHTS_RETENTION_DAYS,
      archiveDir: env.INSIGHTS_ARCHIVE_DIR === undefined ? undefined : path.resolve(env.INSIGHTS_ARCHIVE_DIR),
      schedule: env.INSIGHTS_RETENTION_SCHEDULE,
    }),
  }),
  commands: [cleanupCommand],
  setup({ services }) {
    const { retention } = services.config;
    return {
      jobs: [
        retentionJob({
          schedule: parseSchedule(retention.schedule),
          db: services.db,
          maxAgeMs: retention.days * DAY_MS,
          archiveDir: retention.archiveDir,
        }),
        maintainPartitionsJob({ schedule: parseSchedule(PARTITION_SCHEDULE), db: services.db, retentionMs: retention.days * DAY_MS }),
      ],
      // Today's and the coming days' partitions exist before the first write of a fresh install is accepted.
      start: async () => {
        await maintainPartitions(services.db, new Date(), { keepFrom: new Date(Date.now() - retention.days * DAY_MS) });
      },
    };
  },
});
