import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from './support/keys.js';
import { LiveSessionGuard } from '../src/http/liveSessionGuard.js';
import { RateLimiter } from '../src/http/rateLimiter.js';
import { healthReport } from '../src/core/health.js';
import { FrontDoor } from '../src/http/frontDoor.js';
import { createRequestHandler } from '../src/http/handler.js';
import { createScratchDatabase, type ScratchDatabase } from './support/databases.js';
import { firstCode, openSse, postGraphQL, type RawResponse } from './support/rawHttp.js';
import { freePort, OwnRedisServer } from './support/redisServer.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';
import { startServiceProcess, waitForHealthy, type ServiceProcess } from './support/serviceProcess.js';
import { connectSubscriptions } from './support/subscriptions.js';
import { TcpProxy, throughProxy } from './support/tcpProxy.js';
import { waitUntil } from './support/wait.js';

// Nothing acknowledged is lost: Redis down, PostgreSQL cut while writes arrive (through a TCP proxy that is
// stopped and started), SIGTERM under load on the real entry point, and the probes orchestrators use.

const NO_LIMITS = { INSIGHTS_RATE_LIMIT_READ: '0', INSIGHTS_RATE_LIMIT_INGEST: '0', INSIGHTS_RATE_LIMIT_ADMIN: '0' };
const BATCH = 'mutation($input: [SystemMetricInput!]!, $key: String) { recordSystemMetrics(input: $input, idempotencyKey: $key) { count replayed } }';
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const batchOf = (marker: string, size: number) => Array.from({ length: size }, (_, i) => ({ metricName: marker, metricType: 'GAUGE', value: i }));

interface Probe {
  status: number;
  body: { status: string; ready: boolean; stopping: boolean; database: { status: string }; pubsub: { status: string; mode: string } };
}
async function probe(baseUrl: string, path: '/health' | '/ready'): Promise<Probe> {
  const response = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: (await response.json()) as Probe['body'] };
}

async function countByMarker(databaseUrl: string, prefix: string): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ metric_name: string; n: number }>(
      `SELECT metric_name, count(*)::int AS n FROM system_metrics WHERE metric_name LIKE $1 GROUP BY metric_name`,
      [`${prefix}%`],
    );
    return new Map(rows.map((row) => [row.metric_name, row.n]));
  } finally {
    await client.end();
  }
}

