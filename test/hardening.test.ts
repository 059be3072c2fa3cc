import net from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createKey } from './support/keys.js';
import { firstCode, GRAPHQL_ACCEPT, postGraphQL, readResponse, type RawResponse } from './support/rawHttp.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';
import { connectSubscriptions } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

// GraphQL hardening: operation limits (depth, cost, aliases, tokens, directives), body and WebSocket payload
// limits, subscriptions per socket, introspection and suggestions for ADMIN keys only, CSRF, no mutations over
// GET, and the graphql-http audit suite.

const NO_LIMITS = { INSIGHTS_RATE_LIMIT_READ: '0', INSIGHTS_RATE_LIMIT_INGEST: '0', INSIGHTS_RATE_LIMIT_ADMIN: '0' };

/** What the internal dashboards send (README examples and the panels), as one document per panel. */
const DASHBOARD_QUERIES: Record<string, string> = {
  overview: `{
    userActivityStats(filter: { from: "2026-11-01T00:00:00Z" }, top: 10, timeZone: "Europe/Paris") {
      totalActivities uniqueUsers byType { key count } byUser { key count } byDay { key count }
    }
    currentSystemMetrics(host: "web-1") { id metricName metricType value unit tags dimensions timestamp createdAt }
    applicationMetricStats(filter: { appName: "shop" }) { appName metricName count sum avg min max last lastTimestamp }
    performanceTrends(interval: HOUR, groupByTag: "endpoint", filter: { metricName: "http_request" }) {
      bucketStart group count avg p50 p95 p99 errorRate
    }
  }`,
  lists: `query Lists($after: String, $first: Int) {
    systemMetrics(first: $first, after: $after, filter: { tags: { host: "web-1" }, from: "2026-11-01T00:00:00Z" }) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id metricName metricType value unit tags dimensions timestamp createdAt } }
    }
    applicationMetrics(first: $first) { totalCount edges { node { id appName metricName metricType value unit tags metadata timestamp createdAt } } }
    userMetrics(first: $first) { totalCount edges { node { id userId sessionId metricName metricType value unit tags timestamp createdAt } } }
    performanceMetrics(first: $first) {
      totalCount edges { node { id metricName metricType value unit responseTimeMs statusCode tags dimensions timestamp createdAt } }
    }
    userActivities(first: $first) {
      totalCount edges { node { id userId activityType description ipAddress userAgent referrer metadata timestamp createdAt } }
    }
  }`,
  page: `{
    systemMetrics(first: 200, filter: { metricNames: ["cpu_usage", "memory_usage"] }) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id metricName value unit tags timestamp } }
    }
  }`,
  comparison: `{
    today: performanceTrends(interval: MINUTE, filter: { from: "2026-11-28T00:00:00Z" }) { bucketStart count p95 errorRate }
    yesterday: performanceTrends(interval: MINUTE, filter: { from: "2026-11-27T00:00:00Z", to: "2026-11-28T00:00:00Z" }) { bucketStart count p95 errorRate }
    errors: performanceMetrics(first: 100, filter: { statusCode: 503 }) { totalCount edges { node { id tags } } }
    web1: currentSystemMetrics(host: "web-1") { metricName value }
    web2: currentSystemMetrics(host: "web-2") { metricName value }
  }`,
  admin: `{
    apiKeys { id name keyPrefix scopes createdAt lastUsedAt expiresAt revokedAt }
    jobs { name description schedule scope enabled nextRunAt lastRun { id jobName status startedAt finishedAt durationMs error result } }
    jobRuns(first: 100) { totalCount edges { node { id jobName status trigger host instance scheduledAt startedAt finishedAt durationMs error } } }
  }`,
  fragments: `query WithFragments {
    systemMetrics(first: 50) { edges { node { ...M ... on SystemMetric { dimensions } } } }
    currentSystemMetrics { ...M }
  }
  fragment M on Metric { id metricName metricType value unit tags timestamp createdAt }`,
};

/** No 5xx, no data, an error whose message says which limit. */
function expectRefused(response: RawResponse, pattern: RegExp, label: string) {
  expect(response.status, `${label}: ${response.text}`).toBeLessThan(500);
  expect(response.json?.data ?? null, label).toBeNull();
  expect(response.json?.errors?.[0]?.message, label).toMatch(pattern);
}

