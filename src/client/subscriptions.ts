import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';

export interface SubscriptionOptions {
  /** Reconnection attempts after a lost connection before subscriptions end with an error. @default Infinity */
  retryAttempts?: number;
  /** Ping interval that detects a dead connection. @default 10000 */
  keepAliveMs?: number;
  /** A WebSocket implementation. @default globalThis.WebSocket, or the `ws` package on Node.js 20 */
  webSocketImpl?: unknown;
}

/** A GraphQL document as text, or anything that prints as one (the generated TypedDocumentString). */
export type DocumentText<Data = Record<string, unknown>, Variables = Record<string, unknown>> =
  | string
  | ({ toString(): string } & { __apiType?: (variables: Variables) => Data });

export interface Subscriber {
  /**
   * Runs a subscription over graphql-ws and yields its results. The connection is opened on first use, carries
   * the API key in connection_init and comes back after a loss, subscriptions included. Leaving the loop (break,
   * return) ends the subscription.
   */
  subscribe<Data = Record<string, unknown>, Variables = Record<string, unknown>>(
    query: DocumentText<Data, Variables>,
    variables?: Variables,
  ): AsyncGenerator<FormattedExecutionResult<Data, unknown>, void, undefined>;
  dispose(): Promise<void>;
}

async function defaultWebSocket(): Promise<unknown> {
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  // Node.js 20 has no WebSocket global; `ws` is loaded only when a subscription is first opened, so the batching
  // client stays usable on runtimes that lack it.
  const ws = await import('ws');
  return ws.default;
}

const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406]);

export function createSubscriber(endpoint: string, apiKey: string, options: SubscriptionOptions = {}): Subscriber {
  const url = endpoint.replace(/^http/, 'ws');
  let client: Promise<Client> | undefined;
  let disposed = false;
  const connect = () =>
    (client ??= (async () =>
      createClient({
        url,
        webSocketImpl: options.webSocketImpl ?? (await defaultWebSocket()),
        connectionParams: { authorization: `Bearer ${apiKey}` },
        lazy: true,
        keepAlive: options.keepAliveMs ?? 10_000,
        retryAttempts: options.retryAttempts ?? Number.POSITIVE_INFINITY,
        // A lost connection, a restart or a network error comes back; a refused key or a bad request would
        // only be refused again.
        shouldRetry: (event) => !FATAL_CLOSE_CODES.has((event as { code?: number } | null)?.code ?? 0),
      }))());

  return {
    async *subscribe<Data, Variables>(query: DocumentText<Data, Variables>, variables?: Variables) {
      // Insights' subscriptions never end on their own: an instance that stops completes them before closing its
      // sockets (1001). So a completion is taken as "subscribe again", and graphql-ws finds the next instance.
      for (let quickEnds = 0; !disposed; ) {
        const started = Date.now();
        const iterator = (await connect()).iterate<Data>({
          query: query.toString(),
          variables: (variables ?? {}) as Record<string, unknown>,
        });
        try {
          for await (const result of iterator) yield result;
        } finally {
          await iterator.return?.();
        }
        // A subscription that keeps ending at once is not an instance going away: back off instead of spinning.
        quickEnds = Date.now() - started < 1000 ? quickEnds + 1 : 0;
        if (quickEnds > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 250 * 2 ** quickEnds)));
      }
    },
    async dispose() {
      disposed = true;
      if (!client) return;
      const opened = await client;
      await opened.dispose();
    },
  };
}
