import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientAddress,
  collapsePath,
  createInsightsClient,
  deriveActivityType,
  insightsMiddleware,
  withInsights,
  withInsightsFetch,
  type InsightsClient,
} from '../src/client/index.js';
import { compileTrust } from '../src/client/middleware/requestFacts.js';
import { graphql } from './generated/index.js';
import { freePort } from './support/processes.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';

/** The request-tracking middleware in real applications (Express, plain Node.js, a fetch handler) reporting to a real server. */

const Trends = graphql(`
  query MiddlewareTrends($filter: PerformanceMetricFilter) {
    performanceTrends(interval: DAY, groupByTag: "endpoint", filter: $filter) { group count errorRate p50 }
  }
`);

const Activity = graphql(`
  query MiddlewareActivity($filter: UserActivityFilter) {
    userActivityStats(filter: $filter) { totalActivities uniqueUsers byType { key count } byUser { key count } }
  }
`);

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const close = (server: http.Server) => new Promise((resolve) => server.close(resolve));

async function endpointCounts(insights: TestServer, service: string): Promise<Record<string, number>> {
  const data = await insights.query(Trends, { filter: { metricName: 'http_request', tags: { service } } });
  return Object.fromEntries(data.performanceTrends.map((point) => [point.group ?? '(none)', point.count]));
}

