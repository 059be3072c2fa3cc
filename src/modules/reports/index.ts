import { defineModule } from '../../core/module.js';
import { exportAnalyticsCommand, generateReportsCommand } from './cli.js';
import { reportsConfig } from './config.js';
import { recordFirstSeen } from './firstSeen.js';
import { reportsCheck } from './health.js';
import { reportJob } from './jobs.js';
import { downloadRoute, exportRoute } from './routes.js';
import { ReportService } from './service.js';
import './schema.js';

// Reports and exports: daily/weekly/monthly (and custom) reports computed through the analytics layer, stored
// with their HTML, CSV and JSON files, announced live and e-mailed; streaming exports of stored records.

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Requests, generates, stores and e-mails reports. */
    reports: ReportService;
  }
}

export const reportsModule = defineModule({
  name: 'reports',
  config: reportsConfig,
  commands: [generateReportsCommand, exportAnalyticsCommand],
  setup({ services }) {
    const config = services.config.reports;
    services.ingestor.onWrite(recordFirstSeen);
    services.live.listen('reports.finished');
    const reports = new ReportService({ services, config, log: services.log, background: services.mode === 'server' });
    return {
      services: { reports },
      jobs: [
        reportJob('DAILY', config.schedules.daily, reports),
        reportJob('WEEKLY', config.schedules.weekly, reports),
        reportJob('MONTHLY', config.schedules.monthly, reports),
      ],
      checks: [reportsCheck(reports)],
      routes: [downloadRoute(reports), exportRoute(services)],
      listening: () => reports.start(),
      drain: (deadline) => reports.stop(deadline),
    };
  },
});

// Other modules that send mail build their mailer with createMailer() from ./render/email.js (SMTP_URL is config.reports.smtpUrl).
export type { Mailer } from './render/email.js';
export type { ReportAlertsSource } from './generator.js';
