import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { YogaServerInstance } from 'graphql-yoga';
import { bearerToken } from '../auth/apiKeys.js';
import type { LiveSessionGuard } from '../auth/liveSessionGuard.js';
import type { ErrorCode } from '../errors.js';
import type { RateLimiter } from '../auth/rateLimiter.js';
import { hasScope, type Principal } from '../auth/scopes.js';
import type { Context, Services } from '../schema/context.js';
import { BodyTooLargeError, readBody } from './body.js';
import { GRAPHIQL_ASSETS_PATH, serveGraphiQLAsset } from './graphiql.js';
import { healthReport } from './health.js';
import type { ServerContext } from './serverContext.js';

export interface HandlerOptions {
  yoga: YogaServerInstance<ServerContext, Context>;
  services: Services;
  rateLimiter: RateLimiter;
  guard: LiveSessionGuard;
  limits: { bodyBytes: number; ingestBodyBytes: number };
  /** True once shutdown has begun: new requests are turned away with 503. */
  isStopping: () => boolean;
  /** Requests that shutdown must let finish (event streams are ended by shutdown instead). */
  inFlight: Set<ServerResponse>;
}

/** A GraphQL-over-HTTP error response for requests refused before GraphQL runs. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
  const accept = req.headers.accept ?? '';
  const contentType = accept.includes('application/graphql-response+json')
    ? 'application/graphql-response+json; charset=utf-8'
    : 'application/json; charset=utf-8';
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

const streaming = (req: IncomingMessage) => (req.headers.accept ?? '').includes('text/event-stream');

const isGraphiQLPage = (req: IncomingMessage) =>
  req.method === 'GET' && (req.headers.accept ?? '').includes('text/html') && !(req.url ?? '').includes('query=');

/**
 * The HTTP front door. Before any GraphQL parsing it answers health probes, authenticates the key (so every
 * later step, including validation rules, knows the caller), applies the key's rate limit, and reads the body
 * under a size limit; only then does yoga see the request.
 */
export function createRequestHandler(options: HandlerOptions) {
  const { yoga, services, rateLimiter, limits, inFlight } = options;

  const probe = async (req: IncomingMessage, res: ServerResponse, readiness: boolean) => {
    const report = await healthReport(services.db, services.bus);
    const ready = report.database.status === 'ok' && report.pubsub.status === 'ok' && !options.isStopping();
    const status = readiness ? (ready ? 200 : 503) : 200;
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    // Unauthenticated probes get states, not the driver's error text (host names, ports).
    const { error: _detail, ...database } = report.database;
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ ...report, database, ready, stopping: options.isStopping() }));
  };

  const serveGraphQL = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    let principal: Principal | null = null;
    const token = bearerToken(req.headers.authorization);
    if (token) principal = await services.authenticator.authenticate(token);
    if (isGraphiQLPage(req) && !(principal && hasScope(principal, 'ADMIN'))) {
      // GraphiQL is for ADMIN keys. A browser cannot add a Bearer header, so it is asked to sign in (any user
      // name, the key as password); it then sends the key with the page's own requests too.
      res.writeHead(principal ? 403 : 401, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        ...(principal ? {} : { 'www-authenticate': 'Basic realm="Insights GraphiQL (password: an ADMIN API key)", charset="UTF-8"' }),
      });
      res.end(
        principal
          ? '<!doctype html><title>Insights</title><p>The query editor needs an API key with the ADMIN scope.</p>'
          : '<!doctype html><title>Insights</title><p>Sign in with any user name and an ADMIN API key as the password.</p>',
      );
      return;
    }
    if (!principal && req.method !== 'OPTIONS') {
      refuse(req, res, 401, 'UNAUTHENTICATED', token ? 'Invalid, revoked or expired API key' : 'Missing API key: send "Authorization: Bearer <key>"', {
        'www-authenticate': 'Bearer',
      });
      return;
    }
    if (principal) {
      const decision = await rateLimiter.take(principal);
      if (!decision.allowed) {
        refuse(req, res, 429, 'RATE_LIMITED', `Rate limit of this API key exceeded; retry in ${decision.retryAfterSeconds} s`, {
          'retry-after': String(decision.retryAfterSeconds),
        });
        return;
      }
    }
    if (req.method === 'POST') {
      const limit = principal && hasScope(principal, 'INGEST') ? limits.ingestBodyBytes : limits.bodyBytes;
      try {
        // whatwg-node (under yoga) uses an already-read body instead of the stream. A stream rather than the
        // Buffer itself: it calls Object.keys() on the body, which on a Buffer lists every byte.
        (req as IncomingMessage & { body?: Readable }).body = Readable.from([await readBody(req, limit)]);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        req.resume();
        refuse(req, res, 413, 'PAYLOAD_TOO_LARGE', `Request body exceeds the limit of ${limit} bytes`, { connection: 'close' });
        return;
      }
    }
    if (principal && token && streaming(req)) {
      // An event stream lives on after this check: the guard ends it if the key is revoked meanwhile.
      const untrack = options.guard.track(token, () => res.end());
      res.once('close', untrack);
    }
    await yoga(req, res, { req, res, principal: principal ?? undefined, requestId });
  };

  return (req: IncomingMessage, res: ServerResponse) => {
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && /^[\w.-]{1,100}$/.test(incomingId) ? incomingId : randomUUID();
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if ((path === '/health' || path === '/ready') && (req.method === 'GET' || req.method === 'HEAD')) {
      void probe(req, res, path === '/ready');
      return;
    }
    if (options.isStopping()) {
      refuse(req, res, 503, 'UNAVAILABLE', 'The service is shutting down; retry on another instance', { connection: 'close', 'retry-after': '1' });
      return;
    }
    if (!streaming(req)) {
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
    }
    // GraphiQL's script, styles and editor workers: public static files (see graphiql.ts), before any key check.
    const handle = path.startsWith(GRAPHIQL_ASSETS_PATH) ? serveGraphiQLAsset(req, res, path) : serveGraphQL(req, res, requestId);
    handle.catch((error: unknown) => {
      services.log.error({ err: error, requestId }, 'request failed before GraphQL execution');
      if (!res.headersSent) refuse(req, res, 503, 'UNAVAILABLE', 'The service could not handle this request; retry shortly', { 'retry-after': '1' });
      else res.destroy();
    });
  };
}