/** A query sent with GET, as GraphQL over HTTP has it (variables as JSON in the query string). */
async function getGraphQL(baseUrl: string, query: string, variables: Record<string, unknown> | undefined, key: string): Promise<RawResponse> {
  const params = new URLSearchParams({ query, ...(variables ? { variables: JSON.stringify(variables) } : {}) });
  return readResponse(
    await fetch(`${baseUrl}/graphql?${params}`, { headers: { authorization: `Bearer ${key}`, accept: GRAPHQL_ACCEPT }, signal: AbortSignal.timeout(30_000) }),
  );
}

/** The errors of one WebSocket operation, flattened (graphql-ws reports them as `next` payloads or one `error` message). */
async function webSocketErrors(baseUrl: string, key: string, query: string, variables?: Record<string, unknown>) {
  const client = connectSubscriptions(baseUrl, key);
  await client.connected;
  try {
    const run = client.subscribe(query, variables);
    await waitUntil(() => run.errors.length > 0 || run.completed, 'WebSocket answer');
    return { events: run.events, errors: run.errors.flat() as { message: string; extensions?: Record<string, unknown> }[], closeEvents: client.closeEvents };
  } finally {
    await client.dispose();
  }
}

/** An introspection query `depth + 5` fields deep. */
const nested = (depth: number) => `{ __schema { types { fields { type { ${'ofType { '.repeat(depth)}name${' }'.repeat(depth)} } } } } }`;

