import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from './support/keys.js';
import { sql } from '../src/core/db/sql.js';
import { firstCode, postGraphQL, type RawResponse } from './support/rawHttp.js';
import { BACKENDS, startTestServer, type TestServer } from './support/server.js';

// Idempotent ingest: every batch mutation and `ingest` take an optional idempotencyKey; a retry within 24 h
// stores nothing new and returns the first result; the same key with another payload is BAD_USER_INPUT; this
// holds under concurrency and across instances sharing one database.

const NO_LIMITS = { INSIGHTS_RATE_LIMIT_READ: '0', INSIGHTS_RATE_LIMIT_INGEST: '0', INSIGHTS_RATE_LIMIT_ADMIN: '0' };

interface BatchOperation {
  field: string;
  table: string;
  query: string;
  /** Input of `size` records, all marked with `marker` so they can be counted. */
  input(marker: string, size: number): Record<string, unknown>[];
}

const metric = (marker: string, i: number) => ({ metricName: marker, metricType: 'GAUGE', value: i });

const BATCH_OPERATIONS: BatchOperation[] = [
  {
    field: 'recordSystemMetrics',
    table: 'system_metrics',
    query: 'mutation($input: [SystemMetricInput!]!, $key: String) { recordSystemMetrics(input: $input, idempotencyKey: $key) { count replayed } }',
    input: (marker, size) => Array.from({ length: size }, (_, i) => ({ ...metric(marker, i), tags: { host: 'h1' } })),
  },
  {
    field: 'recordApplicationMetrics',
    table: 'application_metrics',
    query: 'mutation($input: [ApplicationMetricInput!]!, $key: String) { recordApplicationMetrics(input: $input, idempotencyKey: $key) { count replayed } }',
    input: (marker, size) => Array.from({ length: size }, (_, i) => ({ ...metric(marker, i), appName: 'shop' })),
  },
  {
    field: 'recordUserMetrics',
    table: 'user_metrics',
    query: 'mutation($input: [UserMetricInput!]!, $key: String) { recordUserMetrics(input: $input, idempotencyKey: $key) { count replayed } }',
    input: (marker, size) => Array.from({ length: size }, (_, i) => ({ ...metric(marker, i), userId: `u${i}` })),
  },
  {
    field: 'recordPerformanceMetrics',
    table: 'performance_metrics',
    query: 'mutation($input: [PerformanceMetricInput!]!, $key: String) { recordPerformanceMetrics(input: $input, idempotencyKey: $key) { count replayed } }',
    input: (marker, size) => Array.from({ length: size }, (_, i) => ({ ...metric(marker, i), responseTimeMs: i, statusCode: 200 })),
  },
  {
    field: 'recordUserActivities',
    table: 'user_activities',
    query: 'mutation($input: [UserActivityInput!]!, $key: String) { recordUserActivities(input: $input, idempotencyKey: $key) { count replayed } }',
    input: (marker, size) => Array.from({ length: size }, (_, i) => ({ userId: `u${i}`, activityType: marker })),
  },
];

const INGEST = 'mutation($input: IngestInput!, $key: String) { ingest(input: $input, idempotencyKey: $key) { count replayed } }';
const ingestInput = (marker: string, size: number) => ({
  systemMetrics: BATCH_OPERATIONS[0]!.input(marker, size),
  userMetrics: BATCH_OPERATIONS[2]!.input(marker, size),
  activities: BATCH_OPERATIONS[4]!.input(marker, size),
});

async function countMarked(server: TestServer, marker: string): Promise<number> {
  const [row] = await server.app.services.db.query<{ n: number }>(sql`
    SELECT ((SELECT count(*) FROM system_metrics WHERE metric_name = ${marker})
          + (SELECT count(*) FROM application_metrics WHERE metric_name = ${marker})
          + (SELECT count(*) FROM user_metrics WHERE metric_name = ${marker})
          + (SELECT count(*) FROM performance_metrics WHERE metric_name = ${marker})
          + (SELECT count(*) FROM user_activities WHERE activity_type = ${marker}))::int AS n`);
  return row!.n;
}

const resultOf = (response: RawResponse, field: string) => response.json?.data?.[field] as { count: number; replayed: boolean } | undefined;

let sequence = 0;
const fresh = (prefix: string) => `${prefix}_${(sequence += 1)}_${Date.now().toString(36)}`;

