import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REDIS_URL } from './support/databases.js';
import { OwnRedisServer } from './support/redisServer.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';
import { connectSubscriptions } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

const RECORD_SYSTEM = `mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }`;
const INGEST = `mutation($input: IngestInput!) { ingest(input: $input) { count } }`;
const METRICS = `subscription($filter: MetricStreamFilter) {
  metricRecorded(filter: $filter) {
    __typename id metricName value tags
    ... on ApplicationMetric { appName }
    ... on UserMetric { userId }
    ... on PerformanceMetric { statusCode }
  }
}`;
const ACTIVITIES = `subscription($filter: ActivityStreamFilter) { activityRecorded(filter: $filter) { id userId activityType } }`;

type MetricEvent = { metricRecorded: { __typename: string; id: string; metricName: string; value: number; tags: Record<string, unknown>; appName?: string } };

const subscriberCount = (server: TestServer) => server.app.services.live.subscriberCount;

function systemBatch(count: number, name: string, tags: Record<string, string> = {}) {
  return Array.from({ length: count }, (_, i) => ({ metricName: name, metricType: 'GAUGE', value: i, tags }));
}

describe('live subscriptions across two instances sharing PostgreSQL and Redis', () => {
  let first: TestServer;
  let second: TestServer;
  const topicPrefix = `test-${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    first = await startTestServer('postgres', { label: 'realtime', env: { REDIS_URL }, appOptions: { topicPrefix } });
    second = await startTestServer('postgres', {
      label: 'realtime',
      databaseUrl: first.databaseUrl,
      env: { REDIS_URL },
      appOptions: { topicPrefix },
    });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.destroy();
  });

  it('delivers a write on one instance to a subscriber on the other, whole batches in order', async () => {
    const subscriptions = connectSubscriptions(second.url);
    await subscriptions.connected;
    const all = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { metricNames: ['cross_instance'] } });
    await waitUntil(() => subscriberCount(second) === 1, 'subscription registered');

    const batch = systemBatch(1000, 'cross_instance', { host: 'h1' });
    const response = await first.request(RECORD_SYSTEM, { input: batch });
    expect(response.data).toEqual({ recordSystemMetrics: { count: 1000 } });
    const events = await all.waitFor(1000);
    expect(events.map((event) => event.metricRecorded.value)).toEqual(batch.map((item) => item.value));
    expect(new Set(events.map((event) => event.metricRecorded.id)).size).toBe(1000);
    // Delivered once: nothing beyond the batch arrives.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(all.events).toHaveLength(1000);
    await subscriptions.dispose();
  });

  it('applies filters before delivery: kinds, names, app, user and tags', async () => {
    const subscriptions = connectSubscriptions(second.url);
    await subscriptions.connected;
    const before = subscriberCount(second);
    const byKind = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { kinds: ['APPLICATION'] } });
    const byApp = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { appName: 'shop' } });
    const byUser = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { userId: 'u-7' } });
    const byTags = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { tags: { host: 'db-1', env: 'prod' } } });
    const activities = subscriptions.subscribe<{ activityRecorded: { userId: string; activityType: string } }>(ACTIVITIES, {
      filter: { activityTypes: ['login'] },
    });
    await waitUntil(() => subscriberCount(second) === before + 5, 'subscriptions registered');

    await first.request(INGEST, {
      input: {
        systemMetrics: [
          { metricName: 'cpu', metricType: 'GAUGE', value: 1, tags: { host: 'db-1', env: 'prod' } },
          { metricName: 'cpu', metricType: 'GAUGE', value: 2, tags: { host: 'db-1', env: 'dev' } },
        ],
        applicationMetrics: [
          { appName: 'shop', metricName: 'views', metricType: 'COUNTER', value: 3 },
          { appName: 'blog', metricName: 'views', metricType: 'COUNTER', value: 4 },
        ],
        userMetrics: [
          { userId: 'u-7', metricName: 'clicks', metricType: 'COUNTER', value: 5 },
          { userId: 'u-8', metricName: 'clicks', metricType: 'COUNTER', value: 6 },
        ],
        activities: [
          { userId: 'u-7', activityType: 'login' },
          { userId: 'u-7', activityType: 'logout' },
        ],
      },
    });
    expect((await byKind.waitFor(2)).map((event) => event.metricRecorded.value)).toEqual([3, 4]);
    expect((await byApp.waitFor(1))[0]?.metricRecorded).toMatchObject({ __typename: 'ApplicationMetric', appName: 'shop', value: 3 });
    expect((await byUser.waitFor(1))[0]?.metricRecorded).toMatchObject({ __typename: 'UserMetric', value: 5 });
    expect((await byTags.waitFor(1))[0]?.metricRecorded).toMatchObject({ __typename: 'SystemMetric', value: 1 });
    expect((await activities.waitFor(1))[0]?.activityRecorded).toMatchObject({ userId: 'u-7', activityType: 'login' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([byKind.events.length, byApp.events.length, byUser.events.length, byTags.events.length, activities.events.length]).toEqual([
      2, 1, 1, 1, 1,
    ]);
    await subscriptions.dispose();
  });

  it('runs identical subscriptions once and delivers every event to each of them', async () => {
    const sockets = [connectSubscriptions(second.url), connectSubscriptions(second.url)];
    await Promise.all(sockets.map((socket) => socket.connected));
    const baseline = subscriberCount(second);
    const filter = { filter: { metricNames: ['shared_stream'] } };
    const members = [...sockets, sockets[0]!, sockets[1]!, sockets[0]!].map((socket) => socket.subscribe<MetricEvent>(METRICS, filter));
    // Five subscribers, one execution: the hub sees a single subscriber.
    await waitUntil(() => subscriberCount(second) === baseline + 1, 'one shared subscription');
    // Members join the shared execution as the server handles their subscribe messages, which a busy machine
    // may delay: markers (value -1) are written until every member has seen one, so all five have joined.
    const marker = [{ metricName: 'shared_stream', metricType: 'GAUGE', value: -1, tags: {} }];
    await waitUntil(async () => {
      if (members.every((member) => member.events.length > 0)) return true;
      await first.request(RECORD_SYSTEM, { input: marker });
      return false;
    }, 'every member to see a marker');
    expect(subscriberCount(second)).toBe(baseline + 1);
    await first.request(RECORD_SYSTEM, { input: systemBatch(50, 'shared_stream') });
    const values = (member: (typeof members)[number]) => member.events.map((event) => event.metricRecorded.value);
    for (const member of members) {
      await waitUntil(() => values(member).filter((value) => value >= 0).length >= 50, 'the batch delivered to a member');
      // The batch, whole and in order, after that member's markers.
      expect(values(member).slice(values(member).indexOf(0))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
    // Leaving one member keeps the others; leaving all ends the shared execution.
    members[0]!.stop();
    const seen = members[1]!.events.length;
    await first.request(RECORD_SYSTEM, { input: systemBatch(1, 'shared_stream') });
    await members[1]!.waitFor(seen + 1);
    await Promise.all(sockets.map((socket) => socket.dispose()));
    await waitUntil(() => subscriberCount(second) === baseline, 'shared subscription ended');
  });

  it('frames messages of every size on one socket: queries beyond 64 KiB between shared-stream events', async () => {
    const subscriptions = connectSubscriptions(second.url);
    await subscriptions.connected;
    const baseline = subscriberCount(second);
    const stream = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { metricNames: ['framing'] } });
    await waitUntil(() => subscriberCount(second) === baseline + 1, 'stream registered');
    // 1,000 records of about 300 bytes each: a 300 KB query result, which takes a 64-bit frame length.
    await first.request(RECORD_SYSTEM, { input: systemBatch(1000, 'framing', { padding: 'y'.repeat(250) }) });
    await stream.waitFor(1000);
    const page = subscriptions.subscribe<{ systemMetrics: { edges: { node: { value: number; tags: { padding: string } } }[] } }>(
      `query { systemMetrics(first: 1000, filter: { metricName: "framing" }) { edges { node { value tags } } } }`,
    );
    // A small message (126-byte frames and below) straight after, and events while the big one goes out.
    const small = subscriptions.subscribe<{ systemMetrics: { totalCount: number } }>(
      `query { systemMetrics(filter: { metricName: "framing" }) { totalCount } }`,
    );
    // Padded like the rest: written while the page query runs, these three may be among its 1,000 rows.
    await first.request(RECORD_SYSTEM, { input: systemBatch(3, 'framing', { padding: 'y'.repeat(250) }) });
    const [result] = await page.waitFor(1);
    expect(result!.systemMetrics.edges).toHaveLength(1000);
    expect(new Set(result!.systemMetrics.edges.map((edge) => edge.node.tags.padding))).toEqual(new Set(['y'.repeat(250)]));
    expect((await small.waitFor(1))[0]!.systemMetrics.totalCount).toBeGreaterThanOrEqual(1000);
    const events = await stream.waitFor(1003);
    expect(events.slice(1000).map((event) => event.metricRecorded.value)).toEqual([0, 1, 2]);
    await subscriptions.dispose();
  });

  it('refuses a socket without a valid key with 4403 before any event', async () => {
    for (const key of [null, 'not-a-real-key-000000000000000000']) {
      const subscriptions = connectSubscriptions(second.url, key);
      const events = subscriptions.subscribe(METRICS);
      await expect(subscriptions.connected).rejects.toThrow(/4403/);
      expect(subscriptions.closeEvents[0]?.code).toBe(4403);
      expect(events.events).toHaveLength(0);
      await subscriptions.dispose();
    }
  });

  it('answers a bad subscription filter with BAD_USER_INPUT and keeps the socket', async () => {
    const subscriptions = connectSubscriptions(second.url);
    await subscriptions.connected;
    const bad = subscriptions.subscribe(METRICS, { filter: { tags: { nested: { no: 1 } } } });
    await waitUntil(() => bad.errors.length > 0, 'error for bad filter');
    expect(JSON.stringify(bad.errors)).toContain('BAD_USER_INPUT');
    const good = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { metricNames: ['after_bad'] } });
    await waitUntil(() => subscriberCount(second) >= 1, 'subscription registered');
    await first.request(RECORD_SYSTEM, { input: systemBatch(1, 'after_bad') });
    await good.waitFor(1);
    await subscriptions.dispose();
  });

  it('streams over server-sent events with the Authorization header', async () => {
    const controller = new AbortController();
    const response = await fetch(`${second.url}/graphql`, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ query: METRICS, variables: { filter: { metricNames: ['over_sse'] } } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    await waitUntil(() => subscriberCount(second) >= 1, 'SSE subscription registered');
    await first.request(RECORD_SYSTEM, { input: systemBatch(3, 'over_sse') });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/event: next/g) ?? []).length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    const values = [...text.matchAll(/data: (\{.*\})/g)].map((match) => JSON.parse(match[1]!).data.metricRecorded.value);
    expect(values).toEqual([0, 1, 2]);
    controller.abort();

    const refused = await fetch(`${second.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: METRICS }),
    });
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
  });

  it('ends a subscriber that never reads, without holding up the others', async () => {
    // An instance of its own with a small subscription buffer, so a subscriber that never reads overflows after
    // little work: the kernel's and the writer's socket buffers (a few MB, filled fastest by large events), then
    // 200 events. The healthy subscriber may fall a few batches behind on a busy machine: 20 batches of 10 fit.
    const buffer = 200;
    const third = await startTestServer('postgres', {
      label: 'realtime',
      databaseUrl: first.databaseUrl,
      env: { REDIS_URL, INSIGHTS_SUBSCRIPTION_BUFFER: String(buffer) },
      appOptions: { topicPrefix },
    });
    try {
      const baseline = subscriberCount(third);
      const stuck = await rawStuckSubscriber(third.url, `subscription { metricRecorded(filter: { metricNames: ["flood"] }) { id metricName tags } }`);
      await waitUntil(() => subscriberCount(third) === baseline + 1, 'stuck subscription registered');
      // The same operation, variables and key as the healthy one below: both share one execution, and the stuck
      // one must be ended on its own.
      const floodFilter = { filter: { metricNames: ['flood'] } };
      const stuckAlongside = await rawStuckSubscriber(third.url, METRICS, floodFilter);
      await waitUntil(() => subscriberCount(third) === baseline + 2, 'second stuck subscription registered');
      const subscriptions = connectSubscriptions(third.url);
      await subscriptions.connected;
      const healthy = subscriptions.subscribe<MetricEvent>(METRICS, floodFilter);
      // Joining a shared execution registers nothing new in the hub: a first event (a probe, value -1) shows
      // it has joined.
      const probe = [{ metricName: 'flood', metricType: 'GAUGE', value: -1 }];
      await waitUntil(async () => {
        await first.request(RECORD_SYSTEM, { input: probe });
        return healthy.events.length > 0;
      }, 'healthy subscription joined');
      expect(subscriberCount(third)).toBe(baseline + 2);

      // Events of about 8 KB, ten to a batch: as many batches as it takes to end the stuck subscription of its
      // own (it leaves the hub), then as many again for the one sharing the healthy one's execution, which
      // overflows after the same bytes and events but is not counted in the hub. The bound is only for a server
      // that never ends them (64 MB).
      const padding = 'x'.repeat(8_000);
      const perBatch = 10;
      const send = async () => {
        const response = await first.request(RECORD_SYSTEM, { input: systemBatch(perBatch, 'flood', { padding }) });
        expect(response.data).toEqual({ recordSystemMetrics: { count: perBatch } });
      };
      let batches = 0;
      while (subscriberCount(third) > baseline + 1) {
        expect(batches, 'batches sent without the stuck subscription ending').toBeLessThan(800);
        await send();
        batches += 1;
      }
      for (let i = 0, more = batches; i < more; i += 1, batches += 1) await send();

      const flooded = () => healthy.events.map((event) => event.metricRecorded.value).filter((value) => value !== -1);
      await waitUntil(() => flooded().length >= batches * perBatch, 'every flood event delivered to the healthy subscriber', 30_000);
      expect(flooded()).toEqual(Array.from({ length: batches }, () => Array.from({ length: perBatch }, (_, i) => i)).flat());
      expect(subscriberCount(third)).toBe(baseline + 1);
      for (const subscriber of [stuck, stuckAlongside]) {
        subscriber.resume();
        expect(await subscriber.firstError).toContain('SUBSCRIPTION_OVERFLOW');
        subscriber.close();
      }
      await subscriptions.dispose();
    } finally {
      await third.stop();
    }
  }, 90_000);
});

