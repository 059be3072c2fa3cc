import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  at: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** Status the client received, or 'dropped' when the connection was cut without an answer. */
  answered: number | 'dropped';
}

/**
 * What the proxy does with the next request: pass it on; pass it on and cut the connection instead of answering
 * (the request is stored, the answer lost); or answer it itself without passing it on.
 */
export type ProxyAction = 'forward' | 'forwardThenDrop' | { status: number; headers?: Record<string, string>; body?: string };

/**
 * A real HTTP server in front of a real Insights server that records every request and can lose an answer on
 * demand, so tests see exactly what a client sent, and when.
 */
export class RecordingProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly server: http.Server;
  private readonly actions: ProxyAction[] = [];

  constructor(private readonly upstream: () => string) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Queues actions for the next requests (then 'forward' again). */
  plan(...actions: ProxyAction[]): void {
    this.actions.push(...actions);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const entry: ProxiedRequest = { at: Date.now(), body, headers: req.headers, answered: 'dropped' };
    this.requests.push(entry);
    const action = this.actions.shift() ?? 'forward';
    if (typeof action === 'object') {
      entry.answered = action.status;
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers }).end(action.body ?? '{}');
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter((pair): pair is [string, string] => typeof pair[1] === 'string' && !['host', 'content-length', 'connection'].includes(pair[0])),
    );
    try {
      const response = await fetch(`${this.upstream()}${req.url ?? '/'}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
      const text = await response.text();
      if (action === 'forwardThenDrop') {
        req.socket.destroy();
        return;
      }
      entry.answered = response.status;
      const passed = Object.fromEntries([...response.headers].filter(([name]) => !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name)));
      res.writeHead(response.status, passed).end(text);
    } catch {
      // The upstream is down: the client sees a cut connection, as it would without the proxy.
      req.socket.destroy();
    }
  }
}
