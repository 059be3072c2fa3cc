import { defineModule } from '../../core/module.js';
import { WidgetEngine } from './data.js';
import { DashboardFeeds } from './live.js';
import { DashboardService } from './service.js';
import './schema.js';

// Dashboards: stored definitions (versioned, exported and imported), widget data computed through the analytics
// layer, the product's built-in system and user dashboards, and live data shared by all viewers of a dashboard.

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Dashboard definitions, their data and their live feeds. */
    dashboards: DashboardService;
  }
}

export const dashboardsModule = defineModule({
  name: 'dashboards',
  setup({ services }) {
    services.live.listen('dashboards.changed');
    // The alerting module is optional: ALERT_LIST widgets are empty without it.
    const alerts = (services as { alerting?: DashboardService['alerts'] }).alerting ?? null;
    const engine = new WidgetEngine(services.analytics, services.db, alerts, services.log);
    const dashboards = new DashboardService(services.db, services.audit, services.bus, engine, alerts);
    dashboards.feeds = new DashboardFeeds(dashboards, engine, services.live, services.log, services.config.realTimeUpdateIntervalSeconds * 1000);
    return {
      services: { dashboards },
      stop: () => dashboards.feeds.close(),
    };
  },
});