describe('request-tracking middleware (postgres)', () => {
  let insights: TestServer;
  beforeAll(async () => {
    insights = await startTestServer('postgres', { label: 'client_mw' });
  });
  afterAll(async () => {
    await insights?.destroy();
  });

  it('Express: route templates in performanceTrends, users and derived activity types in userActivityStats', async () => {
    const client = createInsightsClient({ url: insights.url, apiKey: ADMIN_KEY, flushIntervalMs: 60_000 });
    const app = express();
    // The five lines a service adds: create the client, use the middleware.
    app.use(
      insightsMiddleware({
        client,
        getUser: (req) => req.header('x-user'),
        trustProxy: 'loopback',
        tags: { service: 'express-app' },
        activityType: (req, { endpoint }) => (endpoint === '/api/login' ? 'login' : undefined),
      }),
    );
    const api = express.Router();
    api.get('/projects/:id', (req, res) => void res.json({ id: req.params.id }));
    api.post('/projects', (_req, res) => void res.status(201).json({ id: 'p-new' }));
    api.patch('/pages/:pageId', (_req, res) => void res.json({ ok: true }));
    api.post('/login', (_req, res) => void res.json({ ok: true }));
    api.get('/boom', () => {
      throw new Error('boom');
    });
    app.use('/api', api);
    app.get('/health', (_req, res) => void res.send('ok'));
    const server = http.createServer(app);
    const base = await listen(server);
    try {
      const as = (user: string | null, extra: Record<string, string> = {}) => ({ headers: { ...(user ? { 'x-user': user } : {}), ...extra } });
      expect((await fetch(`${base}/api/projects/1`, as('u1'))).status).toBe(200);
      expect((await fetch(`${base}/api/projects/2?tab=files`, as('u1'))).status).toBe(200);
      expect((await fetch(`${base}/api/projects/3`, as(null))).status).toBe(200);
      const created = await fetch(`${base}/api/projects`, {
        method: 'POST',
        ...as('u2', { 'x-forwarded-for': '203.0.113.9', 'user-agent': 'insights-test/1.0', referer: 'https://app.example.com/projects' }),
      });
      expect(created.status).toBe(201);
      expect((await fetch(`${base}/api/pages/intro-page`, { method: 'PATCH', ...as('u1') })).status).toBe(200);
      expect((await fetch(`${base}/api/login`, { method: 'POST', ...as('u2') })).status).toBe(200);
      expect((await fetch(`${base}/api/boom`, as('u2'))).status).toBe(500);
      expect((await fetch(`${base}/users/8f14e45f-ceea-467f-a9b1-91e5a1e6c4d2/files/12345`, as(null))).status).toBe(404);
      for (let i = 0; i < 3; i++) expect((await fetch(`${base}/health`)).status).toBe(200);
    } finally {
      await close(server);
    }
    await client.close();

    expect(await endpointCounts(insights, 'express-app')).toEqual({
      '/api/projects/:id': 3,
      '/api/projects': 1,
      '/api/pages/:pageId': 1,
      '/api/login': 1,
      '/api/boom': 1,
      '/users/:id/files/:id': 1,
    });
    const boom = await insights.query(Trends, { filter: { metricName: 'http_request', tags: { service: 'express-app', endpoint: '/api/boom' } } });
    expect(boom.performanceTrends[0]?.errorRate).toBe(1);

    const stats = (await insights.query(Activity, {})).userActivityStats;
    // GET /api/boom failed (500): its user is not credited with a BOOM_LIST.
    expect(stats.uniqueUsers).toBe(2);
    expect(Object.fromEntries(stats.byType.map((entry) => [entry.key, entry.count]))).toEqual({
      PROJECT_VIEW: 2,
      PROJECT_CREATE: 1,
      PAGE_UPDATE: 1,
      login: 1,
    });
    const creation = await insights.app.services.db.prisma.userActivity.findFirstOrThrow({ where: { activityType: 'PROJECT_CREATE' } });
    expect(creation).toMatchObject({
      userId: 'u2',
      ipAddress: '203.0.113.9',
      userAgent: 'insights-test/1.0',
      referrer: 'https://app.example.com/projects',
    });
    expect(creation.metadata).toMatchObject({ path: '/api/projects', route: '/api/projects', method: 'POST', status: 201 });
    expect(typeof (creation.metadata as { responseTimeMs: unknown }).responseTimeMs).toBe('number');
  });

  it('plain Node.js: ids collapsed without a router, a given route used, the ignore list and sampling honoured', async () => {
    const client = createInsightsClient({ url: insights.url, apiKey: ADMIN_KEY, flushIntervalMs: 60_000 });
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.statusCode = req.url?.startsWith('/missing') ? 404 : 200;
      res.end('ok');
    };
    const tracked = http.createServer(
      withInsights(handler, {
        client,
        tags: { service: 'node-app' },
        ignore: ['/internal/*', /^\/ping$/],
        route: (req) => (req.url?.startsWith('/reports/') ? '/reports/:reportId' : null),
        getUser: (req) => (req.headers['x-user'] ? { id: String(req.headers['x-user']) } : null),
        activityType: () => null,
      }),
    );
    const unsampled = http.createServer(withInsights(handler, { client, tags: { service: 'node-unsampled' }, sampleRate: 0 }));
    const base = await listen(tracked);
    const other = await listen(unsampled);
    try {
      await fetch(`${base}/orders/1234/items/5`);
      await fetch(`${base}/orders/98765/items/6`);
      await fetch(`${base}/reports/monthly-2024`, { headers: { 'x-user': 'u9' } });
      await fetch(`${base}/missing/01HF8Z5Q1M2N3P4R5S6T7V8W9X`);
      await fetch(`${base}/internal/metrics`);
      await fetch(`${base}/ping`);
      for (let i = 0; i < 5; i++) await fetch(`${other}/anything/${i}`);
    } finally {
      await Promise.all([close(tracked), close(unsampled)]);
    }
    await client.close();
    expect(await endpointCounts(insights, 'node-app')).toEqual({ '/orders/:id/items/:id': 2, '/reports/:reportId': 1, '/missing/:id': 1 });
    expect(await endpointCounts(insights, 'node-unsampled')).toEqual({});
    // activityType returning null records no activity, even for a known user.
    expect((await insights.query(Activity, { filter: { userId: 'u9' } })).userActivityStats.totalActivities).toBe(0);
  });

  it('a fetch handler: records its requests and users, and a throwing handler as a 500 while its error goes on', async () => {
    const client = createInsightsClient({ url: insights.url, apiKey: ADMIN_KEY, flushIntervalMs: 60_000 });
    const handler = withInsightsFetch(
      async (request: Request) => {
        if (new URL(request.url).pathname === '/fail') throw new Error('handler failed');
        return request.method === 'DELETE' ? new Response(null, { status: 204 }) : new Response('ok');
      },
      {
        client,
        tags: { service: 'fetch-app' },
        route: (request) => (new URL(request.url).pathname.startsWith('/widgets/') ? '/widgets/:id' : null),
        getUser: async (request) => request.headers.get('x-user'),
        getClientAddress: () => '::ffff:198.51.100.7',
      },
    );
    expect((await handler(new Request('http://fetch.test/widgets/42', { method: 'DELETE', headers: { 'x-user': 'f1' } }))).status).toBe(204);
    expect((await handler(new Request('http://fetch.test/widgets/43', { headers: { 'x-user': 'f1' } }))).status).toBe(200);
    await expect(handler(new Request('http://fetch.test/fail'))).rejects.toThrow('handler failed');
    await handler(new Request('http://fetch.test/healthz'));
    await client.close();
    expect(await endpointCounts(insights, 'fetch-app')).toEqual({ '/widgets/:id': 2, '/fail': 1 });
    const stats = (await insights.query(Activity, { filter: { userId: 'f1' } })).userActivityStats;
    expect(Object.fromEntries(stats.byType.map((entry) => [entry.key, entry.count]))).toEqual({ WIDGET_DELETE: 1, WIDGET_VIEW: 1 });
    const deletion = await insights.app.services.db.prisma.userActivity.findFirstOrThrow({ where: { activityType: 'WIDGET_DELETE' } });
    expect(deletion.ipAddress).toBe('198.51.100.7');
  });

  it('errors in reporting never affect the request: a throwing getUser, an unreachable service', async () => {
    const problems: unknown[] = [];
    const client: InsightsClient = createInsightsClient({
      url: `http://127.0.0.1:${await freePort()}`,
      apiKey: ADMIN_KEY,
      retry: { maxAttempts: 1 },
      flushIntervalMs: 10,
    });
    const app = express();
    app.use(
      insightsMiddleware({
        client,
        getUser: () => {
          throw new Error('session store down');
        },
        onError: (error) => problems.push(error),
      }),
    );
    app.get('/things/:id', (_req, res) => void res.json({ ok: true }));
    const server = http.createServer(app);
    const base = await listen(server);
    try {
      const response = await fetch(`${base}/things/1`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true });
    } finally {
      await close(server);
    }
    await client.close();
    expect(problems).toHaveLength(1);
    expect(String(problems[0])).toContain('session store down');
    expect(client.stats()).toMatchObject({ failed: 1, sent: 0 });
  });
});