describe('Redis outage', () => {
  let redis: OwnRedisServer;
  let first: TestServer;
  let second: TestServer;
  let redisUrl: string;
  const startRedis = () => redis.start();
  const stopRedis = () => redis.stop();

  beforeAll(async () => {
    redis = await OwnRedisServer.create();
    redisUrl = redis.url;
    await startRedis();
    first = await startTestServer('postgres', { label: 'redis_outage', env: { REDIS_URL: redisUrl } });
    second = await startTestServer('postgres', { label: 'redis_outage', databaseUrl: first.databaseUrl, env: { REDIS_URL: redisUrl } });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.destroy();
    await redis?.stop();
  });

  it('keeps accepting writes while Redis is down and resumes live delivery when it returns', async () => {
    const subscriptions = connectSubscriptions(second.url);
    await subscriptions.connected;
    const events = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { metricNames: ['outage'] } });
    await waitUntil(() => subscriberCount(second) === 1, 'subscription registered');
    await first.request(RECORD_SYSTEM, { input: systemBatch(1, 'outage') });
    await events.waitFor(1);

    await stopRedis();
    await waitUntil(async () => {
      const health = (await (await fetch(`${first.url}/health`)).json()) as { status: string; pubsub: { status: string } };
      return health.pubsub.status === 'degraded' && health.status === 'degraded';
    }, 'health to report degraded pub/sub');
    const started = Date.now();
    const during = await first.request(RECORD_SYSTEM, { input: systemBatch(5, 'outage') });
    expect(during.data).toEqual({ recordSystemMetrics: { count: 5 } });
    expect(Date.now() - started).toBeLessThan(2_000);
    const stored = await first.request(`{ systemMetrics(filter: { metricName: "outage" }) { totalCount } }`);
    expect(stored.data).toEqual({ systemMetrics: { totalCount: 6 } });

    await startRedis();
    await waitUntil(async () => {
      const health = (await (await fetch(`${second.url}/health`)).json()) as { pubsub: { status: string } };
      const healthFirst = (await (await fetch(`${first.url}/health`)).json()) as { pubsub: { status: string } };
      return health.pubsub.status === 'ok' && healthFirst.pubsub.status === 'ok';
    }, 'pub/sub to recover', 20_000);
    // The same socket and subscription: no reconnect by the client.
    await first.request(RECORD_SYSTEM, { input: [{ metricName: 'outage', metricType: 'GAUGE', value: 42 }] });
    await waitUntil(() => events.events.some((event) => event.metricRecorded.value === 42), 'delivery after recovery', 10_000);
    expect(subscriptions.closeEvents).toHaveLength(0);
    await subscriptions.dispose();
  }, 60_000);
});

