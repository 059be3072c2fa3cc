import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { GraphQLError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { hasScope, type ApiKeyScope } from '../core/auth.js';
import { codedError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import type { HealthReport } from '../core/health.js';
import type { HttpRoute, HttpRouteContext } from '../core/module.js';
import { BodyTooLargeError, readBody } from './body.js';
import type { FrontDoor } from './frontDoor.js';
import type { LiveSessionGuard } from './liveSessionGuard.js';
import { GRAPHIQL_ASSETS_PATH, serveGraphiQLAsset } from './graphiql.js';
import type { ServerContext } from './serverContext.js';

// The transport knows GraphQL only through yoga; the schema's context type is none of its business.
/* eslint-disable @typescript-eslint/no-explicit-any */


export interface HandlerOptions {
  yoga: YogaServerInstance<ServerContext, any>;
  frontDoor: FrontDoor;
  health: () => Promise<HealthReport>;
  log: Logger;
  guard: LiveSessionGuard;
  /** Routes of modules, beside /graphql. */
  routes?: readonly HttpRoute[];
  limits: { bodyBytes: number; ingestBodyBytes: number };
  /** True once shutdown has begun: new requests are turned away with 503. */
  isStopping: () => boolean;
  /** Requests that shutdown must let finish (event streams are ended by shutdown instead). */
  inFlight: Set<ServerResponse>;
}

/**
 * A GraphQL-over-HTTP error response for requests refused before GraphQL runs: the error's code gives the
 * status, its `extensions.http.headers` the headers; the body has the same shape as any GraphQL error.
 */
export function refuse(req: IncomingMessage, res: ServerResponse, error: GraphQLError, headers: Record<string, string> = {}) {
  const accept = req.headers.accept ?? '';
  const contentType = accept.includes('application/graphql-response+json')
    ? 'application/graphql-response+json; charset=utf-8'
    : 'application/json; charset=utf-8';
  const { http, ...extensions } = error.extensions as { http?: { status?: number; headers?: Record<string, string> } } & Record<string, unknown>;
  const code = extensions.code as ErrorCode;
  res.writeHead(http?.status ?? ERROR_CODES[code] ?? 500, { 'content-type': contentType, 'cache-control': 'no-store', ...http?.headers, ...headers });
  res.end(JSON.stringify({ errors: [{ message: error.message, extensions }] }));
}

const refuseWith = (req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string, headers: Record<string, string> = {}) =>
  refuse(req, res, codedError(code, message), headers);

const streaming = (req: IncomingMessage) => (req.headers.accept ?? '').includes('text/event-stream');

const isGraphiQLPage = (req: IncomingMessage) =>
  req.method === 'GET' && (req.headers.accept ?? '').includes('text/html') && !(req.url ?? '').includes('query=');

/**
 * The HTTP front door. Before any GraphQL parsing it answers health probes, authenticates the key (so every
 * later step, including validation rules, knows the caller), applies the key's rate limit, and reads the body
 * under a size limit; only then does yoga see the request.
 */
export function createRequestHandler(options: HandlerOptions) {
  const { yoga, frontDoor, limits, inFlight } = options;

  const probe = async (req: IncomingMessage, res: ServerResponse, readiness: boolean) => {
    const report = await options.health();
    const ready = report.database.status === 'ok' && report.pubsub.status === 'ok' && !options.isStopping();
    const status = readiness ? (ready ? 200 : 503) : 200;
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    // Unauthenticated probes get states, not the driver's error text (host names, ports).
    const { error: _detail, ...database } = report.database;
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ ...report, database, ready, stopping: options.isStopping() }));
  };

  const serveGraphQL = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    const identity = await frontDoor.identify(req.headers.authorization);
    const { principal, token } = identity;
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
    // A CORS preflight carries no credentials; everything else must be admitted by the front door.
    if (principal || req.method !== 'OPTIONS') {
      const admission = await frontDoor.admit(req.headers.authorization, identity);
      if (!admission.admitted) {
        refuse(req, res, admission.error);
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
        refuseWith(req, res, 'PAYLOAD_TOO_LARGE', `Request body exceeds the limit of ${limit} bytes`, { connection: 'close' });
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

  /** Admission for module routes: the same front door, with a sign-in prompt for browsers. */
  const routeContext = (req: IncomingMessage, res: ServerResponse, requestId: string): HttpRouteContext => ({
    requestId,
    admit: async (scope: ApiKeyScope) => {
      const admission = await frontDoor.admit(req.headers.authorization);
      if (!admission.admitted) {
        const prompt: Record<string, string> =
          admission.error.extensions.code === 'UNAUTHENTICATED'
            ? { 'www-authenticate': `Basic realm="Insights (password: an API key with ${scope})", charset="UTF-8"` }
            : {};
        refuse(req, res, admission.error, prompt);
        return null;
      }
      if (!hasScope(admission.principal, scope)) {
        refuse(req, res, codedError('FORBIDDEN', `Forbidden: this needs the ${scope} scope, which this API key does not have`, { missingScopes: [scope] }));
        return null;
      }
      return admission.principal;
    },
    body: async (limitBytes: number) => {
      try {
        return await readBody(req, limitBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        req.resume();
        refuseWith(req, res, 'PAYLOAD_TOO_LARGE', `Request body exceeds the limit of ${limitBytes} bytes`, { connection: 'close' });
        return null;
      }
    },
    fail: (code, message, extensions = {}) => refuse(req, res, codedError(code, message, extensions)),
  });

  const routeFor = (req: IncomingMessage, path: string) =>
    (options.routes ?? []).find(
      (route) => (route.method === req.method || (route.method === 'GET' && req.method === 'HEAD')) && (typeof route.path === 'string' ? route.path === path : route.path.test(path)),
    );

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
      refuseWith(req, res, 'UNAVAILABLE', 'The service is shutting down; retry on another instance', { connection: 'close', 'retry-after': '1' });
      return;
    }
    const route = path === '/graphql' ? undefined : routeFor(req, path ?? '/');
    if (!streaming(req) && !route?.streaming) {
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
    }
    // GraphiQL's script, styles and editor workers: public static files (see graphiql.ts), before any key check.
    const served = path?.startsWith(GRAPHIQL_ASSETS_PATH)
      ? serveGraphiQLAsset(req, res, path)
      : route
        ? route.handle(req, res, routeContext(req, res, requestId))
        : serveGraphQL(req, res, requestId);
    served.catch((error: unknown) => {
      options.log.error({ err: error, requestId }, 'request failed before GraphQL execution');
      if (!res.headersSent) refuseWith(req, res, 'UNAVAILABLE', 'The service could not handle this request; retry shortly', { 'retry-after': '1' });
      else res.destroy();
    });
  };
}
