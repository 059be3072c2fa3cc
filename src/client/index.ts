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
export { insightsMiddleware, expressRoute } from './middleware/express.js';
export type { ExpressLikeRequest } from './middleware/express.js';
export { withInsights } from './middleware/node.js';
export type { NodeTrackingOptions } from './middleware/node.js';
export { withInsightsFetch } from './middleware/fetch.js';
export type { FetchTrackingOptions } from './middleware/fetch.js';
export { DEFAULT_IGNORE } from './middleware/recorder.js';
export type { ActivityTypeContext, TrackingOptions, UserRef } from './middleware/recorder.js';
export { clientAddress, collapsePath, deriveActivityType } from './middleware/requestFacts.js';
export type { RequestFacts, TrustProxy } from './middleware/requestFacts.js';
