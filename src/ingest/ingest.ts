import type { Database } from '../db/database.js';
import type { Queryable } from '../db/sql.js';
import type { EventBus } from '../realtime/pubsub.js';
import type { Family, RowsByFamily, Stored } from './families.js';
import { FAMILIES } from './families.js';
import { insertRows } from './bulkWriter.js';
import { claimIdempotencyKey, storeIdempotentResult, type IdempotencyClaim } from './idempotency.js';
import { validateLists, type ListToValidate } from './validation.js';

export interface IngestRequest {
  lists: ListToValidate<Family>[];
  /** When given, a retry with the same claim returns the first result and writes nothing. */
  idempotency?: IdempotencyClaim | null;
}

export type StoredByFamily = { [F in Family]: Stored<RowsByFamily[F][number]>[] };

const countOf = (stored: StoredByFamily) => FAMILIES.reduce((sum, family) => sum + stored[family].length, 0);
const emptyStored = (): StoredByFamily => ({
  activities: [],
  systemMetrics: [],
  applicationMetrics: [],
  userMetrics: [],
  performanceMetrics: [],
});

const METRIC_KIND = {
  systemMetrics: 'SYSTEM',
  applicationMetrics: 'APPLICATION',
  userMetrics: 'USER',
  performanceMetrics: 'PERFORMANCE',
} as const;

/**
 * Validates a whole request, writes it in one transaction (one bulk statement per table), and only after the
 * commit publishes it for live subscribers. Jobs write through here too, so everything written is published.
 */
export class Ingestor {
  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
    private readonly maxItems: number,
  ) {}

  async ingest(request: IngestRequest): Promise<{ count: number; stored: StoredByFamily; replayed: boolean }> {
    const receivedAt = new Date();
    const rows = validateLists(request.lists, { receivedAt, maxItems: this.maxItems });
    const claim = request.idempotency ?? null;
    const tables = FAMILIES.filter((family) => rows[family].length > 0);
    const writeAll = async (target: Queryable) => {
      const stored = emptyStored();
      for (const family of tables) {
        (stored as Record<Family, unknown>)[family] = await insertRows(target, family, rows[family], receivedAt);
      }
      return stored;
    };
    if (!claim && tables.length <= 1) {
      // One table and no idempotency claim: its one INSERT is atomic by itself, so the common single-table write
      // skips the BEGIN and COMMIT round trips.
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
    if (stored.activities.length > 0) this.bus.publish('activities.recorded', { records: stored.activities });
    for (const family of ['systemMetrics', 'applicationMetrics', 'userMetrics', 'performanceMetrics'] as const) {
      if (stored[family].length === 0) continue;
      this.bus.publish('metrics.recorded', { kind: METRIC_KIND[family], records: stored[family] } as never);
    }
  }
}
