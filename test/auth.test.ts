import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../src/app.js';
import { hashApiKey } from '../src/modules/apiKeys/service.js';
import { createKey } from './support/keys.js';
import { loadConfig } from '../src/config.js';
import { sql } from '../src/core/db/sql.js';
import { graphql } from './generated/gql.js';
import { createScratchDatabase } from './support/databases.js';
import { ADMIN_KEY, BACKENDS, startTestServer, type GraphQLResponse, type TestServer } from './support/server.js';

const RecordAuthMetric = graphql(`
  mutation RecordAuthMetric($input: SystemMetricInput!) { recordSystemMetric(input: $input) { id metricName } }
`);
const CountAuthMetrics = graphql(`
  query CountAuthMetrics($filter: SystemMetricFilter) { systemMetrics(filter: $filter, first: 1) { totalCount } }
`);
const TYPENAME = '{ __typename }';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** POSTs an operation with exactly these headers (the harness's request always sends a well-formed one). */
async function post(
  server: TestServer,
  headers: Record<string, string>,
  body: { query: string; variables?: unknown },
): Promise<GraphQLResponse<unknown> & { headers: Headers }> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as GraphQLResponse<unknown>;
  return { ...json, status: response.status, headers: response.headers };
}

function expectUnauthenticated(result: GraphQLResponse<unknown>) {
  expect(result.status).toBe(401);
  expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(result.data ?? null).toBeNull();
}

