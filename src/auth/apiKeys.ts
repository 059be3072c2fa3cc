import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { sql } from '../db/sql.js';
import { API_KEY_SCOPES, type ApiKeyScope, type Principal } from './scopes.js';

const KEY_PREFIX = 'ins_';

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface CreatedApiKey {
  key: string;
  id: string;
}

export async function createApiKey(
  db: Database,
  input: { name: string; scopes: ApiKeyScope[]; expiresAt?: Date | null; key?: string },
): Promise<CreatedApiKey> {
  const key = input.key ?? generateApiKey();
  const created = await db.prisma.apiKey.create({
    data: {
      name: input.name,
      keyHash: hashApiKey(key),
      keyPrefix: key.slice(0, 12),
      scopes: input.scopes,
      expiresAt: input.expiresAt ?? null,
    },
    select: { id: true },
  });
  return { key, id: created.id };
}

export class ApiKeyNotFoundError extends Error {}

/** Revokes a key. Idempotent: revoking a revoked key keeps its first revocation time. */
export async function revokeApiKey(db: Database, id: string) {
  const existing = await db.prisma.apiKey.findUnique({ where: { id } });
  if (!existing) throw new ApiKeyNotFoundError(`No API key with id ${id}`);
  if (existing.revokedAt) return { apiKey: existing, newlyRevoked: false };
  const apiKey = await db.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
  return { apiKey, newlyRevoked: true };
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
export class ApiKeyAuthenticator {
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

/**
 * The API key of an Authorization header: `Bearer <key>`, or `Basic` with the key as password — what a browser
 * sends after its sign-in prompt, so GraphiQL can be opened with a key (the user name is ignored).
 */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1] ?? null;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic?.[1]) return null;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  const password = separator >= 0 ? decoded.slice(separator + 1) : '';
  return password.length > 0 && !/\s/.test(password) ? password : null;
}
