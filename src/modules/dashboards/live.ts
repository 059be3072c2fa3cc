import type { Logger } from 'pino';
import { BoundedStream } from '../../core/bus/boundedStream.js';
import type { LiveHub } from '../../core/bus/liveHub.js';
import { codedError } from '../../core/errors.js';
import type { Family } from '../../core/records.js';
import { METRIC_FAMILY_OF_KIND } from '../records/registry.js';
import type { DashboardData, WidgetEngine } from './data.js';
import { FAMILY_OF_SOURCE, resolveRange, type DashboardRecord, type TimeRange } from './model.js';
import type { DashboardService } from './service.js';

interface Feed {
  key: string;
  dashboardId: string;
  /** The caller's range; null: the dashboard's own. */
  range: TimeRange | null;
  variables: Record<string, string>;
  streams: Set<BoundedStream<DashboardData>>;
  latest: DashboardData | null;
  signature: string | null;
  /** The families the dashboard's widgets read: only their writes make it stale. */
  families: Set<Family>;
  refreshMs: number;
  lastComputedAt: number;
  /** When the timer fires (ms since the epoch). */
  dueAt: number;
  timer: NodeJS.Timeout | null;
  computing: Promise<void> | null;
  /** A refresh was asked for while one was computing. */
  again: boolean;
}

/**
 * Live dashboard data. One feed per (dashboard, time range, variables) on this instance, shared by all its
 * subscribers: each refresh computes the dashboard once and pushes the same result to every subscriber. A feed
 * refreshes every `refreshInterval` of its dashboard, sooner when a record of a family its widgets read arrives or
 * the dashboard changes, but never sooner than `minIntervalMs` (INSIGHTS_REAL_TIME_UPDATE_INTERVAL) after the
 * previous computation; a result equal to the previous one is not sent. A new subscriber of a running feed gets
 * its latest result at once, without a computation.
 */
export class DashboardFeeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly stops: (() => void)[] = [];
  /** Computations since start, over every feed (the benchmark and the tests read it). */
  computations = 0;

  constructor(
    private readonly dashboards: DashboardService,
    private readonly engine: WidgetEngine,
    hub: LiveHub,
    private readonly log: Logger,
    private readonly minIntervalMs: number,
  ) {
    const touched = (family: Family) => {
      for (const feed of this.feeds.values()) if (feed.families.has(family)) this.soon(feed);
    };
    this.stops.push(
      hub.on('metrics.recorded', (batch) => touched(METRIC_FAMILY_OF_KIND[batch.kind])),
      hub.on('activities.recorded', () => touched('activities')),
      hub.on('dashboards.changed', ({ id }) => {
        for (const feed of this.feeds.values()) if (feed.dashboardId === id) this.soon(feed);
      }),
    );
  }

  get feedCount(): number {
    return this.feeds.size;
  }

  subscriberCount(): number {
    let count = 0;
    for (const feed of this.feeds.values()) count += feed.streams.size;
    return count;
  }

  subscribe(dashboard: DashboardRecord, range: TimeRange | null, variables: Record<string, string>): AsyncIterableIterator<DashboardData> {
    const key = JSON.stringify([dashboard.id, range, Object.entries(variables).sort(([a], [b]) => a.localeCompare(b))]);
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = {
        key,
        dashboardId: dashboard.id,
        range,
        variables,
        streams: new Set(),
        latest: null,
        signature: null,
        families: familiesOf(dashboard),
        refreshMs: Math.max(dashboard.refreshInterval * 1000, this.minIntervalMs),
        lastComputedAt: 0,
        dueAt: 0,
        timer: null,
        computing: null,
        again: false,
      };
      this.feeds.set(key, feed);
    }
    const owner = feed;
    // Results supersede each other: a subscriber that is behind only needs the newest.
    const stream: BoundedStream<DashboardData> = new BoundedStream<DashboardData>(
      1,
      () => {
        owner.streams.delete(stream);
        if (owner.streams.size === 0) this.drop(owner);
      },
      'dropOldest',
    );
    owner.streams.add(stream);
    if (owner.latest) stream.push(owner.latest);
    else if (!owner.computing) void this.refresh(owner);
    return stream;
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
    for (const feed of [...this.feeds.values()]) {
      for (const stream of [...feed.streams]) stream.end();
      this.drop(feed);
    }
  }

  private drop(feed: Feed): void {
    if (feed.timer) clearTimeout(feed.timer);
    feed.timer = null;
    if (this.feeds.get(feed.key) === feed) this.feeds.delete(feed.key);
  }

  /** Brings the next refresh forward to the earliest moment the minimum interval allows. */
  private soon(feed: Feed): void {
    if (feed.computing) {
      feed.again = true;
      return;
    }
    this.arm(feed, Math.max(Date.now(), feed.lastComputedAt + this.minIntervalMs));
  }

  private arm(feed: Feed, at: number): void {
    if (!this.feeds.has(feed.key) || feed.streams.size === 0) return;
    if (feed.timer && feed.dueAt <= at) return;
    if (feed.timer) clearTimeout(feed.timer);
    feed.dueAt = at;
    feed.timer = setTimeout(() => {
      feed.timer = null;
      void this.refresh(feed);
    }, Math.max(0, at - Date.now()));
    feed.timer.unref();
  }

  private async refresh(feed: Feed): Promise<void> {
    if (feed.streams.size === 0 || feed.computing) return;
    feed.again = false;
    feed.computing = this.compute(feed);
    await feed.computing;
    feed.computing = null;
    if (feed.streams.size === 0) return;
    if (feed.again) this.soon(feed);
    this.arm(feed, feed.lastComputedAt + feed.refreshMs);
  }

  private async compute(feed: Feed): Promise<void> {
    feed.lastComputedAt = Date.now();
    try {
      const dashboard = await this.dashboards.get(feed.dashboardId);
      if (!dashboard) {
        const gone = codedError('NOT_FOUND', `Dashboard ${feed.dashboardId} was deleted; its live data ended.`);
        for (const stream of [...feed.streams]) stream.fail(gone);
        this.drop(feed);
        return;
      }
      feed.families = familiesOf(dashboard);
      feed.refreshMs = Math.max(dashboard.refreshInterval * 1000, this.minIntervalMs);
      const { from, to } = resolveRange(feed.range ?? dashboard.timeRange, feed.lastComputedAt);
      this.computations += 1;
      const data = await this.engine.dashboardData(dashboard, { from, to, variables: feed.variables });
      // Only what a panel draws decides whether anything changed; the sliding range and the clock do not.
      const signature = JSON.stringify([data.version, data.widgets]);
      if (signature === feed.signature) return;
      feed.signature = signature;
      feed.latest = data;
      for (const stream of feed.streams) stream.push(data);
    } catch (error) {
      this.log.warn({ err: error, dashboardId: feed.dashboardId }, 'could not refresh live dashboard data');
    }
  }
}

function familiesOf(dashboard: DashboardRecord): Set<Family> {
  return new Set(dashboard.widgets.filter((widget) => widget.type !== 'ALERT_LIST').map((widget) => FAMILY_OF_SOURCE[widget.query.source]));
}
