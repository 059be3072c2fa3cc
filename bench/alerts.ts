import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { fixed, integer, percentile, table } from './format.js';
import { createScratchDatabase, postGraphQL, startService, type RunningService, type ScratchDatabase } from './harness.js';

/**
 * Alerting, two figures:
 * - time to notify: from the write of the first sample that crosses a threshold (`for: 0s`, `groupWait: 0s`)
 *   to a real webhook receiver getting the FIRING notification, over several crossings, with the service's own
 *   timers (INSIGHTS_ALERT_EVAL_INTERVAL) and delivery loop. Target: at most the interval + 1 s.
 * - evaluation cost: one evaluate-alerts tick with 1,000 enabled threshold rules over generated data (system and
 *   performance metrics written straight into the tables with generate_series), p95 over several ticks. Target
 *   ≤ 1 s. Baseline measured in the same run: the same 1,000 conditions as one raw SQL statement each, in turn.
 */

export interface AlertsBenchmarkOptions {
  adminUrl: string;
  /** System metric rows generated for the evaluation-cost part (performance rows: a quarter of it). */
  rows: number;
  rules: number;
  crossings: number;
  intervalSeconds: number;
  ticks: number;
  signal: AbortSignal;
  print: (line: string) => void;
}

const TIMEOUT_MS = 120_000;

async function gql<Data>(service: RunningService, query: string, variables: unknown, signal: AbortSignal): Promise<Data> {
  const result = await postGraphQL<Data>(service.graphqlUrl, service.apiKey, JSON.stringify({ query, variables }), signal, TIMEOUT_MS);
  if (typeof result === 'string') throw new Error(result);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as Data;
}

interface Receipt {
  kind: string;
  at: number;
}

async function startReceiver(): Promise<{ url: string; receipts: Receipt[]; close(): Promise<void> }> {
  const receipts: Receipt[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = Date.now();
      try {
        receipts.push({ kind: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { kind: string }).kind, at });
      } catch {
        receipts.push({ kind: 'unreadable', at });
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    receipts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

async function waitFor(condition: () => boolean, what: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20, signal);
  }
}

const RECORD = 'mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }';

