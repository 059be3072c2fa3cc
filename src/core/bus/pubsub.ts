import { PubSub } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The pub/sub topics and their payloads. Each module declares the topics it publishes by augmenting this
 * interface (see src/modules/records/topics.ts), so the core names none of them.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TopicPayloads {}

export type Topic = keyof TopicPayloads & string;

export interface PubSubHealth {
  mode: 'redis' | 'in-process';
  status: 'ok' | 'degraded';
  publishErrors: number;
}

export interface EventBus {
  /**
   * Fire and forget: never throws and never holds the caller up, since the write it follows is already
   * committed and live delivery is best effort. Publishes leave in call order, so one writer's events stay in
   * order. A Redis that is down fails them at once; one that stops answering, after its command timeout.
   */
  publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): void;
  /** Resolves once every publish made so far has been sent or has failed. */
  drain(): Promise<void>;
  subscribe<T extends Topic>(topic: T, onMessage: (payload: TopicPayloads[T]) => void): Promise<() => void>;
  health(): PubSubHealth;
  /** A Redis connection for short commands (rate limits), when Redis is configured. */
  readonly commands: Redis | undefined;
  close(): Promise<void>;
}

// Dates survive the JSON round trip through Redis as ISO strings; revive them so subscribers see one shape.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const reviveDates = (_key: string, value: unknown) =>
  typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : value;

export function createEventBus(options: { redisUrl: string | undefined; prefix?: string; log: Logger }): EventBus {
  const { redisUrl, log } = options;
  const prefix = options.prefix ?? 'insights:';
  let publishErrors = 0;
  // Set by a failed publish, cleared by the next one that succeeds or by a reconnection: a Redis that accepts
  // connections but does not answer looks connected, and only failing publishes tell.
  let failing = false;
  const inFlight = new Set<Promise<void>>();
  const track = (publishing: Promise<void>) => {
    inFlight.add(publishing);
    void publishing.finally(() => inFlight.delete(publishing));
  };
  const drain = async () => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };

  if (!redisUrl) {
    const pubsub = new PubSub();
    return {
      publish: (topic, payload) =>
        track(
          pubsub.publish(prefix + topic, payload).catch((error: unknown) => {
            publishErrors += 1;
            log.error({ err: error, topic }, 'in-process publish failed');
          }),
        ),
      drain,
      subscribe: async (topic, onMessage) => {
        const id = await pubsub.subscribe(prefix + topic, onMessage as (payload: unknown) => void);
        return () => pubsub.unsubscribe(id);
      },
      health: () => ({ mode: 'in-process', status: 'ok', publishErrors }),
      commands: undefined,
      close: drain,
    };
  }

  const connectionOptions = {
    // Keep retrying forever: an outage must heal without a restart.
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // A Redis that accepts connections but stops answering must not hold writes up.
    commandTimeout: 1_000,
    lazyConnect: false,
  };
  const publisher = new Redis(redisUrl, connectionOptions);
  // No ready check on the subscriber: ioredis 5.8.2+ may send its INFO probe after the connection entered subscriber
  // mode (redis/ioredis#2037), which Redis refuses and which surfaces as an unhandled rejection.
  const subscriber = new Redis(redisUrl, { ...connectionOptions, enableOfflineQueue: true, maxRetriesPerRequest: null, enableReadyCheck: false });
  for (const [role, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (error) => log.debug({ err: error, role }, 'redis connection error'));
  }
  publisher.on('ready', () => {
    failing = false;
  });
  const pubsub = new RedisPubSub({ publisher, subscriber, reviver: reviveDates });

  return {
    publish: (topic, payload) =>
      track(
        pubsub.publish(prefix + topic, payload).then(
          () => {
            failing = false;
          },
          (error: unknown) => {
            publishErrors += 1;
            failing = true;
            log.warn({ err: error, topic }, 'redis publish failed; live subscribers miss this batch');
          },
        ),
      ),
    drain,
    subscribe: async (topic, onMessage) => {
      const id = await pubsub.subscribe(prefix + topic, onMessage as (payload: unknown) => void);
      return () => pubsub.unsubscribe(id);
    },
    commands: publisher,
    health: () => ({
      mode: 'redis',
      status: publisher.status === 'ready' && subscriber.status === 'ready' && !failing ? 'ok' : 'degraded',
      publishErrors,
    }),
    close: async () => {
      await drain();
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
