import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseTime, recordPerformance, recordSystem, startReceiver, startSmtp, type MailSink, type Receiver } from './support/alerts.js';
import { BACKENDS, startTestServer, type TestServer } from './support/server.js';

// Alerting end to end over real HTTP: rules over GraphQL, evaluation driven by explicit ticks (the job's fire
// time), notifications to a real HTTP receiver and a real SMTP server, on PostgreSQL and PGlite.

const CREATE_RULE = `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name kind condition family for groupBy channels version } }`;
const CREATE_CHANNEL = `mutation($input: AlertChannelInput!) { createAlertChannel(input: $input) { id name type configured config hasSecret secretFields } }`;
const NOTIFICATIONS = `{ alertNotifications(first: 100) { edges { node { id channel kind status attempts lastError sentAt alerts { id status } attemptLog { attempt succeeded error responseStatus } } } } }`;
const ACTIVE = `{ activeAlerts { id ruleName status severity labels value silenced inhibited acknowledgedAt firedAt startsAt endsAt rule { name } } }`;

const S = 1000;

interface Notification {
  id: string;
  channel: string;
  kind: string;
  status: string;
  attempts: number;
  lastError: string | null;
  alerts: { id: string; status: string }[];
  attemptLog: { attempt: number; succeeded: boolean; error: string | null; responseStatus: number | null }[];
}

async function notifications(server: TestServer): Promise<Notification[]> {
  const data = await server.query<{ alertNotifications: { edges: { node: Notification }[] } }, never>(NOTIFICATIONS as never);
  return data.alertNotifications.edges.map((edge) => edge.node).reverse();
}

async function createRule(server: TestServer, input: Record<string, unknown>) {
  const result = await server.request<{ createAlertRule: { id: string; condition: string } }, unknown>(CREATE_RULE, { input });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.createAlertRule;
}

async function createWebhook(server: TestServer, name: string, url: string, extra: Record<string, unknown> = {}) {
  const result = await server.request<{ createAlertChannel: { id: string } }, unknown>(CREATE_CHANNEL, { input: { name, type: 'WEBHOOK', config: { url, ...extra } } });
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.createAlertChannel;
}

/** One evaluation tick at `at`, then one delivery pass: what the job and the delivery loop do. */
async function step(server: TestServer, at: number) {
  const tick = await server.app.services.alerting.tick(new Date(at));
  const delivered = await server.app.services.alerting.deliverDue(new Date(at));
  return { tick, delivered };
}