async function timeToNotify(options: AlertsBenchmarkOptions, problems: string[]): Promise<void> {
  const { print, signal } = options;
  const receiver = await startReceiver();
  let scratch: ScratchDatabase | undefined;
  let service: RunningService | undefined;
  try {
    scratch = await createScratchDatabase(options.adminUrl);
    service = await startService(scratch.url, {
      env: {
        MONITORING_ENABLED: 'true',
        INSIGHTS_ALERT_EVAL_INTERVAL: `${options.intervalSeconds}s`,
        INSIGHTS_ALERT_ALLOW_PRIVATE_URLS: 'true',
      },
    });
    await gql(service, 'mutation($input: AlertChannelInput!) { createAlertChannel(input: $input) { id } }', { input: { name: 'bench-hook', type: 'WEBHOOK', config: { url: `${receiver.url}/hook` } } }, signal);
    await gql(service, 'mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }', {
      input: { name: 'bench_ttn', condition: 'bench_ttn > 80', window: '10s', for: '0s', groupWait: '0s', groupInterval: '1s', repeatInterval: '1h', channels: ['bench-hook'], groupBy: [] },
    }, signal);
    const write = (value: number) => gql(service!, RECORD, { input: [{ metricName: 'bench_ttn', metricType: 'GAUGE', value, tags: { host: 'bench' } }] }, signal);
    const latencies: number[] = [];
    for (let crossing = 0; crossing < options.crossings; crossing += 1) {
      // Each crossing at a different phase of the evaluation interval.
      await sleep(Math.floor(((crossing * 0.37) % 1) * options.intervalSeconds * 1000), signal);
      const firingBefore = receiver.receipts.filter((r) => r.kind === 'FIRING').length;
      const crossedAt = Date.now();
      await write(95);
      await waitFor(() => receiver.receipts.filter((r) => r.kind === 'FIRING').length > firingBefore, 'the FIRING notification', options.intervalSeconds * 4000 + 10_000, signal);
      latencies.push(receiver.receipts.filter((r) => r.kind === 'FIRING').at(-1)!.at - crossedAt);
      const resolvedBefore = receiver.receipts.filter((r) => r.kind === 'RESOLVED').length;
      await write(10);
      await waitFor(() => receiver.receipts.filter((r) => r.kind === 'RESOLVED').length > resolvedBefore, 'the RESOLVED notification', options.intervalSeconds * 4000 + 10_000, signal);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const target = options.intervalSeconds * 1000 + 1000;
    print(`Time to notify (${options.crossings} crossings, INSIGHTS_ALERT_EVAL_INTERVAL=${options.intervalSeconds}s, for 0s, groupWait 0s; webhook on loopback)`);
    print(
      table(
        ['', 'p50 ms', 'p95 ms', 'max ms', 'target ms'],
        [['sample written → webhook received', integer(percentile(sorted, 0.5)), integer(percentile(sorted, 0.95)), integer(sorted.at(-1) ?? NaN), integer(target)]],
      ),
    );
    print(`  each: ${latencies.map((ms) => integer(ms)).join(', ')} ms (the wait for the next tick is uniform in 0…${options.intervalSeconds}s)`);
    if (percentile(sorted, 0.95) > target) problems.push(`time to notify p95 ${integer(percentile(sorted, 0.95))} ms is above the target ${integer(target)} ms`);
  } finally {
    await service?.stop().catch(() => undefined);
    await scratch?.drop().catch(() => undefined);
    await receiver.close();
  }
}

// ------------------------------------------------------------------------------------- evaluation cost

const METRICS = 50;
const HOSTS = 20;
const ENDPOINTS = 20;

interface RuleSpec {
  input: Record<string, unknown>;
  /** The same condition as one raw SQL statement (the baseline). */
  baseline: { text: string; values: unknown[] };
}

const FUNCTIONS = ['latest', 'avg', 'max', 'min', 'p95'] as const;
const WINDOWS = [60, 300, 900] as const;
const windowText = (seconds: number) => (seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`);

/** 1,000 varied rules: system metrics (functions, windows, host matchers) and performance rules per endpoint. */
function ruleSpecs(count: number, now: Date): RuleSpec[] {
  const specs: RuleSpec[] = [];
  for (let i = 0; i < count; i += 1) {
    if (i % 5 !== 4) {
      const metric = `metric_${i % METRICS}`;
      const fn = FUNCTIONS[i % FUNCTIONS.length]!;
      const window = WINDOWS[Math.floor(i / 7) % WINDOWS.length]!;
      const matcher = i % 3 === 0 ? `{host="host-${i % HOSTS}"}` : i % 3 === 1 ? '{host=~"host-1.*"}' : '';
      const condition = fn === 'latest' ? `${metric}${matcher}[${windowText(window)}] > 99` : `${fn}(${metric}${matcher}[${windowText(window)}]) > 99`;
      const from = new Date(now.getTime() - window * 1000);
      const hostCondition = i % 3 === 0 ? `AND host = 'host-${i % HOSTS}'` : i % 3 === 1 ? `AND host ~ '^(host-1.*)$'` : '';
      const aggregate = fn === 'p95' ? 'percentile_cont(0.95) WITHIN GROUP (ORDER BY value)' : fn === 'latest' ? '(array_agg(value ORDER BY "timestamp" DESC))[1]' : `${fn}(value)`;
      specs.push({
        input: { name: `bench_rule_${i}`, condition, groupBy: ['host'] },
        baseline: {
          text: `SELECT host, ${aggregate} AS v FROM system_metrics WHERE metric_name = $1 AND "timestamp" > $2 AND "timestamp" <= $3 ${hostCondition} GROUP BY host`,
          values: [metric, from, now],
        },
      });
    } else {
      const endpoint = `/api/e${i % ENDPOINTS}`;
      const from = new Date(now.getTime() - 300_000);
      const errorRule = i % 10 === 9;
      specs.push({
        input: {
          name: `bench_rule_${i}`,
          family: 'PERFORMANCE',
          condition: errorRule ? `error_rate{endpoint="${endpoint}"}[5m] > 50` : `p95(responseTimeMs{endpoint="${endpoint}"}[5m]) > 5000`,
        },
        baseline: {
          text: errorRule
            ? `SELECT 100.0 * count(*) FILTER (WHERE status_code >= 500) / NULLIF(count(*), 0) AS v FROM performance_metrics WHERE tags @> $1::jsonb AND "timestamp" > $2 AND "timestamp" <= $3`
            : `SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS v FROM performance_metrics WHERE tags @> $1::jsonb AND "timestamp" > $2 AND "timestamp" <= $3`,
          values: [JSON.stringify({ endpoint }), from, now],
        },
      });
    }
  }
  return specs;
}

async function generateData(databaseUrl: string, rows: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const started = performance.now();
    // One sample per (metric, host) every `step` seconds over the last 24 hours.
    await client.query(
      `/* bench.alertsSystemData */
      INSERT INTO system_metrics (metric_name, metric_type, value, host, tags, "timestamp")
      SELECT 'metric_' || (i % ${METRICS}), 'GAUGE', (random() * 90)::float8, 'host-' || ((i / ${METRICS}) % ${HOSTS}),
             jsonb_build_object('host', 'host-' || ((i / ${METRICS}) % ${HOSTS}), 'environment', 'bench'),
             now() - make_interval(secs => (i / ${METRICS * HOSTS}) * (86400.0 / ($1::float8 / ${METRICS * HOSTS})))
      FROM generate_series(0, $1::int - 1) AS i`,
      [rows],
    );
    const perf = Math.max(1, Math.floor(rows / 4));
    await client.query(
      `/* bench.alertsPerformanceData */
      INSERT INTO performance_metrics (metric_name, metric_type, value, response_time_ms, status_code, tags, "timestamp")
      SELECT 'http_request', 'HISTOGRAM', 1, (50 + random() * 400)::float8, CASE WHEN i % 50 = 0 THEN 503 ELSE 200 END,
             jsonb_build_object('endpoint', '/api/e' || (i % ${ENDPOINTS})), now() - make_interval(secs => i * (86400.0 / $1::float8))
      FROM generate_series(0, $1::int - 1) AS i`,
      [perf],
    );
    await client.query('ANALYZE system_metrics; ANALYZE performance_metrics');
    return performance.now() - started;
  } finally {
    await client.end();
  }
}

async function evaluationCost(options: AlertsBenchmarkOptions, problems: string[]): Promise<void> {
  const { print, signal } = options;
  let scratch: ScratchDatabase | undefined;
  let service: RunningService | undefined;
  try {
    scratch = await createScratchDatabase(options.adminUrl);
    service = await startService(scratch.url, { env: { MONITORING_ENABLED: 'false' } });
    const generationMs = await generateData(scratch.url, options.rows);
    print(`Evaluation cost: ${integer(options.rows)} system + ${integer(Math.floor(options.rows / 4))} performance rows over 24 h (generated in ${fixed(generationMs / 1000, 1)} s), ${integer(options.rules)} enabled rules`);
    const specs = ruleSpecs(options.rules, new Date());
    const createStarted = performance.now();
    for (const spec of specs) {
      await gql(service, 'mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }', { input: { ...spec.input, channels: [] } }, signal);
    }
    print(`  ${integer(specs.length)} rules created over GraphQL in ${fixed((performance.now() - createStarted) / 1000, 1)} s`);

    const durations: number[] = [];
    let result: Record<string, unknown> = {};
    for (let tick = 0; tick <= options.ticks; tick += 1) {
      const data = await gql<{ runJob: { status: string; durationMs: number; result: Record<string, unknown>; error: string | null } }>(
        service,
        'mutation { runJob(name: "evaluate-alerts") { status durationMs result error } }',
        {},
        signal,
      );
      if (data.runJob.status !== 'SUCCEEDED') throw new Error(`evaluate-alerts ${data.runJob.status}: ${data.runJob.error}`);
      if (tick > 0) durations.push(data.runJob.durationMs); // the first tick compiles the rules and warms caches
      result = data.runJob.result;
    }
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    const sweeps: number[] = [];
    try {
      for (let sweep = 0; sweep < 3; sweep += 1) {
        const started = performance.now();
        for (const spec of specs) await client.query(spec.baseline.text, spec.baseline.values);
        sweeps.push(performance.now() - started);
      }
    } finally {
      await client.end();
    }
    const sorted = [...durations].sort((a, b) => a - b);
    const baseline = [...sweeps].sort((a, b) => a - b);
    print(
      table(
        ['one tick, 1,000 rules', 'p50 ms', 'p95 ms', 'max ms', 'queries', 'target ms'],
        [
          ['evaluate-alerts (batched analytics reads)', integer(percentile(sorted, 0.5)), integer(percentile(sorted, 0.95)), integer(sorted.at(-1) ?? NaN), integer(Number(result.queries ?? NaN)), '1,000'],
          ['baseline: one raw SQL scan per rule', integer(percentile(baseline, 0.5)), integer(percentile(baseline, 0.95)), integer(baseline.at(-1) ?? NaN), integer(specs.length), ''],
        ],
      ),
    );
    print(`  ${options.ticks} ticks; last: ${JSON.stringify(result)}`);
    if (percentile(sorted, 0.95) > 1000) problems.push(`evaluation tick p95 ${integer(percentile(sorted, 0.95))} ms is above 1,000 ms`);
  } finally {
    await service?.stop().catch(() => undefined);
    await scratch?.drop().catch(() => undefined);
  }
}

export async function runAlertsBenchmark(options: AlertsBenchmarkOptions): Promise<{ problems: string[] }> {
  const problems: string[] = [];
  await timeToNotify(options, problems);
  options.print('');
  await evaluationCost(options, problems);
  return { problems };
}
