import type { Logger } from 'pino';
import type { Stored, UserActivityRow } from '../ingest/families.js';
import { BoundedStream } from './boundedStream.js';
import type { EventBus } from './pubsub.js';
import { activityMatcher, metricMatcher, type ActivityStreamFilter, type MetricStreamFilter } from './streamFilters.js';
import type { MetricKind, MetricRecordedBatch } from './topics.js';

export type LiveMetric = MetricRecordedBatch['records'][number];
export type LiveActivity = Stored<UserActivityRow>;

interface MetricSubscriber {
  kinds: Set<MetricKind> | null;
  matches: (record: LiveMetric) => boolean;
  stream: BoundedStream<LiveMetric>;
}

interface ActivitySubscriber {
  matches: (record: LiveActivity) => boolean;
  stream: BoundedStream<LiveActivity>;
}

/**
 * The process-local end of live delivery. It listens to each bus topic once and hands every committed batch
 * to the local subscriptions whose filters match, record by record, before any GraphQL execution; so a
 * subscriber whose filter matches nothing costs a few comparisons per batch, and one bus message per batch
 * serves every subscriber of this process.
 */
export class LiveHub {
  private readonly metricSubscribers = new Set<MetricSubscriber>();
  private readonly activitySubscribers = new Set<ActivitySubscriber>();
  private readonly batchListeners = new Set<(batch: MetricRecordedBatch) => void>();
  private readonly unsubscribes: (() => void)[] = [];

  constructor(
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly bufferSize: number,
  ) {}

  async start(): Promise<void> {
    this.unsubscribes.push(await this.bus.subscribe('metrics.recorded', (batch) => this.dispatchMetrics(batch)));
    this.unsubscribes.push(await this.bus.subscribe('activities.recorded', ({ records }) => this.dispatchActivities(records)));
  }

  metricStream(filter: MetricStreamFilter): AsyncIterableIterator<LiveMetric> {
    const { kinds, matches } = metricMatcher(filter);
    const subscriber: MetricSubscriber = {
      kinds,
      matches,
      stream: new BoundedStream<LiveMetric>(this.bufferSize, () => this.metricSubscribers.delete(subscriber)),
    };
    this.metricSubscribers.add(subscriber);
    return subscriber.stream;
  }

  activityStream(filter: ActivityStreamFilter): AsyncIterableIterator<LiveActivity> {
    const subscriber: ActivitySubscriber = {
      matches: activityMatcher(filter),
      stream: new BoundedStream<LiveActivity>(this.bufferSize, () => this.activitySubscribers.delete(subscriber)),
    };
    this.activitySubscribers.add(subscriber);
    return subscriber.stream;
  }

  /** Whole metric batches as they arrive, for process-level consumers (live snapshots). */
  onMetricBatch(listener: (batch: MetricRecordedBatch) => void): () => void {
    this.batchListeners.add(listener);
    return () => this.batchListeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.metricSubscribers.size + this.activitySubscribers.size;
  }

  /** Completes every live stream (shutdown): clients see their subscriptions complete, not fail. */
  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    for (const subscriber of [...this.metricSubscribers]) subscriber.stream.end();
    for (const subscriber of [...this.activitySubscribers]) subscriber.stream.end();
  }

  private dispatchMetrics(batch: MetricRecordedBatch): void {
    for (const listener of this.batchListeners) {
      try {
        listener(batch);
      } catch (error) {
        this.log.error({ err: error }, 'live batch listener failed');
      }
    }
    const records: LiveMetric[] = batch.records;
    for (const subscriber of this.metricSubscribers) {
      if (subscriber.kinds !== null && !subscriber.kinds.has(batch.kind)) continue;
      for (const record of records) {
        if (subscriber.matches(record)) subscriber.stream.push(record);
        if (subscriber.stream.closed) break;
      }
    }
  }

  private dispatchActivities(records: LiveActivity[]): void {
    for (const subscriber of this.activitySubscribers) {
      for (const record of records) {
        if (subscriber.matches(record)) subscriber.stream.push(record);
        if (subscriber.stream.closed) break;
      }
    }
  }
}
