/** Real receivers for the alerting tests: an HTTP server recording every request, and an SMTP server. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { TestServer } from './server.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: unknown;
  at: number;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Requests whose path starts with `path`. */
  to(path: string): ReceivedRequest[];
  /** Status codes answered to the next requests to `path`, in order (then 200). */
  failNext(path: string, statuses: number[]): void;
  /** Holds the answer to the next request to `path` (recorded at once) until the returned function is called. */
  holdNext(path: string): () => void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const failures = new Map<string, number[]>();
  const holds = new Map<string, Promise<void>>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // Not JSON (form-encoded SMS bodies): kept as text.
      }
      const path = req.url ?? '/';
      requests.push({ method: req.method ?? '', path, headers: req.headers, raw, body, at: Date.now() });
      const prefix = [...failures.keys()].find((key) => path.startsWith(key));
      const status = prefix ? failures.get(prefix)!.shift() : undefined;
      const held = [...holds.keys()].find((key) => path.startsWith(key));
      const hold = held ? holds.get(held) : undefined;
      if (held) holds.delete(held);
      void (hold ?? Promise.resolve()).then(() => {
        res.writeHead(status ?? 200, { 'content-type': 'text/plain' });
        res.end(status ? 'receiver failing on purpose' : 'ok');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    to: (path) => requests.filter((request) => request.path.startsWith(path)),
    failNext: (path, statuses) => failures.set(path, [...statuses]),
    holdNext: (path) => {
      let release!: () => void;
      holds.set(path, new Promise<void>((resolve) => (release = resolve)));
      return () => release();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface MailSink {
  url: string;
  messages: { from: string; to: string[]; raw: string }[];
  close(): Promise<void>;
}

export async function startSmtp(): Promise<MailSink> {
  const messages: MailSink['messages'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const RECORD_SYSTEM = `mutation($input: [SystemMetricInput!]!) { recordSystemMetrics(input: $input) { count } }`;
const RECORD_PERFORMANCE = `mutation($input: [PerformanceMetricInput!]!) { recordPerformanceMetrics(input: $input) { count } }`;

/** Writes system metrics through the API: [metricName, value, timestamp, tags]. */
export async function recordSystem(server: TestServer, samples: { name: string; value: number; at: Date; tags?: Record<string, string> }[]): Promise<void> {
  const result = await server.request(RECORD_SYSTEM, {
    input: samples.map((s) => ({ metricName: s.name, metricType: 'GAUGE', value: s.value, timestamp: s.at.toISOString(), tags: s.tags ?? {} })),
  });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
}

export async function recordPerformance(
  server: TestServer,
  samples: { responseTimeMs: number; statusCode: number; at: Date; tags?: Record<string, string> }[],
): Promise<void> {
  const result = await server.request(RECORD_PERFORMANCE, {
    input: samples.map((s) => ({
      metricName: 'http_request',
      metricType: 'HISTOGRAM',
      value: 1,
      responseTimeMs: s.responseTimeMs,
      statusCode: s.statusCode,
      timestamp: s.at.toISOString(),
      tags: s.tags ?? {},
    })),
  });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
}

/** A fixed base instant on a 15 s tick, an hour ago (records may not be stamped in the future). */
export function baseTime(): number {
  return Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
}
