import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_KEY, BACKENDS, startTestServer, type TestServer } from './support/server.js';
import { waitUntil } from './support/wait.js';
import { compiledEntry } from './support/build.js';

// Key management (createApiKey / revokeApiKey / apiKeys), how keys are stored, revocation and expiry across
// instances, the audit trail, and the command line (`insights apikey`, src/modules/apiKeys/cli.ts).

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const CREATE = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { id name keyPrefix scopes createdAt lastUsedAt expiresAt revokedAt } }
}`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id name revokedAt } }`;
const LIST = `{ apiKeys { id name keyPrefix scopes createdAt lastUsedAt expiresAt revokedAt } }`;
const AUDIT = `query($type: String!) {
  auditEvents(first: 100, filter: { actions: [$type] }) {
    edges { node { action actorKeyId actorName targetType targetId description details } }
  }
}`;
const ACTIVITIES = `{ userActivities(first: 100) { totalCount } userActivityStats { totalActivities uniqueUsers } }`;
const TYPENAME = '{ __typename }';
const READ_QUERY = '{ systemMetrics(first: 1) { totalCount } }';
const WRITE = `mutation($name: String!) { recordSystemMetric(input: { metricName: $name, metricType: GAUGE, value: 1 }) { id } }`;

interface ApiKeyView {
  id: string;
  name: string;
  keyPrefix: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}
type AuditNode = {
  action: string;
  actorKeyId: string | null;
  actorName: string;
  targetType: string;
  targetId: string | null;
  description: string;
  details: Record<string, unknown>;
};

async function createKey(server: TestServer, input: { name: string; scopes: string[]; expiresAt?: string | null }, actingKey = ADMIN_KEY) {
  const result = await server.request<{ createApiKey: { key: string; apiKey: ApiKeyView } }, unknown>(CREATE, { input }, { key: actingKey });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.createApiKey;
}

async function auditEntries(server: TestServer, type: string): Promise<AuditNode[]> {
  const result = await server.request<{ auditEvents: { edges: { node: AuditNode }[] } }, unknown>(AUDIT, { type });
  expect(result.errors).toBeUndefined();
  return result.data!.auditEvents.edges.map((edge) => edge.node);
}

const bootstrapKeyId = async (server: TestServer) =>
  (await server.app.services.db.prisma.apiKey.findFirstOrThrow({ where: { keyHash: sha256(ADMIN_KEY) } })).id;