describe('embedded in-process mode', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite', { label: 'inproc', env: { INSIGHTS_REAL_TIME_UPDATE_INTERVAL: '1' } });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('delivers metrics and activities without Redis', async () => {
    const subscriptions = connectSubscriptions(server.url);
    await subscriptions.connected;
    const metrics = subscriptions.subscribe<MetricEvent>(METRICS, { filter: { kinds: ['PERFORMANCE'] } });
    const activities = subscriptions.subscribe<{ activityRecorded: { activityType: string } }>(ACTIVITIES);
    await waitUntil(() => subscriberCount(server) === 2, 'subscriptions registered');
    await server.request(INGEST, {
      input: {
        performanceMetrics: [{ metricName: 'http', metricType: 'HISTOGRAM', value: 1, statusCode: 502 }],
        activities: [{ userId: 'u', activityType: 'purchase' }],
      },
    });
    expect((await metrics.waitFor(1))[0]?.metricRecorded).toMatchObject({ __typename: 'PerformanceMetric', statusCode: 502 });
    expect((await activities.waitFor(1))[0]?.activityRecorded).toMatchObject({ activityType: 'purchase', userId: 'u' });
    await subscriptions.dispose();
  });

  it('pushes the current system snapshot first, then changes at most once per interval', async () => {
    const subscriptions = connectSubscriptions(server.url);
    await subscriptions.connected;
    type Snapshot = { currentSystemMetricsUpdated: { metricName: string; value: number }[] };
    const snapshots = subscriptions.subscribe<Snapshot>(`subscription { currentSystemMetricsUpdated(host: "live-1") { metricName value } }`);
    await snapshots.waitFor(1);
    expect(snapshots.events[0]).toEqual({ currentSystemMetricsUpdated: [] });
    const startedAt = Date.now();
    for (let value = 1; value <= 5; value += 1) {
      await server.request(RECORD_SYSTEM, { input: [{ metricName: 'cpu_usage', metricType: 'GAUGE', value, tags: { host: 'live-1' } }] });
    }
    await server.request(RECORD_SYSTEM, { input: [{ metricName: 'cpu_usage', metricType: 'GAUGE', value: 99, tags: { host: 'other' } }] });
    await waitUntil(
      () => snapshots.events.at(-1)?.currentSystemMetricsUpdated[0]?.value === 5,
      'snapshot with the latest value',
      5_000,
    );
    // Five writes within the interval collapse into at most two pushes (leading and trailing edge).
    expect(snapshots.events.length).toBeLessThanOrEqual(3);
    expect(Date.now() - startedAt).toBeLessThan(4_000);
    expect(snapshots.events.at(-1)).toEqual({ currentSystemMetricsUpdated: [{ metricName: 'cpu_usage', value: 5 }] });
    await subscriptions.dispose();
  });

  it('completes subscriptions and closes sockets with 1001 on shutdown', async () => {
    // On a copy of the migrated template (startTestServer's default): a fresh data directory would spend most of
    // the test's time, on a busy machine, in initdb and the migrations.
    const own = await startTestServer('pglite', { label: 'shutdown' });
    const subscriptions = connectSubscriptions(own.url);
    await subscriptions.connected;
    const events = subscriptions.subscribe(METRICS);
    await waitUntil(() => own.app.services.live.subscriberCount === 1, 'subscription registered');
    await own.stop();
    await waitUntil(() => subscriptions.closeEvents.length > 0, 'socket closed');
    expect(subscriptions.closeEvents[0]?.code).toBe(1001);
    expect(events.errors).toHaveLength(0);
    await subscriptions.dispose();
    await own.destroy();
  });
});

/**
 * A graphql-transport-ws client that subscribes and then stops reading its socket, like a frozen browser tab:
 * the kernel buffers fill and the server can no longer send to it.
 */
async function rawStuckSubscriber(baseUrl: string, query: string, variables?: Record<string, unknown>) {
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const acknowledged = new Promise<void>((resolve) => {
    socket.once('message', () => resolve());
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } }));
  await acknowledged;
  let firstError!: (text: string) => void;
  const errorSeen = new Promise<string>((resolve) => {
    firstError = resolve;
  });
  socket.on('message', (data) => {
    const text = String(data);
    if (text.includes('"type":"error"')) firstError(text);
  });
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
  const tcp = (socket as unknown as { _socket: import('node:net').Socket })._socket;
  tcp.pause();
  return {
    firstError: errorSeen,
    resume: () => tcp.resume(),
    close: () => socket.terminate(),
  };
}
