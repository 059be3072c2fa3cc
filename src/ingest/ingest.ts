import type { Database } from '../db/database.js';
import type { EventBus } from '../realtime/pubsub.js';
import type { Family, RowsByFamily, Stored } from './families.js';
import { FAMILIES } from './families.js';
import { insertRows } from './bulkWriter.js';
import { validateLists, type ListToValidate } from './validation.js';

export interface IngestRequest {
  lists: ListToValidate<Family>[];
}

export type StoredByFamily = { [F in Family]: Stored<RowsByFamily[F][number]>[] };

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

  async ingest(request: IngestRequest): Promise<{ count: number; stored: StoredByFamily }> {
    const rows = validateLists(request.lists, { receivedAt: new Date(), maxItems: this.maxItems });
    const stored = await this.db.transaction(async (tx) => {
      const result = {} as StoredByFamily;
      for (const family of FAMILIES) {
        (result as Record<Family, unknown>)[family] = await insertRows(tx, family, rows[family]);
      }
      return result;
    });
    await this.publish(stored);
    const count = FAMILIES.reduce((sum, family) => sum + stored[family].length, 0);
    return { count, stored };
  }

  private async publish(stored: StoredByFamily): Promise<void> {
    const publications: Promise<void>[] = [];
    if (stored.activities.length > 0) {
      publications.push(this.bus.publish('activities.recorded', { records: stored.activities }));
    }
    for (const family of ['systemMetrics', 'applicationMetrics', 'userMetrics', 'performanceMetrics'] as const) {
      if (stored[family].length === 0) continue;
      publications.push(
        this.bus.publish('metrics.recorded', { kind: METRIC_KIND[family], records: stored[family] } as never),
      );
    }
    await Promise.all(publications);
  }
}
