import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRecorder, type Recorder, type TrackingOptions } from './recorder.js';

export interface NodeTrackingOptions<Request extends IncomingMessage = IncomingMessage> extends TrackingOptions<Request> {
  /** The route template of a request, when the application's router knows it; ids are collapsed otherwise. */
  route?: (request: Request) => string | null | undefined;
}

const pathOf = (url: string | undefined) => (url ?? '/').split('?')[0] || '/';

/**
 * Records `request` once its response is finished (or the connection closed first), reading the route then,
 * when the router has set it.
 */
export function observe<Request extends IncomingMessage>(
  recorder: Recorder<Request>,
  request: Request,
  response: ServerResponse,
  route: (request: Request) => string | null | undefined,
  url = request.url,
): void {
  const path = pathOf(url);
  if (recorder.ignores(path, request)) return;
  const started = performance.now();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    let template: string | null = null;
    try {
      template = route(request) ?? null;
    } catch {
      template = null;
    }
    recorder.record(request, {
      method: request.method ?? 'GET',
      path,
      route: template,
      statusCode: response.statusCode,
      responseTimeMs: performance.now() - started,
      socketAddress: request.socket?.remoteAddress,
      header: (name) => {
        const value = request.headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      },
    });
  };
  response.once('finish', finish);
  response.once('close', finish);
}

/**
 * Wraps a plain Node.js request listener: `http.createServer(withInsights(handler, { client, getUser }))`.
 * Plain Node.js has no router, so give `route` when the application has one; ids in paths are collapsed otherwise.
 */
export function withInsights<Request extends IncomingMessage = IncomingMessage, Response extends ServerResponse = ServerResponse>(
  handler: (request: Request, response: Response) => void,
  options: NodeTrackingOptions<Request>,
): (request: Request, response: Response) => void {
  const recorder = createRecorder(options);
  const route = options.route ?? (() => null);
  return (request, response) => {
    try {
      observe(recorder, request, response, route);
    } catch (error) {
      options.onError?.(error);
    }
    handler(request, response);
  };
}
