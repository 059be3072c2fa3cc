import type { Logger } from 'pino';
import { currentSystemMetrics } from './currentSystemMetrics.js';
import type { Queryable } from '../../core/db/sql.js';
import type { StoredOf } from '../../core/records.js';
import { BoundedStream } from '../../core/bus/boundedStream.js';
import type { LiveHub } from '../../core/bus/liveHub.js';

export type SystemSnapshot = StoredOf<'systemMetrics'>[];

interface Feed {
  host: string | null;
  streams: Set<BoundedStream<SystemSnapshot>>;
  signature: string | null;
  lastRefreshAt: number;
  timer: NodeJS.Timeout | null;
  refreshing: Promise<void> | null;
}

/**
 * Live `currentSystemMetrics` snapshots. One feed per host argument is shared by all its subscribers:
 * system-metric batches mark it stale, and it is recomputed (one query) and pushed at most once per
 * interval, and only when the snapshot actually changed. A new subscriber gets the current snapshot first.
 */
export class SystemSnapshotFeeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly stopListening: () => void;

  constructor(
    private readonly db: Queryable,
    hub: LiveHub,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {
    this.stopListening = hub.on('metrics.recorded', (batch) => {
      if (batch.kind !== 'SYSTEM' || this.feeds.size === 0) return;
      const hosts = new Set(batch.records.map((record) => record.host));
      for (const feed of this.feeds.values()) {
        if (feed.host === null || hosts.has(feed.host)) this.schedule(feed);
      }
    });
  }

  subscribe(host: string | null): AsyncIterableIterator<SystemSnapshot> {
    const key = host ?? '\u0000all';
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = { host, streams: new Set(), signature: null, lastRefreshAt: 0, timer: null, refreshing: null };
      this.feeds.set(key, feed);
    }
    const owner = feed;
    // Snapshots supersede each other: a client that is behind only ever needs the newest one.
    const stream: BoundedStream<SystemSnapshot> = new BoundedStream<SystemSnapshot>(
      1,
      () => {
        owner.streams.delete(stream);
        if (owner.streams.size === 0) {
          if (owner.timer) clearTimeout(owner.timer);
          this.feeds.delete(key);
        }
      },
      'dropOldest',
    );
    owner.streams.add(stream);
    void this.initial(owner, stream);
    return stream;
  }

  close(): void {
    this.stopListening();
    for (const feed of this.feeds.values()) {
      if (feed.timer) clearTimeout(feed.timer);
      for (const stream of [...feed.streams]) stream.end();
    }
    this.feeds.clear();
  }

  private async initial(feed: Feed, stream: BoundedStream<SystemSnapshot>): Promise<void> {
    try {
      const snapshot = await currentSystemMetrics(this.db, feed.host);
      stream.push(snapshot);
      if (feed.signature === null) {
        feed.signature = signatureOf(snapshot);
        feed.lastRefreshAt = Date.now();
      }
    } catch (error) {
      stream.fail(error);
    }
  }

  private schedule(feed: Feed): void {
    if (feed.timer) return;
    const delay = Math.max(0, feed.lastRefreshAt + this.intervalMs - Date.now());
    feed.timer = setTimeout(() => {
      feed.timer = null;
      void this.refresh(feed);
    }, delay);
    feed.timer.unref();
  }

  private async refresh(feed: Feed): Promise<void> {
    if (feed.streams.size === 0) return;
    if (feed.refreshing) {
      await feed.refreshing;
      this.schedule(feed);
      return;
    }
    feed.lastRefreshAt = Date.now();
    feed.refreshing = (async () => {
      try {
        const snapshot = await currentSystemMetrics(this.db, feed.host);
        const signature = signatureOf(snapshot);
        if (signature === feed.signature) return;
        feed.signature = signature;
        for (const stream of feed.streams) stream.push(snapshot);
      } catch (error) {
        this.log.warn({ err: error, host: feed.host }, 'could not refresh live system snapshot');
      }
    })();
    await feed.refreshing;
    feed.refreshing = null;
  }
}

function signatureOf(snapshot: SystemSnapshot): string {
  return snapshot.map((record) => record.id).join(',');
}
