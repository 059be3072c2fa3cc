import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/gql.js';
import type { SystemMetricInput } from './generated/graphql.js';
import { jsonLargerThan } from '../src/core/input.js';
import { ADMIN_KEY, BACKENDS, startTestServer, type GraphQLResponse, type TestServer } from './support/server.js';

// "Refuse bad input": every violation is the caller's error (HTTP status < 500, BAD_USER_INPUT, extensions.issues
// naming each bad item's index and field), and a request with any bad item stores nothing.

const RecordSystemMetric = graphql(`
  mutation ValidationRecordSystemMetric($input: SystemMetricInput!) { recordSystemMetric(input: $input) { id unit tags } }
`);
const RecordSystemMetrics = graphql(`
  mutation ValidationRecordSystemMetrics($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }
`);
const RecordApplicationMetrics = graphql(`
  mutation ValidationRecordApplicationMetrics($input: [ApplicationMetricInput!]!) { recordApplicationMetrics(input: $input) { count } }
`);
const RecordUserMetrics = graphql(`
  mutation ValidationRecordUserMetrics($input: [UserMetricInput!]!) { recordUserMetrics(input: $input) { count } }
`);
const RecordPerformanceMetric = graphql(`
  mutation ValidationRecordPerformanceMetric($input: PerformanceMetricInput!) {
    recordPerformanceMetric(input: $input) { id responseTimeMs statusCode timestamp }
  }
`);
const RecordPerformanceMetrics = graphql(`
  mutation ValidationRecordPerformanceMetrics($input: [PerformanceMetricInput!]!) { recordPerformanceMetrics(input: $input) { count } }
`);
const RecordUserActivity = graphql(`
  mutation ValidationRecordUserActivity($input: UserActivityInput!) { recordUserActivity(input: $input) { id ipAddress metadata } }
`);
const RecordUserActivities = graphql(`
  mutation ValidationRecordUserActivities($input: [UserActivityInput!]!) { recordUserActivities(input: $input) { count } }
`);
const Ingest = graphql(`
  mutation ValidationIngest($input: IngestInput!) { ingest(input: $input) { count } }
`);
const Totals = graphql(`
  query ValidationTotals {
    systemMetrics { totalCount }
    applicationMetrics { totalCount }
    userMetrics { totalCount }
    performanceMetrics { totalCount }
    userActivities { totalCount }
  }
`);
const ActivityAddresses = graphql(`
  query ValidationActivityAddresses($filter: UserActivityFilter) {
    userActivities(filter: $filter, first: 100) { edges { node { ipAddress } } }
  }
`);
const SystemMetricsPage = graphql(`
  query ValidationSystemMetricsPage($filter: SystemMetricFilter, $first: Int, $after: String) {
    systemMetrics(filter: $filter, first: $first, after: $after) { totalCount edges { cursor node { id } } }
  }
`);
const ApplicationStats = graphql(`
  query ValidationApplicationStats($filter: ApplicationMetricFilter) { applicationMetricStats(filter: $filter) { count } }
`);
const Trends = graphql(`
  query ValidationTrends($filter: PerformanceMetricFilter) { performanceTrends(filter: $filter, interval: DAY) { count } }
`);
const ActivityStats = graphql(`
  query ValidationActivityStats($filter: UserActivityFilter) { userActivityStats(filter: $filter) { totalActivities } }
`);

/** Plain document text, for raw request bodies. */
const RecordSystemMetricText = 'mutation ($input: SystemMetricInput!) { recordSystemMetric(input: $input) { id value tags } }';

type Issue = { path: string; index: number | null; field: string; message: string };
type Totals = Record<'system' | 'application' | 'user' | 'performance' | 'activities', number>;

const BATCH_SIZE = 5;
const gauge = (metricName: string, extra: Partial<SystemMetricInput> = {}): SystemMetricInput => ({
  metricName, metricType: 'GAUGE', value: 1, ...extra,
});
const PAST = '2025-01-01T00:00:00.000Z';
const manyTags = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i % 2 === 0 ? `v${i}` : i]));
/** An object whose JSON text is exactly `bytes` bytes long: {"s":"xxx…"}. */
const jsonOfBytes = (bytes: number) => ({ s: 'x'.repeat(bytes - '{"s":""}'.length) });

