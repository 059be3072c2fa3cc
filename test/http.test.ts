import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './generated/gql.js';
import { createScratchDirectory } from './support/databases.js';
import { freePort } from './support/processes.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './support/server.js';
import { compiledEntry } from './support/build.js';
import { pgliteTemplate } from './support/pgliteTemplate.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const CountHttpMetrics = graphql(`
  query CountHttpMetrics($name: String!) {
    systemMetrics(filter: { metricName: $name }, first: 10) { totalCount edges { node { id value tags } } }
  }
`);

const auth = { authorization: `Bearer ${ADMIN_KEY}` };
const GRAPHQL_ACCEPT = 'application/graphql-response+json, application/json';

describe('HTTP surface on pglite', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite', { label: 'http' });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  const stored = async (name: string) => (await server.query(CountHttpMetrics, { name })).systemMetrics.totalCount;

  it('GET /health reports the database and pub/sub without a key', async () => {
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'ok',
      database: { kind: 'pglite', status: 'ok' },
      pubsub: { mode: 'in-process', status: 'ok' },
    });
    expect(body.uptimeSeconds).toEqual(expect.any(Number));
    // Also with a query string, and as HEAD (no body).
    expect((await fetch(`${server.url}/health?probe=1`)).status).toBe(200);
    const head = await fetch(`${server.url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('GET /graphql from a browser asks for an ADMIN key, then serves GraphiQL', async () => {
    const anonymous = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await anonymous.text()).not.toMatch(/graphiql/i);
    // What a browser sends after its sign-in prompt: any user name, the key as password.
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`;
    const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html', authorization: basic } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/<html/i);
    expect(html).toMatch(/graphiql/i);
    expect(html).toContain('Insights');
    // GraphiQL's own requests carry the same Basic credentials.
    const query = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    expect(await query.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it('answers a query sent with GET', async () => {
    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{__typename}')}`, {
      headers: { ...auth, accept: GRAPHQL_ACCEPT },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('needs the key for a GET query too', async () => {
    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{__typename}')}`, {
      headers: { accept: GRAPHQL_ACCEPT },
    });
    expect(response.status).toBe(401);
  });

  it('refuses a mutation sent with GET with 405 and stores nothing', async () => {
    const mutation = 'mutation { recordSystemMetric(input: { metricName: "http_get_write", metricType: GAUGE, value: 1 }) { id } }';
    const response = await fetch(`${server.url}/graphql?query=${encodeURIComponent(mutation)}`, {
      headers: { ...auth, accept: GRAPHQL_ACCEPT },
    });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toMatch(/POST/);
    const body = (await response.json()) as { data?: unknown; errors?: { message: string }[] };
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.message).toMatch(/mutation/i);
    expect(await stored('http_get_write')).toBe(0);
  });

  it('answers a body that is not JSON with 400, not 5xx', async () => {
    for (const accept of [GRAPHQL_ACCEPT, 'application/json']) {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept },
        body: '{"query": "{ __typename }"',
      });
      const body = (await response.json()) as { errors?: { message: string; extensions?: Record<string, unknown> }[] };
      expect(response.status, `Accept: ${accept}`).toBeLessThan(500);
      expect(body.errors?.[0]?.message).toMatch(/JSON/);
      expect(body.errors?.[0]?.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
      if (accept === GRAPHQL_ACCEPT) expect(response.status).toBe(400);
    }
  });

  it('answers a POST without a query with 400', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', accept: GRAPHQL_ACCEPT },
      body: JSON.stringify({ variables: {} }),
    });
    expect(response.status).toBe(400);
  });

  it('answers an unknown field with a validation error, not 5xx', async () => {
    const result = await server.request('{ systemMetrics { noSuchField } }', {});
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.status).toBeLessThan(500);
    expect(result.errors?.[0]?.message).toMatch(/Cannot query field "noSuchField"/);
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const syntax = await server.request('{ systemMetrics { ', {});
    expect(syntax.status).toBe(400);
    expect(syntax.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('echoes a sent x-request-id and generates one otherwise', async () => {
    const sent = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', accept: GRAPHQL_ACCEPT, 'x-request-id': 'trace-abc.123_X' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(sent.headers.get('x-request-id')).toBe('trace-abc.123_X');

    const generated = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', accept: GRAPHQL_ACCEPT },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const id = generated.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    const another = await fetch(`${server.url}/health`);
    expect(another.headers.get('x-request-id')).toMatch(UUID);
    expect(another.headers.get('x-request-id')).not.toBe(id);

    // Not a header value to copy into logs: replaced.
    const unsafe = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'a b"c<script>' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(UUID);
    // Also on refused requests.
    const refused = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: GRAPHQL_ACCEPT, 'x-request-id': 'refused-1' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('refused-1');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The real entry point, as `npm start` runs it.


interface Service {
  child: ChildProcessWithoutNullStreams;
  output(): { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startService(env: NodeJS.ProcessEnv): Service {
  // What `npm start` runs: one process, the compiled service.
  const child = spawn(process.execPath, [compiledEntry('src/main.ts')], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => ({ stdout, stderr }), exited };
}

async function within<T>(promise: Promise<T>, ms: number, what: string, service: Service): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          const { stdout, stderr } = service.output();
          reject(new Error(`${what}: nothing within ${ms} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitForHealth(url: string, service: Service, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let exitedEarly = false;
  void service.exited.then(() => (exitedEarly = true));
  while (Date.now() < deadline && !exitedEarly) {
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { stdout, stderr } = service.output();
  throw new Error(`${exitedEarly ? 'service exited' : `no healthy answer within ${ms} ms`}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
}

async function gql(url: string, key: string, query: string, variables?: unknown) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: GRAPHQL_ACCEPT, authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: unknown[] } };
}

describe('the service process', () => {
  const running: Service[] = [];
  let scratch: Awaited<ReturnType<typeof createScratchDirectory>>;
  beforeAll(async () => {
    scratch = await createScratchDirectory('http_process');
  });
  afterAll(async () => {
    for (const service of running) {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
    }
    await scratch?.remove();
  });

  it('starts on an embedded data directory without keys, shuts down cleanly on SIGTERM and SIGINT, and keeps its data', async () => {
    // From a copy of the migrated template: initdb and every migration in WASM, the most of a first start on an
    // empty directory and many seconds on a busy machine, is start.test.ts's subject (without a bound of its own).
    await fs.cp(await pgliteTemplate(), scratch.dir, { recursive: true });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', INSIGHTS_DATA_DIR: scratch.dir, LOG_LEVEL: 'info' };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'INSIGHTS_ADMIN_KEY', 'TEST_DATABASE_URL', 'TEST_REDIS_URL']) delete env[name];

    const first = startService(env);
    running.push(first);
    await waitForHealth(url, first);
    const health = (await (await fetch(`${url}/health`)).json()) as Record<string, any>;
    expect(health).toMatchObject({ status: 'ok', database: { kind: 'pglite', status: 'ok' }, pubsub: { mode: 'in-process' } });
    const keys = first.output().stdout.match(/ins_[A-Za-z0-9_-]+/g) ?? [];
    expect(keys, first.output().stdout).toHaveLength(1);
    const key = keys[0]!;

    const recorded = await gql(url, key, 'mutation($input: SystemMetricInput!) { recordSystemMetric(input: $input) { id value } }', {
      input: { metricName: 'process_metric', metricType: 'GAUGE', value: 7.25, tags: { host: 'proc' } },
    });
    expect(recorded.status).toBe(200);
    expect(recorded.body.errors).toBeUndefined();
    const id = recorded.body.data.recordSystemMetric.id as string;

    first.child.kill('SIGTERM');
    expect(await within(first.exited, 10_000, 'exit after SIGTERM', first)).toEqual({ code: 0, signal: null });
    expect(first.output().stderr).not.toMatch(/Error|shutdown failed/);

    const second = startService(env);
    running.push(second);
    await waitForHealth(url, second);
    // The directory already has a key: none is generated or printed.
    expect(second.output().stdout).not.toMatch(/ins_/);
    const read = await gql(url, key, '{ systemMetrics(filter: { metricName: "process_metric" }) { totalCount edges { node { id value tags } } } }');
    expect(read.status).toBe(200);
    expect(read.body.data.systemMetrics).toEqual({ totalCount: 1, edges: [{ node: { id, value: 7.25, tags: { host: 'proc' } } }] });

    second.child.kill('SIGINT');
    expect(await within(second.exited, 10_000, 'exit after SIGINT', second)).toEqual({ code: 0, signal: null });
    expect(second.output().stderr).not.toMatch(/Error|shutdown failed/);
  });
});
