import type { AppModule } from '../core/module.js';
import { alertsModule } from './alerts/index.js';
import { analyticsModule } from './analytics/index.js';
import { apiKeysModule } from './apiKeys/index.js';
import { auditModule } from './audit/index.js';
import { dashboardsModule } from './dashboards/index.js';
import { jobsModule } from './jobs/index.js';
import { recordsModule } from './records/index.js';
import { reportsModule } from './reports/index.js';
import { retentionModule } from './retention/index.js';
import { systemModule } from './system/index.js';
import { telemetryModule } from './telemetry/index.js';

/**
 * Every domain of the service, one line each, in the order they are set up: a module may use the services of
 * the modules above it. Adding a domain is adding its folder and a line here. `jobs` comes after every module
 * that has jobs: it schedules the jobs of the modules above it. `telemetry` (no jobs) follows it, since its
 * self-metrics watch every module, the scheduler included.
 */
export const MODULES: readonly AppModule[] = [
  recordsModule,
  auditModule,
  apiKeysModule,
  systemModule,
  retentionModule,
  analyticsModule,
  alertsModule,
  reportsModule,
  dashboardsModule,
  jobsModule,
  telemetryModule,
];