describe('Redis outage', () => {
  const redis: { server?: OwnRedisServer } = {};
  let server: TestServer;

  beforeAll(async () => {
    redis.server = await OwnRedisServer.create();
    await redis.server.start();
    server = await startTestServer('postgres', {
      label: 'faults_redis',
      env: { REDIS_URL: redis.server.url, INSIGHTS_RATE_LIMIT_READ: '0.5', INSIGHTS_RATE_LIMIT_BURST_SECONDS: '4', INSIGHTS_RATE_LIMIT_ADMIN: '0', INSIGHTS_RATE_LIMIT_INGEST: '0' },
    });
  });
  afterAll(async () => {
    await server?.destroy();
    await redis.server?.stop();
  });

  it('keeps writes, queries and local rate limits working, reports degraded, and recovers by itself', async () => {
    expect((await probe(server.url, '/ready')).status).toBe(200);
    const before = connectSubscriptions(server.url);
    await before.connected;
    const early = before.subscribe<{ metricRecorded: { value: number } }>('subscription { metricRecorded(filter: { metricNames: ["redis_outage"] }) { value } }');
    await waitUntil(() => server.app.services.live.subscriberCount === 1, 'subscription registered');

    await redis.server!.stop();
    await waitUntil(async () => (await probe(server.url, '/health')).body.pubsub.status === 'degraded', 'health to report degraded pub/sub');
    const health = await probe(server.url, '/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'degraded', database: { status: 'ok' }, pubsub: { mode: 'redis', status: 'degraded' } } });
    const ready = await probe(server.url, '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.ready).toBe(false);

    // Writes succeed, quickly, and are stored.
    const started = Date.now();
    for (let i = 0; i < 3; i += 1) {
      const write = await postGraphQL(server.url, { query: BATCH, variables: { input: batchOf('redis_outage', 10), key: `redis-outage-${i}` } });
      expect(write.json?.data).toEqual({ recordSystemMetrics: { count: 10, replayed: false } });
    }
    expect(Date.now() - started).toBeLessThan(3_000);
    const read = await postGraphQL(server.url, { query: '{ systemMetrics(filter: { metricName: "redis_outage" }) { totalCount } }' });
    expect(read.json?.data).toEqual({ systemMetrics: { totalCount: 30 } });

    // Rate limits fall back to this instance's buckets instead of failing requests.
    const { key } = await createKey(server.app.services, { name: 'outage reader', scopes: ['READ'] });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await postGraphQL(server.url, { query: '{ __typename }' }, { key })).status);
    expect(statuses).toEqual([200, 200, 429]);

    // New live subscriptions are accepted meanwhile.
    const during = connectSubscriptions(server.url);
    await during.connected;
    // A different selection from the first subscriber's: identical operations would share one execution.
    const late = during.subscribe<{ metricRecorded: { value: number } }>('subscription { metricRecorded(filter: { metricNames: ["redis_outage"] }) { value id } }');
    await waitUntil(() => server.app.services.live.subscriberCount === 2, 'subscription during the outage');

    await redis.server!.start();
    await waitUntil(async () => (await probe(server.url, '/ready')).status === 200, 'ready again', 20_000);
    expect((await probe(server.url, '/health')).body).toMatchObject({ status: 'ok', pubsub: { status: 'ok' } });
    await postGraphQL(server.url, { query: BATCH, variables: { input: [{ metricName: 'redis_outage', metricType: 'GAUGE', value: 42 }] } });
    await waitUntil(() => early.events.some((e) => e.metricRecorded.value === 42) && late.events.some((e) => e.metricRecorded.value === 42), 'delivery after recovery');
    expect(before.closeEvents).toEqual([]);
    await before.dispose();
    await during.dispose();
  }, 45_000);

  it('does not hold writes or requests up while Redis accepts connections but never answers', async () => {
    const subscriptions = connectSubscriptions(server.url);
    await subscriptions.connected;
    const events = subscriptions.subscribe<{ metricRecorded: { value: number } }>('subscription { metricRecorded(filter: { metricNames: ["redis_frozen"] }) { value } }');
    await waitUntil(async () => (await probe(server.url, '/health')).body.pubsub.status === 'ok', 'pub/sub ok');
    const subscribed = server.app.services.live.subscriberCount;
    expect(subscribed).toBeGreaterThan(0);

    redis.server!.freeze();
    try {
      // Each write would wait for Redis (publish, rate limit) if anything in its path did: five of them would
      // take five times the Redis command timeout (1 s). Rate limits are on (READ 0.5/s) for the read below.
      const started = Date.now();
      for (let i = 0; i < 5; i += 1) {
        const write = await postGraphQL(server.url, { query: BATCH, variables: { input: batchOf('redis_frozen', 5), key: `redis-frozen-${i}` } });
        expect(write.json?.data).toEqual({ recordSystemMetrics: { count: 5, replayed: false } });
      }
      const { key } = await createKey(server.app.services, { name: 'frozen reader', scopes: ['READ'] });
      expect((await postGraphQL(server.url, { query: '{ __typename }' }, { key })).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2_500);
      // The failed publishes show in /health.
      await waitUntil(async () => (await probe(server.url, '/health')).body.pubsub.status === 'degraded', 'health to report the failed publishes');
    } finally {
      redis.server!.thaw();
    }
    // Once Redis answers again, live delivery goes on without reconnecting.
    await waitUntil(async () => {
      await postGraphQL(server.url, { query: BATCH, variables: { input: [{ metricName: 'redis_frozen', metricType: 'GAUGE', value: 99 }] } });
      return events.events.some((event) => event.metricRecorded.value === 99);
    }, 'delivery after Redis answers again', 20_000);
    await waitUntil(async () => (await probe(server.url, '/health')).body.pubsub.status === 'ok', 'pub/sub ok again');
    expect(subscriptions.closeEvents).toEqual([]);
    await subscriptions.dispose();
  }, 60_000);
});

