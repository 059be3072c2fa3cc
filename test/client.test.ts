import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInsightsClient, type InsightsClientError } from '../src/client/index.js';
import { RecordingProxy } from './support/httpProxy.js';
import { freePort } from './support/processes.js';
import { createKey } from './support/keys.js';
import { ADMIN_KEY, BACKENDS, startTestServer, type Backend, type TestServer } from './support/server.js';
import { waitUntil } from './support/wait.js';

/** The typed client (`insights/client`) against real servers, with a recording proxy where a test must see the wire. */

const gauge = (metricName: string, value: number) => ({ metricName, metricType: 'GAUGE' as const, value });

function storedValues(server: TestServer, metricName: string): Promise<number[]> {
  return server.app.services.db.prisma.systemMetric
    .findMany({ where: { metricName }, select: { value: true } })
    .then((rows) => rows.map((row) => Number(row.value)).sort((a, b) => a - b));
}

const countOf = (server: TestServer, metricName: string) => server.app.services.db.prisma.systemMetric.count({ where: { metricName } });

describe.each(BACKENDS)('client batching on %s', (backend: Backend) => {
  let server: TestServer;
  // PGlite runs the migrations in this process: on a busy shared machine that alone can take a minute.
  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'client' });
  }, 180_000);
  afterAll(async () => {
    await server?.destroy();
  });

  it('sends a batch as soon as it is full; flush() sends the partial rest', async () => {
    // An interval far beyond the test, so only the size can make these batches leave.
    const client = createInsightsClient({ url: server.url, apiKey: ADMIN_KEY, batchSize: 50, flushIntervalMs: 600_000 });
    for (let i = 0; i < 120; i++) client.recordSystemMetric(gauge('client_size', i));
    expect(client.stats().queued).toBe(20);
    await waitUntil(() => client.stats().batches === 2, 'two full batches');
    expect(await countOf(server, 'client_size')).toBe(100);
    expect(client.stats()).toMatchObject({ queued: 20, inFlight: 0 });
    await client.flush();
    expect(await storedValues(server, 'client_size')).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(client.stats()).toMatchObject({ queued: 0, inFlight: 0, sent: 120, batches: 3, dropped: 0, failed: 0, rejected: 0 });
    await client.close();
  });

  it('flushes by time alone: a few records reach the service without flush() or close()', async () => {
    const client = createInsightsClient({ url: `${server.url}/graphql`, apiKey: ADMIN_KEY, flushIntervalMs: 100 });
    for (let i = 0; i < 3; i++) client.recordSystemMetric(gauge('client_time', i));
    await waitUntil(() => client.stats().sent === 3, 'the timed flush');
    expect(await countOf(server, 'client_time')).toBe(3);
    expect(client.stats()).toMatchObject({ sent: 3, batches: 1 });
    await client.close();
  });

  it('close() delivers every family, loses nothing, and counts records handed over afterwards as dropped', async () => {
    const client = createInsightsClient({ url: server.url, apiKey: ADMIN_KEY, flushIntervalMs: 60_000 });
    for (let i = 0; i < 1234; i++) client.recordSystemMetric(gauge('client_close', i));
    for (let i = 0; i < 10; i++) {
      client.recordApplicationMetric({ appName: 'client-close', metricName: 'm', metricType: 'COUNTER', value: 1, tags: { i } });
      client.recordUserMetric({ userId: `u${i}`, metricName: 'client_close', metricType: 'GAUGE', value: i });
      client.recordPerformanceMetric({ metricName: 'client_close', metricType: 'HISTOGRAM', value: i, responseTimeMs: i, statusCode: 200 });
      client.trackActivity({ userId: `u${i}`, activityType: 'client_close', timestamp: new Date() });
    }
    client.track('PROJECT_CREATE', { userId: 'u1', description: 'Created project Apollo', metadata: { projectId: 'p-1' } });
    await client.close();
    const prisma = server.app.services.db.prisma;
    expect(await storedValues(server, 'client_close')).toEqual(Array.from({ length: 1234 }, (_, i) => i));
    expect(await prisma.applicationMetric.count({ where: { appName: 'client-close' } })).toBe(10);
    expect(await prisma.userMetric.count({ where: { metricName: 'client_close' } })).toBe(10);
    expect(await prisma.performanceMetric.count({ where: { metricName: 'client_close' } })).toBe(10);
    expect(await prisma.userActivity.count({ where: { activityType: 'client_close' } })).toBe(10);
    const signal = await prisma.userActivity.findFirstOrThrow({ where: { activityType: 'PROJECT_CREATE', userId: 'u1' } });
    expect(signal).toMatchObject({ description: 'Created project Apollo', metadata: { projectId: 'p-1' } });
    expect(client.stats()).toMatchObject({ queued: 0, inFlight: 0, sent: 1234 + 41, dropped: 0 });
    client.recordSystemMetric(gauge('client_close', -1));
    expect(client.stats().dropped).toBe(1);
    expect(await countOf(server, 'client_close')).toBe(1234);
  });
});

