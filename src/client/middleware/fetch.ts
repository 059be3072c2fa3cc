import { createRecorder, type TrackingOptions } from './recorder.js';

export interface FetchTrackingOptions extends TrackingOptions<Request> {
  /** The route template of a request (Hono: `c.req.routePath`); ids are collapsed otherwise. */
  route?: (request: Request, response: Response | null) => string | null | undefined;
  /** The address of the peer, which Request does not carry (Hono's getConnInfo, Bun's server.requestIP). */
  getClientAddress?: (request: Request) => string | null | undefined;
}

/**
 * Wraps a fetch-style handler (`(request) => Response`, as in Hono's `app.fetch`, Bun, Deno, workers):
 * `export default { fetch: withInsightsFetch(app.fetch, { client, getUser }) }`. The time is measured until the
 * handler returns its Response; a handler that throws is recorded as a 500 and its error passed on.
 */
export function withInsightsFetch<Rest extends unknown[]>(
  handler: (request: Request, ...rest: Rest) => Response | Promise<Response>,
  options: FetchTrackingOptions,
): (request: Request, ...rest: Rest) => Promise<Response> {
  const recorder = createRecorder(options);
  return async (request, ...rest) => {
    let path = '/';
    let ignored = true;
    try {
      path = new URL(request.url).pathname;
      ignored = recorder.ignores(path, request);
    } catch (error) {
      options.onError?.(error);
    }
    const started = performance.now();
    let response: Response | null = null;
    try {
      response = await handler(request, ...rest);
      return response;
    } finally {
      if (!ignored) {
        const finished = response;
        let route: string | null = null;
        try {
          route = options.route?.(request, finished) ?? null;
        } catch {
          route = null;
        }
        recorder.record(request, {
          method: request.method,
          path,
          route,
          statusCode: finished ? finished.status : 500,
          responseTimeMs: performance.now() - started,
          socketAddress: (() => {
            try {
              return options.getClientAddress?.(request);
            } catch {
              return null;
            }
          })(),
          header: (name) => request.headers.get(name),
        });
      }
    }
  };
}