describe.each(BACKENDS)('authentication on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'auth' });
  });
  afterAll(async () => {
    await server?.destroy();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const countStored = async (metricName: string) =>
    (await server.query(CountAuthMetrics, { filter: { metricName } })).systemMetrics.totalCount;

  it('refuses a request without a key with 401 and executes nothing', async () => {
    const result = await server.request(RecordAuthMetric, { input: { metricName: 'auth_no_key', metricType: 'GAUGE', value: 1 } }, { key: null });
    expectUnauthenticated(result);
    expect(result.errors?.[0]?.message).toMatch(/API key/);
    expect(await countStored('auth_no_key')).toBe(0);
    expect(await server.app.services.db.prisma.systemMetric.count({ where: { metricName: 'auth_no_key' } })).toBe(0);
  });

  it('answers 401 with a WWW-Authenticate challenge', async () => {
    const result = await post(server, {}, { query: TYPENAME });
    expectUnauthenticated(result);
    expect(result.headers.get('www-authenticate')).toBe('Bearer');
  });

  it.each([
    ['Basic x'],
    ['Basic dXNlcjpwYXNz'],
    ['Bearer'],
    ['Bearer '],
    ['bearer'],
    ['Token abc'],
    [`${ADMIN_KEY}`],
    [`Bearer ${ADMIN_KEY} extra`],
  ])('refuses the malformed header %j with 401', async (authorization) => {
    const result = await post(server, { authorization }, {
      query: 'mutation($input: SystemMetricInput!) { recordSystemMetric(input: $input) { id } }',
      variables: { input: { metricName: 'auth_malformed', metricType: 'GAUGE', value: 1 } },
    });
    expectUnauthenticated(result);
    expect(await countStored('auth_malformed')).toBe(0);
  });

  it('refuses an unknown key with 401', async () => {
    expectUnauthenticated(await server.request(TYPENAME, {}, { key: 'ins_thisKeyWasNeverIssuedToAnyone000000000000' }));
    // The admin key with one character changed.
    expectUnauthenticated(await server.request(TYPENAME, {}, { key: `${ADMIN_KEY.slice(0, -1)}X` }));
    // Sent twice: the miss is cached, and still a miss.
    expectUnauthenticated(await server.request(TYPENAME, {}, { key: 'ins_thisKeyWasNeverIssuedToAnyone000000000000' }));
  });

  it('accepts the admin key, case-insensitively on the scheme', async () => {
    const ok = await server.request<{ __typename: string }, Record<string, never>>(TYPENAME, {});
    expect(ok).toMatchObject({ status: 200, data: { __typename: 'Query' } });
    expect(ok.errors).toBeUndefined();
    const lower = await post(server, { authorization: `bearer ${ADMIN_KEY}` }, { query: TYPENAME });
    expect(lower).toMatchObject({ status: 200, data: { __typename: 'Query' } });
    const stored = await server.query(RecordAuthMetric, { input: { metricName: 'auth_admin', metricType: 'GAUGE', value: 1 } });
    expect(stored.recordSystemMetric.metricName).toBe('auth_admin');
    expect(await countStored('auth_admin')).toBe(1);
  });

  it('accepts a created key, and enforces its scopes', async () => {
    const { key } = await createKey(server.app.services, { name: 'reader', scopes: ['READ'] });
    expect(key).toMatch(/^ins_[A-Za-z0-9_-]{43}$/);
    const read = await server.request(CountAuthMetrics, { filter: { metricName: 'auth_admin' } }, { key });
    expect(read.status).toBe(200);
    expect(read.data?.systemMetrics.totalCount).toBe(1);
    const write = await server.request(RecordAuthMetric, { input: { metricName: 'auth_reader', metricType: 'GAUGE', value: 1 } }, { key });
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await countStored('auth_reader')).toBe(0);

    const future = await createKey(server.app.services, {
      name: 'not yet expired', scopes: ['INGEST'], expiresAt: new Date(Date.now() + 3_600_000),
    });
    const ingested = await server.request(RecordAuthMetric, { input: { metricName: 'auth_ingest', metricType: 'GAUGE', value: 1 } }, { key: future.key });
    expect(ingested.status).toBe(200);
    expect(ingested.data?.recordSystemMetric.metricName).toBe('auth_ingest');
  });

  it('refuses a revoked key with 401', async () => {
    const db = server.app.services.db;
    // Revoked before it is ever presented, so no cached "valid" answer can be in the way.
    const { key, id } = await createKey(server.app.services, { name: 'revoked', scopes: ['ADMIN'] });
    await db.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    expectUnauthenticated(await server.request(TYPENAME, {}, { key }));
    const write = await server.request(RecordAuthMetric, { input: { metricName: 'auth_revoked', metricType: 'GAUGE', value: 1 } }, { key });
    expectUnauthenticated(write);
    expect(await countStored('auth_revoked')).toBe(0);
  });

  it('refuses an expired key with 401', async () => {
    const { key } = await createKey(server.app.services, {
      name: 'expired', scopes: ['ADMIN'], expiresAt: new Date(Date.now() - 1_000),
    });
    expectUnauthenticated(await server.request(TYPENAME, {}, { key }));
  });

  it('stops accepting a key revoked while in use once the cache TTL has passed', async () => {
    const db = server.app.services.db;
    const { key, id } = await createKey(server.app.services, { name: 'revoked later', scopes: ['READ'] });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    expect((await server.request(TYPENAME, {}, { key })).status).toBe(200);
    await db.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    // Within the TTL the cached answer still stands (documented: revocation takes effect within ~5 s)...
    expect((await server.request(TYPENAME, {}, { key })).status).toBe(200);
    // ...after it, the key is refused. The clock is moved instead of waited for.
    vi.setSystemTime(Date.now() + 5_001);
    expectUnauthenticated(await server.request(TYPENAME, {}, { key }));
  });

  it('stores the configured admin key hashed, once, across restarts', async () => {
    const db = () => server.app.services.db;
    const bootstrap = () => db().prisma.apiKey.findMany({ where: { name: 'bootstrap-admin' } });
    expect(await bootstrap()).toEqual([
      expect.objectContaining({ keyHash: sha256(ADMIN_KEY), keyPrefix: ADMIN_KEY.slice(0, 12), scopes: ['ADMIN'], revokedAt: null, expiresAt: null }),
    ]);
    expect(hashApiKey(ADMIN_KEY)).toBe(sha256(ADMIN_KEY));
    const write = vi.spyOn(process.stdout, 'write');
    try {
      await server.restart();
      await server.restart();
      expect(write.mock.calls.map(([chunk]) => String(chunk)).join('')).not.toMatch(/ins_|admin API key/);
    } finally {
      write.mockRestore();
    }
    const rows = await bootstrap();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.keyHash).toBe(sha256(ADMIN_KEY));
    expect(await db().prisma.apiKey.count({ where: { keyHash: sha256(ADMIN_KEY) } })).toBe(1);
    expect((await server.request(TYPENAME, {})).status).toBe(200);
  });
});

