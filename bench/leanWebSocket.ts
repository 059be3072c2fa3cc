import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A WebSocket client (RFC 6455) that does as little as one can per message, for the fan-out benchmark's 1,000
 * subscribers in one process: at 200,000 messages a second, a general-purpose client (ws: a receiver stream,
 * an event, a Buffer and a string per message) took a core of its own on this machine, which is CPU the
 * servers being measured then lacked. This one parses frames in place and hands the caller the text's bytes as
 * a range of the received chunk; it never copies a frame that arrived whole. Client frames are masked; server
 * pings are answered; fragmented and binary messages are reported, not supported (neither server sends them).
 */
export interface LeanWebSocketHandlers {
  /** One text message: bytes start..end of `chunk`, valid only during the call. */
  onText(chunk: Buffer, start: number, end: number): void;
  onProblem(text: string): void;
  onClose(code: number, reason: string): void;
}

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const HEADER_END = Buffer.from('\r\n\r\n');

export class LeanWebSocket {
  private pending: Buffer | null = null;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly handlers: LeanWebSocketHandlers,
  ) {}

  /** Opens the connection and completes the handshake; `protocol` is offered as the only subprotocol. */
  static open(url: string, protocol: string | undefined, timeoutMs: number, handlers: LeanWebSocketHandlers): Promise<LeanWebSocket> {
    const { hostname, port, pathname } = new URL(url);
    const key = randomBytes(16).toString('base64');
    const expectedAccept = createHash('sha1').update(key + ACCEPT_GUID).digest('base64');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port), noDelay: true });
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new Error(`no handshake within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.write(
          `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
            '\r\n',
        );
      });
      const onHandshakeData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf(HEADER_END);
        if (end < 0) return;
        socket.off('data', onHandshakeData);
        socket.off('error', fail);
        clearTimeout(timer);
        const lines = head.toString('latin1', 0, end).split('\r\n');
        const headers = new Map(
          lines.slice(1).map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
          }),
        );
        if (!/^HTTP\/1\.1 101 /.test(lines[0] ?? '') || headers.get('sec-websocket-accept') !== expectedAccept) {
          socket.destroy();
          reject(new Error(`handshake refused: ${lines[0] ?? '(no status line)'}`));
          return;
        }
        if (protocol && headers.get('sec-websocket-protocol') !== protocol) {
          socket.destroy();
          reject(new Error(`server did not accept subprotocol ${protocol}`));
          return;
        }
        const client = new LeanWebSocket(socket, handlers);
        socket.on('data', (data: Buffer) => client.receive(data));
        socket.on('error', (error) => client.handlers.onProblem(`socket error: ${error.message}`));
        socket.on('close', () => client.finish(1006, 'connection lost'));
        resolve(client);
        const rest = head.subarray(end + HEADER_END.length);
        if (rest.length > 0) client.receive(rest);
      };
      socket.on('data', onHandshakeData);
    });
  }

  sendText(text: string): void {
    this.sendFrame(0x1, Buffer.from(text, 'utf8'));
  }

  /** Starts the closing handshake; the server answers with its close frame and ends the connection. */
  close(code = 1000): void {
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.sendFrame(0x8, payload);
  }

  terminate(): void {
    this.socket.destroy();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose(code, reason);
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const length = payload.length;
    const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
    const frame = Buffer.allocUnsafe(2 + extended + 4 + length);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | (extended === 0 ? length : extended === 2 ? 126 : 127);
    if (extended === 2) frame.writeUInt16BE(length, 2);
    if (extended === 8) frame.writeBigUInt64BE(BigInt(length), 2);
    const maskAt = 2 + extended;
    randomBytes(4).copy(frame, maskAt);
    for (let index = 0; index < length; index += 1) {
      frame[maskAt + 4 + index] = (payload[index] as number) ^ (frame[maskAt + (index & 3)] as number);
    }
    this.socket.write(frame);
  }

  private receive(data: Buffer): void {
    let chunk = data;
    if (this.pending) {
      chunk = Buffer.concat([this.pending, data]);
      this.pending = null;
    }
    let offset = 0;
    while (chunk.length - offset >= 2) {
      const first = chunk[offset] as number;
      const second = chunk[offset + 1] as number;
      let length = second & 0x7f;
      let start = offset + 2;
      if (length === 126) {
        if (chunk.length - offset < 4) break;
        length = chunk.readUInt16BE(offset + 2);
        start = offset + 4;
      } else if (length === 127) {
        if (chunk.length - offset < 10) break;
        length = Number(chunk.readBigUInt64BE(offset + 2));
        start = offset + 10;
      }
      if (second & 0x80) start += 4; // A masked server frame is a protocol error; skip the key and report below.
      const end = start + length;
      if (end > chunk.length) break;
      offset = end;
      const opcode = first & 0x0f;
      if (second & 0x80) this.handlers.onProblem('the server masked a frame');
      else if ((first & 0x80) === 0 || opcode === 0x0) this.handlers.onProblem('fragmented message (not supported)');
      else if (opcode === 0x1) this.handlers.onText(chunk, start, end);
      else if (opcode === 0x9) this.sendFrame(0xa, chunk.subarray(start, end));
      else if (opcode === 0x8) {
        const code = length >= 2 ? chunk.readUInt16BE(start) : 1005;
        if (!this.socket.destroyed) this.sendFrame(0x8, chunk.subarray(start, Math.min(end, start + 2)));
        this.socket.end();
        this.finish(code, chunk.toString('utf8', Math.min(end, start + 2), end));
        return;
      } else if (opcode !== 0xa) this.handlers.onProblem(`unexpected frame opcode ${opcode}`);
    }
    // An incomplete frame waits for the rest, copied so that a large chunk is not kept alive for a few bytes.
    if (offset < chunk.length) this.pending = Buffer.from(chunk.subarray(offset));
  }
}
