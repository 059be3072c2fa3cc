import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { DocumentNode, ExecutionArgs } from 'graphql';
import { getOperationAST, GraphQLError, Kind } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearerToken } from '../auth/apiKeys.js';
import type { RateLimiter } from '../auth/rateLimiter.js';
import type { LiveSessionGuard } from '../auth/liveSessionGuard.js';
import type { Principal } from '../auth/scopes.js';
import { SharedSubscriptions } from '../realtime/sharedSubscriptions.js';
import type { Context, Services } from '../schema/context.js';
import type { ServerContext } from './serverContext.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Enveloped = ReturnType<YogaServerInstance<ServerContext, Context>['getEnveloped']>;
type ExecutionArgsWithEnvelope = ExecutionArgs & {
  rootValue: { execute: Enveloped['execute']; subscribe: Enveloped['subscribe']; shareKey: string | null };
};

/** Subscriptions that are pure event streams (no per-subscriber first value), so identical ones can share. */
const SHAREABLE_FIELDS = new Set(['metricRecorded', 'activityRecorded']);

function shareKeyOf(document: DocumentNode, payload: { query: string; operationName?: string | null; variables?: unknown }, keyId: string): string | null {
  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (operation?.operation !== 'subscription') return null;
  const shareable = operation.selectionSet.selections.every(
    (selection) => selection.kind === Kind.FIELD && SHAREABLE_FIELDS.has(selection.name.value),
  );
  if (!shareable || document.definitions.length !== 1) return null;
  return [keyId, payload.operationName ?? '', payload.query, JSON.stringify(payload.variables ?? {})].join('\u0000');
}

const HIGH_WATER_BYTES = 1024 * 1024;
/**
 * At most one write per socket per interval: a message after a quiet spell leaves at once, while under a
 * stream of events a panel gets several messages per write. Writes (one system call each) were the largest
 * cost of fan-out: at 200 events/s to 1,000 sockets, one write per message did not fit in a core.
 */
const MIN_FLUSH_INTERVAL_MS = 40;

/**
 * Coalesces what graphql-ws sends on one socket into as few writes as MIN_FLUSH_INTERVAL_MS allows (one system
 * call for several messages; the busier the stream, the more messages share a write). Sends are acknowledged at once while the socket keeps up; once more than HIGH_WATER_BYTES wait
 * for a slow client, acknowledgements wait too, so graphql-ws stops pulling and the subscription's bounded
 * buffer ends a client that never reads.
 */
function coalesceWrites(socket: WebSocket): void {
  const send = socket.send.bind(socket) as (data: unknown) => void;
  const tcp = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  let pending: unknown[] = [];
  let waiting: (() => void)[] = [];
  let flushScheduled = false;
  let releaseScheduled = false;
  let lastFlushAt = 0;
  const release = () => {
    releaseScheduled = false;
    if (waiting.length === 0) return;
    if (socket.readyState === socket.OPEN && socket.bufferedAmount > HIGH_WATER_BYTES) {
      releaseScheduled = true;
      setTimeout(release, 20).unref();
      return;
    }
    const callbacks = waiting;
    waiting = [];
    for (const callback of callbacks) callback();
  };
  const flush = () => {
    flushScheduled = false;
    lastFlushAt = Date.now();
    const batch = pending;
    pending = [];
    if (socket.readyState === socket.OPEN) {
      tcp?.cork();
      for (const data of batch) send(data);
      tcp?.uncork();
    }
    if (!releaseScheduled) release();
  };
  socket.send = ((data: unknown, optionsOrCallback?: unknown, maybeCallback?: unknown) => {
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as
      | ((error?: Error) => void)
      | undefined;
    pending.push(data);
    if (!flushScheduled) {
      flushScheduled = true;
      const wait = lastFlushAt + MIN_FLUSH_INTERVAL_MS - Date.now();
      if (wait > 0) setTimeout(flush, wait);
      else setImmediate(flush);
    }
    if (!callback) return;
    if (socket.bufferedAmount > HIGH_WATER_BYTES || releaseScheduled) waiting.push(() => callback());
    else queueMicrotask(() => callback());
  }) as WebSocket['send'];
}

export interface GraphQLWebSocket {
  /**
   * Waits (until `deadline`) for ended operations to send their `complete`, then closes every socket with
   * 1001 (going away).
   */
  dispose(deadline: number): Promise<void>;
}

