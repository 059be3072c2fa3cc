import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createInsightsClient, withInsights } from '../src/client/index.js';
import { fixed, integer, percentile, table } from './format.js';

/**
 * What `insights/client` costs the service that uses it, and what one client can push.
 *
 * Overhead: two identical Node.js servers in this process answer the same trivial request; one is wrapped in the
 * middleware (reporting to the real service), the other not. Requests alternate between them in blocks, one at a
 * time over keep-alive connections, so both see the same machine load; the difference in p50/p99 latency and in
 * CPU time per request (this process: load generator + server + middleware + client) is the middleware's cost.
 *
 * Throughput: one client records system metrics as fast as its buffer takes them (the producer yields whenever the
 * buffer is 80 % full, so nothing is dropped) and closes; records/s is stored records over the whole time.
 */

export interface ClientBenchmarkOptions {
  url: string;
  apiKey: string;
  requests: number;
  records: number;
  signal: AbortSignal;
  print: (line: string) => void;
}

export interface ClientBenchmarkResult {
  problems: string[];
}

const BLOCK = 100;

function startServer(listener: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(listener);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => {
          server.closeAllConnections();
          return new Promise<void>((done) => server.close(() => done()));
        },
      }),
    ),
  );
}

function get(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, headers: { 'x-user': 'bench-user' } }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    request.once('error', reject);
  });
}

export async function runClientBenchmark(options: ClientBenchmarkOptions): Promise<ClientBenchmarkResult> {
  const { print } = options;
  const problems: string[] = [];
  print(`client: middleware overhead over ${integer(options.requests)} requests each; ingest by one client of ${integer(options.records)} records`);

  const handler: http.RequestListener = (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  };
  const reporting = createInsightsClient({ url: options.url, apiKey: options.apiKey });
  const plain = await startServer(handler);
  const tracked = await startServer(
    withInsights(handler, { client: reporting, getUser: (req) => req.headers['x-user'] as string, route: () => '/api/items/:id' }),
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies = { plain: [] as number[], tracked: [] as number[] };
  const cpu = { plain: 0, tracked: 0 };
  try {
    // Warm-up: JIT, sockets, the client's first batches.
    for (let i = 0; i < 200; i++) {
      await get(agent, `${plain.url}/api/items/${i}`);
      await get(agent, `${tracked.url}/api/items/${i}`);
    }
    await reporting.flush();
    for (let done = 0; done < options.requests; done += BLOCK) {
      if (options.signal.aborted) throw options.signal.reason;
      for (const [name, target] of [['plain', plain], ['tracked', tracked]] as const) {
        const before = process.cpuUsage();
        for (let i = 0; i < BLOCK; i++) {
          const started = performance.now();
          const status = await get(agent, `${target.url}/api/items/${done + i}`);
          latencies[name].push(performance.now() - started);
          if (status !== 200) problems.push(`${name} request answered ${status}`);
        }
        const used = process.cpuUsage(before);
        cpu[name] += used.user + used.system;
      }
    }
    await reporting.close();
  } finally {
    agent.destroy();
    await Promise.all([plain.close(), tracked.close()]);
  }
  const stats = reporting.stats();
  const expected = (options.requests + 200) * 2;
  if (stats.sent !== expected) problems.push(`the middleware's client stored ${stats.sent} records, expected ${expected}`);
  for (const list of Object.values(latencies)) list.sort((a, b) => a - b);
  const row = (name: 'plain' | 'tracked') => [
    name === 'plain' ? 'without middleware' : 'with middleware',
    fixed(percentile(latencies[name], 0.5) * 1000, 0),
    fixed(percentile(latencies[name], 0.99) * 1000, 0),
    fixed(cpu[name] / latencies[name].length, 1),
  ];
  const added = (fraction: number) => (percentile(latencies.tracked, fraction) - percentile(latencies.plain, fraction)) * 1000;
  print(table(['caller side', 'p50 µs', 'p99 µs', 'CPU µs/request'], [row('plain'), row('tracked')]));
  print(
    `added by the middleware: p50 ${fixed(added(0.5), 0)} µs, p99 ${fixed(added(0.99), 0)} µs, ` +
      `CPU ${fixed((cpu.tracked - cpu.plain) / options.requests, 1)} µs/request ` +
      `(a performance record and an activity per request; ${stats.batches} ingest batches)`,
  );

  // Throughput of one client.
  const bufferSize = 20_000;
  const client = createInsightsClient({ url: options.url, apiKey: options.apiKey, maxBufferSize: bufferSize });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < options.records; i++) {
    if (options.signal.aborted) throw options.signal.reason;
    while (client.stats().queued >= bufferSize * 0.8) await nextTurn();
    client.recordSystemMetric({ metricName: 'bench_client', metricType: 'GAUGE', value: i, tags: { host: `h${i % 16}` } });
  }
  await client.close();
  const seconds = (performance.now() - started) / 1000;
  const cpuUsed = process.cpuUsage(cpuBefore);
  const through = client.stats();
  if (through.sent !== options.records || through.dropped !== 0) {
    problems.push(`one client stored ${through.sent} of ${options.records} records (dropped ${through.dropped}, failed ${through.failed})`);
  }
  print(
    `one client through ingest: ${integer(through.sent)} records in ${fixed(seconds, 2)} s = ${integer(through.sent / seconds)} records/s ` +
      `(${through.batches} batches of up to 500, 2 in flight, ${through.retries} retries); ` +
      `the client's own CPU ${fixed((cpuUsed.user + cpuUsed.system) / options.records, 1)} µs/record, so the service sets the pace`,
  );
  return { problems };
}