describe('with the default limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres', { label: 'hardening_defaults', env: NO_LIMITS });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('passes every dashboard query, and introspection for ADMIN keys (as GraphiQL and codegen send it)', async () => {
    for (const [panel, query] of Object.entries(DASHBOARD_QUERIES)) {
      const response = await postGraphQL(server.url, { query, variables: panel === 'lists' ? { first: 1000 } : undefined });
      expect(response.status, `${panel}: ${response.text}`).toBe(200);
      expect(response.json?.errors, panel).toBeUndefined();
    }
    for (const options of [{}, { descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }]) {
      const response = await postGraphQL(server.url, { query: getIntrospectionQuery(options) });
      expect(response.status).toBe(200);
      expect(response.json?.errors).toBeUndefined();
      expect(response.json?.data?.__schema?.queryType?.name).toBe('Query');
    }
  });

  it('passes one full page (first: 1000, every field) of each list under the default cost limit', async () => {
    const pages = {
      systemMetrics: 'id metricName metricType value unit tags dimensions timestamp createdAt',
      performanceMetrics: 'id metricName metricType value unit responseTimeMs statusCode tags dimensions timestamp createdAt',
      userActivities: 'id userId activityType description ipAddress userAgent referrer metadata timestamp createdAt',
    };
    for (const [list, fields] of Object.entries(pages)) {
      const query = `{ ${list}(first: 1000) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${fields} } } } }`;
      const response = await postGraphQL(server.url, { query });
      expect.soft(response.json?.errors?.[0]?.message, list).toBeUndefined();
    }
  });

  it('passes a full-size batch sent the usual way, with variables', async () => {
    const input = Array.from({ length: 1000 }, (_, i) => ({
      metricName: 'hardening_batch', metricType: 'GAUGE', value: i, unit: 'percent', tags: { host: `web-${i % 10}`, environment: 'production' },
    }));
    const response = await postGraphQL(server.url, {
      query: 'mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }',
      variables: { input },
    });
    expect(response.json).toEqual({ data: { recordSystemMetrics: { count: 1000 } } });
  });

  it('counts the cost with the variables: 20 aliases of systemMetrics(first: $n) with n = 1000 are refused over POST, GET and WebSocket', async () => {
    const { key } = await createKey(server.app.services, { name: 'cost-reader', scopes: ['READ'] });
    const aliased = (argument: 'first' | 'last', selection: string) =>
      `query Many($n: Int) { ${Array.from({ length: 20 }, (_, i) => `a${i}: systemMetrics(${argument}: $n) { ${selection} }`).join(' ')} }`;
    const expectCostRefusal = (errors: { message: string; extensions?: Record<string, unknown> }[] | undefined, label: string) => {
      expect(errors, label).toHaveLength(1);
      expect(errors?.[0]?.message, label).toMatch(/cost limit of 150000 exceeded, found \d+/i);
      expect(errors?.[0]?.extensions, label).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maxCost: 150_000, cost: expect.any(Number) });
      expect(errors?.[0]?.extensions?.cost as number, label).toBeGreaterThan(150_000);
    };
    for (const [label, query] of [
      ['ids', aliased('first', 'edges { node { id } }')],
      ['totalCount only', aliased('first', 'totalCount')],
      ['last', aliased('last', 'edges { node { id } }')],
    ] as const) {
      const post = await postGraphQL(server.url, { query, variables: { n: 1000 } }, { key });
      expect(post.status, `POST ${label}: ${post.text}`).toBe(400);
      expect(post.json?.data ?? null).toBeNull();
      expectCostRefusal(post.json?.errors, `POST ${label}`);
      const get = await getGraphQL(server.url, query, { n: 1000 }, key);
      expect(get.status, `GET ${label}: ${get.text}`).toBe(400);
      expect(get.json?.data ?? null).toBeNull();
      expectCostRefusal(get.json?.errors, `GET ${label}`);
      const ws = await webSocketErrors(server.url, key, query, { n: 1000 });
      expect(ws.events, `WebSocket ${label}`).toEqual([]);
      expect(ws.closeEvents, `WebSocket ${label}`).toEqual([]);
      expectCostRefusal(ws.errors, `WebSocket ${label}`);
    }
    // The same document with small pages, or with the default page of 50, runs.
    const small = await postGraphQL(server.url, { query: aliased('first', 'edges { node { id } }'), variables: { n: 10 } }, { key });
    expect(small.status, small.text).toBe(200);
    expect(small.json?.errors).toBeUndefined();
    const defaultPage = await getGraphQL(server.url, aliased('first', 'totalCount'), undefined, key);
    expect(defaultPage.status, defaultPage.text).toBe(200);
    expect(defaultPage.json?.data?.a19).toEqual({ totalCount: expect.any(Number) });
    // A page size over 1000 is clamped by the resolvers, and costed as they clamp it.
    const clamped = await postGraphQL(server.url, { query: 'query($n: Int) { systemMetrics(first: $n) { totalCount } }', variables: { n: 1_000_000_000 } }, { key });
    expect(clamped.status, clamped.text).toBe(200);
  });

  it('limits introspection too: a deeply nested or aliased introspection query is refused, even for ADMIN', async () => {
    expectRefused(await postGraphQL(server.url, { query: nested(30) }), /depth limit of 25 exceeded/i, 'deep introspection');
    const aliased = `{ ${Array.from({ length: 30 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }`;
    expectRefused(await postGraphQL(server.url, { query: aliased }), /aliases limit of 20 exceeded/i, 'aliased introspection');
  });

  it('refuses a WebSocket message over maxPayload (1 MiB) by closing the socket with 1009, and accepts smaller ones', async () => {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(String(data)));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } }));
    await waitUntil(() => messages.some((message) => message.includes('connection_ack')), 'connection_ack');
    // Just under the limit: a message with a big variable is read and answered (here with an input error).
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'query($x: String) { systemMetrics(filter: { metricName: $x }) { totalCount } }', variables: { x: 'y'.repeat(1000 * 1000) } } }));
    await waitUntil(() => messages.some((message) => message.includes('"id":"1"')), 'answer under the limit');
    expect(messages.find((message) => message.includes('"id":"1"'))).toContain('BAD_USER_INPUT');
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.on('error', () => undefined);
    socket.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: '{ __typename }', variables: { x: 'y'.repeat(1024 * 1024) } } }));
    expect(await closed).toBe(1009);
    // The service is fine.
    expect((await postGraphQL(server.url, { query: '{ __typename }' })).status).toBe(200);
  });

  it('refuses a body over the default 1 MiB with 413 for a READ key', async () => {
    const { key } = await createKey(server.app.services, { name: 'reader', scopes: ['READ'] });
    const filler = 'x'.repeat(1024 * 1024);
    const response = await postGraphQL(server.url, { query: '{ __typename }', variables: { filler } }, { key });
    expect(response.status).toBe(413);
    expect(firstCode(response)).toBe('PAYLOAD_TOO_LARGE');
  });

  it('passes the graphql-http audit suite with no failures', async () => {
    const fetchFn = (input: RequestInfo | URL, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${ADMIN_KEY}`);
      return fetch(input, { ...init, headers });
    };
    const results = [];
    for (const audit of serverAudits({ url: `${server.url}/graphql`, fetchFn })) results.push(await audit.fn());
    expect(results.length).toBeGreaterThan(50);
    const failures = results.filter((result) => result.status === 'error');
    const warnings = results.filter((result) => result.status === 'warn' || result.status === 'notice');
    if (warnings.length > 0) {
      console.warn(`graphql-http audit warnings:\n${warnings.map((w) => `  ${w.status} ${w.id} ${w.name}: ${'reason' in w ? w.reason : ''}`).join('\n')}`);
    }
    expect(failures.map((failure) => `${failure.id} ${failure.name}: ${'reason' in failure ? failure.reason : ''}`)).toEqual([]);
  });
});

describe('with small limits', () => {
  let server: TestServer;
  let readKey: string;
  let ingestKey: string;
  beforeAll(async () => {
    server = await startTestServer('postgres', {
      label: 'hardening_small',
      env: {
        ...NO_LIMITS,
        INSIGHTS_MAX_DEPTH: '6',
        INSIGHTS_MAX_COST: '300',
        INSIGHTS_MAX_ALIASES: '3',
        INSIGHTS_MAX_DIRECTIVES: '3',
        INSIGHTS_MAX_TOKENS: '300',
        INSIGHTS_MAX_BODY_BYTES: '4096',
        INSIGHTS_MAX_INGEST_BODY_BYTES: '65536',
        INSIGHTS_MAX_SUBSCRIPTIONS_PER_SOCKET: '2',
      },
    });
    readKey = (await createKey(server.app.services, { name: 'reader', scopes: ['READ'] })).key;
    ingestKey = (await createKey(server.app.services, { name: 'writer', scopes: ['INGEST'] })).key;
  });
  afterAll(async () => {
    await server?.destroy();
  });

  const stored = async (metricName: string) => server.app.services.db.prisma.systemMetric.count({ where: { metricName } });
  const record = (alias: string, name: string) => `${alias}: recordSystemMetric(input: { metricName: "${name}", metricType: GAUGE, value: 1 }) { id }`;

  it('depth: refused past the limit, with the limit in the message; at the limit it passes', async () => {
    const atLimit = await postGraphQL(server.url, { query: '{ systemMetrics(first: 1) { edges { node { id tags } } pageInfo { endCursor } } }' });
    expect(atLimit.status).toBe(200);
    expect(atLimit.json?.errors).toBeUndefined();
    expectRefused(await postGraphQL(server.url, { query: nested(5) }), /depth limit of 6 exceeded/i, 'depth');
  });

  it('cost: a query asking for too much is refused before it runs', async () => {
    const expensive = `{ ${['systemMetrics', 'applicationMetrics', 'userMetrics', 'performanceMetrics'].map((list) => `${list}(first: 1000) { totalCount edges { node { id metricName value tags timestamp createdAt unit } } }`).join(' ')} }`;
    expectRefused(await postGraphQL(server.url, { query: expensive }), /cost limit of 300 exceeded/i, 'cost');
  });

  it('aliases: refused past the limit, and an aliased mutation stores nothing', async () => {
    const query = `mutation { ${[1, 2, 3, 4].map((i) => record(`a${i}`, 'hardening_aliases')).join(' ')} }`;
    expectRefused(await postGraphQL(server.url, { query }, { key: ingestKey }), /aliases limit of 3 exceeded/i, 'aliases');
    expect(await stored('hardening_aliases')).toBe(0);
    const allowed = await postGraphQL(server.url, { query: `mutation { ${[1, 2, 3].map((i) => record(`a${i}`, 'hardening_aliases_ok')).join(' ')} }` }, { key: ingestKey });
    expect(allowed.status).toBe(200);
    expect(await stored('hardening_aliases_ok')).toBe(3);
  });

  it('directives: refused past the limit', async () => {
    const query = `{ __typename ${'@include(if: true) '.repeat(4)}}`;
    expectRefused(await postGraphQL(server.url, { query }), /directives limit of 3 exceeded/i, 'directives');
  });

  it('tokens: refused past the limit, before parsing, with 400', async () => {
    const query = `{ ${Array.from({ length: 400 }, () => '__typename').join(' ')} }`;
    const response = await postGraphQL(server.url, { query });
    expectRefused(response, /token limit of 300 exceeded/i, 'tokens');
    expect(response.status).toBe(400);
  });

  it('applies the token limit over WebSocket as an error of that operation', async () => {
    const client = connectSubscriptions(server.url, ADMIN_KEY);
    await client.connected;
    try {
      const long = client.subscribe(`{ ${Array.from({ length: 400 }, () => '__typename').join(' ')} }`);
      await waitUntil(() => long.errors.length > 0, 'limit error');
      expect(JSON.stringify(long.errors)).toMatch(/token limit of 300 exceeded/i);
      expect(client.closeEvents).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('over WebSocket a limit refusal is an error of that operation, not a 4500 close of the socket', async () => {
    const client = connectSubscriptions(server.url, ADMIN_KEY);
    await client.connected;
    try {
      const live = client.subscribe<{ metricRecorded: { value: number } }>('subscription { metricRecorded(filter: { metricNames: ["ws_limit"] }) { value } }');
      await waitUntil(() => server.app.services.live.subscriberCount === 1, 'live subscription');
      const deep = client.subscribe(nested(5));
      await waitUntil(() => deep.errors.length > 0 || client.closeEvents.length > 0, 'answer to the deep query');
      expect(client.closeEvents, 'socket closed').toEqual([]);
      expect(JSON.stringify(deep.errors)).toMatch(/depth limit of 6 exceeded/i);
      const aliased = client.subscribe(`{ ${[1, 2, 3, 4].map((i) => `a${i}: systemMetrics { totalCount }`).join(' ')} }`);
      await waitUntil(() => aliased.errors.length > 0, 'answer to the aliased query');
      expect(JSON.stringify(aliased.errors)).toMatch(/aliases limit of 3 exceeded/i);
      // The other subscription on the socket is untouched.
      await server.request('mutation { recordSystemMetric(input: { metricName: "ws_limit", metricType: GAUGE, value: 5 }) { id } }', {});
      expect((await live.waitFor(1, 3_000))[0]?.metricRecorded.value).toBe(5);
    } finally {
      await client.dispose();
    }
  });

  it('refusals without data answer 4xx with an error code under application/graphql-response+json', async () => {
    const refusals: [string, unknown, string | undefined][] = [
      ['depth', { query: nested(5) }, ADMIN_KEY],
      ['cost', { query: `{ ${['systemMetrics', 'userMetrics', 'performanceMetrics'].map((l) => `${l}(first: 1000) { edges { node { id metricName value tags } } }`).join(' ')} }` }, ADMIN_KEY],
      ['aliases', { query: `{ ${[1, 2, 3, 4].map((i) => `a${i}: systemMetrics { totalCount }`).join(' ')} }` }, ADMIN_KEY],
      ['directives', { query: `{ __typename ${'@include(if: true) '.repeat(4)}}` }, ADMIN_KEY],
      ['variables', { query: 'mutation($i: SystemMetricInput!) { recordSystemMetric(input: $i) { id } }', variables: { i: { metricName: 1 } } }, ingestKey],
    ];
    const answers: Record<string, { status: number; code: unknown }> = {};
    for (const [label, body, key] of refusals) {
      const response = await postGraphQL(server.url, body, { key, headers: { accept: 'application/graphql-response+json' } });
      expect(response.json?.data ?? null).toBeNull();
      answers[label] = { status: response.status, code: firstCode(response) };
    }
    // Variable errors already answer 400 (src/app.ts markingRequestErrors); the armor limits do not.
    expect(answers.variables?.status).toBe(400);
    for (const [label, answer] of Object.entries(answers)) {
      if (label === 'variables') continue;
      expect.soft(answer.status, `${label}: status`).toBe(400);
      expect.soft(answer.code, `${label}: code`).toEqual(expect.any(String));
    }
  });

  it('bodies: 413 PAYLOAD_TOO_LARGE over the limit, a larger limit for INGEST keys, nothing stored', async () => {
    const small = await postGraphQL(server.url, { query: '{ __typename }', variables: { pad: 'p'.repeat(3000) } }, { key: readKey });
    expect(small.status).toBe(200);
    const big = await postGraphQL(server.url, { query: '{ __typename }', variables: { pad: 'p'.repeat(5000) } }, { key: readKey });
    expect(big.status).toBe(413);
    expect(firstCode(big)).toBe('PAYLOAD_TOO_LARGE');
    expect(big.json?.errors?.[0]?.message).toMatch(/4096 bytes/);

    const batch = (count: number, name: string) => ({
      query: 'mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }',
      variables: { input: Array.from({ length: count }, (_, i) => ({ metricName: name, metricType: 'GAUGE', value: i, tags: { host: 'h-000000' } })) },
    });
    const fits = await postGraphQL(server.url, batch(500, 'hardening_ingest_fits'), { key: ingestKey });
    expect(JSON.stringify(batch(500, 'hardening_ingest_fits')).length).toBeGreaterThan(4096);
    expect(fits.json).toEqual({ data: { recordSystemMetrics: { count: 500 } } });
    const tooBig = await postGraphQL(server.url, batch(1000, 'hardening_ingest_too_big'), { key: ingestKey });
    expect(tooBig.status).toBe(413);
    expect(await stored('hardening_ingest_too_big')).toBe(0);
  });

  it('bodies: a declared Content-Length over the limit is refused before the body is sent', async () => {
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${readKey}\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"query":`,
    );
    await waitUntil(() => answer.includes('\r\n\r\n'), '413 before the body', 5_000);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain('PAYLOAD_TOO_LARGE');
    socket.destroy();
    await ended;
  });

  it('bodies: a chunked body is cut off as soon as it passes the limit', async () => {
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${readKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    let sent = 0;
    while (!answer && sent < 10 * 1024 * 1024) {
      const chunk = 'x'.repeat(1024);
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      sent += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await waitUntil(() => answer.includes('PAYLOAD_TOO_LARGE'), '413 answer', 5_000);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(sent).toBeLessThan(64 * 1024);
    socket.destroy();
  });

  it('caps operations per socket: the third is refused, the socket kept, and a freed slot can be reused', async () => {
    const client = connectSubscriptions(server.url, readKey);
    await client.connected;
    try {
      // Distinct operations: identical ones would share one execution (and one hub subscriber) on the server.
      const query = (n: number) => `subscription { metricRecorded(filter: { metricNames: ["cap_${n}"] }) { id } }`;
      const first = client.subscribe(query(1));
      const second = client.subscribe(query(2));
      await waitUntil(() => server.app.services.live.subscriberCount === 2, 'two subscriptions');
      const third = client.subscribe(query(3));
      await waitUntil(() => third.errors.length > 0, 'third refused');
      expect(JSON.stringify(third.errors)).toContain('TOO_MANY_SUBSCRIPTIONS');
      expect(first.errors).toEqual([]);
      expect(second.errors).toEqual([]);

      first.stop();
      await waitUntil(() => server.app.services.live.subscriberCount === 1, 'first ended');
      const fourth = client.subscribe(query(4));
      await waitUntil(() => server.app.services.live.subscriberCount === 2, 'fourth accepted');
      expect(fourth.errors).toEqual([]);
      expect(client.closeEvents).toEqual([]);

      // Another socket has its own allowance.
      const other = connectSubscriptions(server.url, readKey);
      await other.connected;
      other.subscribe(query(5));
      await waitUntil(() => server.app.services.live.subscriberCount === 3, 'other socket subscription');
      await other.dispose();
    } finally {
      await client.dispose();
    }
  });
});