/**
 * graphql-transport-ws on the same /graphql endpoint. Operations go through yoga's envelop (getEnveloped), so
 * they get the same plugins, error masking, context and scope checks as HTTP. The key is checked once, in
 * connection_init: a socket without a valid key is closed with 4403 before any operation runs.
 */
export function attachGraphQLWebSocket(
  server: Server,
  yoga: YogaServerInstance<ServerContext, Context>,
  services: Services,
  options: {
    maxPayloadBytes: number;
    maxSubscriptionsPerSocket: number;
    subscriptionBuffer: number;
    rateLimiter: RateLimiter;
    guard: LiveSessionGuard;
  },
): GraphQLWebSocket {
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxPayloadBytes });
  // Registered before graphql-ws's own listener, so its sends go through the coalescing wrapper.
  wss.on('connection', coalesceWrites);
  const shared = new SharedSubscriptions(options.subscriptionBuffer);
  // Operations between subscribe and complete, so shutdown can let completions reach clients before closing.
  let activeOperations = 0;
  const handle = useServer<
    Record<string, unknown> | undefined,
    { principal?: Principal; token?: string; operations?: number }
  >(
    {
      execute: (args) => (args as ExecutionArgsWithEnvelope).rootValue.execute(args),
      subscribe: (args) => {
        const root = (args as ExecutionArgsWithEnvelope).rootValue;
        return root.shareKey
          ? (shared.subscribe(root.shareKey, () => root.subscribe(args)) as ReturnType<Enveloped['subscribe']>)
          : root.subscribe(args);
      },
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const token = bearerToken(typeof header === 'string' ? header : null);
        const principal = token ? await services.authenticator.authenticate(token) : null;
        if (!principal || !token) return false;
        ctx.extra.principal = principal;
        ctx.extra.token = token;
        const socket = ctx.extra.socket;
        const untrack = options.guard.track(token, () => socket.close(4403, 'Forbidden: API key revoked or expired'));
        socket.once('close', untrack);
        return true;
      },
      onComplete: (ctx) => {
        activeOperations -= 1;
        ctx.extra.operations = (ctx.extra.operations ?? 1) - 1;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // Re-checked per operation (cached for a few seconds): a revoked key starts nothing new.
        const principal = ctx.extra.token ? await services.authenticator.authenticate(ctx.extra.token) : null;
        if (!principal) {
          return [new GraphQLError('Invalid, revoked or expired API key', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        ctx.extra.principal = principal;
        if ((ctx.extra.operations ?? 0) >= options.maxSubscriptionsPerSocket) {
          return [
            new GraphQLError(`At most ${options.maxSubscriptionsPerSocket} operations may run at once on one socket`, {
              extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: options.maxSubscriptionsPerSocket },
            }),
          ];
        }
        const decision = await options.rateLimiter.take(principal);
        if (!decision.allowed) {
          return [
            new GraphQLError(`Rate limit of this API key exceeded; retry in ${decision.retryAfterSeconds} s`, {
              extensions: { code: 'RATE_LIMITED', retryAfterSeconds: decision.retryAfterSeconds },
            }),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          principal,
          requestId: randomUUID(),
        } as ServerContext);
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        let errors;
        try {
          errors = validate(schema, document);
        } catch (error) {
          // A validation rule that throws must fail this operation only, not close the socket (4500).
          return [error instanceof GraphQLError ? error : new GraphQLError('The operation could not be validated')];
        }
        if (errors.length > 0) return errors;
        const contextValue = await contextFactory();
        // Counted only once nothing can fail any more: graphql-ws calls onComplete for executed operations only.
        activeOperations += 1;
        ctx.extra.operations = (ctx.extra.operations ?? 0) + 1;
        const args: ExecutionArgsWithEnvelope = {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe, shareKey: shareKeyOf(document, payload, principal.keyId) },
        };
        return args;
      },
    },
    wss,
  );
  return {
    dispose: async (deadline: number) => {
      while (activeOperations > 0 && Date.now() < deadline) await delay(10);
      // The last `complete` messages are written; give them a moment to leave before the close frames.
      while ([...wss.clients].some((socket) => socket.bufferedAmount > 0) && Date.now() < deadline) await delay(10);
      await delay(20);
      await handle.dispose();
    },
  };
}
