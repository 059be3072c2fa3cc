import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import type { Output } from '../src/core/cli.js';
import { baseTime, recordPerformance, recordSystem, startReceiver, startSmtp, type MailSink, type Receiver } from './support/alerts.js';
import { startTestServer, type TestServer } from './support/server.js';
import { connectSubscriptions, liveSubscribers } from './support/subscriptions.js';

// The alerting API as a caller meets it: the condition grammar through createAlertRule, defaults from the
// environment, channels (SSRF, secrets, each type's payload), live events, and the operator commands.

const S = 1000;
const CREATE_RULE = `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id name kind condition family groupBy channels for severity } }`;
const CREATE_CHANNEL = `mutation($input: AlertChannelInput!) { createAlertChannel(input: $input) { id name type configured config hasSecret secretFields } }`;
const TEST_CHANNEL = `mutation($id: ID!) { testAlertChannel(id: $id) { id kind status lastError attempts attemptLog { succeeded error } } }`;
const RULES = `{ alertRules { id name condition for severity channels groupBy family health { state } } }`;

function capture(): Output & { stdout: string; stderr: string } {
  const output = { stdout: '', stderr: '', isTTY: false, columns: 120, out: (t: string) => void (output.stdout += t), err: (t: string) => void (output.stderr += t) };
  return output;
}

