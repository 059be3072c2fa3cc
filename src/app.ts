import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAsyncIterable, useEngine, useErrorHandler, type Plugin } from '@envelop/core';
import { execute, GraphQLError, subscribe } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import pino, { type Logger } from 'pino';
import { compose, type Composition } from './compose.js';
import { hasScope } from './core/auth.js';
import type { Config } from './core/config.js';
import { presentError, unauthenticated } from './core/errors.js';
import { healthReport } from './core/health.js';
import type { Services } from './core/module.js';
import { FrontDoor } from './http/frontDoor.js';
import { renderGraphiQL } from './http/graphiql.js';
import { createRequestHandler } from './http/handler.js';
import { hardeningPlugins, withoutSuggestions } from './http/hardening.js';
import { LiveSessionGuard } from './http/liveSessionGuard.js';
import { RateLimiter, type RateLimitPolicies } from './http/rateLimiter.js';
import type { ServerContext } from './http/serverContext.js';
import { compiledExecute } from './http/compiledExecute.js';
import { attachGraphQLWebSocket, type GraphQLWebSocket } from './http/websocket.js';
import type { Context } from './schema/context.js';
import { schema } from './schema/index.js';

export interface App {
  /** Opens the database, applies migrations, makes sure an admin key exists, and listens. */
  start(): Promise<{ url: string; port: number }>;
  /**
   * Stops accepting, lets in-flight requests finish, completes live subscriptions, closes sockets with 1001,
   * then closes pub/sub and the database.
   */
  stop(): Promise<void>;
  /** Available after start(); for tests and the CLI. */
  readonly services: Services;
}

export interface AppOptions {
  logger?: Logger;
  /** Prefix for pub/sub topics, so test apps sharing one Redis do not hear each other. */
  topicPrefix?: string;
}

const WEBSOCKET_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * graphql-js reports bad variables as a result with errors and no data, but leaves the HTTP status to the
 * server; GraphQL over HTTP wants 400 for such request errors (as yoga's default executor marks them).
 */
const markingRequestErrors =
  (run: typeof execute): typeof execute =>
  (args) => {
    const result = run(args);
    if (result instanceof Promise || 'data' in result || !result.errors) return result;
    // Variable errors suggest field and enum names ("Did you mean …?"): schema details for ADMIN keys only.
    const principal = (args.contextValue as Partial<Context> | undefined)?.principal;
    const admin = principal !== undefined && hasScope(principal, 'ADMIN');
    return {
      errors: result.errors.map(
        (error) =>
          new GraphQLError(admin ? error.message : withoutSuggestions(error.message), {
            nodes: error.nodes,
            source: error.source,
            positions: error.positions,
            path: error.path,
            originalError: error.originalError,
            // Variable values that do not fit their types: the caller's input, so BAD_USER_INPUT (graphql-js gives
            // them no code; its message names the variable and the item, e.g. at "i[0].value").
            extensions: { code: 'BAD_USER_INPUT', ...error.extensions, http: { status: 400 } },
          }),
      ),
    };
  };

/** What resolvers put in `ctx.extensions` goes out in the response's `extensions` (queries and mutations). */
function useContextExtensions(): Plugin {
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result, setResult }) => {
        const extensions = (args.contextValue as Partial<Context>).extensions;
        if (!extensions || Object.keys(extensions).length === 0 || isAsyncIterable(result)) return;
        setResult({ ...result, extensions: { ...result.extensions, ...extensions } });
      },
    }),
  };
}

/** envelop hands error handlers the context itself, or (for execution errors) the execution arguments. */
function requestIdOf(context: unknown): string | undefined {
  const value = (context as { contextValue?: unknown } | undefined)?.contextValue ?? context;
  return (value as Partial<ServerContext> | undefined)?.requestId;
}

function rateLimitPolicies(limits: Config['rateLimits']): RateLimitPolicies {
  const policy = (perSecond: number) => ({ perSecond, burst: Math.max(1, perSecond * limits.burstSeconds) });
  return { READ: policy(limits.READ), INGEST: policy(limits.INGEST), ADMIN: policy(limits.ADMIN) };
}

