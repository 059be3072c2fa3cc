import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The fan-out benchmark's baseline: the least a WebSocket server can do to deliver the same events, run as its
 * own process by bench/fanout.ts exactly as the service is (`node --import tsx`), so both get a CPU of their own
 * and neither shares an event loop with the subscribers that measure them.
 *
 * It takes the very request the service gets (the recordSystemMetric mutation over HTTP POST), and for each one
 * writes to every connected socket the message graphql-ws would send for that record: same shape, same bytes,
 * down to a 36-character subscription id per socket. What it leaves out is what the comparison is about:
 * authentication, GraphQL parsing and execution per subscriber, the database, pub/sub and per-subscription
 * buffering. Its first line on stdout is `listening <port>`; it exits when its stdin closes (the benchmark
 * process is gone, however it ended) or on SIGTERM.
 */

interface MetricInput {
  metricName: string;
  value: number;
  timestamp: string;
}

const sockets = new Map<WebSocket, string>();
let nextId = 0;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'POST' || request.url !== '/graphql') return reply(response, 404, { errors: [{ message: 'not found' }] });
  let input: MetricInput;
  try {
    const body = JSON.parse(await readBody(request)) as { variables?: { input?: MetricInput } };
    if (!body.variables?.input) throw new Error('variables.input is missing');
    input = body.variables.input;
  } catch (error) {
    return reply(response, 400, { errors: [{ message: error instanceof Error ? error.message : String(error) }] });
  }
  nextId += 1;
  const record = { id: String(nextId), metricName: input.metricName, value: input.value, timestamp: input.timestamp };
  // Serialised once; only the envelope differs per socket, so each socket costs one concatenation and one write,
  // the floor for any server that tells subscriptions apart by id as graphql-transport-ws does.
  const payload = JSON.stringify({ data: { metricRecorded: record } });
  for (const [socket, subscriptionId] of sockets) {
    socket.send(`{"id":"${subscriptionId}","type":"next","payload":${payload}}`);
  }
  // Like the service, which publishes after the commit and before it answers.
  reply(response, 200, { data: { recordSystemMetric: { id: record.id } } });
}

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    if (!response.headersSent) reply(response, 500, { errors: [{ message: String(error) }] });
  });
});
// Same construction as the service's socket server (src/http/websocket.ts): on the HTTP server, at /graphql,
// with ws's defaults (no permessage-deflate on the server side).
const wss = new WebSocketServer({ server, path: '/graphql' });
wss.on('connection', (socket) => {
  sockets.set(socket, randomUUID());
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => sockets.delete(socket));
});

function shutdown(): void {
  for (const socket of sockets.keys()) socket.terminate();
  wss.close();
  server.close();
  // Nothing to flush or save; do not wait for keep-alive connections to time out.
  process.exit(0);
}
process.on('SIGTERM', shutdown);
// A terminal Ctrl-C reaches the whole process group; the benchmark decides when this process ends.
process.on('SIGINT', () => undefined);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