describe('PostgreSQL outage through a TCP proxy', () => {
  let scratch: ScratchDatabase;
  let proxy: TcpProxy;
  let server: TestServer;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    scratch = await createScratchDatabase('faults_pg');
    proxy = new TcpProxy('127.0.0.1', Number(new URL(scratch.url).port || 5432));
    await proxy.start();
    server = await startTestServer('postgres', {
      label: 'faults_pg',
      databaseUrl: throughProxy(scratch.url, proxy.port),
      env: { ...NO_LIMITS, DATABASE_POOL_SIZE: '6' },
    });
    process.on('uncaughtException', onUncaught);
  });
  afterEach(async () => {
    await proxy.start();
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await server?.stop();
    await proxy?.stop();
    await scratch?.drop();
  });

  it('a write cut off mid-transaction gets 503 UNAVAILABLE without an uncaught exception', async () => {
    const lock = new pg.Client({ connectionString: scratch.url });
    await lock.connect();
    // Activity statistics are a snapshot per transaction: watch from another session.
    const watcher = new pg.Client({ connectionString: scratch.url });
    await watcher.connect();
    let pending: Promise<RawResponse> | undefined;
    try {
      // Holds the write inside its transaction (on the INSERT) until the connection is cut.
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE system_metrics IN ACCESS EXCLUSIVE MODE');
      pending = postGraphQL(server.url, { query: BATCH, variables: { input: batchOf('pg_cut', 5), key: 'pg-cut-1' } });
      await waitUntil(async () => {
        const { rows } = await watcher.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'insights' AND wait_event_type = 'Lock'`);
        return rows.length > 0;
      }, 'the write to wait on the lock');
      uncaught.length = 0;
      await proxy.stop();
      const response = await pending;
      expect(response.status).toBe(503);
      expect(firstCode(response)).toBe('UNAVAILABLE');
      expect(response.headers.get('retry-after')).toBeTruthy();
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      await lock.end();
      await watcher.end();
    }
    await proxy.start();
    // Nothing was committed, and a retry with the same key stores it once.
    const retry = await postGraphQL(server.url, { query: BATCH, variables: { input: batchOf('pg_cut', 5), key: 'pg-cut-1' } });
    expect(retry.json?.data).toEqual({ recordSystemMetrics: { count: 5, replayed: false } });
    expect((await countByMarker(scratch.url, 'pg_cut')).get('pg_cut')).toBe(5);
    expect(uncaught.map(String), 'uncaught exceptions while PostgreSQL went away').toEqual([]);
  });

  it('queries during the outage answer UNAVAILABLE (503), whichever data layer serves them', async () => {
    // The key is fresh in the authenticator's cache, so the requests reach GraphQL (not the 503 of the front door).
    expect((await postGraphQL(server.url, { query: '{ __typename }' })).status).toBe(200);
    await proxy.stop();
    const answers: Record<string, { status: number; code: unknown }> = {};
    for (const [label, query] of [
      ['raw SQL analytics', '{ userActivityStats { totalActivities } }'],
      ['Prisma list', '{ systemMetrics(first: 5) { totalCount edges { node { id } } } }'],
      ['Prisma by id', '{ systemMetric(id: "1") { id } }'],
      ['Prisma apiKeys', '{ apiKeys { id } }'],
    ] as const) {
      const response = await postGraphQL(server.url, { query });
      expect(response.status, label).not.toBe(500);
      expect(response.json?.errors?.length, label).toBeGreaterThan(0);
      answers[label] = { status: response.status, code: firstCode(response) };
    }
    await proxy.start();
    for (const [label, answer] of Object.entries(answers)) expect.soft(answer, label).toEqual({ status: 503, code: 'UNAVAILABLE' });
    // And the service is back by itself.
    await waitUntil(async () => (await postGraphQL(server.url, { query: '{ systemMetrics { totalCount } }' })).status === 200, 'queries after recovery');
  });

  /**
   * Four writers send 40-record batches with idempotency keys while `disrupt` runs; then every answer is checked
   * (a stored success or a retryable 503, nothing else), failures are retried with their key, and the database
   * must hold every batch exactly once.
   */
  async function writeThrough(prefix: string, disrupt: (refused: () => boolean) => Promise<void>) {
    const outcomes: { marker: string; key: string; response: RawResponse | Error }[] = [];
    let writing = true;
    let sequence = 0;
    const writer = async () => {
      while (writing) {
        sequence += 1;
        const marker = `${prefix}_${sequence}`;
        const key = `${prefix}-key-${sequence}`;
        try {
          outcomes.push({ marker, key, response: await postGraphQL(server.url, { query: BATCH, variables: { input: batchOf(marker, 40), key } }) });
        } catch (error) {
          outcomes.push({ marker, key, response: error as Error });
        }
      }
    };
    const writers = Array.from({ length: 4 }, () => writer());
    // Phases end on what happened, not after fixed times a busy machine may not fill: acknowledged writes
    // before the disruption, refused ones during it (the disruption lasts until one is seen), and an
    // acknowledged one after the recovery.
    const acknowledged = (from: number) => outcomes.slice(from).filter((o) => !(o.response instanceof Error) && o.response.status === 200).length;
    await waitUntil(() => acknowledged(0) >= 3, 'writes acknowledged before the disruption', 30_000);
    const disruptedFrom = outcomes.length;
    await disrupt(() => outcomes.length > disruptedFrom + acknowledged(disruptedFrom));
    const recoveredFrom = outcomes.length;
    await waitUntil(() => acknowledged(recoveredFrom) >= 3, 'writes acknowledged after the recovery', 30_000);
    writing = false;
    await Promise.all(writers);

    const succeeded = outcomes.filter((o) => !(o.response instanceof Error) && o.response.status === 200);
    const failed = outcomes.filter((o) => !succeeded.includes(o));
    // Before, during and after the disruption.
    expect(succeeded.length).toBeGreaterThan(5);
    expect(failed.length).toBeGreaterThan(0);
    for (const { response } of outcomes) {
      expect(response).not.toBeInstanceOf(Error);
      const answer = response as RawResponse;
      if (answer.status === 200) {
        expect(answer.json?.data?.recordSystemMetrics, answer.text).toEqual({ count: 40, replayed: false });
      } else {
        expect(answer.status, answer.text).toBe(503);
        expect(firstCode(answer), answer.text).toBe('UNAVAILABLE');
        expect(answer.headers.get('retry-after')).toBeTruthy();
      }
    }
    // Acknowledged means stored.
    const stored = await countByMarker(scratch.url, `${prefix}_`);
    for (const { marker } of succeeded) expect(stored.get(marker), marker).toBe(40);

    // Retrying every failure with its key after recovery stores each batch exactly once.
    for (const { marker, key } of failed) {
      const retry = await postGraphQL(server.url, { query: BATCH, variables: { input: batchOf(marker, 40), key } });
      expect(retry.status, retry.text).toBe(200);
      expect(retry.json?.data?.recordSystemMetrics.count).toBe(40);
    }
    const after = await countByMarker(scratch.url, `${prefix}_`);
    expect(after.size).toBe(outcomes.length);
    expect([...after.values()].every((n) => n === 40)).toBe(true);
    expect([...after.values()].reduce((sum, n) => sum + n, 0)).toBe(outcomes.length * 40);
    expect((await probe(server.url, '/ready')).status).toBe(200);
  }

  it('connection cut under concurrent writes: every answer is a stored success or a retryable 503, and retries never duplicate', async () => {
    let health: Probe | undefined;
    let ready: Probe | undefined;
    await writeThrough('cut', async (refused) => {
      await proxy.stop();
      await waitUntil(refused, 'a write refused while the connection is cut', 30_000);
      health = await probe(server.url, '/health');
      ready = await probe(server.url, '/ready');
      await proxy.start();
    });
    expect(health).toMatchObject({ status: 200, body: { status: 'degraded', database: { status: 'unavailable' } } });
    expect(ready?.status).toBe(503);
  }, 30_000);

  it('backends terminated by the server (as a fast restart does) under concurrent writes: same guarantees', async () => {
    const admin = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    try {
      await writeThrough('terminated', async (refused) => {
        // At least three rounds, and until a write caught by one was refused.
        for (let round = 0; round < 3 || !refused(); round += 1) {
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'insights' AND datname = current_database()`);
          await delay(150);
        }
      });
    } finally {
      await admin.end();
    }
  }, 30_000);
});

