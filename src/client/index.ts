/**
 * `insights/client`: report to Insights from a service. It imports nothing of the server but the types generated
 * from its schema.graphql, so it runs anywhere Node.js 20 (built-in fetch) runs.
 */
export { createInsightsClient, graphqlEndpoint } from './client.js';
export type { ActivitySignal, InsightsClient, InsightsClientOptions, RetryOptions } from './client.js';
export type { DocumentText, SubscriptionOptions } from './subscriptions.js';
export type {
  ApplicationMetric,
  Family,
  InsightsClientError,
  InsightsClientStats,
  MetricType,
  PerformanceMetric,
  QueuedRecord,
  RejectedRecord,
  SystemMetric,
  Tags,
  UserActivity,
  UserMetric,
} from './types.js';