describe.each(BACKENDS)('alert lifecycle (%s)', (backend) => {
  let server: TestServer;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startTestServer(backend, { label: 'alerts', env: { INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: 'true' } });
  });
  afterAll(async () => {
    await server?.destroy();
    await receiver?.close();
  });

  it('goes PENDING, then FIRING after `for`, then RESOLVED, with exactly one notification at each step', async () => {
    const t0 = baseTime();
    await createWebhook(server, 'ops-hook', `${receiver.url}/lifecycle`, { secret: 'a-signing-secret' });
    const rule = await createRule(server, {
      name: 'lifecycle_cpu',
      condition: 'avg(lifecycle_cpu[1m]) > 80',
      for: '30s',
      groupWait: '0s',
      groupInterval: '1m',
      repeatInterval: '1h',
      channels: ['ops-hook'],
      annotations: { summary: 'CPU on {{ $labels.host }} is {{ $value }}%' },
    });
    expect(rule.condition).toBe('avg(lifecycle_cpu[1m]) > 80');

    await recordSystem(server, [{ name: 'lifecycle_cpu', value: 50, at: new Date(t0 - 50 * S), tags: { host: 'web-1' } }]);
    await step(server, t0);
    expect((await server.query<{ activeAlerts: unknown[] }, never>(ACTIVE as never)).activeAlerts).toEqual([]);

    await recordSystem(server, [{ name: 'lifecycle_cpu', value: 95, at: new Date(t0 + 5 * S), tags: { host: 'web-1' } }]);
    await step(server, t0 + 15 * S);
    let active = (await server.query<{ activeAlerts: { status: string; labels: Record<string, string>; value: number }[] }, never>(ACTIVE as never)).activeAlerts;
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ status: 'PENDING', labels: { host: 'web-1', alertname: 'lifecycle_cpu', severity: 'WARNING' } });
    expect(receiver.to('/lifecycle')).toHaveLength(0);

    await recordSystem(server, [{ name: 'lifecycle_cpu', value: 97, at: new Date(t0 + 35 * S), tags: { host: 'web-1' } }]);
    await step(server, t0 + 30 * S); // 15 s pending: not yet
    expect(receiver.to('/lifecycle')).toHaveLength(0);
    await step(server, t0 + 45 * S); // 30 s: fires, and groupWait 0s flushes at once
    active = (await server.query<{ activeAlerts: { status: string; labels: Record<string, string>; value: number }[] }, never>(ACTIVE as never)).activeAlerts;
    expect(active[0]!.status).toBe('FIRING');
    expect(receiver.to('/lifecycle')).toHaveLength(1);
    const fired = receiver.to('/lifecycle')[0]!;
    const body = fired.body as { kind: string; status: string; alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[] };
    expect(body).toMatchObject({ kind: 'FIRING', status: 'firing', receiver: 'ops-hook', groupLabels: { alertname: 'lifecycle_cpu' } });
    expect(body.alerts[0]!.annotations.summary).toBe('CPU on web-1 is 96%');
    // The signature is HMAC-SHA256 of "<timestamp>.<body>" with the channel's secret.
    const signature = String(fired.headers['x-insights-signature']);
    const timestamp = String(fired.headers['x-insights-timestamp']);
    expect(signature).toBe(`t=${timestamp},v1=${createHmac('sha256', 'a-signing-secret').update(`${timestamp}.${fired.raw}`).digest('hex')}`);

    // Still firing: nothing new before the group interval, nor after it (no change, repeat interval not reached).
    await step(server, t0 + 60 * S);
    await step(server, t0 + 120 * S);
    expect(receiver.to('/lifecycle')).toHaveLength(1);

    // Recovery: one resolved notification.
    await recordSystem(server, [{ name: 'lifecycle_cpu', value: 10, at: new Date(t0 + 170 * S), tags: { host: 'web-1' } }]);
    await recordSystem(server, [{ name: 'lifecycle_cpu', value: 10, at: new Date(t0 + 200 * S), tags: { host: 'web-1' } }]);
    await step(server, t0 + 240 * S);
    await step(server, t0 + 300 * S);
    await step(server, t0 + 360 * S);
    const sent = receiver.to('/lifecycle');
    expect(sent.map((request) => (request.body as { kind: string }).kind)).toEqual(['FIRING', 'RESOLVED']);
    expect((sent[1]!.body as { status: string; alerts: { status: string }[] }).alerts.map((alert) => alert.status)).toEqual(['resolved']);
    expect((await server.query<{ activeAlerts: unknown[] }, never>(ACTIVE as never)).activeAlerts).toEqual([]);
    const log = (await notifications(server)).filter((n) => n.channel === 'ops-hook');
    expect(log.map((n) => [n.kind, n.status, n.attempts])).toEqual([
      ['FIRING', 'SENT', 1],
      ['RESOLVED', 'SENT', 1],
    ]);
  });

  it('reminds only at repeatInterval, and a silence or an acknowledgement stops notifications and reminders', async () => {
    const t0 = baseTime();
    await createWebhook(server, 'remind-hook', `${receiver.url}/remind`);
    await createRule(server, {
      name: 'remind_load',
      condition: 'remind_load > 1',
      groupBy: ['host'],
      groupWait: '0s',
      groupInterval: '1m',
      repeatInterval: '5m',
      channels: ['remind-hook'],
    });
    const hot = (at: number, host = 'db-1') => recordSystem(server, [{ name: 'remind_load', value: 5, at: new Date(at), tags: { host } }]);
    const kinds = () => receiver.to('/remind').map((request) => (request.body as { kind: string }).kind);
    for (let at = t0; at <= t0 + 4 * 60 * S; at += 60 * S) {
      await hot(at - S);
      await step(server, at);
    }
    expect(kinds()).toEqual(['FIRING']); // 4 minutes of firing: no reminder yet
    for (let at = t0 + 5 * 60 * S; at <= t0 + 6 * 60 * S; at += 60 * S) {
      await hot(at - S);
      await step(server, at);
    }
    expect(kinds()).toEqual(['FIRING', 'REMINDER']); // at 5 minutes, once

    // Acknowledged: no reminder at the next repeat interval.
    const [alert] = (await server.query<{ activeAlerts: { id: string; ruleName: string }[] }, never>(ACTIVE as never)).activeAlerts.filter((a) => a.ruleName === 'remind_load');
    const ack = await server.request<{ acknowledgeAlert: { acknowledgedAt: string | null; acknowledgement: string } }, unknown>(
      `mutation($id: ID!) { acknowledgeAlert(id: $id, comment: "on it") { acknowledgedAt acknowledgement } }`,
      { id: alert!.id },
    );
    expect(ack.data?.acknowledgeAlert).toMatchObject({ acknowledgement: 'on it' });
    for (let at = t0 + 7 * 60 * S; at <= t0 + 12 * 60 * S; at += 60 * S) {
      await hot(at - S);
      await step(server, at);
    }
    expect(kinds()).toEqual(['FIRING', 'REMINDER']);

    // A silence on a second host: its alert fires but is not notified.
    const silence = await server.request<{ createSilence: { id: string; status: string } }, unknown>(
      `mutation($input: AlertSilenceInput!) { createSilence(input: $input) { id status } }`,
      {
        input: {
          matchers: [{ label: 'alertname', value: 'remind_load' }, { label: 'host', op: 'REGEX', value: 'db-[2-9]' }],
          // Ticks here are an hour in the past: silences apply at the tick's time.
          startsAt: new Date(t0).toISOString(),
          endsAt: new Date(Date.now() + 3_600_000).toISOString(),
          comment: 'maintenance of db-2',
        },
      },
    );
    expect(silence.data?.createSilence.status).toBe('ACTIVE');
    for (let at = t0 + 13 * 60 * S; at <= t0 + 16 * 60 * S; at += 60 * S) {
      await hot(at - S);
      await hot(at - S, 'db-2');
      await step(server, at);
    }
    expect(kinds()).toEqual(['FIRING', 'REMINDER']);
    const active = (await server.query<{ activeAlerts: { ruleName: string; labels: Record<string, string>; silenced: boolean; status: string }[] }, never>(ACTIVE as never)).activeAlerts.filter(
      (a) => a.ruleName === 'remind_load',
    );
    expect(active.map((a) => [a.labels.host, a.status, a.silenced]).sort()).toEqual([
      ['db-1', 'FIRING', false],
      ['db-2', 'FIRING', true],
    ]);

    // Expiring the silence (now) makes db-2 news at the next flush after now.
    const expired = await server.request<{ expireSilence: { status: string } }, unknown>(`mutation($id: ID!) { expireSilence(id: $id) { status } }`, { id: silence.data!.createSilence.id });
    expect(expired.data?.expireSilence.status).toBe('EXPIRED');
    const later = Math.ceil((Date.now() + 60 * S) / (60 * S)) * 60 * S;
    await hot(later - S, 'db-2');
    await hot(later - S);
    await step(server, later);
    expect(kinds()).toEqual(['FIRING', 'REMINDER', 'FIRING']);
    const last = receiver.to('/remind').at(-1)!.body as { alerts: { labels: Record<string, string> }[] };
    expect(last.alerts.map((a) => a.labels.host)).toEqual(['db-2']); // db-1 is acknowledged: left out
  });

  it('inhibits the WARNING alert of a series while the CRITICAL one of the same series fires', async () => {
    const t0 = baseTime();
    await createWebhook(server, 'inhibit-hook', `${receiver.url}/inhibit`);
    const common = { groupWait: '0s', groupInterval: '1m', channels: ['inhibit-hook'] };
    await createRule(server, { ...common, name: 'inhibit_cpu_warning', condition: 'inhibit_cpu > 80', severity: 'WARNING' });
    await createRule(server, { ...common, name: 'inhibit_cpu_critical', condition: 'inhibit_cpu > 90', severity: 'CRITICAL' });
    await recordSystem(server, [
      { name: 'inhibit_cpu', value: 95, at: new Date(t0 - S), tags: { host: 'web-1' } },
      { name: 'inhibit_cpu', value: 85, at: new Date(t0 - S), tags: { host: 'web-2' } },
    ]);
    await step(server, t0);
    const sent = receiver.to('/inhibit').map((request) => request.body as { rule: { name: string }; alerts: { labels: Record<string, string> }[] });
    // web-1: critical fires and inhibits its warning; web-2: only the warning fires, and is notified.
    expect(sent.map((body) => [body.rule.name, body.alerts.map((a) => a.labels.host)]).sort()).toEqual([
      ['inhibit_cpu_critical', ['web-1']],
      ['inhibit_cpu_warning', ['web-2']],
    ]);
    const active = (await server.query<{ activeAlerts: { ruleName: string; labels: Record<string, string>; inhibited: boolean }[] }, never>(ACTIVE as never)).activeAlerts.filter((a) =>
      a.ruleName.startsWith('inhibit_'),
    );
    expect(active.map((a) => [a.ruleName, a.labels.host, a.inhibited]).sort()).toEqual([
      ['inhibit_cpu_critical', 'web-1', false],
      ['inhibit_cpu_warning', 'web-1', true],
      ['inhibit_cpu_warning', 'web-2', false],
    ]);
  });

  it('retries a receiver that fails, delivers once when it recovers, and logs every attempt', async () => {
    const t0 = baseTime();
    await createWebhook(server, 'flaky-hook', `${receiver.url}/flaky`);
    await createWebhook(server, 'steady-hook', `${receiver.url}/steady`);
    await createRule(server, { name: 'flaky_disk', condition: 'max(flaky_disk) >= 90', groupWait: '0s', channels: ['flaky-hook', 'steady-hook'] });
    receiver.failNext('/flaky', [503, 500]);
    await recordSystem(server, [{ name: 'flaky_disk', value: 93, at: new Date(t0 - S), tags: { host: 'web-1' } }]);
    const first = await step(server, t0);
    expect(first.tick.notifications).toBe(2);
    // The failing channel did not hold the other one up.
    expect(receiver.to('/steady')).toHaveLength(1);
    expect(receiver.to('/flaky')).toHaveLength(1);
    // Not due again before its backoff; then a second failure; then success, once.
    await server.app.services.alerting.deliverDue(new Date(t0 + 100));
    expect(receiver.to('/flaky')).toHaveLength(1);
    await server.app.services.alerting.deliverDue(new Date(t0 + 10 * 60 * S));
    await server.app.services.alerting.deliverDue(new Date(t0 + 20 * 60 * S));
    await server.app.services.alerting.deliverDue(new Date(t0 + 30 * 60 * S));
    expect(receiver.to('/flaky')).toHaveLength(3);
    const flaky = (await notifications(server)).filter((n) => n.channel === 'flaky-hook');
    expect(flaky).toHaveLength(1);
    expect(flaky[0]).toMatchObject({ status: 'SENT', attempts: 3, lastError: null });
    expect(flaky[0]!.attemptLog.map((a) => [a.attempt, a.succeeded, a.responseStatus])).toEqual([
      [1, false, 503],
      [2, false, 500],
      [3, true, 200],
    ]);
    expect(flaky[0]!.attemptLog[0]!.error).toMatch(/HTTP 503/);
    // The same notification each time (same id header).
    expect(new Set(receiver.to('/flaky').map((request) => request.headers['x-insights-notification-id'])).size).toBe(1);
  });
});