export function buildApp(config: Config, options: AppOptions = {}): App {
  const log = options.logger ?? pino({ level: config.logLevel, base: { service: 'insights' } });
  let services: Services | undefined;
  let composition: Composition | undefined;
  let server: Server | undefined;
  let webSocket: GraphQLWebSocket | undefined;
  let guard: LiveSessionGuard | undefined;
  let stopping: Promise<void> | undefined;
  // Requests that must finish before shutdown proceeds; long-lived event streams are ended by it instead.
  const inFlight = new Set<ServerResponse>();

  const createYogaServer = (shared: Services, modulePlugins: readonly Plugin[], compiledMutations: ReadonlySet<string>): YogaServerInstance<ServerContext, Context> =>
    createYoga<ServerContext, Context>({
      schema,
      graphqlEndpoint: '/graphql',
      landingPage: false,
      logging: {
        debug: (...args) => log.debug(args.map(String).join(' ')),
        info: (...args) => log.info(args.map(String).join(' ')),
        warn: (...args) => log.warn(args.map(String).join(' ')),
        // Unexpected errors are logged with their request id by maskError; yoga's own copy would repeat them.
        error: (...args) => log.debug(args.map(String).join(' ')),
      },
      graphiql: {
        title: 'Insights',
        defaultQuery: '{\n  currentSystemMetrics { metricName value unit tags timestamp }\n}\n',
      },
      // From our own npm dependencies rather than a CDN, so that it also works without internet access.
      renderGraphiQL,
      maskedErrors: {
        // Never attach original errors (stacks, SQL) to responses, whatever NODE_ENV says.
        isDev: false,
        maskError: (error) => presentError(error).error,
      },
      plugins: [
        // graphql-js's own executor: yoga's default (@graphql-tools/executor) deep-copies every variable first,
        // which costs several percent on a 1,000-record batch, for @defer/@stream support we do not use. The
        // modules' hot writes run compiled (graphql-jit), which makes variable coercion several times cheaper.
        useEngine({ execute: markingRequestErrors(compiledExecute((field) => compiledMutations.has(field))), subscribe }),
        // The modules' own (self-metrics): they see every operation, including those validation refuses.
        ...modulePlugins,
        // The real error behind a masked one, logged with the request id that the caller also received.
        useErrorHandler(({ errors, context }) => {
          for (const error of errors) {
            if (presentError(error).expected) continue;
            log.error({ err: error, requestId: requestIdOf(context) }, 'unexpected error while serving a request');
          }
        }),
        ...hardeningPlugins(config.graphqlLimits),
        useContextExtensions(),
      ],
      // The transport (HTTP handler or WebSocket connection_init) has already checked the key.
      context: ({ principal, requestId }): Context => {
        if (!principal) throw unauthenticated('Missing API key: send "Authorization: Bearer <key>"');
        return { ...shared, principal, requestId: requestId ?? randomUUID(), extensions: {} };
      },
    });

  const waitForInFlight = async (deadline: number) => {
    while (inFlight.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  return {
    get services() {
      if (!services) throw new Error('app not started');
      return services;
    },
    async start() {
      composition = await compose(config, { mode: 'server', log, topicPrefix: options.topicPrefix });
      try {
        await composition.start();
        const shared = composition.services;
        services = shared;
        const yoga = createYogaServer(shared, composition.graphqlPlugins, composition.compiledMutations);
        const frontDoor = new FrontDoor(shared.authenticator, new RateLimiter(rateLimitPolicies(config.rateLimits), shared.bus.commands, log));
        guard = new LiveSessionGuard(shared.authenticator, log);
        server = createServer(
          createRequestHandler({
            yoga,
            frontDoor,
            health: () => healthReport(shared.db, shared.bus),
            log,
            guard,
            routes: composition.routes,
            limits: { bodyBytes: config.http.maxBodyBytes, ingestBodyBytes: config.http.maxIngestBodyBytes },
            isStopping: () => stopping !== undefined,
            inFlight,
          }),
        );
        // Ingest bodies of INSIGHTS_BATCH_SIZE records take a while to arrive on slow links.
        server.requestTimeout = 60_000;
        server.headersTimeout = 30_000;
        server.keepAliveTimeout = 5_000;
        webSocket = attachGraphQLWebSocket(server, yoga, {
          frontDoor,
          maxPayloadBytes: WEBSOCKET_MAX_PAYLOAD_BYTES,
          maxSubscriptionsPerSocket: config.realtime.maxSubscriptionsPerSocket,
          subscriptionBuffer: config.realtime.subscriptionBuffer,
          guard,
        });
        const listening = server;
        await new Promise<void>((resolve, reject) => {
          listening.once('error', reject);
          listening.listen(config.http.port, config.http.host, () => resolve());
        });
        const { port } = listening.address() as AddressInfo;
        const url = `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${port}`;
        log.info({ url: `${url}/graphql`, database: shared.db.kind, pubsub: shared.bus.health().mode }, 'Insights is listening');
        // Jobs start last, once everything they write through (database, pub/sub, live hub) is up.
        const socketServer = webSocket;
        composition.listening({ webSockets: () => socketServer.connections, webSocketOperations: () => socketServer.operations });
        return { url, port };
      } catch (error) {
        await composition.close();
        throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + config.http.shutdownGraceMs;
        // No new ticks from here; runs in progress get until the deadline, then are recorded as interrupted.
        const jobsStopped = composition?.drain(deadline);
        const current = server;
        const closed = current
          ? new Promise<void>((resolve) => current.close(() => resolve()))
          : Promise.resolve();
        current?.closeIdleConnections();
        await waitForInFlight(deadline);
        // Writes are done and their events sent: end live streams (SSE responses complete), then say goodbye on
        // the sockets.
        await services?.bus.drain();
        guard?.stop();
        // Live feeds end (subscriptions complete), then pub/sub and the database close once jobs are done.
        await composition?.stop();
        await webSocket?.dispose(deadline);
        current?.closeIdleConnections();
        const forced = setTimeout(() => current?.closeAllConnections(), Math.max(0, deadline - Date.now()));
        await closed;
        clearTimeout(forced);
        // Jobs write through the database and publish on the bus: they must be done before either closes.
        await jobsStopped;
        await composition?.close();
        log.info('Insights stopped');
      })();
      return stopping;
    },
  };
}