describe('client delivery through failures (postgres)', () => {
  let server: TestServer;
  let proxy: RecordingProxy;
  let proxyUrl: string;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    // A fixed port, so the restarted server is found at the same address.
    server = await startTestServer('postgres', { label: 'client_faults', env: { PORT: String(port) } });
    proxy = new RecordingProxy(() => server.url);
    proxyUrl = await proxy.start();
  });
  afterAll(async () => {
    await proxy?.stop();
    await server?.destroy();
  });

  it('a server stopped and restarted mid-stream: every record arrives exactly once', async () => {
    const errors: InsightsClientError[] = [];
    const client = createInsightsClient({
      url: server.url,
      apiKey: ADMIN_KEY,
      batchSize: 25,
      flushIntervalMs: 20,
      retry: { initialDelayMs: 20, maxDelayMs: 300, maxAttempts: 1000 },
      onError: (error) => errors.push(error),
    });
    const total = 1500;
    let restarted: Promise<void> | undefined;
    for (let i = 0; i < total; i++) {
      client.recordSystemMetric(gauge('client_restart', i));
      if (i === 500) restarted = server.restart();
      // The caller keeps its own pace; the client only appends to its buffer.
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await restarted;
    await client.close();
    expect(errors).toEqual([]);
    expect(client.stats().retries).toBeGreaterThan(0);
    expect(await storedValues(server, 'client_restart')).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(client.stats()).toMatchObject({ sent: total, dropped: 0, failed: 0 });
  });

  it('a batch whose answer was lost is sent again with the same idempotency key and stored once', async () => {
    const client = createInsightsClient({ url: proxyUrl, apiKey: ADMIN_KEY, flushIntervalMs: 60_000, retry: { initialDelayMs: 10 } });
    const before = proxy.requests.length;
    proxy.plan('forwardThenDrop');
    for (let i = 0; i < 40; i++) client.recordSystemMetric(gauge('client_lost_answer', i));
    await client.close();
    const sent = proxy.requests.slice(before).map((request) => JSON.parse(request.body) as { variables: { idempotencyKey: string } });
    expect(sent).toHaveLength(2);
    expect(sent[1]!.variables.idempotencyKey).toBe(sent[0]!.variables.idempotencyKey);
    expect(await storedValues(server, 'client_lost_answer')).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(client.stats()).toMatchObject({ sent: 40, replayed: 1, retries: 1 });
  });

  it('reports bad items to onError with what was wrong, never sends them again, and stores the rest of their batch', async () => {
    const errors: InsightsClientError[] = [];
    const client = createInsightsClient({ url: proxyUrl, apiKey: ADMIN_KEY, flushIntervalMs: 60_000, onError: (error) => errors.push(error) });
    const before = proxy.requests.length;
    client.recordSystemMetric(gauge('client_bad', 1));
    client.recordSystemMetric(gauge('bad name', 2));
    client.recordSystemMetric(gauge('client_bad', 3));
    client.trackActivity({ userId: 'u1', activityType: 'client_bad', ipAddress: 'not-an-ip' });
    client.trackActivity({ userId: 'u1', activityType: 'client_bad' });
    await client.close();
    expect(errors).toHaveLength(1);
    const error = errors[0]!;
    expect(error.kind).toBe('rejected');
    if (error.kind !== 'rejected') return;
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.items.map(({ family, index, record, issues }) => ({ family, index, value: record.metricName ?? record.ipAddress, paths: issues.map((i) => i.path) }))).toEqual(
      expect.arrayContaining([
        { family: 'systemMetrics', index: 1, value: 'bad name', paths: ['input.systemMetrics[1].metricName'] },
        { family: 'activities', index: 0, value: 'not-an-ip', paths: ['input.activities[0].ipAddress'] },
      ]),
    );
    expect(error.items).toHaveLength(2);
    const bodies = proxy.requests.slice(before).map((request) => request.body);
    // The refused request, then the valid records alone as a new request; the bad ones never again.
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).not.toContain('bad name');
    expect(bodies[1]).not.toContain('not-an-ip');
    expect(await storedValues(server, 'client_bad')).toEqual([1, 3]);
    expect(await server.app.services.db.prisma.userActivity.count({ where: { activityType: 'client_bad' } })).toBe(1);
    expect(client.stats()).toMatchObject({ sent: 3, rejected: 2, failed: 0, retries: 0 });
  });

  it('keeps a bounded buffer while the service is away: drops the oldest, counts them, and gives up loudly', async () => {
    const errors: InsightsClientError[] = [];
    const client = createInsightsClient({
      url: `http://127.0.0.1:${await freePort()}`,
      apiKey: ADMIN_KEY,
      maxBufferSize: 10,
      flushIntervalMs: 60_000,
      retry: { maxAttempts: 2, initialDelayMs: 5 },
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 25; i++) client.recordSystemMetric(gauge('client_bounded', i));
    expect(client.stats()).toMatchObject({ queued: 10, dropped: 15 });
    await client.close();
    expect(client.stats()).toMatchObject({ queued: 0, inFlight: 0, failed: 10, sent: 0, retries: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: 'failed', status: null });
    // The newest records are the ones kept.
    expect(errors[0]!.items.map((item) => item.record.value)).toEqual(Array.from({ length: 10 }, (_, i) => 15 + i));
  });

  it('subscribe(): passes the key in connection_init and comes back after the server restarts', async () => {
    const client = createInsightsClient({ url: server.url, apiKey: ADMIN_KEY, flushIntervalMs: 20 });
    const seen: number[] = [];
    const subscription = client.subscribe<{ metricRecorded: { value: number } }>(
      'subscription($filter: MetricStreamFilter) { metricRecorded(filter: $filter) { value } }',
      { filter: { metricNames: ['client_live'] } },
    );
    const reading = (async () => {
      for await (const result of subscription) {
        if (result.data) seen.push(result.data.metricRecorded.value);
        if (seen.includes(2)) break;
      }
    })();
    await waitUntil(() => server.app.services.live.subscriberCount > 0, 'the subscription to be registered');
    client.recordSystemMetric(gauge('client_live', 1));
    await waitUntil(() => seen.includes(1), 'the first event');
    await server.restart();
    await waitUntil(() => server.app.services.live.subscriberCount > 0, 'the subscription to come back', 20_000);
    client.recordSystemMetric(gauge('client_live', 2));
    await reading;
    expect(seen).toEqual([1, 2]);
    await client.close();
  });
});

