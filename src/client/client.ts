import { DroppingQueue } from './buffer.js';
import { createSubscriber, type Subscriber, type SubscriptionOptions } from './subscriptions.js';
import { postIngest, type LocatedIssue } from './transport.js';
import type {
  ApplicationMetric,
  Family,
  InsightsClientError,
  InsightsClientStats,
  PerformanceMetric,
  QueuedRecord,
  RejectedRecord,
  SystemMetric,
  UserActivity,
  UserMetric,
} from './types.js';

export interface RetryOptions {
  /** Attempts per batch, the first included, before its records are given up (reported to onError). @default 12 */
  maxAttempts?: number;
  /** Wait before the first retry; doubled for each further one. @default 250 */
  initialDelayMs?: number;
  /** Longest wait between two attempts (a longer Retry-After is still honoured). @default 15000 */
  maxDelayMs?: number;
}

export interface InsightsClientOptions {
  /** The service's base URL (`https://insights.example.com`) or its GraphQL endpoint (`…/graphql`). */
  url: string;
  /** An API key with the INGEST scope (READ as well for subscribe()). */
  apiKey: string;
  /** Records per `ingest` request; a batch leaves as soon as it is full. @default 500 */
  batchSize?: number;
  /** Longest time a record waits in the buffer before its (partial) batch is sent. @default 1000 */
  flushIntervalMs?: number;
  /** Records the buffer holds while the service is slow or away; beyond it the oldest are dropped. @default 10000 */
  maxBufferSize?: number;
  /** Batches sent at the same time. @default 2 */
  concurrency?: number;
  /** Time allowed for one request before it is abandoned and retried. @default 10000 */
  requestTimeoutMs?: number;
  retry?: RetryOptions;
  /** Called when records are refused as invalid or cannot be delivered; it must not throw (a throw is ignored). */
  onError?: (error: InsightsClientError) => void;
  /** Flush on `beforeExit` and close on SIGTERM (then let SIGTERM end the process, unless others listen to it). @default false */
  flushOnExit?: boolean;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Options of the WebSocket connection that subscribe() opens on first use. */
  subscriptions?: SubscriptionOptions;
}

export interface ActivitySignal {
  userId: string;
  description?: string | null;
  metadata?: unknown;
  ipAddress?: string | null;
  userAgent?: string | null;
  referrer?: string | null;
  timestamp?: Date | string | null;
}

export interface InsightsClient {
  trackActivity(activity: UserActivity): void;
  /** A product signal (`PROJECT_CREATE`, `PAGE_UPDATE`) as a user activity of that type. */
  track(activityType: string, signal: ActivitySignal): void;
  recordSystemMetric(metric: SystemMetric): void;
  recordApplicationMetric(metric: ApplicationMetric): void;
  recordUserMetric(metric: UserMetric): void;
  recordPerformanceMetric(metric: PerformanceMetric): void;
  /** Sends everything handed over so far; resolves once each of those records is stored, refused or given up. */
  flush(): Promise<void>;
  /** Flushes, then stops: later records are dropped (and counted), and the subscription socket is closed. */
  close(): Promise<void>;
  stats(): InsightsClientStats;
  subscribe: Subscriber['subscribe'];
}

interface Entry extends QueuedRecord {
  seq: number;
}

interface Waiter {
  target: number;
  resolve: () => void;
}

const DEFAULTS = {
  batchSize: 500,
  flushIntervalMs: 1000,
  maxBufferSize: 10_000,
  concurrency: 2,
  requestTimeoutMs: 10_000,
  maxAttempts: 12,
  initialDelayMs: 250,
  maxDelayMs: 15_000,
};

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`createInsightsClient: ${name} must be a positive number, got ${value}`);
  return value;
}