describe('schema privacy, CSRF and methods', () => {
  let server: TestServer;
  let readKey: string;
  let ingestKey: string;
  beforeAll(async () => {
    server = await startTestServer('pglite', { label: 'hardening_privacy', env: { ...NO_LIMITS, NODE_ENV: 'production' } });
    readKey = (await createKey(server.app.services, { name: 'reader', scopes: ['READ'] })).key;
    ingestKey = (await createKey(server.app.services, { name: 'writer', scopes: ['INGEST'] })).key;
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('allows introspection for ADMIN keys only', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "ApiKey") { fields { name } } }', getIntrospectionQuery()]) {
      const admin = await postGraphQL(server.url, { query });
      expect(admin.status).toBe(200);
      expect(admin.json?.errors).toBeUndefined();
      for (const key of [readKey, ingestKey]) {
        const refused = await postGraphQL(server.url, { query }, { key });
        expect(refused.status).toBeGreaterThanOrEqual(400);
        expect(refused.status).toBeLessThan(500);
        expect(refused.json?.data ?? null).toBeNull();
        expect(refused.json?.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['ADMIN'] });
        expect(refused.text).not.toMatch(/ApiKey|recordSystemMetric/);
      }
    }
    // __typename is not introspection.
    expect((await postGraphQL(server.url, { query: '{ __typename }' }, { key: readKey })).status).toBe(200);
    // Over WebSocket as well.
    const client = connectSubscriptions(server.url, readKey);
    await client.connected;
    const run = client.subscribe('{ __schema { types { name } } }');
    await waitUntil(() => run.errors.length > 0 || run.completed, 'WebSocket answer');
    expect(run.events).toHaveLength(0);
    expect(JSON.stringify(run.errors)).toContain('FORBIDDEN');
    await client.dispose();
  });

  it('refuses introspection from non-ADMIN keys with exactly one FORBIDDEN error and 403, over POST, GET and WebSocket', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "ApiKey") { name fields { name type { name } } } }', getIntrospectionQuery()]) {
      for (const key of [readKey, ingestKey]) {
        for (const [method, response] of [
          ['POST', await postGraphQL(server.url, { query }, { key })],
          ['GET', await getGraphQL(server.url, query, undefined, key)],
          // Clients that accept only application/json (the legacy media type) get the same status.
          ['POST application/json', await postGraphQL(server.url, { query }, { key, headers: { accept: 'application/json' } })],
        ] as const) {
          const label = `${method} ${query.slice(0, 40)}`;
          expect(response.status, `${label}: ${response.text}`).toBe(403);
          expect(response.json?.data ?? null, label).toBeNull();
          expect(response.json?.errors, label).toHaveLength(1);
          expect(response.json?.errors?.[0]?.message, label).toBe('Introspection is only allowed for ADMIN keys');
          expect(response.json?.errors?.[0]?.extensions, label).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['ADMIN'] });
        }
      }
      const ws = await webSocketErrors(server.url, readKey, query);
      expect(ws.events).toEqual([]);
      expect(ws.closeEvents).toEqual([]);
      expect(ws.errors).toHaveLength(1);
      expect(ws.errors[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['ADMIN'] });
    }
  });

  it('hides field suggestions from non-admin keys in validation errors, and keeps them for ADMIN', async () => {
    const typo = '{ systemMetricz { totalCount } }';
    const admin = await postGraphQL(server.url, { query: typo });
    expect(admin.json?.errors?.[0]?.message).toMatch(/Did you mean/);
    for (const [key, query] of [
      [readKey, typo],
      [readKey, '{ systemMetrics(filtr: {}) { totalCount } }'],
      [readKey, '{ performanceTrends(interval: HOURS) { count } }'],
      [ingestKey, 'mutation { recordSystemMetric(input: { metricNam: "a", metricType: GAUGE, value: 1 }) { id } }'],
      [ingestKey, 'mutation { recordSystemMetric(input: { metricName: "a", metricType: GAUG, value: 1 }) { id } }'],
    ] as const) {
      const response = await postGraphQL(server.url, { query }, { key });
      expect(response.status, query).toBe(400);
      expect(response.json?.errors?.length, query).toBeGreaterThan(0);
      expect(response.text, query).not.toMatch(/Did you mean/);
    }
  });

  it('hides suggestions from non-admin keys in variable errors too', async () => {
    const response = await postGraphQL(server.url, {
      query: 'mutation($i: SystemMetricInput!) { recordSystemMetric(input: $i) { id } }',
      variables: { i: { metricNam: 'a', metricType: 'GAUG', value: 1 } },
    }, { key: ingestKey });
    expect(response.status).toBe(400);
    expect(response.json?.errors?.length).toBeGreaterThan(0);
    expect(response.text).not.toMatch(/Did you mean/);
    // A value of the wrong type: a coded error naming the variable and the item.
    const wrong = await postGraphQL(server.url, {
      query: 'mutation($i: [SystemMetricInput!]!) { recordSystemMetrics(input: $i) { count } }',
      variables: { i: [{ metricName: 'a', metricType: 'GAUGE', value: 1 }, { metricName: 'a', metricType: 'GAUGE', value: 'x' }] },
    }, { key: ingestKey });
    expect(wrong.status).toBe(400);
    expect(wrong.json?.errors).toHaveLength(1);
    expect(wrong.json?.errors?.[0]?.message).toContain('"i[1].value"');
    expect(wrong.json?.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT' });
  });

  it('serves GraphiQL to ADMIN keys only, and without an ADMIN key nothing can introspect', async () => {
    const anonymousPage = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(anonymousPage.status).toBe(401);
    expect(await anonymousPage.text()).not.toMatch(/graphiql/i);
    const readerPage = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html', authorization: `Bearer ${readKey}` } });
    expect(readerPage.status).toBe(403);
    expect(await readerPage.text()).not.toMatch(/graphiql/i);
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html', authorization: `Bearer ${ADMIN_KEY}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/graphiql/i);
    // The page carries no schema and no data of its own.
    expect(html).not.toMatch(/recordSystemMetric|systemMetrics|ApiKey/);
    // What GraphiQL does next (introspection) needs a key, and an ADMIN one.
    const anonymous = await postGraphQL(server.url, { query: getIntrospectionQuery() }, { key: null });
    expect(anonymous.status).toBe(401);
    const reader = await postGraphQL(server.url, { query: getIntrospectionQuery() }, { key: readKey });
    expect(reader.json?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses cross-site "simple" requests (no Authorization header can be sent by a form) and stores nothing', async () => {
    const mutation = 'mutation { recordSystemMetric(input: { metricName: "csrf", metricType: GAUGE, value: 1 }) { id } }';
    const attempts: [string, string][] = [
      ['application/x-www-form-urlencoded', `query=${encodeURIComponent(mutation)}`],
      ['text/plain', JSON.stringify({ query: mutation })],
      ['multipart/form-data; boundary=XYZ', `--XYZ\r\nContent-Disposition: form-data; name="query"\r\n\r\n${mutation}\r\n--XYZ--\r\n`],
    ];
    for (const [contentType, body] of attempts) {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': contentType, origin: 'https://evil.example', cookie: 'session=stolen' },
        body,
      });
      expect(response.status, contentType).toBe(401);
      expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
    }
    const get = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ systemMetrics { totalCount } }')}`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(get.status).toBe(401);
    expect(await server.app.services.db.prisma.systemMetric.count({ where: { metricName: 'csrf' } })).toBe(0);
  });

  it('never runs a mutation sent with GET (405, Allow: POST), for any key or operation selection', async () => {
    const mutation = 'mutation Write { recordSystemMetric(input: { metricName: "via_get", metricType: GAUGE, value: 1 }) { id } }';
    const mixed = `query Read { __typename } ${mutation}`;
    for (const key of [ADMIN_KEY, ingestKey]) {
      for (const [query, operationName] of [[mutation, undefined], [mixed, 'Write']] as const) {
        const params = new URLSearchParams({ query, ...(operationName ? { operationName } : {}) });
        const response = await fetch(`${server.url}/graphql?${params}`, {
          headers: { authorization: `Bearer ${key}`, accept: 'application/graphql-response+json' },
        });
        expect(response.status).toBe(405);
        expect(response.headers.get('allow')).toMatch(/POST/);
      }
    }
    expect(await server.app.services.db.prisma.systemMetric.count({ where: { metricName: 'via_get' } })).toBe(0);
  });
});