describe.each(BACKENDS)('idempotent ingest on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'idempotency', env: NO_LIMITS });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it.each(BATCH_OPERATIONS.map((operation) => [operation.field, operation] as const))(
    '%s: a retry with the same key stores nothing new and returns the first result',
    async (field, operation) => {
      const marker = fresh(field);
      const key = fresh('key');
      const input = operation.input(marker, 25);
      const first = await postGraphQL(server.url, { query: operation.query, variables: { input, key } });
      expect(resultOf(first, field)).toEqual({ count: 25, replayed: false });
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const retry = await postGraphQL(server.url, { query: operation.query, variables: { input, key } });
        expect(retry.status).toBe(200);
        expect(resultOf(retry, field)).toEqual({ count: 25, replayed: true });
      }
      expect(await countMarked(server, marker)).toBe(25);
      // Without a key, the same batch is simply stored again.
      await postGraphQL(server.url, { query: operation.query, variables: { input } });
      expect(await countMarked(server, marker)).toBe(50);
    },
  );

  it('ingest: a retry with the same key stores nothing new and returns the first result', async () => {
    const marker = fresh('ingest');
    const key = fresh('key');
    const input = ingestInput(marker, 10);
    const first = await postGraphQL(server.url, { query: INGEST, variables: { input, key } });
    expect(resultOf(first, 'ingest')).toEqual({ count: 30, replayed: false });
    const retry = await postGraphQL(server.url, { query: INGEST, variables: { input, key } });
    expect(resultOf(retry, 'ingest')).toEqual({ count: 30, replayed: true });
    expect(await countMarked(server, marker)).toBe(30);
  });

  it('the same key with a different payload or operation is BAD_USER_INPUT and stores nothing', async () => {
    const marker = fresh('conflict');
    const key = fresh('key');
    const [system, application] = BATCH_OPERATIONS;
    const input = system!.input(marker, 5);
    expect(resultOf(await postGraphQL(server.url, { query: system!.query, variables: { input, key } }), system!.field)?.count).toBe(5);

    const changed = input.map((item, i) => (i === 4 ? { ...item, value: 999 } : item));
    const variants: [string, unknown][] = [
      ['one value changed', { query: system!.query, variables: { input: changed, key } }],
      ['one record more', { query: system!.query, variables: { input: system!.input(marker, 6), key } }],
      ['another operation', { query: application!.query, variables: { input: application!.input(marker, 5), key } }],
      ['ingest', { query: INGEST, variables: { input: { systemMetrics: input }, key } }],
    ];
    for (const [label, body] of variants) {
      const response = await postGraphQL(server.url, body);
      expect(response.status, label).toBeLessThan(500);
      expect(firstCode(response), label).toBe('BAD_USER_INPUT');
      expect(response.json?.errors?.[0]?.extensions?.issues, label).toEqual([
        expect.objectContaining({ path: 'idempotencyKey', message: expect.stringMatching(/different request/) }),
      ]);
    }
    expect(await countMarked(server, marker)).toBe(5);
  });

  it('treats the same records written in another field order as the same request', async () => {
    const marker = fresh('order');
    const key = fresh('key');
    const [system] = BATCH_OPERATIONS;
    const input = system!.input(marker, 3);
    const reordered = input.map((item) => Object.fromEntries(Object.entries(item).reverse()));
    expect(resultOf(await postGraphQL(server.url, { query: system!.query, variables: { input, key } }), system!.field)?.replayed).toBe(false);
    expect(resultOf(await postGraphQL(server.url, { query: system!.query, variables: { input: reordered, key } }), system!.field)?.replayed).toBe(true);
    expect(await countMarked(server, marker)).toBe(3);
  });

  it('a request refused for bad input does not use up its key', async () => {
    const marker = fresh('invalid_first');
    const key = fresh('key');
    const [system] = BATCH_OPERATIONS;
    const bad = [...system!.input(marker, 2), { metricName: 'bad name!', metricType: 'GAUGE', value: 1 }];
    expect(firstCode(await postGraphQL(server.url, { query: system!.query, variables: { input: bad, key } }))).toBe('BAD_USER_INPUT');
    expect(await countMarked(server, marker)).toBe(0);
    const good = await postGraphQL(server.url, { query: system!.query, variables: { input: system!.input(marker, 2), key } });
    expect(resultOf(good, system!.field)).toEqual({ count: 2, replayed: false });
  });

  it('refuses unusable keys with BAD_USER_INPUT', async () => {
    const [system] = BATCH_OPERATIONS;
    for (const key of ['', 'k'.repeat(256), 'a\u0000b']) {
      const response = await postGraphQL(server.url, { query: system!.query, variables: { input: system!.input(fresh('badkey'), 1), key } });
      expect(firstCode(response), JSON.stringify(key.slice(0, 10))).toBe('BAD_USER_INPUT');
      expect(response.json?.errors?.[0]?.extensions?.issues?.[0]?.path).toBe('idempotencyKey');
    }
  });

  it('keeps keys per API key: another key may use the same idempotency key for its own batch', async () => {
    const marker = fresh('per_key');
    const key = fresh('key');
    const [system] = BATCH_OPERATIONS;
    const other = (await createKey(server.app.services, { name: 'other writer', scopes: ['INGEST'] })).key;
    const input = system!.input(marker, 4);
    expect(resultOf(await postGraphQL(server.url, { query: system!.query, variables: { input, key } }), system!.field)?.replayed).toBe(false);
    expect(resultOf(await postGraphQL(server.url, { query: system!.query, variables: { input, key } }, { key: other }), system!.field)?.replayed).toBe(false);
    expect(await countMarked(server, marker)).toBe(8);
  });

  it('two mutations of one request with the same key: the second is the replay', async () => {
    const marker = fresh('same_document');
    const query = `mutation($input: [SystemMetricInput!]!) {
      a: recordSystemMetrics(input: $input, idempotencyKey: "${marker}") { count replayed }
      b: recordSystemMetrics(input: $input, idempotencyKey: "${marker}") { count replayed }
    }`;
    const response = await postGraphQL(server.url, { query, variables: { input: BATCH_OPERATIONS[0]!.input(marker, 3) } });
    expect(response.json?.data).toEqual({ a: { count: 3, replayed: false }, b: { count: 3, replayed: true } });
    expect(await countMarked(server, marker)).toBe(3);
  });

  it('forgets a key after 24 hours', async () => {
    const marker = fresh('window');
    const key = fresh('key');
    const [system] = BATCH_OPERATIONS;
    const input = system!.input(marker, 2);
    await postGraphQL(server.url, { query: system!.query, variables: { input, key } });
    // 23 h later it is still a retry…
    await server.app.services.db.query(sql`UPDATE idempotency_keys SET created_at = now() - interval '23 hours' WHERE key = ${key}`);
    expect(resultOf(await postGraphQL(server.url, { query: system!.query, variables: { input, key } }), system!.field)?.replayed).toBe(true);
    // …after 24 h it is a new request, and even another payload is accepted.
    await server.app.services.db.query(sql`UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 minute' WHERE key = ${key}`);
    const later = await postGraphQL(server.url, { query: system!.query, variables: { input: system!.input(marker, 3), key } });
    expect(resultOf(later, system!.field)).toEqual({ count: 3, replayed: false });
    expect(await countMarked(server, marker)).toBe(5);
  });

  it('concurrent retries with one key store the batch once and all answer the first result', async () => {
    const marker = fresh('concurrent');
    const key = fresh('key');
    const [system] = BATCH_OPERATIONS;
    const input = system!.input(marker, 200);
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => postGraphQL(server.url, { query: system!.query, variables: { input, key } })),
    );
    for (const response of responses) {
      expect(response.status, response.text).toBe(200);
      expect(resultOf(response, system!.field)?.count).toBe(200);
    }
    expect(responses.filter((response) => resultOf(response, system!.field)?.replayed === false)).toHaveLength(1);
    expect(await countMarked(server, marker)).toBe(200);
  });
});

