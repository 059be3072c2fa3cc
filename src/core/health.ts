import type { Database } from './db/database.js';
import type { EventBus } from './bus/pubsub.js';

export interface HealthReport {
  status: 'ok' | 'degraded';
  database: { kind: Database['kind']; status: 'ok' | 'unavailable'; error?: string };
  pubsub: ReturnType<EventBus['health']>;
  uptimeSeconds: number;
}

const startedAt = Date.now();

export async function healthReport(db: Database, bus: EventBus, timeoutMs = 2_000): Promise<HealthReport> {
  let database: HealthReport['database'] = { kind: db.kind, status: 'ok' };
  try {
    await Promise.race([
      db.ping(),
      new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } catch (error) {
    database = { kind: db.kind, status: 'unavailable', error: error instanceof Error ? error.message : String(error) };
  }
  const pubsub = bus.health();
  return {
    status: database.status === 'ok' && pubsub.status === 'ok' ? 'ok' : 'degraded',
    database,
    pubsub,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
}
