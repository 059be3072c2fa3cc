import net from 'node:net';

/**
 * A TCP relay in front of a real server (PostgreSQL in the fault tests). `stop()` closes the listener and
 * destroys every relayed connection at once, like a server crash or a network cut; `start()` listens again on
 * the same port, like the server coming back.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private boundPort = 0;
  /** Connections accepted since creation (both directions of one relay count once). */
  connectionsAccepted = 0;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  get port(): number {
    if (this.boundPort === 0) throw new Error('proxy not started yet');
    return this.boundPort;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  get openConnections(): number {
    return this.sockets.size / 2;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and cuts every relayed connection; resolves once the listener is closed. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private relay(client: net.Socket): void {
    this.connectionsAccepted += 1;
    const upstream = net.connect(this.upstreamPort, this.upstreamHost);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** Rewrites a postgresql:// URL to go through 127.0.0.1:<port> (the proxy). */
export function throughProxy(databaseUrl: string, port: number): string {
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}
