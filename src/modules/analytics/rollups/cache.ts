import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { FAMILIES, type Family } from '../../../core/records.js';
import type { AggregateQuery, AggregateRow, ReadPath } from '../model.js';

// A result cache that is never staler than the data it summarises allows:
//
// - A read whose range ends at least CLOSED_AFTER_MS before it runs covers closed buckets. Records arriving now
//   cannot fall in them unless they are late (their timestamp more than LATE_AFTER_MS before their receipt), so
//   such results are kept for long, keyed by the family's late epoch: the receipt time of the newest late batch.
// - Any other read is keyed by the family's write epoch (the receipt time of the newest batch) and kept at most
//   INSIGHTS_REAL_TIME_UPDATE_INTERVAL seconds: a write to the family makes it miss at once.
//
// Epochs come from the records' own createdAt, carried by the live events of every instance, so instances
// sharing Redis compute the same keys and share entries. Without Redis the cache is in-process.

const LATE_AFTER_MS = 60_000;
const CLOSED_AFTER_MS = 2 * LATE_AFTER_MS;
const CLOSED_TTL_MS = 60 * 60_000;
const LOCAL_MAX_ENTRIES = 2_000;
/** Results larger than this (serialized) are not cached. */
const MAX_ENTRY_BYTES = 2 * 1024 * 1024;

export interface CachedResult {
  rows: AggregateRow[];
  total?: AggregateRow | null;
  path: ReadPath;
}

interface Epochs {
  write: number;
  late: number;
}

export class ResultCache {
  private readonly epochs = new Map<Family, Epochs>(FAMILIES.map((family) => [family, { write: 0, late: 0 }]));
  private readonly local = new Map<string, { expires: number; value: string }>();
  private redisSkippedUntil = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly openTtlMs: number,
    private readonly redis: Redis | undefined,
    private readonly log: Logger,
    private readonly prefix = 'insights:analytics:',
  ) {}

  /** A batch of a family was stored (here or on another instance): `receivedAt`, and its oldest timestamp. */
  noteWrite(family: Family, receivedAt: number, oldestTimestamp: number): void {
    const epochs = this.epochs.get(family);
    if (!epochs) return;
    if (receivedAt > epochs.write) epochs.write = receivedAt;
    if (oldestTimestamp < receivedAt - LATE_AFTER_MS && receivedAt > epochs.late) epochs.late = receivedAt;
  }

  private keyOf(query: AggregateQuery, now: number): { key: string; ttl: number } {
    const epochs = this.epochs.get(query.family) as Epochs;
    const closed = query.to.getTime() <= now - CLOSED_AFTER_MS;
    const digest = createHash('sha256').update(JSON.stringify(query)).digest('base64url');
    return closed
      ? { key: `${this.prefix}c:${epochs.late}:${digest}`, ttl: CLOSED_TTL_MS }
      : { key: `${this.prefix}o:${epochs.write}:${digest}`, ttl: this.openTtlMs };
  }

  async get(query: AggregateQuery, now = Date.now()): Promise<CachedResult | null> {
    const { key } = this.keyOf(query, now);
    let text: string | null = null;
    const entry = this.local.get(key);
    if (entry && entry.expires > now) text = entry.value;
    else if (this.redisUsable()) {
      try {
        text = await this.redis!.get(key);
      } catch (error) {
        this.backOff(error);
      }
    }
    if (text === null) {
      this.misses += 1;
      return null;
    }
    this.hits += 1;
    return revive(text);
  }

  async set(query: AggregateQuery, result: CachedResult, now = Date.now()): Promise<void> {
    const { key, ttl } = this.keyOf(query, now);
    const value = JSON.stringify(result);
    if (value.length > MAX_ENTRY_BYTES) return;
    if (this.local.size >= LOCAL_MAX_ENTRIES) {
      for (const [stale, entry] of this.local) if (entry.expires <= now) this.local.delete(stale);
      if (this.local.size >= LOCAL_MAX_ENTRIES) this.local.delete(this.local.keys().next().value as string);
    }
    this.local.set(key, { expires: now + ttl, value });
    if (this.redisUsable()) {
      try {
        await this.redis!.set(key, value, 'PX', ttl);
      } catch (error) {
        this.backOff(error);
      }
    }
  }

  private redisUsable(): boolean {
    return this.redis !== undefined && this.redis.status === 'ready' && Date.now() >= this.redisSkippedUntil;
  }

  /** A cache is an optimisation: a Redis that fails is left alone for a while, reads go to the database. */
  private backOff(error: unknown): void {
    this.redisSkippedUntil = Date.now() + 5_000;
    this.log.warn({ err: error }, 'analytics cache in Redis failed; reading without it for a while');
  }
}

type StoredRow = Omit<AggregateRow, 'bucketStart'> & { bucketStart: string };

function revive(text: string): CachedResult {
  const parsed = JSON.parse(text) as { rows: StoredRow[]; total?: StoredRow | null; path: ReadPath };
  const row = (stored: StoredRow): AggregateRow => ({ ...stored, bucketStart: new Date(stored.bucketStart) });
  const result: CachedResult = { path: parsed.path, rows: parsed.rows.map(row) };
  if (parsed.total !== undefined) result.total = parsed.total === null ? null : row(parsed.total);
  return result;
}
