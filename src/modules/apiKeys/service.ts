import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { API_KEY_SCOPES, type ApiKeyScope, type Authenticator, type Principal } from '../../core/auth.js';
import type { Database } from '../../core/db/database.js';
import { sql } from '../../core/db/sql.js';
import type { ApiKey } from '../../generated/prisma/client.js';
import type { Actor, AuditTrail } from '../audit/service.js';

const KEY_PREFIX = 'ins_';

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface CreatedApiKey {
  key: string;
  apiKey: ApiKey;
}

export class ApiKeyNotFoundError extends Error {}

/**
 * Key management: creating, revoking and listing keys, each action recorded in the audit trail in the same
 * transaction. GraphQL and the command line both call it.
 */
export class ApiKeyService {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditTrail,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  list(): Promise<ApiKey[]> {
    return this.db.prisma.apiKey.findMany({ orderBy: { createdAt: 'desc' } });
  }

  async create(actor: Actor, input: { name: string; scopes: ApiKeyScope[]; expiresAt?: Date | null; key?: string }): Promise<CreatedApiKey> {
    const key = input.key ?? generateApiKey();
    const id = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ id: string }>(sql`/* apiKeys.create */
        INSERT INTO api_keys (id, name, key_hash, key_prefix, scopes, expires_at)
        VALUES (gen_random_uuid(), ${input.name}, ${hashApiKey(key)}, ${key.slice(0, 12)}, ${input.scopes}::text[], ${input.expiresAt ?? null})
        RETURNING id::text AS id`);
      const created = (row as { id: string }).id;
      await this.audit.record(actor, 'api_key.created', { type: 'api_key', id: created }, `API key "${input.name}" created`, {
        keyId: created,
        name: input.name,
        scopes: input.scopes,
        expiresAt: input.expiresAt?.toISOString() ?? null,
      }, tx);
      return created;
    });
    return { key, apiKey: await this.db.prisma.apiKey.findUniqueOrThrow({ where: { id } }) };
  }

  /**
   * Revokes a key: at once on this instance, within the authenticator's cache time elsewhere. Idempotent:
   * revoking a revoked key keeps its first revocation time and records nothing.
   */
  async revoke(actor: Actor, id: string): Promise<{ apiKey: ApiKey; newlyRevoked: boolean }> {
    const newlyRevoked = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<{ name: string; revoked: boolean }>(sql`/* apiKeys.lock */
        SELECT name, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = ${id}::uuid FOR UPDATE`);
      if (!row) throw new ApiKeyNotFoundError(`No API key with id ${id}`);
      if (row.revoked) return false;
      await tx.query(sql`/* apiKeys.revoke */ UPDATE api_keys SET revoked_at = now() WHERE id = ${id}::uuid`);
      await this.audit.record(actor, 'api_key.revoked', { type: 'api_key', id }, `API key "${row.name}" revoked`, { keyId: id, name: row.name }, tx);
      return true;
    });
    this.authenticator.invalidate(id);
    return { apiKey: await this.db.prisma.apiKey.findUniqueOrThrow({ where: { id } }), newlyRevoked };
  }
}

/**
 * Makes sure an administrator can get in on a fresh install: INSIGHTS_ADMIN_KEY is registered if it is not yet,
 * otherwise a key is generated when none exists at all and printed once (only its hash is stored).
 * Runs in a transaction holding an advisory lock so instances starting together create one key, not several.
 */
export async function bootstrapAdminKey(db: Database, adminKey: string | undefined, log: Logger): Promise<void> {
  const generated = await db.transaction(async (tx) => {
    if (db.kind === 'postgres') await tx.query(sql`SELECT pg_advisory_xact_lock(7271302)`);
    if (adminKey) {
      await tx.query(sql`
        INSERT INTO api_keys (id, name, key_hash, key_prefix, scopes)
        VALUES (gen_random_uuid(), 'bootstrap-admin', ${hashApiKey(adminKey)}, ${adminKey.slice(0, 12)}, ARRAY['ADMIN'])
        ON CONFLICT (key_hash) DO NOTHING`);
      return undefined;
    }
    const [{ count }] = (await tx.query<{ count: number }>(sql`SELECT count(*)::int AS count FROM api_keys`)) as [
      { count: number },
    ];
    if (count > 0) return undefined;
    const key = generateApiKey();
    await tx.query(sql`
      INSERT INTO api_keys (id, name, key_hash, key_prefix, scopes)
      VALUES (gen_random_uuid(), 'bootstrap-admin', ${hashApiKey(key)}, ${key.slice(0, 12)}, ARRAY['ADMIN'])`);
    return key;
  });
  if (generated) {
    log.warn('no API key existed: created an ADMIN key, shown only this once');
    // Printed on stdout outside the JSON log so it is easy to copy and not kept by log collectors.
    process.stdout.write(`\n  Insights admin API key (store it now, it is not shown again):\n\n    ${generated}\n\n`);
  }
}

interface CachedKey {
  keyHash: string;
  principal: Principal | null;
  loadedAt: number;
}

/**
 * Resolves bearer keys to principals. Results (including misses) are cached for a few seconds only, so a
 * revoked or expired key stops working on every instance within that time without a shared cache.
 */
export class ApiKeyAuthenticator implements Authenticator {
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastUsedWrites = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly cacheTtlMs = 4_000,
    private readonly maxCacheEntries = 10_000,
  ) {}

  /** Drops a key from this instance's cache at once (other instances follow within the cache TTL). */
  invalidate(keyId: string): void {
    for (const [hash, entry] of this.cache) {
      if (entry.principal?.keyId === keyId) this.cache.delete(hash);
    }
  }

  async authenticate(presentedKey: string): Promise<Principal | null> {
    const keyHash = hashApiKey(presentedKey);
    const now = Date.now();
    const cached = this.cache.get(keyHash);
    if (cached && now - cached.loadedAt < this.cacheTtlMs) return cached.principal;

    const row = await this.db.prisma.apiKey.findUnique({ where: { keyHash } });
    const usable =
      row !== null &&
      timingSafeEqual(Buffer.from(row.keyHash), Buffer.from(keyHash)) &&
      row.revokedAt === null &&
      (row.expiresAt === null || row.expiresAt.getTime() > now);
    const principal: Principal | null = usable
      ? {
          keyId: row.id,
          keyName: row.name,
          scopes: row.scopes.filter((scope): scope is ApiKeyScope =>
            (API_KEY_SCOPES as readonly string[]).includes(scope),
          ),
        }
      : null;
    if (this.cache.size >= this.maxCacheEntries) this.cache.clear();
    this.cache.set(keyHash, { keyHash, principal, loadedAt: now });
    if (principal) this.touch(principal.keyId, now);
    return principal;
  }

  /** lastUsedAt is advisory: written at most once a minute per key, off the request path. */
  private touch(keyId: string, now: number): void {
    const last = this.lastUsedWrites.get(keyId) ?? 0;
    if (now - last < 60_000) return;
    this.lastUsedWrites.set(keyId, now);
    this.db.prisma.apiKey
      .update({ where: { id: keyId }, data: { lastUsedAt: new Date(now) }, select: { id: true } })
      .catch((error: unknown) => this.log.warn({ err: error, keyId }, 'could not record key use'));
  }
}
