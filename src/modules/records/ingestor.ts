import type { EventBus } from '../../core/bus/pubsub.js';
import type { Database } from '../../core/db/database.js';
import type { Queryable } from '../../core/db/sql.js';
import { FAMILIES, type Family, type StoredByFamily } from '../../core/records.js';
import { insertRows } from './bulkWriter.js';
import { claimIdempotencyKey, storeIdempotentResult, type IdempotencyClaim } from './idempotency.js';
import { REGISTRY } from './registry.js';
import { validateLists, type ListToValidate } from './validation.js';

export interface IngestRequest {
  lists: ListToValidate<Family>[];
  /** When given, a retry with the same claim returns the first result and writes nothing. */
  idempotency?: IdempotencyClaim | null;
}

export interface IngestResult {
  count: number;
  stored: StoredByFamily;
  replayed: boolean;
}

/** Something that wants to write alongside each ingest, in the same transaction (rollup invalidations). */
export type WriteHook = (tx: Queryable, stored: StoredByFamily) => Promise<void>;

const countOf = (stored: StoredByFamily) => FAMILIES.reduce((sum, family) => sum + stored[family].length, 0);
const emptyStored = (): StoredByFamily => Object.fromEntries(FAMILIES.map((family) => [family, []])) as unknown as StoredByFamily;

/**
 * Validates a whole request, writes it in one transaction (one bulk statement per table), and only after the
 * commit publishes it for live subscribers. Jobs write through here too, so everything written is published.
 */
export class Ingestor {
  private readonly hooks: WriteHook[] = [];
  private readonly committed: ((stored: StoredByFamily) => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly maxItems: number,
  ) {}

  /** Adds a write to every ingest transaction (a module's bookkeeping that must commit with the records). */
  onWrite(hook: WriteHook): void {
    this.hooks.push(hook);
  }

  /**
   * Runs after each commit, before the answer and before the live event: this instance's caches learn of a write
   * before its caller can read again (other instances learn of it from the live event).
   */
  onCommitted(listener: (stored: StoredByFamily) => void): void {
    this.committed.push(listener);
  }

  async ingest(request: IngestRequest): Promise<IngestResult> {
    const receivedAt = new Date();
    const rows = validateLists(request.lists, { receivedAt, maxItems: this.maxItems });
    const claim = request.idempotency ?? null;
    const tables = FAMILIES.filter((family) => rows[family].length > 0);
    const writeAll = async (target: Queryable) => {
      const stored = emptyStored();
      for (const family of tables) {
        (stored as Record<Family, unknown>)[family] = await insertRows(target, family, rows[family], receivedAt);
      }
      for (const hook of this.hooks) await hook(target, stored);
      return stored;
    };
    if (!claim && tables.length <= 1 && this.hooks.length === 0) {
      // One table, no idempotency claim and nothing written alongside: its one INSERT is atomic by itself, so
      // the common single-table write skips the BEGIN and COMMIT round trips.
      const stored = await writeAll(this.db);
      this.publish(stored);
      return { count: countOf(stored), stored, replayed: false };
    }
    const outcome = await this.db.transaction(async (tx) => {
      if (claim) {
        const previous = await claimIdempotencyKey<{ count: number }>(tx, claim);
        if (!previous.fresh) return { replayedCount: previous.result.count, stored: null };
      }
      const stored = await writeAll(tx);
      if (claim) await storeIdempotentResult(tx, claim, { count: countOf(stored) });
      return { replayedCount: null, stored };
    });
    if (outcome.stored === null) return { count: outcome.replayedCount ?? 0, stored: emptyStored(), replayed: true };
    this.publish(outcome.stored);
    return { count: countOf(outcome.stored), stored: outcome.stored, replayed: false };
  }

  /** Not awaited: the write is committed, and a slow or absent Redis must not hold its answer up. */
  private publish(stored: StoredByFamily): void {
    for (const listener of this.committed) listener(stored);
    for (const family of FAMILIES) {
      const records = stored[family];
      if (records.length === 0) continue;
      const { topic, kind } = REGISTRY[family];
      if (topic === 'activities.recorded') this.bus.publish(topic, { records: records as StoredByFamily['activities'] });
      else this.bus.publish(topic, { kind, records } as never);
    }
  }
}