/** The GraphQL endpoint of a base URL or of an endpoint URL. */
export function graphqlEndpoint(url: string): string {
  const parsed = new URL(url);
  if (!parsed.pathname.endsWith('/graphql')) parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/graphql`;
  return parsed.toString();
}

function toWire(record: { timestamp?: Date | string | null; [field: string]: unknown }): Record<string, unknown> {
  const timestamp = record.timestamp instanceof Date ? record.timestamp.toISOString() : (record.timestamp ?? new Date().toISOString());
  return { ...record, timestamp };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A client that batches records into `ingest` requests. Every record* call only appends to a bounded buffer and
 * returns; batches leave when full or after flushIntervalMs, each with an idempotency key that its retries reuse,
 * so a request that was stored but whose answer was lost is not stored twice.
 */
class BatchingClient implements InsightsClient {
  private readonly endpoint: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly concurrency: number;
  private readonly requestTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly onError: ((error: InsightsClientError) => void) | undefined;
  private readonly queue: DroppingQueue<Entry>;
  private readonly inFlight = new Map<number, Entry[]>();
  private readonly waiters: Waiter[] = [];
  private readonly subscriber: Subscriber;
  private readonly counters = { sent: 0, batches: 0, retries: 0, replayed: 0, dropped: 0, rejected: 0, failed: 0 };
  private nextSeq = 0;
  private nextBatch = 0;
  private inFlightRecords = 0;
  /** Records up to this sequence number leave even in a partial batch (a timer fired, or flush() was called). */
  private dueUpTo = -1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly detachFromProcess: () => void;

  constructor(options: InsightsClientOptions) {
    this.endpoint = graphqlEndpoint(options.url);
    if (!options.apiKey) throw new TypeError('createInsightsClient: apiKey is required');
    this.apiKey = options.apiKey;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('createInsightsClient: no fetch available (Node.js 20+ has one built in)');
    this.fetchImpl = fetchImpl;
    this.batchSize = Math.floor(positive('batchSize', options.batchSize, DEFAULTS.batchSize));
    this.flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs, DEFAULTS.flushIntervalMs);
    this.concurrency = Math.floor(positive('concurrency', options.concurrency, DEFAULTS.concurrency));
    this.requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, DEFAULTS.requestTimeoutMs);
    this.maxAttempts = Math.floor(positive('retry.maxAttempts', options.retry?.maxAttempts, DEFAULTS.maxAttempts));
    this.initialDelayMs = positive('retry.initialDelayMs', options.retry?.initialDelayMs, DEFAULTS.initialDelayMs);
    this.maxDelayMs = positive('retry.maxDelayMs', options.retry?.maxDelayMs, DEFAULTS.maxDelayMs);
    this.onError = options.onError;
    this.queue = new DroppingQueue(Math.floor(positive('maxBufferSize', options.maxBufferSize, DEFAULTS.maxBufferSize)));
    this.subscriber = createSubscriber(this.endpoint, this.apiKey, options.subscriptions);
    this.detachFromProcess = options.flushOnExit ? this.attachToProcess() : () => undefined;
  }

  trackActivity(activity: UserActivity): void {
    this.enqueue('activities', activity);
  }

  track(activityType: string, signal: ActivitySignal): void {
    this.enqueue('activities', { ...signal, activityType });
  }

  recordSystemMetric(metric: SystemMetric): void {
    this.enqueue('systemMetrics', metric);
  }

  recordApplicationMetric(metric: ApplicationMetric): void {
    this.enqueue('applicationMetrics', metric);
  }

  recordUserMetric(metric: UserMetric): void {
    this.enqueue('userMetrics', metric);
  }

  recordPerformanceMetric(metric: PerformanceMetric): void {
    this.enqueue('performanceMetrics', metric);
  }

  subscribe: Subscriber['subscribe'] = (query, variables) => this.subscriber.subscribe(query, variables);

  stats(): InsightsClientStats {
    return { queued: this.queue.length, inFlight: this.inFlightRecords, ...this.counters };
  }

  flush(): Promise<void> {
    const target = this.nextSeq - 1;
    if (this.settled(target)) return Promise.resolve();
    this.dueUpTo = Math.max(this.dueUpTo, target);
    const done = new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
    this.pump();
    return done;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.detachFromProcess();
      await this.flush();
      if (this.timer) clearTimeout(this.timer);
      await this.subscriber.dispose();
    })();
    return this.closing;
  }

  private enqueue(family: Family, record: { timestamp?: Date | string | null; [field: string]: unknown }): void {
    if (this.closed) {
      this.counters.dropped += 1;
      return;
    }
    const dropped = this.queue.push({ seq: this.nextSeq++, family, record: toWire(record) });
    if (dropped) {
      this.counters.dropped += 1;
      if (this.waiters.length > 0) this.resolveWaiters();
    }
    if (this.queue.length >= this.batchSize) this.pump();
    else this.timer ??= setTimeout(this.onTimer, this.flushIntervalMs);
  }

  // Kept referenced on purpose: a process with records waiting stays alive until they leave (at most
  // flushIntervalMs), so a script that ends naturally loses nothing.
  private readonly onTimer = () => {
    this.timer = undefined;
    this.dueUpTo = Math.max(this.dueUpTo, this.nextSeq - 1);
    this.pump();
  };

  private pump(): void {
    while (this.inFlight.size < this.concurrency && this.queue.length > 0) {
      const head = this.queue.peek() as Entry;
      if (this.queue.length < this.batchSize && head.seq > this.dueUpTo) break;
      const entries = this.queue.take(this.batchSize);
      const id = this.nextBatch++;
      this.inFlight.set(id, entries);
      this.inFlightRecords += entries.length;
      void this.deliver(entries).finally(() => {
        this.inFlight.delete(id);
        this.inFlightRecords -= entries.length;
        this.pump();
        this.resolveWaiters();
      });
    }
    if (this.queue.length > 0) this.timer ??= setTimeout(this.onTimer, this.flushIntervalMs);
  }

  private settled(target: number): boolean {
    const head = this.queue.peek();
    if (head && head.seq <= target) return false;
    for (const entries of this.inFlight.values()) if ((entries[0] as Entry).seq <= target) return false;
    return true;
  }

  private resolveWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i] as Waiter;
      if (this.settled(waiter.target)) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private report(error: InsightsClientError): void {
    try {
      this.onError?.(error);
    } catch {
      // The hook is the caller's; its failure must not stop delivery of the next batch.
    }
  }

  private backoff(attempt: number, retryAfterMs: number | null): number {
    const exponential = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** attempt);
    // "Equal jitter": never less than half the exponential step, so waits still grow, but clients that failed
    // together do not come back together.
    const jittered = exponential / 2 + Math.random() * (exponential / 2);
    return retryAfterMs === null ? jittered : Math.max(retryAfterMs + Math.random() * 100, jittered / 4);
  }

  /** Sends `entries` until they are stored, refused or given up on. */
  private async deliver(entries: Entry[]): Promise<void> {
    let pending = entries;
    let idempotencyKey = globalThis.crypto.randomUUID();
    for (let attempt = 0; pending.length > 0; ) {
      const outcome = await postIngest({
        fetch: this.fetchImpl,
        endpoint: this.endpoint,
        apiKey: this.apiKey,
        idempotencyKey,
        input: groupByFamily(pending),
        timeoutMs: this.requestTimeoutMs,
      });
      switch (outcome.kind) {
        case 'stored':
          this.counters.sent += outcome.count;
          this.counters.batches += 1;
          if (outcome.replayed) this.counters.replayed += 1;
          return;
        case 'retry':
          attempt += 1;
          if (attempt >= this.maxAttempts) {
            this.giveUp(pending, outcome.status, outcome.code, `Gave up after ${attempt} attempts: ${outcome.message}`);
            return;
          }
          this.counters.retries += 1;
          await sleep(this.backoff(attempt - 1, outcome.retryAfterMs));
          break;
        case 'rejected': {
          const { rejected, rest } = splitRejected(pending, outcome.issues);
          this.counters.rejected += rejected.length;
          this.report({ kind: 'rejected', code: outcome.code, message: outcome.message, items: rejected });
          // The service stores a batch all or nothing: the valid records go again, as a new request.
          pending = rest;
          idempotencyKey = globalThis.crypto.randomUUID();
          attempt = 0;
          break;
        }
        case 'tooLarge':
          if (pending.length === 1) {
            this.giveUp(pending, 413, 'PAYLOAD_TOO_LARGE', outcome.message);
            return;
          }
          {
            const half = Math.ceil(pending.length / 2);
            await this.deliver(pending.slice(0, half));
            pending = pending.slice(half);
            idempotencyKey = globalThis.crypto.randomUUID();
            attempt = 0;
          }
          break;
        case 'failed':
          this.giveUp(pending, outcome.status, outcome.code, outcome.message);
          return;
      }
    }
  }

  private giveUp(entries: Entry[], status: number | null, code: string | null, message: string): void {
    this.counters.failed += entries.length;
    this.report({ kind: 'failed', status, code, message, items: entries.map(({ family, record }) => ({ family, record })) });
  }

  private attachToProcess(): () => void {
    if (typeof process === 'undefined' || typeof process.on !== 'function') return () => undefined;
    const onBeforeExit = () => {
      // A flush starts requests, which keep the process alive until they finish; then beforeExit comes again.
      if (this.queue.length > 0) void this.flush();
    };
    const onSigterm = () => {
      void this.close().finally(() => {
        // Our listener replaced Node's default "exit on SIGTERM"; restore it unless the application handles it.
        if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
      });
    };
    process.on('beforeExit', onBeforeExit);
    process.once('SIGTERM', onSigterm);
    return () => {
      process.off('beforeExit', onBeforeExit);
      process.off('SIGTERM', onSigterm);
    };
  }
}

function groupByFamily(entries: readonly QueuedRecord[]): Record<string, unknown[]> {
  const input: Record<string, unknown[]> = {};
  for (const { family, record } of entries) (input[family] ??= []).push(record);
  return input;
}

/** The records the issues point at, and the others; all are rejected when the service did not say which. */
function splitRejected(entries: Entry[], issues: LocatedIssue[]): { rejected: RejectedRecord[]; rest: Entry[] } {
  const byFamily = new Map<Family, Entry[]>();
  for (const entry of entries) {
    const list = byFamily.get(entry.family) ?? [];
    list.push(entry);
    byFamily.set(entry.family, list);
  }
  const located = new Map<Entry, RejectedRecord>();
  for (const issue of issues) {
    const entry = byFamily.get(issue.family)?.[issue.index];
    if (!entry) continue;
    const rejected = located.get(entry) ?? { family: entry.family, record: entry.record, index: issue.index, issues: [] };
    rejected.issues.push({ path: issue.path, field: issue.field, message: issue.message });
    located.set(entry, rejected);
  }
  if (located.size === 0) {
    const indexes = new Map<Family, number>();
    const rejected = entries.map((entry) => {
      const index = indexes.get(entry.family) ?? 0;
      indexes.set(entry.family, index + 1);
      return { family: entry.family, record: entry.record, index, issues: [] };
    });
    return { rejected, rest: [] };
  }
  return { rejected: [...located.values()], rest: entries.filter((entry) => !located.has(entry)) };
}

export function createInsightsClient(options: InsightsClientOptions): InsightsClient {
  return new BatchingClient(options);
}