describe('idempotent ingest across two instances sharing PostgreSQL', () => {
  let first: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    first = await startTestServer('postgres', { label: 'idempotency_cluster', env: NO_LIMITS });
    second = await startTestServer('postgres', { label: 'idempotency_cluster', databaseUrl: first.databaseUrl, env: NO_LIMITS });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.destroy();
  });

  it('concurrent retries spread over both instances store every batch once', async () => {
    const [system] = BATCH_OPERATIONS;
    const batches = Array.from({ length: 6 }, (_, i) => ({ marker: fresh(`cluster_${i}`), key: fresh('key') }));
    const responses = await Promise.all(
      batches.flatMap(({ marker, key }) =>
        Array.from({ length: 6 }, (_, attempt) =>
          postGraphQL(attempt % 2 ? second.url : first.url, { query: INGEST, variables: { input: { systemMetrics: system!.input(marker, 100), activities: BATCH_OPERATIONS[4]!.input(marker, 50) }, key } }),
        ),
      ),
    );
    for (const response of responses) {
      expect(response.status, response.text).toBe(200);
      expect(resultOf(response, 'ingest')?.count).toBe(150);
    }
    expect(responses.filter((response) => resultOf(response, 'ingest')?.replayed === false)).toHaveLength(batches.length);
    for (const { marker } of batches) expect(await countMarked(first, marker)).toBe(150);
  });

  it('a retry on the other instance replays; another payload there is BAD_USER_INPUT', async () => {
    const [, , user] = BATCH_OPERATIONS;
    const marker = fresh('cross');
    const key = fresh('key');
    const input = user!.input(marker, 7);
    expect(resultOf(await postGraphQL(first.url, { query: user!.query, variables: { input, key } }), user!.field)).toEqual({ count: 7, replayed: false });
    expect(resultOf(await postGraphQL(second.url, { query: user!.query, variables: { input, key } }), user!.field)).toEqual({ count: 7, replayed: true });
    const other = await postGraphQL(second.url, { query: user!.query, variables: { input: user!.input(marker, 8), key } });
    expect(firstCode(other)).toBe('BAD_USER_INPUT');
    expect(await countMarked(second, marker)).toBe(7);
  });
});