describe.each(BACKENDS)('API key management on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { label: 'apikeys', env: { INSIGHTS_RATE_LIMIT_ADMIN: '0' } });
  });
  afterAll(async () => {
    await server?.destroy();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('creates a key whose plaintext is shown only in the creation answer, stored as a SHA-256 hash', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await createKey(server, { name: 'dashboard', scopes: ['READ'], expiresAt });
    expect(created.key).toMatch(/^ins_[A-Za-z0-9_-]{43}$/);
    expect(created.apiKey).toMatchObject({
      name: 'dashboard',
      scopes: ['READ'],
      keyPrefix: created.key.slice(0, 12),
      lastUsedAt: null,
      revokedAt: null,
      expiresAt,
    });
    expect(Date.parse(created.apiKey.createdAt)).toBeGreaterThan(Date.now() - 60_000);

    // The listing has every documented field but never the key: there is no field to ask for it.
    const listed = await server.request<{ apiKeys: ApiKeyView[] }, unknown>(LIST, {});
    const row = listed.data!.apiKeys.find((key) => key.id === created.apiKey.id);
    expect(row).toEqual(created.apiKey);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const asked = await server.request('{ apiKeys { id key } }', {});
    expect(asked.status).toBe(400);
    expect(asked.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    // Only the hash is stored: no column of the row holds the key.
    const stored = await server.app.services.db.prisma.apiKey.findUniqueOrThrow({ where: { id: created.apiKey.id } });
    expect(stored.keyHash).toBe(sha256(created.key));
    expect(JSON.stringify(stored)).not.toContain(created.key);

    // The key works at once, and presenting its hash (what a database leak would give) does not.
    expect((await server.request(READ_QUERY, {}, { key: created.key })).status).toBe(200);
    expect((await server.request(READ_QUERY, {}, { key: stored.keyHash })).status).toBe(401);
    expect((await server.request(READ_QUERY, {}, { key: stored.keyPrefix })).status).toBe(401);
  });

  it('records lastUsedAt once a key is used', async () => {
    const created = await createKey(server, { name: 'used', scopes: ['READ'] });
    expect((await server.request(TYPENAME, {}, { key: created.key })).status).toBe(200);
    await waitUntil(async () => {
      const listed = await server.request<{ apiKeys: ApiKeyView[] }, unknown>(LIST, {});
      return listed.data!.apiKeys.find((key) => key.id === created.apiKey.id)?.lastUsedAt !== null;
    }, 'lastUsedAt to be recorded', 5_000);
  });

  it('revokes a key: refused at once on this instance even right after use, revokedAt kept on a second revoke', async () => {
    const created = await createKey(server, { name: 'to revoke', scopes: ['INGEST'] });
    // Used first, so this instance has it cached as valid.
    expect((await server.request(WRITE, { name: 'before_revoke' }, { key: created.key })).status).toBe(200);
    const revoked = await server.request<{ revokeApiKey: { id: string; revokedAt: string } }, unknown>(REVOKE, { id: created.apiKey.id });
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data!.revokeApiKey.revokedAt).toEqual(expect.any(String));

    const after = await server.request(WRITE, { name: 'after_revoke' }, { key: created.key });
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await server.app.services.db.prisma.systemMetric.count({ where: { metricName: 'after_revoke' } })).toBe(0);

    const again = await server.request<{ revokeApiKey: { revokedAt: string } }, unknown>(REVOKE, { id: created.apiKey.id });
    expect(again.data!.revokeApiKey.revokedAt).toBe(revoked.data!.revokeApiKey.revokedAt);
    const listed = await server.request<{ apiKeys: ApiKeyView[] }, unknown>(LIST, {});
    expect(listed.data!.apiKeys.find((key) => key.id === created.apiKey.id)?.revokedAt).toBe(revoked.data!.revokeApiKey.revokedAt);
  });

  it('stops an expired key within the cache TTL of its expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const created = await createKey(server, { name: 'short-lived', scopes: ['READ'], expiresAt: new Date(Date.now() + 60_000).toISOString() });
    expect((await server.request(READ_QUERY, {}, { key: created.key })).status).toBe(200);
    // Past its expiry and past the (at most a few seconds) cache of this instance: refused.
    vi.setSystemTime(Date.now() + 60_000 + 5_001);
    const refused = await server.request(READ_QUERY, {}, { key: created.key });
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('records creation and revocation in the audit trail with the acting key, and nothing in user analytics', async () => {
    const adminId = await bootstrapKeyId(server);
    const activitiesBefore = await server.request(ACTIVITIES);
    const second = await createKey(server, { name: 'second admin', scopes: ['ADMIN'] });
    const target = await createKey(server, { name: 'audited', scopes: ['INGEST', 'READ'] }, second.key);
    await server.request(REVOKE, { id: target.apiKey.id }, { key: second.key });
    await server.request(REVOKE, { id: target.apiKey.id }, { key: second.key });

    const created = await auditEntries(server, 'api_key.created');
    const byAdmin = created.find((entry) => entry.targetId === second.apiKey.id);
    expect(byAdmin).toMatchObject({ action: 'api_key.created', actorKeyId: adminId, targetType: 'api_key', details: { keyId: second.apiKey.id } });
    const bySecond = created.filter((entry) => entry.targetId === target.apiKey.id);
    expect(bySecond).toHaveLength(1);
    expect(bySecond[0]).toMatchObject({
      actorKeyId: second.apiKey.id,
      actorName: 'second admin',
      details: { name: 'audited', scopes: expect.arrayContaining(['INGEST', 'READ']) },
    });
    // Nothing secret in the trail.
    expect(JSON.stringify(created)).not.toContain(target.key);

    // Revoked twice, recorded once.
    const revoked = (await auditEntries(server, 'api_key.revoked')).filter((entry) => entry.targetId === target.apiKey.id);
    expect(revoked).toEqual([expect.objectContaining({ action: 'api_key.revoked', actorKeyId: second.apiKey.id })]);

    // User analytics hold only what users did.
    expect((await server.request(ACTIVITIES)).data).toEqual(activitiesBefore.data);
  });

  it('keeps the audit trail to ADMIN keys', async () => {
    const reader = await createKey(server, { name: 'audit reader', scopes: ['READ'] });
    const refused = await server.request(AUDIT, { type: 'api_key.created' }, { key: reader.key });
    expect(refused.status).toBe(403);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['ADMIN'] });
  });

  it('refuses bad input with BAD_USER_INPUT and creates nothing', async () => {
    const before = await server.app.services.db.prisma.apiKey.count();
    const cases: [string, unknown][] = [
      ['no scopes', { name: 'x', scopes: [] }],
      ['empty name', { name: '', scopes: ['READ'] }],
      ['long name', { name: 'n'.repeat(101), scopes: ['READ'] }],
      ['NUL in name', { name: 'a\u0000b', scopes: ['READ'] }],
      ['past expiry', { name: 'x', scopes: ['READ'], expiresAt: '2001-01-01T00:00:00Z' }],
    ];
    for (const [label, input] of cases) {
      const result = await server.request(CREATE, { input });
      expect(result.status, label).toBeLessThan(500);
      expect(result.errors?.[0]?.extensions?.code, label).toBe('BAD_USER_INPUT');
    }
    const unknownScope = await server.request(CREATE, { input: { name: 'x', scopes: ['ROOT'] } });
    expect(unknownScope.status).toBeLessThan(500);
    expect(unknownScope.errors).toBeDefined();
    expect(await server.app.services.db.prisma.apiKey.count()).toBe(before);

    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      const result = await server.request(REVOKE, { id });
      expect(result.errors?.[0]?.extensions?.code, id).toBe('BAD_USER_INPUT');
    }
  });

  it('keeps key management to ADMIN keys (403 FORBIDDEN naming ADMIN), with nothing created or audited', async () => {
    const reader = await createKey(server, { name: 'reader', scopes: ['READ'] });
    const writer = await createKey(server, { name: 'writer', scopes: ['INGEST', 'READ'] });
    const before = await server.app.services.db.prisma.apiKey.count();
    const auditsBefore = (await auditEntries(server, 'api_key.created')).length;
    for (const key of [reader.key, writer.key]) {
      for (const [query, variables] of [
        [LIST, {}],
        [CREATE, { input: { name: 'escalated', scopes: ['ADMIN'] } }],
        [REVOKE, { id: reader.apiKey.id }],
      ] as const) {
        const result = await server.request(query, variables, { key });
        expect(result.status).toBe(403);
        expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(result.errors?.[0]?.message).toMatch(/needs the \w+ scope/);
        expect(result.data ?? null).toBeNull();
      }
    }
    expect(await server.app.services.db.prisma.apiKey.count()).toBe(before);
    expect((await auditEntries(server, 'api_key.created')).length).toBe(auditsBefore);
    expect((await server.request(TYPENAME, {}, { key: reader.key })).status).toBe(200);
  });

  it('names ADMIN as the missing scope when a READ key calls an admin-only mutation', async () => {
    const reader = await createKey(server, { name: 'reader-2', scopes: ['READ'] });
    for (const [query, variables] of [
      [CREATE, { input: { name: 'escalated', scopes: ['ADMIN'] } }],
      [REVOKE, { id: reader.apiKey.id }],
    ] as const) {
      const result = await server.request(query, variables, { key: reader.key });
      expect(result.status).toBe(403);
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['ADMIN'] });
      expect(result.errors?.[0]?.message).toMatch(/needs the ADMIN scope/);
    }
  });
});

