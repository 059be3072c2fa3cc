// The dashboards module's topic: a definition was created, changed or deleted (after the commit), so that live
// panels of it, on every instance, recompute at once instead of at their next refresh.
export const DASHBOARD_CHANGED_TOPIC = 'dashboards.changed';

declare module '../../core/bus/pubsub.js' {
  interface TopicPayloads {
    'dashboards.changed': { id: string };
  }
}
