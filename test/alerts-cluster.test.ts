import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseTime, recordSystem, startReceiver, type Receiver } from './support/alerts.js';
import { REDIS_URL } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';
import { connectSubscriptions, liveSubscribers } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

// Two instances on one PostgreSQL (and one Redis): every tick is attempted by both, as their timers would; the
// notification log in the database makes each step one notification, not two, and alert events reach the
// subscribers of both instances.

const S = 1000;

/**
 * Through `server`'s API: a webhook channel `<name>-hook` to the receiver's `/<name>`, and a rule `<name>_cpu > 80`
 * (window 1m, no group wait) that notifies it.
 */
async function webhookRule(server: TestServer, receiver: Receiver, name: string, forDuration: string): Promise<void> {
  await server.query(`mutation($input: AlertChannelInput!) { createAlertChannel(input: $input) { id } }` as never, {
    input: { name: `${name}-hook`, type: 'WEBHOOK', config: { url: `${receiver.url}/${name}` } },
  } as never);
  await server.query(`mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }` as never, {
    input: { name: `${name}_cpu`, condition: `${name}_cpu > 80`, window: '1m', for: forDuration, groupWait: '0s', groupInterval: '30s', channels: [`${name}-hook`] },
  } as never);
}

describe('alerting on two instances sharing one database', () => {
  let a: TestServer;
  let b: TestServer;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    const topicPrefix = `alerts-cluster-${randomBytes(4).toString('hex')}:`;
    const env = { INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: 'true', REDIS_URL };
    a = await startTestServer('postgres', { label: 'alerts_cluster', env, appOptions: { topicPrefix } });
    b = await startTestServer('postgres', { label: 'alerts_cluster_b', env, databaseUrl: a.databaseUrl, appOptions: { topicPrefix } });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.destroy();
    await receiver?.close();
  });

  it('sends one notification per step (firing, resolved), whoever evaluates, and streams events from either instance', async () => {
    const t0 = baseTime();
    await webhookRule(a, receiver, 'cluster', '30s');

    const client = connectSubscriptions(b.url);
    await client.connected;
    const live = liveSubscribers(b);
    const events = client.subscribe<{ alertEvents: { type: string; alert: { ruleName: string } } }>(`subscription { alertEvents { type alert { ruleName } } }`);
    await live.registered(1);

    // Both instances' timers fire every tick; both delivery loops run.
    const tick = async (at: number) => {
      const runs = await Promise.all([a, b].map((server) => server.app.services.scheduler.tick('evaluate-alerts', new Date(at))));
      expect(runs.filter((run) => run !== null), 'one instance runs each tick').toHaveLength(1);
      await Promise.all([a, b].map((server) => server.app.services.alerting.deliverDue(new Date(at))));
    };
    // Evaluators racing on one tick (two instances, or a manual run beside a scheduled one) double nothing either.
    const race = async (at: number) => {
      await Promise.all([a, b].map((server) => server.app.services.alerting.tick(new Date(at))));
      await Promise.all([a, b].map((server) => server.app.services.alerting.deliverDue(new Date(at))));
    };
    const hot = (at: number, value: number) => recordSystem(a, [{ name: 'cluster_cpu', value, at: new Date(at), tags: { host: 'web-1' } }]);

    await hot(t0 - S, 95);
    await tick(t0); // PENDING
    await hot(t0 + 14 * S, 95);
    await tick(t0 + 15 * S);
    await hot(t0 + 29 * S, 95);
    await race(t0 + 30 * S); // FIRING: notified once
    await hot(t0 + 44 * S, 95);
    await tick(t0 + 45 * S);
    await race(t0 + 60 * S);
    expect(receiver.to('/cluster').map((r) => (r.body as { kind: string }).kind)).toEqual(['FIRING']);

    await hot(t0 + 74 * S, 10);
    await race(t0 + 75 * S); // RESOLVED, announced at the next flush
    await hot(t0 + 89 * S, 10);
    await tick(t0 + 90 * S);
    await race(t0 + 105 * S);
    await tick(t0 + 120 * S);
    expect(receiver.to('/cluster').map((r) => (r.body as { kind: string }).kind)).toEqual(['FIRING', 'RESOLVED']);

    // Events evaluated on either instance reached B's subscriber, once each.
    await events.waitFor(3);
    expect(events.events.map((event) => event.alertEvents.type)).toEqual(['PENDING', 'FIRING', 'RESOLVED']);
    await client.dispose();
  });

  it('never sends a notification twice while its first send is under way, whatever time each instance delivers for', async () => {
    const t0 = baseTime();
    await webhookRule(a, receiver, 'held', '0s');
    await recordSystem(a, [{ name: 'held_cpu', value: 95, at: new Date(t0 - S), tags: { host: 'web-2' } }]);
    const release = receiver.holdNext('/held');
    try {
      await a.app.services.alerting.tick(new Date(t0));
      // Sent for the tick's (past) anchor, by this call or by an instance's own delivery loop; the answer is held.
      const sending = a.app.services.alerting.deliverDue(new Date(t0));
      await waitUntil(() => receiver.to('/held').length === 1, 'the notification being sent');
      // The other instance delivers for a later time (its own tick, or a clock ahead): the send under way is
      // still leased, so nothing is claimed again.
      expect(await b.app.services.alerting.deliverDue(new Date(Date.now() + 3_600_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
      release();
      await sending;
    } finally {
      release();
    }
    expect(receiver.to('/held')).toHaveLength(1);
  });
  it('claims a notification once when two instances claim it at the same time (one statement started before the other committed)', async () => {
    const t0 = baseTime();
    await webhookRule(a, receiver, 'claim', '0s');
    await recordSystem(a, [{ name: 'claim_cpu', value: 95, at: new Date(t0 - S), tags: { host: 'web-3' } }]);
    await a.app.services.alerting.tick(new Date(t0)); // FIRING: one notification queued, not sent yet

    // B's claim statement takes its snapshot, then waits (a statement trigger, before it reads a row) while A claims,
    // sends and records the notification; then B goes on, with a snapshot in which the notification is still due.
    // This is the interleaving a loaded machine produces when both instances claim at once.
    const admin = new pg.Client({ connectionString: a.databaseUrl });
    await admin.connect();
    const gate = 0x616c7274;
    try {
      await admin.query(`CREATE SEQUENCE test_claim_gate`);
      await admin.query(`CREATE FUNCTION test_hold_claim() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_query() LIKE '%alerts.claimNotifications%' AND nextval('test_claim_gate') = 1 THEN
            PERFORM pg_advisory_lock(${gate});
            PERFORM pg_advisory_unlock(${gate});
          END IF;
          RETURN NULL;
        END $$`);
      await admin.query(`CREATE TRIGGER test_hold_claim BEFORE UPDATE ON alert_notifications FOR EACH STATEMENT EXECUTE FUNCTION test_hold_claim()`);
      await admin.query(`SELECT pg_advisory_lock(${gate})`);
      const late = b.app.services.alerting.deliverDue(new Date(t0));
      await waitUntil(
        async () => (await admin.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = ${gate} AND NOT granted`)).rowCount === 1,
        "B's claim waiting after its snapshot",
      );
      await a.app.services.alerting.deliverDue(new Date(t0));
      expect(receiver.to('/claim')).toHaveLength(1);
      await admin.query(`SELECT pg_advisory_unlock(${gate})`);
      expect(await late).toEqual({ sent: 0, retrying: 0, failed: 0 });
    } finally {
      await admin.query(`SELECT pg_advisory_unlock_all()`);
      await admin.query(`DROP TRIGGER IF EXISTS test_hold_claim ON alert_notifications`);
      await admin.query(`DROP FUNCTION IF EXISTS test_hold_claim()`);
      await admin.query(`DROP SEQUENCE IF EXISTS test_claim_gate`);
      await admin.end();
    }
    expect(receiver.to('/claim')).toHaveLength(1);
  });
});

describe('alert delivery leases on two instances', () => {
  let c: TestServer;
  let d: TestServer;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    // A 500 ms attempt timeout makes the lease 6.5 s (3 × timeout + 5 s), renewed every 2.2 s.
    const env = { INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: 'true', INSIGHTS_ALERT_DELIVERY_TIMEOUT_MS: '500' };
    c = await startTestServer('postgres', { label: 'alerts_lease', env });
    d = await startTestServer('postgres', { label: 'alerts_lease_b', env, databaseUrl: c.databaseUrl });
  });
  afterAll(async () => {
    await d?.stop();
    await c?.destroy();
    await receiver?.close();
  });

  it('keeps a claim while its attempt outlasts the lease: the other instance does not send it again', async () => {
    const t0 = baseTime();
    await webhookRule(c, receiver, 'slow', '0s');
    await recordSystem(c, [{ name: 'slow_cpu', value: 95, at: new Date(t0 - S), tags: { host: 'web-4' } }]);
    await c.app.services.alerting.tick(new Date(t0));

    // C's attempt stalls after its claim (reading its channel waits on a table lock: a slow machine or database)
    // for longer than the lease; D delivers meanwhile.
    const locker = new pg.Client({ connectionString: c.databaseUrl });
    const probe = new pg.Client({ connectionString: c.databaseUrl });
    await Promise.all([locker.connect(), probe.connect()]);
    const waitingOnChannels = async () =>
      (await probe.query(`SELECT 1 FROM pg_locks l JOIN pg_class r ON r.oid = l.relation WHERE r.relname = 'alert_channels' AND NOT l.granted`)).rowCount ?? 0;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE alert_channels IN ACCESS EXCLUSIVE MODE');
      const sending = c.app.services.alerting.deliverDue(new Date(t0));
      await waitUntil(async () => (await waitingOnChannels()) === 1, "C's attempt stalled");
      const [{ first }] = (await probe.query<{ first: Date }>(`SELECT lease_expires_at AS first FROM alert_notifications WHERE channel_name = 'slow-hook'`)).rows as [{ first: Date }];
      await waitUntil(async () => (await probe.query(`SELECT 1 WHERE clock_timestamp() > $1::timestamptz + interval '1 second'`, [first])).rowCount === 1, 'the first lease to pass', 15_000);
      let settled = false;
      const other = d.app.services.alerting.deliverDue(new Date(t0 + 60_000)).finally(() => (settled = true));
      // D either finds the claim held (and returns), or claimed it again and stalls on the channel too.
      await waitUntil(async () => settled || (await waitingOnChannels()) === 2, "D's delivery");
      await locker.query('COMMIT');
      expect(await sending).toEqual({ sent: 1, retrying: 0, failed: 0 });
      expect(await other).toEqual({ sent: 0, retrying: 0, failed: 0 });
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await Promise.all([locker.end(), probe.end()]);
    }
    expect(receiver.to('/slow')).toHaveLength(1);
  }, 30_000);
});
