import type { IncomingMessage, ServerResponse } from 'node:http';
import { observe } from './node.js';
import { createRecorder, type TrackingOptions } from './recorder.js';

/** The parts of an Express request the middleware reads (typed structurally: no dependency on express). */
export interface ExpressLikeRequest extends IncomingMessage {
  originalUrl?: string;
  baseUrl?: string;
  route?: { path?: unknown };
}

const MATCHED_BASE = Symbol('insights.matchedBaseUrl');

type Tracked = ExpressLikeRequest & { [MATCHED_BASE]?: string };

/**
 * Express restores `req.baseUrl` when a routed request leaves its router, which a route that fails (next(error))
 * does before the response is sent; so the mount path is taken at the moment Express assigns `req.route`.
 */
function rememberMountPath(request: Tracked): void {
  let route: ExpressLikeRequest['route'] = request.route;
  Object.defineProperty(request, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: ExpressLikeRequest['route']) => {
      route = value;
      request[MATCHED_BASE] = request.baseUrl ?? '';
    },
  });
}

/** The route template Express matched, mount path included: `/api` + `/projects/:id`. */
export function expressRoute(request: ExpressLikeRequest): string | null {
  const path = request.route?.path;
  if (typeof path !== 'string') return null;
  const base = (request as Tracked)[MATCHED_BASE] ?? request.baseUrl ?? '';
  const joined = `${base}${path === '/' && base ? '' : path}`;
  return joined || '/';
}

/**
 * Express middleware: `app.use(insightsMiddleware({ client, getUser: (req) => req.user }))`, before the routes.
 * The route template is read when the response is finished, once Express has matched it.
 */
export function insightsMiddleware<Request extends ExpressLikeRequest = ExpressLikeRequest>(
  options: TrackingOptions<Request>,
): (request: Request, response: ServerResponse, next: (error?: unknown) => void) => void {
  const recorder = createRecorder(options);
  return (request, response, next) => {
    try {
      rememberMountPath(request);
      observe(recorder, request, response, expressRoute, request.originalUrl ?? request.url);
    } catch (error) {
      options.onError?.(error);
    }
    next();
  };
}
