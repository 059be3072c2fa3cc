/** The `alerts.events` topic: alert transitions, acknowledgements and silencings, published after their commit. */
import type { AlertEventType, AlertRecord, AlertStatus, Severity } from './model.js';

export interface AlertEventPayload {
  type: AlertEventType;
  alert: AlertRecord;
}

declare module '../../core/bus/pubsub.js' {
  interface TopicPayloads {
    'alerts.events': { events: AlertEventPayload[] };
  }
}

export const ALERT_EVENTS_TOPIC = 'alerts.events' as const;

export interface AlertEventFilter {
  severities?: Severity[] | null;
  ruleIds?: string[] | null;
  statuses?: AlertStatus[] | null;
  types?: AlertEventType[] | null;
}

/** Picks a subscriber's events from a published batch: plain comparisons, per subscriber, before any execution. */
export function alertEventMatcher(filter: AlertEventFilter) {
  const severities = filter.severities?.length ? new Set(filter.severities) : null;
  const ruleIds = filter.ruleIds?.length ? new Set(filter.ruleIds) : null;
  const statuses = filter.statuses?.length ? new Set(filter.statuses) : null;
  const types = filter.types?.length ? new Set(filter.types) : null;
  return (payload: { events: AlertEventPayload[] }, emit: (event: AlertEventPayload) => void) => {
    for (const event of payload.events) {
      const { alert } = event;
      if (severities && !severities.has(alert.severity)) continue;
      if (ruleIds && (!alert.ruleId || !ruleIds.has(alert.ruleId))) continue;
      if (statuses && !statuses.has(alert.status)) continue;
      if (types && !types.has(event.type)) continue;
      emit(event);
    }
  };
}