describe('the JSON size check', () => {
  // It first bounds the size without serialising; a bound that fell short of the real size would let an
  // oversized value through, so the answer is checked against JSON.stringify on either side of the exact size.
  it('agrees with JSON.stringify at the exact byte size of random values', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pieces = ['a', 'é', '漢', '🚀', '\ud800', '"', '\\', '\n', '\u0001', '\u2028', ' '];
    const text = () => Array.from({ length: Math.floor(random() * 40) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
    const numbers = [0, -0.0000033230861596183555, -1.2691805956600267e-117, 1e21, -1e100, 0.1 + 0.2, 5e-324];
    const value = (depth: number): unknown => {
      const pick = random();
      if (depth > 3 || pick < 0.3) return text();
      if (pick < 0.45) return numbers[Math.floor(random() * numbers.length)];
      if (pick < 0.5) return random() < 0.5 ? null : true;
      if (pick < 0.7) return Array.from({ length: Math.floor(random() * 6) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, () => [text(), value(depth + 1)]));
    };
    for (let round = 0; round < 2_000; round++) {
      const candidate = value(0);
      const bytes = Buffer.byteLength(JSON.stringify(candidate), 'utf8');
      expect(jsonLargerThan(candidate, bytes)).toBe(false);
      expect(jsonLargerThan(candidate, bytes - 1)).toBe(true);
    }
  });
});

describe.each(BACKENDS)('validation on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    // A small batch limit keeps the over-limit requests small.
    server = await startTestServer(backend, { label: 'validation', env: { INSIGHTS_BATCH_SIZE: String(BATCH_SIZE) } });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  async function totals(): Promise<Totals> {
    const result = await server.query(Totals);
    return {
      system: result.systemMetrics.totalCount,
      application: result.applicationMetrics.totalCount,
      user: result.userMetrics.totalCount,
      performance: result.performanceMetrics.totalCount,
      activities: result.userActivities.totalCount,
    };
  }

  /** Expects the caller's error for `paths` (each at least once, no others) and no change in what is stored. */
  async function expectRefused<Data, Variables>(
    document: TypedDocumentNode<Data, Variables>,
    variables: Variables,
    paths: string[],
  ): Promise<Issue[]> {
    const before = await totals();
    const response = await server.request(document, variables);
    const label = `${JSON.stringify(variables).slice(0, 200)} → ${JSON.stringify(response.errors).slice(0, 600)}`;
    expect(response.status, label).toBeLessThan(500);
    expect(response.data ?? null, label).toBeNull();
    expect(response.errors, label).toHaveLength(1);
    const error = response.errors![0]!;
    expect(error.extensions?.code, label).toBe('BAD_USER_INPUT');
    const issues = error.extensions?.issues as Issue[];
    expect([...new Set(issues.map((issue) => issue.path))].sort(), label).toEqual([...paths].sort());
    for (const issue of issues) {
      expect(issue.message.length).toBeGreaterThan(0);
      expect(issue.path).toContain(issue.field === '(record)' ? '' : issue.field);
    }
    for (const path of paths.slice(0, 20)) expect(error.message).toContain(path);
    expect(await totals(), 'nothing stored').toEqual(before);
    return issues;
  }

  async function expectStored<Data, Variables>(document: TypedDocumentNode<Data, Variables>, variables: Variables): Promise<Data> {
    const response = await server.request(document, variables);
    expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
    return response.data as Data;
  }

  /** A GraphQL-level refusal (type coercion, validation): no 5xx, an error, no data, nothing stored. */
  async function expectNotExecuted(send: () => Promise<GraphQLResponse<unknown>>) {
    const before = await totals();
    const response = await send();
    expect(response.status).toBeLessThan(500);
    expect(response.errors?.length).toBeGreaterThan(0);
    expect(response.errors?.[0]?.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
    expect(response.data ?? null).toBeNull();
    expect(await totals()).toEqual(before);
    return response;
  }

  /** Posts a request body as given (for JSON that JSON.stringify cannot produce, such as 1e999). */
  async function postRaw(body: string): Promise<GraphQLResponse<unknown>> {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body,
    });
    return { ...((await response.json()) as object), status: response.status };
  }

  describe('names: 1–100 characters of [A-Za-z0-9_.:/-]', () => {
    const bad = ['', 'x'.repeat(101), 'has space', 'métrique'];

    it('refuses each bad metricName, appName and activityType, naming index and field', async () => {
      const issues = await expectRefused(
        RecordSystemMetrics,
        { input: [gauge('v_names_ok'), ...bad.map((name) => gauge(name))] },
        ['input[1].metricName', 'input[2].metricName', 'input[3].metricName', 'input[4].metricName'],
      );
      expect(issues).toContainEqual({ path: 'input[1].metricName', index: 1, field: 'metricName', message: 'must not be empty' });
      expect(issues).toContainEqual({ path: 'input[2].metricName', index: 2, field: 'metricName', message: 'must be at most 100 characters' });
      expect(issues.find((issue) => issue.index === 3)?.message).toMatch(/letters, digits/);

      await expectRefused(
        RecordApplicationMetrics,
        { input: ['v-app', ...bad].map((appName) => ({ appName, metricName: 'v_m', metricType: 'COUNTER' as const, value: 1 })) },
        ['input[1].appName', 'input[2].appName', 'input[3].appName', 'input[4].appName'],
      );
      await expectRefused(
        RecordUserActivities,
        { input: ['v_login', ...bad].map((activityType) => ({ userId: 'v-user', activityType })) },
        ['input[1].activityType', 'input[2].activityType', 'input[3].activityType', 'input[4].activityType'],
      );
      // Also other unicode: an emoji and a zero-width space.
      await expectRefused(RecordSystemMetrics, { input: [gauge('cpu😀'), gauge('cpu\u200b')] }, ['input[0].metricName', 'input[1].metricName']);
    });

    it('accepts names of exactly 100 characters using every allowed punctuation', async () => {
      const longest = `Az09_.:/-${'n'.repeat(91)}`;
      expect(longest).toHaveLength(100);
      expect(await expectStored(RecordSystemMetrics, { input: [gauge(longest), gauge('a')] })).toEqual({ recordSystemMetrics: { count: 2 } });
      expect(
        await expectStored(RecordApplicationMetrics, { input: [{ appName: longest, metricName: longest, metricType: 'GAUGE', value: 1 }] }),
      ).toEqual({ recordApplicationMetrics: { count: 1 } });
      expect(await expectStored(RecordUserActivities, { input: [{ userId: 'v-user', activityType: longest }] })).toEqual({
        recordUserActivities: { count: 1 },
      });
    });
  });

  it('unit: at most 20 characters', async () => {
    const issues = await expectRefused(RecordSystemMetric, { input: gauge('v_unit', { unit: 'u'.repeat(21) }) }, ['input.unit']);
    // A single-record mutation has no index.
    expect(issues).toEqual([{ path: 'input.unit', index: null, field: 'unit', message: 'must be at most 20 characters' }]);
    const stored = await expectStored(RecordSystemMetric, { input: gauge('v_unit', { unit: 'u'.repeat(20) }) });
    expect(stored.recordSystemMetric.unit).toBe('u'.repeat(20));
  });

  it('tags: a flat object of at most 32 string, number or boolean values', async () => {
    await expectRefused(
      RecordSystemMetrics,
      {
        input: [
          gauge('v_tags', { tags: 'host=web-1' }),
          gauge('v_tags', { tags: ['web-1'] }),
          gauge('v_tags', { tags: { host: { name: 'web-1' } } }),
          gauge('v_tags', { tags: { hosts: ['web-1', 'web-2'] } }),
          gauge('v_tags', { tags: manyTags(33) }),
        ],
      },
      ['input[0].tags', 'input[1].tags', 'input[2].tags', 'input[3].tags', 'input[4].tags'],
    );
    await expectRefused(
      RecordSystemMetrics,
      {
        input: [
          gauge('v_tags', { tags: 42 }),
          gauge('v_tags', { tags: { host: null } }),
          gauge('v_tags', { tags: { '': 'empty key' } }),
          gauge('v_tags', { tags: { ['k'.repeat(101)]: 'long key' } }),
          // Flat, but more than 16 KiB as JSON.
          gauge('v_tags', { tags: { a: 'x'.repeat(9000), b: 'y'.repeat(9000) } }),
        ],
      },
      ['input[0].tags', 'input[1].tags', 'input[2].tags', 'input[3].tags', 'input[4].tags'],
    );
    const tags = { ...manyTags(31), up: true };
    const stored = await expectStored(RecordSystemMetric, { input: gauge('v_tags', { tags }) });
    expect(stored.recordSystemMetric.tags).toEqual(tags);
  });

  it('JSON fields (metadata, dimensions): at most 16 KiB as JSON', async () => {
    const tooBig = jsonOfBytes(16 * 1024 + 1);
    await expectRefused(
      Ingest,
      {
        input: {
          activities: [{ userId: 'v-json', activityType: 'v_json', metadata: tooBig }],
          systemMetrics: [gauge('v_json', { dimensions: tooBig })],
          applicationMetrics: [{ appName: 'v-json', metricName: 'v_json', metricType: 'GAUGE', value: 1, metadata: tooBig }],
          performanceMetrics: [{ metricName: 'v_json', metricType: 'GAUGE', value: 1, dimensions: tooBig }],
        },
      },
      ['input.activities[0].metadata', 'input.systemMetrics[0].dimensions', 'input.applicationMetrics[0].metadata', 'input.performanceMetrics[0].dimensions'],
    );
    // Bytes, not characters: 8,189 two-byte characters are 16,386 bytes.
    await expectRefused(RecordUserActivity, { input: { userId: 'v-json', activityType: 'v_json', metadata: { s: 'é'.repeat(8189) } } }, ['input.metadata']);
    // Exactly 16 KiB is accepted, and any JSON shape is fine there.
    const exact = jsonOfBytes(16 * 1024);
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(16 * 1024);
    const stored = await expectStored(RecordUserActivity, { input: { userId: 'v-json', activityType: 'v_json', metadata: exact } });
    expect(stored.recordUserActivity.metadata).toEqual(exact);
    expect(await expectStored(RecordSystemMetrics, { input: [gauge('v_json', { dimensions: [1, { nested: { deep: [true, null] } }, 'x'] })] })).toEqual({
      recordSystemMetrics: { count: 1 },
    });
  });

  it('ipAddress: refuses what is not IPv4 or IPv6 and stores valid addresses as given', async () => {
    await expectRefused(
      RecordUserActivities,
      { input: ['256.1.1.1', 'not-an-ip', '1.2.3', '2001:db8::g', ' 192.168.0.1'].map((ipAddress) => ({ userId: 'v-ip', activityType: 'v_ip', ipAddress })) },
      ['input[0].ipAddress', 'input[1].ipAddress', 'input[2].ipAddress', 'input[3].ipAddress', 'input[4].ipAddress'],
    );
    const valid = ['192.168.0.1', '::1', '2001:db8::8a2e:370:7334', '::ffff:192.0.2.1', '0000:0000:0000:0000:0000:ffff:255.255.255.255'];
    expect(await expectStored(RecordUserActivities, { input: valid.map((ipAddress) => ({ userId: 'v-ip-ok', activityType: 'v_ip', ipAddress })) })).toEqual({
      recordUserActivities: { count: 5 },
    });
    const stored = await server.query(ActivityAddresses, { filter: { userId: 'v-ip-ok' } });
    expect(stored.userActivities.edges.map((edge) => edge.node.ipAddress).sort()).toEqual([...valid].sort());
  });

  it('refuses an IPv6 address with a long zone id as BAD_USER_INPUT, not an internal error', async () => {
    await expectRefused(RecordUserActivity, { input: { userId: 'v-ip', activityType: 'v_ip', ipAddress: `fe80::1%${'a'.repeat(60)}` } }, [
      'input.ipAddress',
    ]);
  });

  it('statusCode: a whole number from 100 to 599', async () => {
    const perf = (statusCode: number) => ({ metricName: 'v_status', metricType: 'GAUGE' as const, value: 1, statusCode });
    const issues = await expectRefused(RecordPerformanceMetrics, { input: [perf(99), perf(200), perf(600), perf(-1), perf(1000)] }, [
      'input[0].statusCode',
      'input[2].statusCode',
      'input[3].statusCode',
      'input[4].statusCode',
    ]);
    expect(issues[0]).toEqual({ path: 'input[0].statusCode', index: 0, field: 'statusCode', message: 'must be between 100 and 599' });
    expect(await expectStored(RecordPerformanceMetrics, { input: [perf(100), perf(599)] })).toEqual({ recordPerformanceMetrics: { count: 2 } });

    // GraphQL's Int refuses fractions and 32-bit overflow itself, before our validation: HTTP 400, no code.
    for (const statusCode of [200.5, 2 ** 31]) {
      const response = await expectNotExecuted(() => server.request(RecordPerformanceMetric, { input: perf(statusCode) }));
      expect(response.status).toBe(400);
      expect(response.errors?.[0]?.message).toContain('Int cannot represent');
    }
  });

  it('responseTimeMs: not negative, not absurd', async () => {
    const perf = (responseTimeMs: number) => ({ metricName: 'v_rt', metricType: 'GAUGE' as const, value: 1, responseTimeMs });
    expect(await expectRefused(RecordPerformanceMetric, { input: perf(-1) }, ['input.responseTimeMs'])).toEqual([
      { path: 'input.responseTimeMs', index: null, field: 'responseTimeMs', message: 'must be between 0 and 1000000000' },
    ]);
    await expectRefused(RecordPerformanceMetrics, { input: [perf(1), perf(-0.001)] }, ['input[1].responseTimeMs']);
    const stored = await expectStored(RecordPerformanceMetric, { input: perf(0) });
    expect(stored.recordPerformanceMetric.responseTimeMs).toBe(0);
  });

  it('timestamp: at most 1 hour in the future', async () => {
    const inTwoHours = new Date(Date.now() + 2 * 60 * 60 * 1000).toISOString();
    await expectRefused(
      RecordSystemMetrics,
      { input: [gauge('v_time', { timestamp: PAST }), gauge('v_time', { timestamp: inTwoHours }), gauge('v_time', { timestamp: '9999-12-31T23:59:59.999Z' })] },
      ['input[1].timestamp', 'input[2].timestamp'],
    );
    const inHalfAnHour = new Date(Date.now() + 30 * 60 * 1000).toISOString();
    expect(await expectStored(RecordSystemMetrics, { input: [gauge('v_time', { timestamp: inHalfAnHour }), gauge('v_time', { timestamp: PAST })] })).toEqual({
      recordSystemMetrics: { count: 2 },
    });
    // Not a date-time at all: refused by the DateTime scalar.
    const response = await expectNotExecuted(() => server.request(RecordSystemMetric, { input: gauge('v_time', { timestamp: '2026-13-45T00:00:00Z' }) }));
    expect(response.errors?.[0]?.message).toContain('DateTime');
  });

  it('NUL characters: refused in every text and JSON field', async () => {
    const nul = 'a\u0000b';
    await expectRefused(
      RecordUserActivities,
      {
        input: [
          { userId: nul, activityType: 'v_nul' },
          { userId: 'v-nul', activityType: 'v_nul', description: nul },
          { userId: 'v-nul', activityType: 'v_nul', userAgent: nul, timestamp: PAST },
          { userId: 'v-nul', activityType: 'v_nul', referrer: nul },
          { userId: 'v-nul', activityType: 'v_nul', metadata: { nested: [{ value: nul }] } },
        ],
      },
      ['input[0].userId', 'input[1].description', 'input[2].userAgent', 'input[3].referrer', 'input[4].metadata'],
    );
    await expectRefused(
      RecordUserActivities,
      { input: [{ userId: 'v-nul', activityType: nul }, { userId: 'v-nul', activityType: 'v_nul', metadata: { [nul]: 1 } }, { userId: 'v-nul', activityType: 'v_nul', ipAddress: '127.0.0.1\u0000' }] },
      ['input[0].activityType', 'input[1].metadata', 'input[2].ipAddress'],
    );
    await expectRefused(
      RecordSystemMetrics,
      {
        input: [
          gauge(nul),
          gauge('v_nul', { unit: nul }),
          gauge('v_nul', { tags: { host: nul } }),
          gauge('v_nul', { tags: { [nul]: 'x' } }),
          gauge('v_nul', { dimensions: { s: nul } }),
        ],
      },
      ['input[0].metricName', 'input[1].unit', 'input[2].tags', 'input[3].tags', 'input[4].dimensions'],
    );
    await expectRefused(
      RecordUserMetrics,
      { input: [{ userId: nul, metricName: 'v_nul', metricType: 'GAUGE', value: 1 }, { userId: 'v-nul', sessionId: nul, metricName: 'v_nul', metricType: 'GAUGE', value: 1 }] },
      ['input[0].userId', 'input[1].sessionId'],
    );
  });

  it('value: GraphQL Float refuses non-numbers and non-finite JSON (1e999) itself', async () => {
    // JSON has no NaN/Infinity, but a number literal too large for a double parses as Infinity.
    const response = await expectNotExecuted(() =>
      postRaw(`{"query":${JSON.stringify(RecordSystemMetricText)},"variables":{"input":{"metricName":"v_inf","metricType":"GAUGE","value":1e999}}}`),
    );
    expect(response.errors?.[0]?.message).toContain('Float cannot represent');
  });

  it('refuses non-finite numbers in tags and metadata instead of storing them as null', async () => {
    const activityText = 'mutation ($input: UserActivityInput!) { recordUserActivity(input: $input) { id metadata } }';
    for (const body of [
      `{"query":${JSON.stringify(RecordSystemMetricText)},"variables":{"input":{"metricName":"v_inf","metricType":"GAUGE","value":1,"tags":{"big":1e999}}}}`,
      `{"query":${JSON.stringify(activityText)},"variables":{"input":{"userId":"v-inf","activityType":"v_inf","metadata":{"big":-1e999}}}}`,
    ]) {
      const before = await totals();
      const response = await postRaw(body);
      expect(response.status).toBeLessThan(500);
      expect(response.errors?.[0]?.extensions?.code, JSON.stringify(response)).toBe('BAD_USER_INPUT');
      expect(await totals()).toEqual(before);
    }
  });

  describe(`batches of more than INSIGHTS_BATCH_SIZE (${BATCH_SIZE} here)`, () => {
    it('refuses the whole batch naming the limit', async () => {
      const six = Array.from({ length: BATCH_SIZE + 1 }, (_, i) => gauge('v_batch', { value: i }));
      const issues = await expectRefused(RecordSystemMetrics, { input: six }, ['input']);
      expect(issues).toHaveLength(1);
      expect(issues[0]!.index).toBeNull();
      expect(issues[0]!.message).toContain(`at most ${BATCH_SIZE}`);
      expect(issues[0]!.message).toContain('INSIGHTS_BATCH_SIZE');
      expect(issues[0]!.message).toContain(String(BATCH_SIZE + 1));
      // Exactly the limit is fine.
      expect(await expectStored(RecordSystemMetrics, { input: six.slice(0, BATCH_SIZE) })).toEqual({ recordSystemMetrics: { count: BATCH_SIZE } });
    });

    it('counts every family of an ingest together', async () => {
      const issues = await expectRefused(
        Ingest,
        {
          input: {
            systemMetrics: [gauge('v_batch'), gauge('v_batch'), gauge('v_batch')],
            activities: [{ userId: 'v-batch', activityType: 'v_batch' }, { userId: 'v-batch', activityType: 'v_batch' }],
            userMetrics: [{ userId: 'v-batch', metricName: 'v_batch', metricType: 'GAUGE', value: 1 }],
          },
        },
        ['input'],
      );
      expect(issues[0]!.message).toContain(`holds ${BATCH_SIZE + 1} records`);
    });
  });

  it('ingest: one bad item among several families stores nothing in any family', async () => {
    const input = {
      activities: [{ userId: 'v-ingest', activityType: 'v_ingest' }],
      systemMetrics: [gauge('v_ingest'), gauge('bad name')],
      applicationMetrics: [{ appName: 'v-ingest', metricName: 'v_ingest', metricType: 'COUNTER' as const, value: 1 }],
      performanceMetrics: [{ metricName: 'v_ingest', metricType: 'HISTOGRAM' as const, value: 1, statusCode: 200 }],
    };
    const issues = await expectRefused(Ingest, { input }, ['input.systemMetrics[1].metricName']);
    expect(issues[0]).toMatchObject({ index: 1, field: 'metricName' });
    // Bad items in two families: both reported.
    await expectRefused(
      Ingest,
      {
        input: {
          userMetrics: [{ userId: '', metricName: 'v_ingest', metricType: 'GAUGE', value: 1 }],
          performanceMetrics: [
            { metricName: 'v_ingest', metricType: 'GAUGE', value: 1 },
            { metricName: 'v_ingest', metricType: 'GAUGE', value: 1, statusCode: 700 },
          ],
          activities: [{ userId: 'v-ingest', activityType: 'v_ingest', ipAddress: 'nope' }],
        },
      },
      ['input.userMetrics[0].userId', 'input.performanceMetrics[1].statusCode', 'input.activities[0].ipAddress'],
    );
    // The same request without the bad item is stored whole.
    const before = await totals();
    expect(await expectStored(Ingest, { input: { ...input, systemMetrics: [gauge('v_ingest')] } })).toEqual({ ingest: { count: 4 } });
    expect(await totals()).toEqual({
      ...before,
      system: before.system + 1,
      application: before.application + 1,
      performance: before.performance + 1,
      activities: before.activities + 1,
    });
  });

  it('a batch with several bad items lists every one of them', async () => {
    const issues = await expectRefused(
      RecordSystemMetrics,
      {
        input: [
          gauge(''),
          gauge('v_multi'),
          gauge('v_multi', { tags: { a: { b: 1 } } }),
          gauge('v_multi'),
          gauge('v_multi', { unit: 'x'.repeat(21), timestamp: '2999-01-01T00:00:00.000Z' }),
        ],
      },
      ['input[0].metricName', 'input[2].tags', 'input[4].unit', 'input[4].timestamp'],
    );
    expect([...new Set(issues.map((issue) => issue.index))]).toEqual([0, 2, 4]);
    expect(issues.map((issue) => [issue.index, issue.field])).toEqual(
      expect.arrayContaining([
        [0, 'metricName'],
        [2, 'tags'],
        [4, 'unit'],
        [4, 'timestamp'],
      ]),
    );
  });

  describe('filters', () => {
    it('tags must be a flat object: BAD_USER_INPUT naming filter.tags', async () => {
      for (const tags of [{ a: { b: 1 } }, { a: [1] }, { a: null }, [1], 'host=a', manyTags(33)]) {
        const response = await server.request(SystemMetricsPage, { filter: { tags } });
        const label = JSON.stringify(tags).slice(0, 80);
        expect(response.status, label).toBeLessThan(500);
        expect(response.errors?.[0]?.extensions?.code, label).toBe('BAD_USER_INPUT');
        const issues = response.errors?.[0]?.extensions?.issues as Issue[];
        expect(issues.length, label).toBeGreaterThan(0);
        for (const issue of issues) expect(issue.path, label).toMatch(/^filter\.tags(\.|$)/);
        expect(response.errors?.[0]?.message).toContain('filter.tags');
      }
      // The analytics take the same filters (one request each: a refused non-null root field ends the operation).
      for (const response of [
        await server.request(ApplicationStats, { filter: { tags: { a: { b: 1 } } } }),
        await server.request(Trends, { filter: { tags: [1] } }),
      ]) {
        expect(response.status).toBeLessThan(500);
        expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect((response.errors?.[0]?.extensions?.issues as Issue[])[0]?.path).toMatch(/^filter\.tags(\.|$)/);
      }
    });

    it('from after to: BAD_USER_INPUT naming filter.from', async () => {
      const range = { from: '2026-01-02T00:00:00.000Z', to: '2026-01-01T00:00:00.000Z' };
      const list = await server.request(SystemMetricsPage, { filter: range });
      expect(list.status).toBeLessThan(500);
      expect(list.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect((list.errors?.[0]?.extensions?.issues as Issue[]).map((issue) => issue.path)).toEqual(['filter.from']);
      for (const response of [
        await server.request(ApplicationStats, { filter: range }),
        await server.request(Trends, { filter: range }),
        await server.request(ActivityStats, { filter: range }),
      ]) {
        expect(response.status).toBeLessThan(500);
        expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect((response.errors?.[0]?.extensions?.issues as Issue[]).map((issue) => issue.path)).toEqual(['filter.from']);
      }
      // from == to is an empty range, not an error.
      const empty = await server.query(SystemMetricsPage, { filter: { from: range.to, to: range.to } });
      expect(empty.systemMetrics.totalCount).toBe(0);
    });

    it('more than 100 names: BAD_USER_INPUT naming filter.metricNames', async () => {
      const response = await server.request(SystemMetricsPage, { filter: { metricNames: Array.from({ length: 101 }, (_, i) => `m${i}`) } });
      expect(response.status).toBeLessThan(500);
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect((response.errors?.[0]?.extensions?.issues as Issue[]).map((issue) => issue.path)).toEqual(['filter.metricNames']);
    });

    it('a NUL character in a filter is BAD_USER_INPUT, not an internal error', async () => {
      const list = await server.request(SystemMetricsPage, { filter: { metricName: 'cpu\u0000' } });
      expect(list.status).toBeLessThan(500);
      expect(list.errors?.[0]?.extensions?.code, JSON.stringify(list.errors)).toBe('BAD_USER_INPUT');
      for (const response of [
        await server.request(ApplicationStats, { filter: { tags: { host: 'a\u0000' } } }),
        await server.request(Trends, { filter: { metricNames: ['a\u0000'] } }),
        await server.request(ActivityStats, { filter: { userId: 'u\u0000' } }),
      ]) {
        expect(response.status).toBeLessThan(500);
        expect(response.errors?.[0]?.extensions?.code, JSON.stringify(response.errors)).toBe('BAD_USER_INPUT');
      }
    });
  });

  describe('cursors', () => {
    it('a malformed `after` cursor is BAD_USER_INPUT', async () => {
      for (const after of ['garbage!!', 'not base64 at all', Buffer.from('NOPE:1').toString('base64'), Buffer.from('GPC:I:xyz').toString('base64')]) {
        const response = await server.request(SystemMetricsPage, { after });
        expect(response.status, after).toBeLessThan(500);
        expect(response.errors?.[0]?.extensions?.code, after).toBe('BAD_USER_INPUT');
        expect(response.errors?.[0]?.message).toContain('cursor');
      }
      const negative = await server.request(SystemMetricsPage, { first: -1 });
      expect(negative.status).toBeLessThan(500);
      expect(negative.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('a well-formed cursor holding a non-id value is BAD_USER_INPUT, not an internal error', async () => {
      for (const payload of ['GPC:S:abc', 'GPC:N:1.5', 'GPC:I:99999999999999999999999']) {
        const response = await server.request(SystemMetricsPage, { after: Buffer.from(payload).toString('base64') });
        expect(response.status, payload).toBeLessThan(500);
        expect(response.errors?.[0]?.extensions?.code, payload).toBe('BAD_USER_INPUT');
      }
    });
  });

  it('wrong GraphQL types never give a 5xx', async () => {
    // A string for a Float in variables.
    const variable = await expectNotExecuted(() => server.request(RecordSystemMetric, { input: gauge('v_types', { value: 'abc' as unknown as number }) }));
    expect(variable.status).toBe(400);
    expect(variable.errors?.[0]?.message).toContain('Float cannot represent');
    // The same as a literal in the document: a validation error.
    const literal = await expectNotExecuted(() =>
      server.request('mutation { recordSystemMetric(input: { metricName: "v_types", metricType: GAUGE, value: "abc" }) { id } }'),
    );
    expect(literal.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    // Unknown enum value, missing required field, list where an object is expected.
    await expectNotExecuted(() => server.request(RecordSystemMetric, { input: { ...gauge('v_types'), metricType: 'BOGUS' as never } }));
    await expectNotExecuted(() => server.request(RecordSystemMetric, { input: { metricType: 'GAUGE', value: 1 } as never }));
    await expectNotExecuted(() => server.request(RecordSystemMetrics, { input: 'not a list' as never }));
    await expectNotExecuted(() => server.request(RecordSystemMetric, { input: [gauge('v_types')] as never }));
  });

  it('a lone surrogate in tags or metadata is refused or stored, never an internal error', async () => {
    for (const [label, send] of [
      ['metadata', () => server.request(RecordUserActivity, { input: { userId: 'v-sur', activityType: 'v_sur', metadata: { note: 'x\udc00' } } })],
      ['tags', () => server.request(RecordSystemMetric, { input: gauge('v_sur', { tags: { host: '\ud800' } }) })],
      ['dimensions', () => server.request(RecordSystemMetrics, { input: [gauge('v_sur', { dimensions: { s: '\udfff' } })] })],
    ] as const) {
      const response: GraphQLResponse<unknown> = await send();
      expect(response.status, label).toBeLessThan(500);
      expect([undefined, 'BAD_USER_INPUT'], `${label}: ${JSON.stringify(response.errors)}`).toContain(response.errors?.[0]?.extensions?.code);
    }
  });
});
