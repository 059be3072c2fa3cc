import type { InsightsClient } from '../client.js';
import type { Tags } from '../types.js';
import { clientAddress, collapsePath, compileTrust, deriveActivityType, type RequestFacts, type TrustProxy } from './requestFacts.js';

/** Who made a request: an id, an object with an id, or nobody. */
export type UserRef = string | number | { id: string | number } | null | undefined;

export interface ActivityTypeContext {
  method: string;
  /** The route template, or the path with its ids collapsed. */
  endpoint: string;
  path: string;
  statusCode: number | null;
}

export interface TrackingOptions<Request> {
  /** The client the records go to. */
  client: Pick<InsightsClient, 'recordPerformanceMetric' | 'trackActivity'>;
  /** The authenticated user of a request, read when the response has been sent (so auth may run after this). */
  getUser?: (request: Request) => UserRef | Promise<UserRef>;
  /**
   * The activity type of a request; null records no activity, undefined falls back to the derived one (which is
   * recorded only for responses below 400 and never for OPTIONS).
   */
  activityType?: (request: Request, context: ActivityTypeContext) => string | null | undefined;
  /** Metric name of the performance records. @default "http_request" */
  metricName?: string;
  /** Tags added to every performance record, e.g. { service: "api" }. */
  tags?: Tags;
  /** Share of requests that get a performance record (0-1). @default 1 */
  sampleRate?: number;
  /** Share of authenticated requests that get a user activity (0-1). @default 1 */
  activitySampleRate?: number;
  /**
   * Requests not to record: paths (exact, or a prefix when ending in `*`), patterns, or a test.
   * @default ["/health", "/healthz", "/livez", "/readyz", "/ready", "/favicon.ico"]
   */
  ignore?: readonly (string | RegExp)[] | ((path: string, request: Request) => boolean);
  /** Which proxies' X-Forwarded-For to believe for the client's address. @default false */
  trustProxy?: TrustProxy;
  /** Told about a failure while recording (a throwing getUser, say); the request itself never is. */
  onError?: (error: unknown) => void;
}

export const DEFAULT_IGNORE = ['/health', '/healthz', '/livez', '/readyz', '/ready', '/favicon.ico'] as const;

function userIdOf(user: UserRef): string | null {
  if (user === null || user === undefined) return null;
  const id = typeof user === 'object' ? user.id : user;
  const text = String(id);
  return text.length > 0 ? text : null;
}

const rate = (value: number | undefined, name: string) => {
  if (value === undefined) return 1;
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${value}`);
  return value;
};

export interface Recorder<Request> {
  /** Whether this request is recorded at all (the ignore list). */
  ignores(path: string, request: Request): boolean;
  /** Records a finished request; never throws, never waits on the service. */
  record(request: Request, facts: RequestFacts): void;
}

/** The part every framework adapter shares: from a finished request's facts to a performance record and activity. */
export function createRecorder<Request>(options: TrackingOptions<Request>): Recorder<Request> {
  const sampleRate = rate(options.sampleRate, 'sampleRate');
  const activitySampleRate = rate(options.activitySampleRate, 'activitySampleRate');
  const metricName = options.metricName ?? 'http_request';
  const trusted = compileTrust(options.trustProxy ?? false);
  const ignore = options.ignore ?? DEFAULT_IGNORE;
  const ignores =
    typeof ignore === 'function'
      ? ignore
      : (path: string) =>
          ignore.some((entry) => (typeof entry === 'string' ? (entry.endsWith('*') ? path.startsWith(entry.slice(0, -1)) : path === entry) : entry.test(path)));
  const fail = (error: unknown) => {
    try {
      options.onError?.(error);
    } catch {
      // Reporting must never reach the request, not even through the hook.
    }
  };

  const recordActivity = async (request: Request, facts: RequestFacts, endpoint: string) => {
    const userId = userIdOf(await options.getUser!(request));
    if (userId === null) return;
    const context: ActivityTypeContext = { method: facts.method, endpoint, path: facts.path, statusCode: facts.statusCode };
    const chosen = options.activityType?.(request, context);
    if (chosen === null) return;
    // A refused or failed request did not do what its route says (no project was created), and a CORS preflight
    // does nothing at all: only an explicit activityType records those.
    if (chosen === undefined && (facts.method === 'OPTIONS' || (facts.statusCode !== null && facts.statusCode >= 400))) return;
    options.client.trackActivity({
      userId,
      activityType: chosen ?? deriveActivityType(facts.method, endpoint),
      ipAddress: clientAddress(facts, trusted),
      userAgent: facts.header('user-agent')?.slice(0, 1024) ?? null,
      referrer: (facts.header('referer') ?? facts.header('referrer'))?.slice(0, 2048) ?? null,
      metadata: { path: facts.path, route: endpoint, method: facts.method, status: facts.statusCode, responseTimeMs: facts.responseTimeMs },
    });
  };

  return {
    ignores: (path, request) => {
      try {
        return ignores(path, request);
      } catch (error) {
        fail(error);
        return true;
      }
    },
    record(request, facts) {
      try {
        const endpoint = facts.route ?? collapsePath(facts.path);
        const statusCode = facts.statusCode !== null && facts.statusCode >= 100 && facts.statusCode <= 599 ? facts.statusCode : null;
        const responseTimeMs = Math.round(facts.responseTimeMs * 1000) / 1000;
        if (sampleRate === 1 || Math.random() < sampleRate) {
          options.client.recordPerformanceMetric({
            metricName,
            metricType: 'HISTOGRAM',
            value: responseTimeMs,
            unit: 'ms',
            responseTimeMs,
            statusCode,
            tags: { ...options.tags, method: facts.method, endpoint },
          });
        }
        if (options.getUser && (activitySampleRate === 1 || Math.random() < activitySampleRate)) {
          recordActivity(request, { ...facts, statusCode, responseTimeMs }, endpoint).catch(fail);
        }
      } catch (error) {
        fail(error);
      }
    },
  };
}
