import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { DocumentNode, ExecutionArgs, GraphQLSchema } from 'graphql';
import { getOperationAST, GraphQLError, Kind, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../core/auth.js';
import { codedError } from '../core/errors.js';
import type { FrontDoor } from './frontDoor.js';
import type { LiveSessionGuard } from './liveSessionGuard.js';
import type { ServerContext } from './serverContext.js';

// The transport knows GraphQL only through yoga; the schema's context type is none of its business.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { SharedSubscriptions, type DeliverSerialized } from './sharedSubscriptions.js';
import { envelopeFor, SocketWriter } from './socketWriter.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Enveloped = ReturnType<YogaServerInstance<ServerContext, any>['getEnveloped']>;
type ExecutionArgsWithEnvelope = ExecutionArgs & {
  rootValue: {
    execute: Enveloped['execute'];
    subscribe: Enveloped['subscribe'];
    shareKey: string | null;
    deliver: DeliverSerialized;
  };
};

/**
 * Identical subscriptions (same operation, variables and key) share one execution when every field they select
 * is a pure event stream (no per-subscriber first value), which its schema field declares with the extension
 * `shareable: true`.
 */
function shareKeyOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  payload: { query: string; operationName?: string | null; variables?: unknown },
  keyId: string,
): string | null {
  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (operation?.operation !== 'subscription') return null;
  const fields = schema.getSubscriptionType()?.getFields() ?? {};
  const shareable = operation.selectionSet.selections.every(
    (selection) => selection.kind === Kind.FIELD && fields[selection.name.value]?.extensions?.shareable === true,
  );
  if (!shareable || document.definitions.length !== 1) return null;
  return [keyId, payload.operationName ?? '', payload.query, JSON.stringify(payload.variables ?? {})].join('\u0000');
}

/**
 * Sends a shared subscription's serialised results to one subscriber. "Waiting" is what was queued for it
 * since its socket last wrote: a socket that keeps up writes every few tens of milliseconds, while one whose
 * client stopped reading does not write at all, so its subscriptions overflow after `capacity` results.
 */
function deliverTo(writer: SocketWriter | undefined, subscriptionId: string): DeliverSerialized {
  if (!writer) throw new Error('WebSocket without a writer');
  const envelope = envelopeFor(subscriptionId);
  let generation = -1;
  let waiting = 0;
  return (payload, capacity) => {
    if (writer.generation !== generation) {
      generation = writer.generation;
      waiting = 0;
    }
    waiting += 1;
    if (waiting > capacity) return false;
    writer.sendNext(envelope, payload);
    return true;
  };
}

/** A GraphQL error without `extensions.http`, for a WebSocket message, which has no status or headers. */
function withoutHttp(error: GraphQLError): GraphQLError {
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { extensions });
}

/** `extensions.http` sets an HTTP answer's status and headers; a WebSocket message has neither, so it goes. */
function withoutHttpExtension(error: GraphQLError): GraphQLFormattedError {
  const formatted = error.toJSON();
  if (!formatted.extensions || !('http' in formatted.extensions)) return formatted;
  const { http: _http, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}

export interface GraphQLWebSocket {
  /** Open connections. */
  readonly connections: number;
  /** Operations between subscribe and complete, on every connection. */
  readonly operations: number;
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
  yoga: YogaServerInstance<ServerContext, any>,
  options: {
    frontDoor: FrontDoor;
    maxPayloadBytes: number;
    maxSubscriptionsPerSocket: number;
    subscriptionBuffer: number;
    guard: LiveSessionGuard;
  },
): GraphQLWebSocket {
  // SocketWriter frames messages itself, which holds only without compression.
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxPayloadBytes, perMessageDeflate: false });
  const writers = new WeakMap<WebSocket, SocketWriter>();
  // Registered before graphql-ws's own listener, so that everything it sends goes through the writer.
  wss.on('connection', (socket) => writers.set(socket, new SocketWriter(socket)));
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
          ? (shared.subscribe(root.shareKey, () => root.subscribe(args), root.deliver) as ReturnType<Enveloped['subscribe']>)
          : root.subscribe(args);
      },
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const { principal, token } = await options.frontDoor.identify(typeof header === 'string' ? header : null);
        if (!principal || !token) return false;
        ctx.extra.principal = principal;
        ctx.extra.token = token;
        const socket = ctx.extra.socket;
        const untrack = options.guard.track(token, () => socket.close(4403, 'Forbidden: API key revoked or expired'));
        socket.once('close', untrack);
        return true;
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map(withoutHttpExtension) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map(withoutHttpExtension),
      onComplete: (ctx) => {
        activeOperations -= 1;
        ctx.extra.operations = (ctx.extra.operations ?? 1) - 1;
      },
      onSubscribe: async (ctx, id, payload) => {
        if ((ctx.extra.operations ?? 0) >= options.maxSubscriptionsPerSocket) {
          return [
            withoutHttp(
              codedError('TOO_MANY_SUBSCRIPTIONS', `At most ${options.maxSubscriptionsPerSocket} operations may run at once on one socket`, {
                limit: options.maxSubscriptionsPerSocket,
              }),
            ),
          ];
        }
        // Admitted per operation like an HTTP request (the key re-checked through its short cache, so a revoked
        // key starts nothing new, and its rate limit taken).
        const admission = await options.frontDoor.admit(ctx.extra.token ? `Bearer ${ctx.extra.token}` : null);
        if (!admission.admitted) return [withoutHttp(admission.error)];
        const { principal } = admission;
        ctx.extra.principal = principal;
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
          rootValue: {
            execute,
            subscribe,
            shareKey: shareKeyOf(schema, document, payload, principal.keyId),
            deliver: deliverTo(writers.get(ctx.extra.socket), id),
          },
        };
        return args;
      },
    },
    wss,
  );
  return {
    get connections() {
      return wss.clients.size;
    },
    get operations() {
      return activeOperations;
    },
    dispose: async (deadline: number) => {
      while (activeOperations > 0 && Date.now() < deadline) await delay(10);
      // The last `complete` messages are written; give them a moment to leave before the close frames.
      while ([...wss.clients].some((socket) => socket.bufferedAmount > 0) && Date.now() < deadline) await delay(10);
      await delay(20);
      await handle.dispose();
    },
  };
}