describe('client and rate limits (postgres)', () => {
  let server: TestServer;
  let proxy: RecordingProxy;
  beforeAll(async () => {
    server = await startTestServer('postgres', {
      label: 'client_429',
      env: { INSIGHTS_RATE_LIMIT_INGEST: '1', INSIGHTS_RATE_LIMIT_BURST_SECONDS: '1', INSIGHTS_BATCH_SIZE: '100' },
    });
    proxy = new RecordingProxy(() => server.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    await server?.destroy();
  });

  it('honours 429 and Retry-After: the retry waits as long as the service asked, and nothing is lost', async () => {
    const { key } = await createKey(server.app.services, { name: 'client-429', scopes: ['INGEST'] });
    const url = await proxy.start();
    // Retries would come after about 1 ms without Retry-After.
    const client = createInsightsClient({ url, apiKey: key, batchSize: 1, concurrency: 1, retry: { initialDelayMs: 1 } });
    for (let i = 0; i < 3; i++) client.recordSystemMetric(gauge('client_429', i));
    await client.close();
    expect(await storedValues(server, 'client_429')).toEqual([0, 1, 2]);
    const limited = proxy.requests.filter((request) => request.answered === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(client.stats().retries).toBe(limited.length);
    for (const refusal of limited) {
      const next = proxy.requests[proxy.requests.indexOf(refusal) + 1]!;
      // Same batch again (the key is reused), and not before the second the service asked for.
      expect(JSON.parse(next.body).variables.idempotencyKey).toBe(JSON.parse(refusal.body).variables.idempotencyKey);
      expect(next.at - refusal.at).toBeGreaterThanOrEqual(950);
    }
  });

  it('splits batches larger than the service accepts (INSIGHTS_BATCH_SIZE) instead of reporting valid records as bad', async () => {
    const errors: InsightsClientError[] = [];
    const client = createInsightsClient({ url: server.url, apiKey: ADMIN_KEY, batchSize: 300, onError: (error) => errors.push(error) });
    for (let i = 0; i < 300; i++) client.recordSystemMetric(gauge('client_split', i));
    await client.close();
    expect(errors).toEqual([]);
    expect(await storedValues(server, 'client_split')).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(client.stats()).toMatchObject({ sent: 300, rejected: 0, failed: 0 });
  });
});