describe('revocation across two instances sharing PostgreSQL', () => {
  let first: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    first = await startTestServer('postgres', { label: 'apikeys_cluster', env: { INSIGHTS_RATE_LIMIT_ADMIN: '0', INSIGHTS_RATE_LIMIT_READ: '0' } });
    second = await startTestServer('postgres', {
      label: 'apikeys_cluster',
      databaseUrl: first.databaseUrl,
      env: { INSIGHTS_RATE_LIMIT_ADMIN: '0', INSIGHTS_RATE_LIMIT_READ: '0' },
    });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.destroy();
  });

  it('a key created on one instance works on the other; revoked on one, it stops on the other within a few seconds', async () => {
    const created = await createKey(first, { name: 'shared', scopes: ['READ'] });
    // The clock is moved instead of waited for (a measured wait would pass or fail with the machine's speed).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      // Used on the second instance, so its cache holds it as valid.
      expect((await second.request(READ_QUERY, {}, { key: created.key })).status).toBe(200);
      await first.request(REVOKE, { id: created.apiKey.id });
      expect((await first.request(READ_QUERY, {}, { key: created.key })).status).toBe(401);
      // "Cache no longer than a few seconds": 5 s after the second instance last read the key, it is refused there.
      vi.setSystemTime(Date.now() + 5_001);
      expect((await second.request(READ_QUERY, {}, { key: created.key })).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the apikey command line', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('postgres', { label: 'apikeys_cli', env: { INSIGHTS_RATE_LIMIT_ADMIN: '0' } });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  // `npm run apikey -- …` is `prisma generate` (already done for the tests) followed by this command, run here
  // from the compiled sources (test/support/build.ts) rather than under tsx.
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: server.databaseUrl, LOG_LEVEL: 'silent' };
      delete env.REDIS_URL;
      delete env.INSIGHTS_ADMIN_KEY;
      const child = spawn(process.execPath, [compiledEntry('src/cli/index.ts'), 'apikey', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('creates an INGEST key that works with its scope only, lists and revokes it, and audits both', async () => {
    const created = await cli(['create', '--name', 'cli-ingest', '--scope', 'INGEST']);
    expect(created.code, created.stderr).toBe(0);
    const key = /Key \(shown once\): (ins_[A-Za-z0-9_-]+)/.exec(created.stdout)?.[1];
    const id = /\(([0-9a-f-]{36})\)/.exec(created.stdout)?.[1];
    expect(key, created.stdout).toBeDefined();
    expect(id, created.stdout).toBeDefined();

    expect((await server.request(WRITE, { name: 'from_cli_key' }, { key })).status).toBe(200);
    const read = await server.request(READ_QUERY, {}, { key });
    expect(read.status).toBe(403);
    expect(read.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['READ'] });
    const row = await server.app.services.db.prisma.apiKey.findUniqueOrThrow({ where: { id: id! } });
    expect(row).toMatchObject({ name: 'cli-ingest', scopes: ['INGEST'], keyHash: sha256(key!) });

    const listed = await cli(['list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id}.*active.*INGEST.*cli-ingest`));
    expect(listed.stdout).not.toContain(key!);

    const revoked = await cli(['revoke', id!]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/Revoked/);
    await waitUntil(async () => (await server.request(WRITE, { name: 'after_cli_revoke' }, { key })).status === 401, 'revoked key refused', 8_000);

    const direct = new pg.Client({ connectionString: server.databaseUrl });
    await direct.connect();
    try {
      const { rows } = await direct.query<{ action: string; actor_key_id: string | null; actor_name: string }>(
        `SELECT action, actor_key_id, actor_name FROM audit_events WHERE target_type = 'api_key' AND target_id = $1 ORDER BY id`,
        [id],
      );
      expect(rows.map((r) => r.action)).toEqual(['api_key.created', 'api_key.revoked']);
      // No key acted: the command line is named instead.
      for (const r of rows) expect(r).toMatchObject({ actor_key_id: null, actor_name: 'command line' });
    } finally {
      await direct.end();
    }
  }, 40_000);

  it('refuses an unknown scope or a missing name with a message and a non-zero exit, creating nothing', async () => {
    const before = await server.app.services.db.prisma.apiKey.count();
    const unknown = await cli(['create', '--name', 'x', '--scope', 'ROOT']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--scope/);
    const nameless = await cli(['create', '--scope', 'READ']);
    expect(nameless.code).toBe(2);
    expect(nameless.stderr).toMatch(/--name/);
    expect(await server.app.services.db.prisma.apiKey.count()).toBe(before);
  }, 30_000);
});