describe('middleware helpers', () => {
  it('derives activity types from method and route', () => {
    expect(deriveActivityType('POST', '/api/projects')).toBe('PROJECT_CREATE');
    expect(deriveActivityType('PATCH', '/api/v2/pages/:id')).toBe('PAGE_UPDATE');
    expect(deriveActivityType('GET', '/projects/:id')).toBe('PROJECT_VIEW');
    expect(deriveActivityType('GET', '/projects')).toBe('PROJECT_LIST');
    expect(deriveActivityType('DELETE', '/categories/:categoryId')).toBe('CATEGORY_DELETE');
    expect(deriveActivityType('POST', '/projects/:id/archive')).toBe('PROJECT_ARCHIVE');
    expect(deriveActivityType('GET', '/')).toBe('ROOT_VIEW');
  });

  it('collapses ids in paths', () => {
    expect(collapsePath('/a/123/b/4f9c2c1e0b8d4a7f9e3b/')).toBe('/a/:id/b/:id');
    expect(collapsePath('/docs/getting-started')).toBe('/docs/getting-started');
  });

  it('finds the client address as far as the proxies are trusted', () => {
    const facts = (socketAddress: string, forwarded?: string) => ({ socketAddress, header: (name: string) => (name === 'x-forwarded-for' ? forwarded : undefined) });
    const chain = facts('10.0.0.2', '198.51.100.1, 203.0.113.5, 10.0.0.1');
    expect(clientAddress(chain, compileTrust(false))).toBe('10.0.0.2');
    expect(clientAddress(chain, compileTrust(true))).toBe('198.51.100.1');
    expect(clientAddress(chain, compileTrust(2))).toBe('203.0.113.5');
    expect(clientAddress(chain, compileTrust('10.0.0.0/8'))).toBe('203.0.113.5');
    expect(clientAddress(chain, compileTrust(['10.0.0.0/8', '203.0.113.5']))).toBe('198.51.100.1');
    // A spoofed header from an untrusted peer is ignored; mapped and zoned addresses come out bare.
    expect(clientAddress(facts('::ffff:192.0.2.4', '1.2.3.4'), compileTrust('loopback'))).toBe('192.0.2.4');
    expect(clientAddress(facts('::1', 'fe80::1%eth0'), compileTrust('loopback'))).toBe('fe80::1');
    expect(clientAddress(facts('127.0.0.1', 'not-an-address'), compileTrust('loopback'))).toBeNull();
  });
});
