import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { bearerToken } from '../auth/apiKeys.js';
import type { RateLimiter } from '../auth/rateLimiter.js';
import type { LiveSessionGuard } from '../auth/liveSessionGuard.js';
import type { Principal } from '../auth/scopes.js';
import type { Context, Services } from '../schema/context.js';
import type { ServerContext } from './serverContext.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Enveloped = ReturnType<YogaServerInstance<ServerContext, Context>['getEnveloped']>;
type ExecutionArgsWithEnvelope = ExecutionArgs & { rootValue: { execute: Enveloped['execute']; subscribe: Enveloped['subscribe'] } };

export interface GraphQLWebSocket {
  /**
   * Waits (until `deadline`) for ended operations to send their `complete`, then closes every socket with
   * 1001 (going away).
   */
  dispose(deadline: number): Promise<void>;
  readonly socketCount: number;
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
  options: { maxPayloadBytes: number; maxSubscriptionsPerSocket: number; rateLimiter: RateLimiter; guard: LiveSessionGuard },
): GraphQLWebSocket {
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxPayloadBytes });
  // Operations between subscribe and complete, so shutdown can let completions reach clients before closing.
  let activeOperations = 0;
  const handle = useServer<
    Record<string, unknown> | undefined,
    { principal?: Principal; token?: string; operations?: number }
  >(
    {
      execute: (args) => (args as ExecutionArgsWithEnvelope).rootValue.execute(args),
      subscribe: (args) => (args as ExecutionArgsWithEnvelope).rootValue.subscribe(args),
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
          rootValue: { execute, subscribe },
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
    get socketCount() {
      return wss.clients.size;
    },
  };
}
