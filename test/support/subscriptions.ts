import { createClient, type Client, type CloseCode } from 'graphql-ws';
import WebSocket from 'ws';
import { ADMIN_KEY } from './server.js';
import { waitUntil } from './wait.js';

export interface Collected<T> {
  events: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves when at least `count` events have arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  stop(): void;
}

export interface SubscriptionClient {
  client: Client;
  closeEvents: { code: number; reason: string }[];
  subscribe<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Collected<T>;
  /** Resolves once the connection is acknowledged (key accepted). */
  connected: Promise<void>;
  dispose(): Promise<void>;
}

export function connectSubscriptions(baseUrl: string, key: string | null = ADMIN_KEY): SubscriptionClient {
  const closeEvents: { code: number; reason: string }[] = [];
  let acknowledge!: () => void;
  let refuse!: (reason: unknown) => void;
  const connected = new Promise<void>((resolve, reject) => {
    acknowledge = resolve;
    refuse = reject;
  });
  connected.catch(() => undefined);
  const client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    on: {
      connected: () => acknowledge(),
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        closeEvents.push({ code, reason });
        refuse(new Error(`closed ${code} ${reason}`));
      },
    },
    onNonLazyError: () => undefined,
  });

  return {
    client,
    closeEvents,
    connected,
    subscribe<T>(query: string, variables?: Record<string, unknown>): Collected<T> {
      const events: T[] = [];
      const errors: unknown[] = [];
      const waiters: (() => void)[] = [];
      const collected: Collected<T> = {
        events,
        errors,
        completed: false,
        waitFor(count, timeoutMs = 10_000) {
          return new Promise((resolve, reject) => {
            const check = () => {
              if (events.length >= count) {
                clearTimeout(timer);
                resolve(events.slice(0, count));
                return true;
              }
              if (errors.length > 0) {
                clearTimeout(timer);
                reject(new Error(`subscription failed: ${JSON.stringify(errors)}`));
                return true;
              }
              return false;
            };
            const timer = setTimeout(
              () => reject(new Error(`timed out with ${events.length}/${count} events; errors ${JSON.stringify(errors)}`)),
              timeoutMs,
            );
            const waiter = () => {
              if (!check()) waiters.push(waiter);
            };
            waiter();
          });
        },
        stop: () => unsubscribe(),
      };
      const notify = () => {
        for (const waiter of waiters.splice(0)) waiter();
      };
      const unsubscribe = client.subscribe<T>(
        { query, variables },
        {
          next: (result) => {
            if (result.errors) errors.push(result.errors);
            else if (result.data) events.push(result.data as T);
            notify();
          },
          error: (error) => {
            errors.push(error);
            notify();
          },
          complete: () => {
            collected.completed = true;
            notify();
          },
        },
      );
      return collected;
    },
    dispose: async () => {
      await client.dispose();
    },
  };
}

export type { CloseCode };

/**
 * Lets anything still in flight arrive before a test asserts that nothing more did (an absence can only be
 * waited for). Not for "the subscription is registered by now": that is `liveSubscribers(...).registered(n)`.
 */
export const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Counts a server's live subscribers now. `registered(added)` then waits until `added` more are registered with
 * its hub, after which every write is delivered to them (the hub listens to its topics from start-up), however
 * slowly a busy machine handles the subscribe messages. Identical subscriptions share one registration.
 */
export function liveSubscribers(server: { app: { services: { live: { subscriberCount: number } } } }) {
  const live = server.app.services.live;
  const baseline = live.subscriberCount;
  return {
    registered: (added: number) => waitUntil(() => live.subscriberCount >= baseline + added, `${added} more live subscription(s) registered`),
  };
}
