import type { Logger } from 'pino';
import type { Authenticator } from '../core/auth.js';

interface Session {
  token: string;
  end: () => void;
}

/**
 * Long-lived connections (WebSockets, SSE streams) are authenticated once, when they open. This re-checks their
 * keys every second (through the authenticator's short cache) and ends the connections of a key that has been
 * revoked or has expired, so a revocation reaches live panels as it reaches requests.
 */
export class LiveSessionGuard {
  private readonly sessions = new Set<Session>();
  private readonly timer: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly authenticator: Authenticator,
    private readonly log: Logger,
    intervalMs = 1_000,
  ) {
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  /** Watches one connection; returns the function to call when it closes. */
  track(token: string, end: () => void): () => void {
    const session: Session = { token, end };
    this.sessions.add(session);
    return () => this.sessions.delete(session);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sessions.clear();
  }

  private async check(): Promise<void> {
    if (this.checking || this.sessions.size === 0) return;
    this.checking = true;
    try {
      const tokens = new Set([...this.sessions].map((session) => session.token));
      for (const token of tokens) {
        const principal = await this.authenticator.authenticate(token).catch(() => undefined);
        // undefined: the database could not say; keep the connection rather than cut it on an outage.
        if (principal !== null) continue;
        for (const session of [...this.sessions]) {
          if (session.token !== token) continue;
          this.sessions.delete(session);
          session.end();
        }
        this.log.info('ended live connections of a revoked or expired API key');
      }
    } finally {
      this.checking = false;
    }
  }
}
