import type { Logger } from 'pino';
import { BoundedStream } from './boundedStream.js';
import type { EventBus, Topic, TopicPayloads } from './pubsub.js';

/**
 * Picks what one subscriber receives from a payload: calls `emit` for each item it wants. Compiled once per
 * subscription, run per payload: plain comparisons, no GraphQL execution.
 */
export type Matcher<T extends Topic, Item> = (payload: TopicPayloads[T], emit: (item: Item) => void) => void;

interface Subscriber {
  match: Matcher<Topic, unknown>;
  stream: BoundedStream<unknown>;
}

/**
 * The process-local end of live delivery. It listens to each topic on the bus once and hands every payload
 * (a committed batch) to the local subscribers of that topic, whose matchers pick what they want before any
 * GraphQL execution: a subscriber whose filter matches nothing costs a few comparisons per batch, and one bus
 * message per batch serves every subscriber of this process.
 *
 * Modules declare the topics they stream (`listen`) while the app is composed; `start` subscribes to all of
 * them before the server accepts subscriptions, so no event published after a subscription began is missed.
 */
export class LiveHub {
  private readonly topics = new Map<Topic, Set<Subscriber>>();
  private readonly listeners = new Map<Topic, Set<(payload: never) => void>>();
  private readonly unsubscribes: (() => void)[] = [];
  private started = false;

  constructor(
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly bufferSize: number,
  ) {}

  /** Declares a topic this process streams to its subscribers. */
  listen(topic: Topic): void {
    if (this.topics.has(topic)) return;
    if (this.started) throw new Error(`live topic ${topic} declared after the hub started`);
    this.topics.set(topic, new Set());
  }

  async start(): Promise<void> {
    this.started = true;
    for (const [topic, subscribers] of this.topics) {
      this.unsubscribes.push(await this.bus.subscribe(topic, (payload) => this.dispatch(topic, subscribers, payload)));
    }
  }

  /**
   * A bounded stream of what `match` picks from each payload of `topic` from now on. A subscriber that falls
   * INSIGHTS_SUBSCRIPTION_BUFFER items behind is ended with SUBSCRIPTION_OVERFLOW.
   */
  stream<T extends Topic, Item>(topic: T, match: Matcher<T, Item>): AsyncIterableIterator<Item> {
    const subscribers = this.subscribersOf(topic);
    const subscriber: Subscriber = {
      match: match as Matcher<Topic, unknown>,
      stream: new BoundedStream<unknown>(this.bufferSize, () => subscribers.delete(subscriber)),
    };
    subscribers.add(subscriber);
    return subscriber.stream as AsyncIterableIterator<Item>;
  }

  /** Whole payloads of `topic` as they arrive, for process-level consumers (live snapshots, dashboards). */
  on<T extends Topic>(topic: T, listener: (payload: TopicPayloads[T]) => void): () => void {
    this.subscribersOf(topic);
    let listeners = this.listeners.get(topic);
    if (!listeners) {
      listeners = new Set();
      this.listeners.set(topic, listeners);
    }
    const registered = listeners;
    registered.add(listener as (payload: never) => void);
    return () => registered.delete(listener as (payload: never) => void);
  }

  get subscriberCount(): number {
    let count = 0;
    for (const subscribers of this.topics.values()) count += subscribers.size;
    return count;
  }

  /** Completes every live stream (shutdown): clients see their subscriptions complete, not fail. */
  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    for (const subscribers of this.topics.values()) {
      for (const subscriber of [...subscribers]) subscriber.stream.end();
    }
  }

  private subscribersOf(topic: Topic): Set<Subscriber> {
    const subscribers = this.topics.get(topic);
    if (!subscribers) throw new Error(`live topic ${topic} was not declared with listen()`);
    return subscribers;
  }

  private dispatch(topic: Topic, subscribers: Set<Subscriber>, payload: unknown): void {
    for (const listener of this.listeners.get(topic) ?? []) {
      try {
        listener(payload as never);
      } catch (error) {
        this.log.error({ err: error, topic }, 'live listener failed');
      }
    }
    for (const subscriber of subscribers) {
      const { stream } = subscriber;
      try {
        subscriber.match(payload as never, (item) => {
          if (!stream.closed) stream.push(item);
        });
      } catch (error) {
        this.log.error({ err: error, topic }, 'live matcher failed');
      }
    }
  }
}