describe('alerting API (postgres)', () => {
  let server: TestServer;
  let receiver: Receiver;
  let smtp: MailSink;
  let env: Record<string, string>;
  beforeAll(async () => {
    receiver = await startReceiver();
    smtp = await startSmtp();
    env = {
      INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: 'true',
      SMTP_URL: smtp.url,
      ALERT_EMAIL_RECIPIENTS: 'ops@example.com,oncall@example.com',
      ALERT_EMAIL_FROM: 'Insights <alerts@example.com>',
      SLACK_WEBHOOK_URL: `${receiver.url}/slack/services/T000/B000/XXXXSECRET`,
      SMS_WEBHOOK_URL: `${receiver.url}/sms`,
      SMS_RECIPIENTS: '+33612345678, +15551234567',
      CPU_WARNING_THRESHOLD: '75',
    };
    server = await startTestServer('postgres', { label: 'alerts_api', env });
  });
  afterAll(async () => {
    await server?.destroy();
    await receiver?.close();
    await smtp?.close();
  });

  it('parses every form of the condition grammar, and refuses malformed text naming the position, writing nothing', async () => {
    const forms: [string, Record<string, unknown>, string][] = [
      ['cpu_usage > 80', {}, 'SYSTEM'],
      ['avg(cpu_usage[5m]) > 80', {}, 'SYSTEM'],
      ['max(disk_usage{mount="/"}) >= 90', {}, 'SYSTEM'],
      ['p95(responseTimeMs{endpoint="/api/orders"}[5m]) > 1000', { family: 'PERFORMANCE' }, 'PERFORMANCE'],
      ['error_rate > 5', { family: 'PERFORMANCE' }, 'PERFORMANCE'],
      ['rate(page_views{app="shop"}[10m]) < 0.5', { family: 'APPLICATION' }, 'APPLICATION'],
      ['count(activity{activityType="login"}[15m]) == 0', { family: 'ACTIVITY' }, 'ACTIVITY'],
      ['anomaly(avg(cpu_usage[5m]), model=ewma, baseline=1d)', {}, 'SYSTEM'],
    ];
    for (const [index, [condition, extra, family]] of forms.entries()) {
      const result = await server.request<{ createAlertRule: { condition: string; kind: string; family: string } }, unknown>(CREATE_RULE, {
        input: { name: `grammar_${index}`, condition, enabled: false, ...extra },
      });
      expect(result.errors, `${condition}: ${JSON.stringify(result.errors)}`).toBeUndefined();
      expect(result.data!.createAlertRule.family).toBe(family);
      if (index < 7) expect(result.data!.createAlertRule).toMatchObject({ condition, kind: 'THRESHOLD' });
      else expect(result.data!.createAlertRule).toMatchObject({ kind: 'ANOMALY', condition: 'anomaly(avg(cpu_usage[5m]), model=ewma, alpha=0.05, baseline=1d, threshold=3, direction=both, seasonality=none, min_points=20)' });
    }

    const before = (await server.query<{ alertRules: unknown[] }, never>(RULES as never)).alertRules.length;
    const bad: [Record<string, unknown>, string, RegExp, number | null][] = [
      [{ condition: 'cpu_usage = 80' }, 'input.condition', /at column 11: .*write == to test equality/, 11],
      [{ condition: 'avg(cpu_usage[5m] > 80' }, 'input.condition', /at column 19: expected "\)"/, 19],
      [{ condition: 'p75(responseTimeMs[5m]) > 1', family: 'PERFORMANCE' }, 'input.condition', /p50, p90, p95 and p99/, null],
      [{ condition: 'cpu_usage > 80', channels: ['nowhere'] }, 'input.channels[0]', /no channel is called "nowhere"/, null],
      [{ condition: 'cpu_usage > 80', for: '5 minutes' }, 'input.for', /must be a duration/, null],
      [{ condition: 'cpu_usage > 80', annotations: { summary: 'at {{ $valeu }}' } }, 'input.annotations.summary', /unknown placeholder/, null],
    ];
    for (const [input, path, message, column] of bad) {
      const result = await server.request<unknown, unknown>(CREATE_RULE, { input: { name: 'bad_rule', ...input } });
      const error = result.errors![0]!;
      expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      const issues = error.extensions?.issues as { path: string; message: string; position?: { column: number } }[];
      expect(issues.map((entry) => entry.path)).toContain(path);
      const found = issues.find((entry) => entry.path === path)!;
      expect(found.message).toMatch(message);
      if (column !== null) expect(found.position?.column).toBe(column);
    }
    expect((await server.query<{ alertRules: unknown[] }, never>(RULES as never)).alertRules).toHaveLength(before);
  });

  it('creates the default rules from the environment once, and never overwrites them later', async () => {
    const rules = (await server.query<{ alertRules: { id: string; name: string; condition: string; for: string; severity: string; channels: string[] }[] }, never>(RULES as never)).alertRules;
    const defaults = Object.fromEntries(rules.filter((rule) => !rule.name.startsWith('grammar_')).map((rule) => [rule.name, rule]));
    expect(defaults.high_cpu_usage).toMatchObject({ condition: 'cpu_usage > 75', for: '5m', severity: 'WARNING', channels: ['email', 'slack'] });
    expect(defaults.critical_cpu_usage).toMatchObject({ condition: 'cpu_usage > 90', for: '5m', severity: 'CRITICAL', channels: ['email', 'slack'] });
    expect(defaults.high_error_rate).toMatchObject({ condition: 'error_rate > 5', for: '2m', severity: 'CRITICAL', channels: ['email', 'slack', 'sms'] });
    expect(defaults.disk_space_low).toMatchObject({ condition: 'disk_usage > 90', for: '1m', severity: 'CRITICAL', channels: ['email', 'slack'] });
    expect(defaults.slow_responses).toMatchObject({ condition: 'p95(responseTimeMs[5m]) > 1000', for: '5m', severity: 'WARNING', channels: ['email', 'slack'] });

    await server.query(`mutation($id: ID!) { deleteAlertRule(id: $id) { id } }` as never, { id: defaults.disk_space_low!.id } as never);
    await server.query(`mutation($id: ID!) { updateAlertRule(id: $id, input: { condition: "cpu_usage > 85" }) { id } }` as never, { id: defaults.high_cpu_usage!.id } as never);
    // A second instance starting with other thresholds: nothing is created again or overwritten.
    const other = await startTestServer('postgres', { label: 'alerts_api_2', databaseUrl: server.databaseUrl, env: { ...env, CPU_WARNING_THRESHOLD: '60' } });
    try {
      const after = (await other.query<{ alertRules: { name: string; condition: string }[] }, never>(RULES as never)).alertRules;
      expect(after.find((rule) => rule.name === 'disk_space_low')).toBeUndefined();
      expect(after.find((rule) => rule.name === 'high_cpu_usage')?.condition).toBe('cpu_usage > 85');
    } finally {
      await other.stop();
    }
  });

  it('reports NO_DATA for a metric that has no records yet', async () => {
    const rule = await server.query<{ createAlertRule: { id: string } }, never>(CREATE_RULE as never, { input: { name: 'never_seen', condition: 'never_seen_metric > 1' } } as never);
    await server.app.services.alerting.tick(new Date(baseTime()));
    const read = await server.query<{ alertRule: { health: { state: string } } }, never>(`query($id: ID!) { alertRule(id: $id) { health { state } } }` as never, { id: rule.createAlertRule.id } as never);
    expect(read.alertRule.health.state).toBe('NO_DATA');
  });

  it('fires an ANOMALY rule on a spike against its trailing baseline, and not on ordinary values', async () => {
    const t0 = baseTime();
    const samples = [];
    // Two hours of one sample a minute around 100, then a jump to 160 in the last three minutes.
    for (let minute = 130; minute >= 1; minute -= 1) {
      const value = minute <= 3 ? 160 : 100 + (((minute * 7) % 5) - 2);
      samples.push({ name: 'anomaly_latency', value, at: new Date(t0 - minute * 60 * S + 30 * S) });
    }
    await recordSystem(server, samples);
    const created = await server.query<{ createAlertRule: { id: string; kind: string } }, never>(CREATE_RULE as never, {
      input: { name: 'latency_anomaly', condition: 'anomaly(avg(anomaly_latency[2m]), model=mad, baseline=2h, min_points=20, direction=up)', groupBy: [] },
    } as never);
    expect(created.createAlertRule.kind).toBe('ANOMALY');
    const ALERT = `query($id: ID!) { alertRule(id: $id) { health { state seriesCount } activeAlerts { status value score annotations } } }`;
    await server.app.services.alerting.tick(new Date(t0 - 10 * 60 * S));
    const quiet = await server.query<{ alertRule: { health: { state: string; seriesCount: number }; activeAlerts: unknown[] } }, never>(ALERT as never, { id: created.createAlertRule.id } as never);
    expect(quiet.alertRule.health).toEqual({ state: 'INACTIVE', seriesCount: 1 });
    await server.app.services.alerting.tick(new Date(t0));
    const spiked = await server.query<{ alertRule: { activeAlerts: { status: string; value: number; score: number; annotations: { summary: string } }[] } }, never>(ALERT as never, {
      id: created.createAlertRule.id,
    } as never);
    expect(spiked.alertRule.activeAlerts).toHaveLength(1);
    expect(spiked.alertRule.activeAlerts[0]).toMatchObject({ status: 'FIRING', value: 160 });
    expect(spiked.alertRule.activeAlerts[0]!.score).toBeGreaterThan(3);
    expect(spiked.alertRule.activeAlerts[0]!.annotations.summary).toMatch(/^avg\(anomaly_latency\[2m\]\) is 160, expected about 100(\.\d+)? \(z = [\d.]+\)$/);
  });

  it('refuses URLs that are not http(s) or reach private addresses, at save time and again at send time', async () => {
    const strict = await startTestServer('postgres', { label: 'alerts_ssrf', databaseUrl: server.databaseUrl, env: { ...env, INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: 'false' } });
    try {
      for (const [url, message] of [
        [`${receiver.url}/x`, /127\.0\.0\.1 is a loopback address/],
        ['http://localhost:9/x', /loopback/],
        ['http://[::ffff:127.0.0.1]:9/', /\(127\.0\.0\.1\) is a ipv4Mapped address/],
        ['http://[::1]:9/', /loopback/],
        ['http://169.254.169.254/latest/meta-data', /linkLocal/],
        ['http://10.1.2.3/hook', /private/],
        ['http://[fd00::1]/hook', /uniqueLocal/],
        ['ftp://example.com/hook', /http:\/\/ or https:\/\//],
      ] as const) {
        const result = await strict.request<unknown, unknown>(CREATE_CHANNEL, { input: { name: 'ssrf', type: 'WEBHOOK', config: { url } } });
        expect(result.errors?.[0]?.extensions?.code, url).toBe('BAD_USER_INPUT');
        const issues = result.errors![0]!.extensions!.issues as { path: string; message: string }[];
        expect(issues[0]).toMatchObject({ path: 'input.config.url' });
        expect(issues[0]!.message, url).toMatch(message);
      }
      // Saved where private addresses were allowed; sent where they are not: refused at connection time.
      const channel = await server.query<{ createAlertChannel: { id: string } }, never>(CREATE_CHANNEL as never, {
        input: { name: 'internal-hook', type: 'WEBHOOK', config: { url: `${receiver.url}/internal` } },
      } as never);
      const sent = await strict.query<{ testAlertChannel: { status: string; lastError: string } }, never>(TEST_CHANNEL as never, { id: channel.createAlertChannel.id } as never);
      expect(sent.testAlertChannel.status).toBe('FAILED');
      expect(sent.testAlertChannel.lastError).toMatch(/refused: .*127\.0\.0\.1.* private IP address/);
      expect(receiver.to('/internal')).toHaveLength(0);
    } finally {
      await strict.stop();
    }
  });

  it('stores secrets but never returns them, and keeps them through an update that sends the masked config back', async () => {
    const created = await server.query<{ createAlertChannel: { id: string; config: Record<string, unknown>; hasSecret: boolean; secretFields: string[] } }, never>(CREATE_CHANNEL as never, {
      input: {
        name: 'secret-hook',
        type: 'WEBHOOK',
        config: { url: `${receiver.url}/secret?token=hunter2`, secret: 'signing-secret-123', headers: { Authorization: 'Bearer abc' } },
      },
    } as never);
    const view = created.createAlertChannel;
    expect(view.hasSecret).toBe(true);
    expect(view.secretFields.sort()).toEqual(['headers.Authorization', 'secret', 'url']);
    expect(JSON.stringify(view)).not.toMatch(/hunter2|signing-secret-123|Bearer abc/);
    expect(view.config).toEqual({ url: `${receiver.url}/secret?token=****`, headers: { Authorization: '****' } });
    const listed = await server.query<{ alertChannels: unknown[] }, never>(`{ alertChannels { name config secretFields } }` as never);
    expect(JSON.stringify(listed)).not.toMatch(/hunter2|signing-secret-123|Bearer abc|XXXXSECRET/);
    // The environment's Slack URL carries its token in the path: masked too.
    expect(JSON.stringify(listed)).toContain('/slack/services/****/****/****');

    const updated = await server.request<unknown, unknown>(`mutation($id: ID!, $input: AlertChannelUpdateInput!) { updateAlertChannel(id: $id, input: $input) { name } }`, {
      id: view.id,
      input: { name: 'secret-hook-2', config: view.config },
    });
    expect(updated.errors).toBeUndefined();
    const sent = await server.query<{ testAlertChannel: { status: string } }, never>(TEST_CHANNEL as never, { id: view.id } as never);
    expect(sent.testAlertChannel.status).toBe('SENT');
    const request = receiver.to('/secret').at(-1)!;
    expect(request.path).toBe('/secret?token=hunter2');
    expect(request.headers.authorization).toBe('Bearer abc');
    expect(request.headers['x-insights-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('notifies Slack (Block Kit), e-mail (SMTP) and SMS (one templated request per recipient)', async () => {
    const t0 = baseTime();
    await server.query(CREATE_RULE as never, {
      input: { name: 'all_channels_errors', condition: 'error_rate[1m] > 20', family: 'PERFORMANCE', severity: 'CRITICAL', groupWait: '0s', channels: ['email', 'slack', 'sms'] },
    } as never);
    await recordPerformance(server, [
      { responseTimeMs: 100, statusCode: 200, at: new Date(t0 - 5 * S) },
      { responseTimeMs: 100, statusCode: 503, at: new Date(t0 - 4 * S) },
    ]);
    await server.app.services.alerting.tick(new Date(t0));
    await server.app.services.alerting.deliverDue(new Date(t0));
    const slack = receiver.to('/slack').map((r) => r.body as { text: string; blocks: { type: string }[] });
    const ours = slack.filter((body) => body.text.includes('all_channels_errors'));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.text).toBe('[FIRING:1] all_channels_errors (CRITICAL)');
    expect(ours[0]!.blocks[0]).toMatchObject({ type: 'header' });
    expect(receiver.to('/slack')[0]!.path).toBe('/slack/services/T000/B000/XXXXSECRET');
    const sms = receiver.to('/sms').filter((r) => JSON.stringify(r.body).includes('all_channels_errors'));
    expect(sms.map((r) => (r.body as { to: string }).to).sort()).toEqual(['+15551234567', '+33612345678']);
    expect((sms[0]!.body as { message: string }).message).toMatch(/^\[FIRING:1\] all_channels_errors \(CRITICAL\): error_rate\[1m\] is 50/);
    const mail = smtp.messages.filter((m) => m.raw.includes('all_channels_errors'));
    expect(mail).toHaveLength(1);
    expect(mail[0]!.to.sort()).toEqual(['oncall@example.com', 'ops@example.com']);
    expect(mail[0]!.from).toBe('alerts@example.com');
    expect(mail[0]!.raw).toMatch(/Subject: \[FIRING:1\] all_channels_errors \(CRITICAL\)/);
    // The environment's channels can be tested too.
    const test = await server.query<{ testAlertChannel: { status: string; kind: string } }, never>(TEST_CHANNEL as never, { id: 'environment:email' } as never);
    expect(test.testAlertChannel).toMatchObject({ status: 'SENT', kind: 'TEST' });
  });

  it('streams alertEvents over WebSocket, filtered', async () => {
    const client = connectSubscriptions(server.url);
    try {
      await client.connected;
      const live = liveSubscribers(server);
      const events = client.subscribe<{ alertEvents: { type: string; alert: { ruleName: string; status: string; severity: string } } }>(
        `subscription { alertEvents(filter: { severities: [CRITICAL] }) { type alert { ruleName status severity } } }`,
      );
      await live.registered(1);
      const t0 = baseTime();
      await server.query(CREATE_RULE as never, { input: { name: 'live_critical', condition: 'live_temp > 70', severity: 'CRITICAL' } } as never);
      await server.query(CREATE_RULE as never, { input: { name: 'live_warning', condition: 'live_temp > 60', severity: 'WARNING' } } as never);
      await recordSystem(server, [{ name: 'live_temp', value: 80, at: new Date(t0 - S), tags: { host: 'web-9' } }]);
      await server.app.services.alerting.tick(new Date(t0));
      const [first] = await events.waitFor(1);
      expect(first!.alertEvents).toEqual({ type: 'FIRING', alert: { ruleName: 'live_critical', status: 'FIRING', severity: 'CRITICAL' } });
      const active = await server.query<{ activeAlerts: { id: string; ruleName: string }[] }, never>(`{ activeAlerts { id ruleName } }` as never);
      await server.query(`mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }` as never, { id: active.activeAlerts.find((a) => a.ruleName === 'live_critical')!.id } as never);
      const received = await events.waitFor(2);
      expect(received[1]!.alertEvents.type).toBe('ACKNOWLEDGED');
      expect(events.events.every((event) => event.alertEvents.alert.severity === 'CRITICAL')).toBe(true);
    } finally {
      await client.dispose();
    }
  });

  it('lists active alerts with `insights alerts` and reports alerting in check-monitoring', async () => {
    const cliEnv = { ...env, DATABASE_URL: server.databaseUrl!, LOG_LEVEL: 'silent', SMS_WEBHOOK_URL: '' };
    const alerts = capture();
    expect(await runCli(['alerts'], cliEnv, alerts)).toBe(0);
    expect(alerts.stdout).toMatch(/FIRING\s+CRITICAL\s+live_critical\s+host=web-9\s+80\s+\S+\s+acknowledged/);
    const check = capture();
    await runCli(['check-monitoring', '--json'], cliEnv, check);
    const report = JSON.parse(check.stdout) as { alerts: { firing: number; channels: { name: string; configured: boolean }[] }; notes: string[] };
    expect(report.alerts.firing).toBeGreaterThan(0);
    expect(report.alerts.channels.find((c) => c.name === 'sms')).toMatchObject({ configured: false });
    expect(report.notes.some((note) => /alert channel sms \(SMS\) is not configured \(SMS_WEBHOOK_URL is not set\): skipped by .*high_error_rate/.test(note)), JSON.stringify(report.notes)).toBe(true);
  });
});
