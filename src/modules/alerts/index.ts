import { defineModule } from '../../core/module.js';
import { parseSchedule } from '../../core/schedule.js';
import { alertsCommand } from './cli.js';
import { alertsConfigSection } from './config.js';
import { ALERT_EVENTS_TOPIC } from './events.js';
import { alertsCheck } from './health.js';
import { AlertingService } from './service.js';
import './schema.js';

// Alerting: rules over the records (threshold and anomaly conditions), evaluated once per cluster every
// INSIGHTS_ALERT_EVAL_INTERVAL through the analytics layer; Alertmanager-style grouping, silences, inhibition
// and deduplication across instances in the database; delivery to webhooks, Slack, e-mail and SMS; live events.

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Rules, channels, silences, evaluation and delivery of alerts. */
    alerting: AlertingService;
  }
}

export const alertsModule = defineModule({
  name: 'alerts',
  config: alertsConfigSection,
  commands: [alertsCommand],
  setup({ services }) {
    const { config } = services;
    services.live.listen(ALERT_EVENTS_TOPIC);
    const log = services.log.child({ module: 'alerts' });
    const alerting = new AlertingService(services.db, services.bus, services.audit, services.analytics, config.alerts, log, config.instance.hostName);
    return {
      services: { alerting },
      jobs: [
        {
          name: 'evaluate-alerts',
          description: 'Evaluates every enabled alert rule at its tick, flushes the notification groups that are due and queues their notifications.',
          schedule: parseSchedule(config.alerts.evalSchedule),
          scope: 'cluster',
          manualAnchor: 'now',
          run: async ({ fireTime }) => ({ ...(await alerting.tick(fireTime)) }),
        },
      ],
      checks: [alertsCheck(alerting)],
      // Created once, on the first start of any instance (see rules.ts seedDefaultRules).
      start: async () => {
        const created = await alerting.seedDefaults();
        if (created.length > 0) log.info({ rules: created }, 'created the default alert rules from the environment');
      },
      // Deliveries run on every serving instance that runs jobs (the instance that queues a notification sends it
      // at once; the others take over what a dead instance left).
      listening: () => {
        if (config.monitoringEnabled && services.mode === 'server') alerting.delivery.start();
      },
      drain: () => alerting.delivery.stop(),
      stop: () => alerting.close(),
    };
  },
});

export { AlertingService } from './service.js';
