import { PubSub } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Topic, TopicPayloads } from './topics.js';

export interface PubSubHealth {
  mode: 'redis' | 'in-process';
  status: 'ok' | 'degraded';
  publishErrors: number;
}

export interface EventBus {
  /** Never throws: live delivery is best effort, the write it follows is already committed. */
  publish<T extends Topic>(topic: T, payload: TopicPayloads[T]): Promise<void>;
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

  if (!redisUrl) {
    const pubsub = new PubSub();
    return {
      publish: async (topic, payload) => {
        try {
          await pubsub.publish(prefix + topic, payload);
        } catch (error) {
          publishErrors += 1;
          log.error({ err: error, topic }, 'in-process publish failed');
        }
      },
      subscribe: async (topic, onMessage) => {
        const id = await pubsub.subscribe(prefix + topic, onMessage as (payload: unknown) => void);
        return () => pubsub.unsubscribe(id);
      },
      health: () => ({ mode: 'in-process', status: 'ok', publishErrors }),
      commands: undefined,
      close: async () => undefined,
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
  const subscriber = new Redis(redisUrl, { ...connectionOptions, enableOfflineQueue: true, maxRetriesPerRequest: null });
  for (const [role, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (error) => log.debug({ err: error, role }, 'redis connection error'));
  }
  const pubsub = new RedisPubSub({ publisher, subscriber, reviver: reviveDates });

  return {
    publish: async (topic, payload) => {
      try {
        await pubsub.publish(prefix + topic, payload);
      } catch (error) {
        publishErrors += 1;
        log.warn({ err: error, topic }, 'redis publish failed; live subscribers miss this batch');
      }
    },
    subscribe: async (topic, onMessage) => {
      const id = await pubsub.subscribe(prefix + topic, onMessage as (payload: unknown) => void);
      return () => pubsub.unsubscribe(id);
    },
    commands: publisher,
    health: () => ({
      mode: 'redis',
      status: publisher.status === 'ready' && subscriber.status === 'ready' ? 'ok' : 'degraded',
      publishErrors,
    }),
    close: async () => {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
