import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** Bytes waiting in the kernel-bound queue of one socket beyond which its writer holds back. */
const HIGH_WATER_BYTES = 1024 * 1024;
/**
 * At most one write per socket per interval: a message after a quiet spell leaves at once, while under a
 * stream of events a panel gets several messages per write. Writes (one system call each) were the largest
 * cost of fan-out: at 200 events/s to 1,000 sockets, one write per message did not fit in a core.
 */
const MIN_FLUSH_INTERVAL_MS = 40;
const CONGESTED_RETRY_MS = 20;
const CLOSING_BRACE = 0x7d;

/** RFC 6455 §5.2 header of one unfragmented, unmasked (server to client) text frame. */
function writeTextFrameHeader(target: Buffer, offset: number, length: number): number {
  target[offset] = 0x81; // FIN + opcode 1 (text)
  if (length < 126) {
    target[offset + 1] = length;
    return offset + 2;
  }
  if (length < 65_536) {
    target[offset + 1] = 126;
    target.writeUInt16BE(length, offset + 2);
    return offset + 4;
  }
  target[offset + 1] = 127;
  target.writeUInt32BE(Math.floor(length / 2 ** 32), offset + 2);
  target.writeUInt32BE(length >>> 0, offset + 6);
  return offset + 10;
}

const headerLength = (length: number) => (length < 126 ? 2 : length < 65_536 ? 4 : 10);

/**
 * Everything the server sends on one graphql-transport-ws socket goes through here, so that messages leave in
 * as few writes as MIN_FLUSH_INTERVAL_MS allows (one system call for several messages; the busier the stream,
 * the more messages share a write), and in the order they were sent.
 *
 * Two kinds of message are queued: graphql-ws's own (socket.send is replaced), and results of shared
 * subscriptions, which arrive already serialised once for all their subscribers (`sendNext`) and are framed
 * here around the subscriber's id, with no JSON work per subscriber. Frames are written to the TCP socket
 * directly: the server never compresses (permessage-deflate is off), so a frame is a header and the bytes.
 *
 * Sends are acknowledged at once while the socket keeps up; once more than HIGH_WATER_BYTES wait for a slow
 * client, nothing more is written and acknowledgements wait too, so graphql-ws stops pulling and the
 * subscriptions' bounded buffers end a client that never reads.
 */
export class SocketWriter {
  /** Frames in order: a prefix (a shared result's envelope for one subscriber) or null, and the bytes. */
  private prefixes: (Buffer | null)[] = [];
  private bodies: Buffer[] = [];
  private pendingBytes = 0;
  private waiting: (() => void)[] = [];
  /** The scheduled flush, if any: a timer, or an immediate after a quiet spell (each has its own clear call). */
  private flushTimer: { timeout: NodeJS.Timeout } | { immediate: NodeJS.Immediate } | null = null;
  private lastFlushAt = 0;
  private readonly tcp: Socket | undefined;
  /** Counts writes to the TCP socket: a frame queued in an earlier generation has left this process. */
  generation = 0;

  constructor(private readonly socket: WebSocket) {
    this.tcp = (socket as unknown as { _socket?: Socket })._socket;
    const close = socket.close.bind(socket);
    socket.send = ((data: unknown, optionsOrCallback?: unknown, maybeCallback?: unknown) => {
      const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as
        | ((error?: Error) => void)
        | undefined;
      this.enqueue(null, typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data as Uint8Array));
      if (!callback) return;
      if (this.congested) this.waiting.push(() => callback());
      else queueMicrotask(() => callback());
    }) as WebSocket['send'];
    // What was sent before a close (the last `complete` or `error`) goes out before the close frame.
    socket.close = ((code?: number, reason?: string | Buffer) => {
      this.flush();
      close(code, reason);
    }) as WebSocket['close'];
  }

  private get congested(): boolean {
    return this.socket.readyState === this.socket.OPEN && this.socket.bufferedAmount > HIGH_WATER_BYTES;
  }

  /**
   * Queues one `next` message whose payload is `payload`, serialised once for every subscriber of a shared
   * subscription; `envelope` is `{"id":"<id>","type":"next","payload":` for this subscriber (envelopeFor).
   */
  sendNext(envelope: Buffer, payload: Buffer): void {
    this.enqueue(envelope, payload);
  }

  private enqueue(prefix: Buffer | null, body: Buffer): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.prefixes.push(prefix);
    this.bodies.push(body);
    const length = prefix ? prefix.length + body.length + 1 : body.length;
    this.pendingBytes += headerLength(length) + length;
    if (this.flushTimer) return;
    const wait = this.lastFlushAt + MIN_FLUSH_INTERVAL_MS - Date.now();
    this.flushTimer = wait > 0 ? { timeout: setTimeout(this.onTimer, wait) } : { immediate: setImmediate(this.onTimer) };
  }

  private readonly onTimer = () => {
    this.flushTimer = null;
    if (this.congested) {
      this.flushTimer = { timeout: setTimeout(this.onTimer, CONGESTED_RETRY_MS) };
      return;
    }
    this.flush();
  };

  private flush(): void {
    if (this.flushTimer) {
      if ('timeout' in this.flushTimer) clearTimeout(this.flushTimer.timeout);
      else clearImmediate(this.flushTimer.immediate);
      this.flushTimer = null;
    }
    if (this.bodies.length > 0 && this.socket.readyState === this.socket.OPEN && this.tcp) {
      const out = Buffer.allocUnsafe(this.pendingBytes);
      let offset = 0;
      for (let index = 0; index < this.bodies.length; index += 1) {
        const prefix = this.prefixes[index];
        const body = this.bodies[index] as Buffer;
        if (prefix) {
          offset = writeTextFrameHeader(out, offset, prefix.length + body.length + 1);
          offset += prefix.copy(out, offset);
          offset += body.copy(out, offset);
          out[offset++] = CLOSING_BRACE;
        } else {
          offset = writeTextFrameHeader(out, offset, body.length);
          offset += body.copy(out, offset);
        }
      }
      this.tcp.write(out);
      this.generation += 1;
    }
    this.prefixes = [];
    this.bodies = [];
    this.pendingBytes = 0;
    this.lastFlushAt = Date.now();
    if (this.waiting.length > 0 && !this.congested) {
      const callbacks = this.waiting;
      this.waiting = [];
      for (const callback of callbacks) callback();
    } else if (this.waiting.length > 0 && !this.flushTimer) {
      this.flushTimer = { timeout: setTimeout(this.onTimer, CONGESTED_RETRY_MS) };
    }
  }
}

/** The start of a graphql-transport-ws `next` message for one subscription id, up to its payload. */
export const envelopeFor = (subscriptionId: string): Buffer =>
  Buffer.from(`{"id":${JSON.stringify(subscriptionId)},"type":"next","payload":`, 'utf8');