describe('readiness while shutting down', () => {
  let server: TestServer;
  let front: Server;
  let frontUrl: string;
  beforeAll(async () => {
    server = await startTestServer('pglite', { label: 'faults_ready' });
    // The real front door of the app, as it behaves once shutdown has begun.
    front = createServer(
      createRequestHandler({
        yoga: undefined as never,
        frontDoor: new FrontDoor(
          server.app.services.authenticator,
          new RateLimiter({ READ: { perSecond: 0, burst: 0 }, INGEST: { perSecond: 0, burst: 0 }, ADMIN: { perSecond: 0, burst: 0 } }, undefined, pino({ level: 'silent' })),
        ),
        health: () => healthReport(server.app.services.db, server.app.services.bus),
        log: pino({ level: 'silent' }),
        guard: new LiveSessionGuard(server.app.services.authenticator, pino({ level: 'silent' })),
        limits: { bodyBytes: 1024, ingestBodyBytes: 1024 },
        isStopping: () => true,
        inFlight: new Set<ServerResponse>(),
      }) as (req: IncomingMessage, res: ServerResponse) => void,
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => front?.close(resolve));
    await server?.destroy();
  });

  it('/ready answers 503 (stopping) while /health stays 200, and GraphQL requests get 503 UNAVAILABLE with Retry-After', async () => {
    expect((await probe(server.url, '/ready')).status).toBe(200);
    const ready = await probe(frontUrl, '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, stopping: true });
    expect((await probe(frontUrl, '/health')).status).toBe(200);
    const refused = await postGraphQL(frontUrl, { query: '{ __typename }' });
    expect(refused.status).toBe(503);
    expect(firstCode(refused)).toBe('UNAVAILABLE');
    expect(refused.headers.get('retry-after')).toBe('1');
  });
});

describe('SIGTERM on the real process', () => {
  const running: ServiceProcess[] = [];
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await createScratchDatabase('faults_sigterm');
  });
  afterAll(async () => {
    for (const service of running) service.kill();
    await scratch?.drop();
  });

  /** A POST whose body is sent in two parts, so the request is in flight for as long as the test wants. */
  function slowRequest(url: string, body: string) {
    const { hostname, port } = new URL(url);
    const half = Math.floor(body.length / 2);
    let finish!: () => void;
    const answered = new Promise<{ status: number; text: string } | Error>((resolve) => {
      const req = httpRequest(
        { hostname, port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${ADMIN_KEY}` } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', (error) => resolve(error));
        },
      );
      req.on('error', (error) => resolve(error));
      req.write(body.slice(0, half));
      finish = () => req.end(body.slice(half));
    });
    return { answered, finish: () => finish() };
  }

  it('stops accepting, finishes in-flight requests, completes streams, closes sockets with 1001 and exits 0; every acknowledged record is stored', async () => {
    const port = await freePort();
    const service = startServiceProcess(port, {
      DATABASE_URL: scratch.url,
      INSIGHTS_ADMIN_KEY: ADMIN_KEY,
      INSIGHTS_SHUTDOWN_GRACE_MS: '8000',
      ...NO_LIMITS,
    });
    running.push(service);
    await waitForHealthy(service);

    const sockets = connectSubscriptions(service.url);
    await sockets.connected;
    const wsStream = sockets.subscribe('subscription { metricRecorded(filter: { metricNames: ["never"] }) { id } }');
    const sse = await openSse(service.url, 'subscription { metricRecorded(filter: { metricNames: ["never"] }) { id } }', ADMIN_KEY);
    expect(sse.status).toBe(200);

    const acknowledged = new Set<string>();
    const answers: { status: number; code: unknown }[] = [];
    const failures: string[] = [];
    let sequence = 0;
    const writer = async () => {
      while (service.running) {
        sequence += 1;
        const marker = `sigterm_${sequence}`;
        try {
          const response = await postGraphQL(service.url, { query: BATCH, variables: { input: batchOf(marker, 200), key: marker } });
          answers.push({ status: response.status, code: firstCode(response) });
          if (response.status === 200 && response.json?.data?.recordSystemMetrics?.count === 200) acknowledged.add(marker);
        } catch (error) {
          // Connection refused or closed: not acknowledged.
          failures.push(String((error as { cause?: { code?: string } }).cause?.code ?? error));
          await delay(20);
        }
      }
    };
    const writers = Array.from({ length: 6 }, () => writer());
    const slow = slowRequest(service.url, JSON.stringify({ query: BATCH, variables: { input: batchOf('sigterm_slow', 300), key: 'slow' } }));
    await delay(1_000);
    expect(acknowledged.size).toBeGreaterThan(0);

    const signalledAt = Date.now();
    service.child.kill('SIGTERM');
    await delay(300);
    // The in-flight request completes its body after SIGTERM and is still served.
    slow.finish();
    const exit = await service.exited;
    await Promise.all(writers);

    expect(exit.code, service.output()).toBe(0);
    expect(exit.signal).toBeNull();
    expect(exit.at - signalledAt).toBeLessThan(8_000);
    const slowAnswer = await slow.answered;
    expect(slowAnswer).not.toBeInstanceOf(Error);
    expect((slowAnswer as { status: number }).status).toBe(200);
    expect(JSON.parse((slowAnswer as { text: string }).text)).toEqual({ data: { recordSystemMetrics: { count: 300, replayed: false } } });

    // Live streams were completed, sockets closed as "going away".
    await waitUntil(() => sockets.closeEvents.length > 0, 'WebSocket closed');
    expect(sockets.closeEvents[0]?.code).toBe(1001);
    expect(wsStream.errors).toEqual([]);
    await sse.ended;
    expect(sse.completed).toBe(true);
    await sockets.dispose();

    // Refusals were clean: only 200 and 503 UNAVAILABLE, never another 5xx.
    for (const answer of answers) {
      if (answer.status !== 200) expect(answer).toEqual({ status: 503, code: 'UNAVAILABLE' });
    }
    expect(service.output()).not.toMatch(/shutdown failed|uncaught|unhandled/i);

    // Every acknowledged batch is stored completely, and nothing that was not acknowledged is.
    const stored = await countByMarker(scratch.url, 'sigterm_');
    expect(stored.get('sigterm_slow')).toBe(300);
    stored.delete('sigterm_slow');
    for (const marker of acknowledged) expect(stored.get(marker), marker).toBe(200);
    expect([...stored.keys()].sort()).toEqual([...acknowledged].sort());
  }, 60_000);

  it('exits 0 within INSIGHTS_SHUTDOWN_GRACE_MS when a request never finishes, without acknowledging it', async () => {
    const port = await freePort();
    const service = startServiceProcess(port, {
      DATABASE_URL: scratch.url,
      INSIGHTS_ADMIN_KEY: ADMIN_KEY,
      INSIGHTS_SHUTDOWN_GRACE_MS: '1500',
      ...NO_LIMITS,
    });
    running.push(service);
    await waitForHealthy(service);
    const stuck = slowRequest(service.url, JSON.stringify({ query: BATCH, variables: { input: batchOf('grace_stuck', 10) } }));
    await delay(200);
    const signalledAt = Date.now();
    service.child.kill('SIGTERM');
    const exit = await service.exited;
    expect(exit.code, service.output()).toBe(0);
    expect(exit.at - signalledAt).toBeGreaterThanOrEqual(1_000);
    expect(exit.at - signalledAt).toBeLessThan(1_500 + 1_500);
    const answer = await stuck.answered;
    // The connection was closed: no answer at all, certainly no success.
    expect(answer instanceof Error || (answer as { status: number }).status !== 200).toBe(true);
    expect((await countByMarker(scratch.url, 'grace_stuck')).size).toBe(0);
  }, 40_000);
});
