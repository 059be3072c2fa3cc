import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../core/auth.js';

/** What the transport hands to yoga: the node request/response over HTTP, or the socket's principal over WebSocket. */
export interface ServerContext {
  req: IncomingMessage;
  res?: ServerResponse;
  /** Set for WebSocket operations: the key was checked at connection_init. */
  principal?: Principal;
  /** Echoed in x-request-id and logged with any unexpected error of the request. */
  requestId?: string;
}
