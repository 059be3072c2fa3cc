/**
 * Two instances on one PostgreSQL and one Redis: the same period asked for on both at once (API and schedule
 * alike) is generated once, and reportReady reaches subscribers of both instances, once each.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../src/core/db/sql.js';
import { REDIS_URL } from './support/databases.js';
import { generate, seedReportDay, settled } from './support/reports.js';
import { connectSubscriptions, liveSubscribers, settle } from './support/subscriptions.js';
import { startTestServer, type TestServer } from './support/server.js';

describe('reports across two instances', () => {
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    const topicPrefix = `reports-cluster-${randomBytes(4).toString('hex')}:`;
    a = await startTestServer('postgres', { label: 'reports_cluster', env: { REDIS_URL }, appOptions: { topicPrefix } });
    b = await startTestServer('postgres', { label: 'reports_cluster', databaseUrl: a.databaseUrl, env: { REDIS_URL }, appOptions: { topicPrefix } });
    await seedReportDay(a);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.destroy();
  });

  it('generates one report per period, once, however many instances and ticks ask for it', async () => {
    const subscribers = [connectSubscriptions(a.url), connectSubscriptions(b.url)];
    try {
      await Promise.all(subscribers.map((client) => client.connected));
      const live = [a, b].map(liveSubscribers);
      const streams = subscribers.map((client) => client.subscribe<{ reportReady: { id: string; status: string } }>('subscription { reportReady { id status } }'));
      await Promise.all(live.map((server) => server.registered(1)));
      const tick = new Date('2024-01-16T00:05:00Z');
      const input = { type: 'DAILY', from: '2024-01-15T10:00:00Z', timeZone: 'UTC' };
      const [fromA, fromB, runA, runB] = await Promise.all([
        generate(a, input),
        generate(b, input),
        a.app.services.scheduler.tick('report-daily', tick),
        b.app.services.scheduler.tick('report-daily', tick),
      ]);
      expect(fromB.id).toBe(fromA.id);
      // One instance claimed the tick; the other saw it taken.
      expect([runA, runB].filter((run) => run !== null)).toHaveLength(1);
      const ran = (runA ?? runB)!;
      expect(ran.result).toMatchObject({ reportId: fromA.id, status: 'READY' });

      const report = await settled(a, fromA.id);
      expect(report.status).toBe('READY');
      expect(report.attempts).toBe(1);
      const [rows] = await a.app.services.db.query<{ reports: number; artifacts: number }>(sql`
        SELECT (SELECT count(*) FROM reports)::int AS reports, (SELECT count(*) FROM report_artifacts)::int AS artifacts`);
      expect(rows).toEqual({ reports: 1, artifacts: 3 });

      for (const stream of streams) {
        const [event] = await stream.waitFor(1);
        expect(event!.reportReady).toEqual({ id: fromA.id, status: 'READY' });
      }
      await settle(300);
      expect(streams.map((stream) => stream.events.length)).toEqual([1, 1]);
    } finally {
      await Promise.all(subscribers.map((client) => client.dispose()));
    }
  });
});
