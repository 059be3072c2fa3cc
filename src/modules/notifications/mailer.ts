/**
 * A small SMTP mailer from a connection URL, shared by the modules that send e-mail: the alerting module's
 * EMAIL channel and the reports module. Not a module of its own: a library folder (src/modules/notifications).
 */
import nodemailer, { type SendMailOptions } from 'nodemailer';

export type { SendMailOptions };

export interface SendResult {
  messageId: string;
  /** Recipient addresses the server accepted / rejected. */
  accepted: string[];
  rejected: string[];
  /** The server's last answer, e.g. `250 OK: queued`. */
  response: string;
}

export interface Mailer {
  sendMail(message: SendMailOptions): Promise<SendResult>;
  /** Connects and authenticates, to check the configuration; throws when the server cannot be used. */
  verify(): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  /** Milliseconds to wait for the connection, the greeting, and socket inactivity (default 10 s, 10 s, 30 s). */
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
}

function address(a: unknown): string {
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object' && 'address' in a) return String((a as { address: unknown }).address);
  return String(a);
}

/**
 * An SMTP mailer from a connection URL: `smtp://[user:pass@]host[:port]` (STARTTLS when the server offers
 * it) or `smtps://…` (TLS from the start). Query parameters are nodemailer's (e.g. `?requireTLS=true`).
 */
export function createMailer(smtpUrl: string, options: MailerOptions = {}): Mailer {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    throw new Error('createMailer: the SMTP URL is not a valid URL (expected smtp://host:port or smtps://host:port)');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`createMailer: unsupported protocol ${url.protocol} (expected smtp: or smtps:)`);
  }
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    greetingTimeout: options.greetingTimeoutMs ?? 10_000,
    socketTimeout: options.socketTimeoutMs ?? 30_000,
  });
  return {
    async sendMail(message) {
      const info = await transport.sendMail(message);
      return {
        messageId: info.messageId,
        accepted: (info.accepted ?? []).map(address),
        rejected: (info.rejected ?? []).map(address),
        response: info.response,
      };
    },
    async verify() {
      await transport.verify();
    },
    close() {
      transport.close();
    },
  };
}