describe.each(BACKENDS)('admin key bootstrap on %s', (backend) => {
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.destroy();
  });

  it('generates one ADMIN key on a fresh database, prints it once, and stores only its hash', async () => {
    // Swallowed: the key is for this test only, and need not end up in the test output.
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let printed: string;
    try {
      server = await startTestServer(backend, { label: 'auth_bootstrap', env: { INSIGHTS_ADMIN_KEY: undefined } });
      printed = write.mock.calls.map(([chunk]) => String(chunk)).join('');
    } finally {
      write.mockRestore();
    }
    expect(server.app.services.config.adminKey).toBeUndefined();
    const keys = printed.match(/ins_[A-Za-z0-9_-]+/g) ?? [];
    expect(keys, `stdout was: ${printed}`).toHaveLength(1);
    const key = keys[0]!;

    const db = server.app.services.db;
    const rows = await db.prisma.apiKey.findMany();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'bootstrap-admin', scopes: ['ADMIN'], keyHash: sha256(key), revokedAt: null, expiresAt: null });
    // No column of any row holds the key itself (the prefix is a short, non-secret part of it).
    const raw = await db.query<Record<string, unknown>>(sql`SELECT *, scopes::text AS scopes_text FROM api_keys`);
    expect(raw).toHaveLength(1);
    for (const value of Object.values(raw[0]!)) expect(String(value)).not.toContain(key);
    expect(JSON.stringify(raw)).not.toContain(key);
    expect(key.length).toBeGreaterThan(rows[0]!.keyPrefix.length + 20);

    // The printed key works, and is an administrator.
    const ok = await server.request(RecordAuthMetric, { input: { metricName: 'auth_bootstrap', metricType: 'GAUGE', value: 1 } }, { key });
    expect(ok.status).toBe(200);
    expect(ok.data?.recordSystemMetric.metricName).toBe('auth_bootstrap');
    // The harness's usual admin key was never configured here.
    expectUnauthenticated(await server.request(TYPENAME, {}));

    // A restart finds a key and neither creates nor prints another.
    const again = vi.spyOn(process.stdout, 'write');
    try {
      await server.restart();
      expect(again.mock.calls.map(([chunk]) => String(chunk)).join('')).not.toMatch(/ins_|admin API key/);
    } finally {
      again.mockRestore();
    }
    expect(await server.app.services.db.prisma.apiKey.count()).toBe(1);
    expect((await server.request(TYPENAME, {}, { key })).status).toBe(200);
  });

});

describe('admin key bootstrap on postgres, several instances at once', () => {
  it('creates one key when several instances start together on a fresh database', async () => {
    const scratch = await createScratchDatabase('auth_bootstrap_race');
    const apps = [1, 2, 3].map(() =>
      buildApp(loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: scratch.url })),
    );
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let printed: string;
    try {
      await Promise.all(apps.map((app) => app.start()));
      printed = write.mock.calls.map(([chunk]) => String(chunk)).join('');
    } finally {
      write.mockRestore();
    }
    try {
      expect(printed.match(/ins_[A-Za-z0-9_-]+/g) ?? []).toHaveLength(1);
      expect(await apps[0]!.services.db.prisma.apiKey.count()).toBe(1);
    } finally {
      await Promise.all(apps.map((app) => app.stop()));
      await scratch.drop();
    }
  });
});
