import type { Principal } from '../core/auth.js';
import type { Services } from '../core/module.js';

/** Per-operation context: the services plus who is calling. Every operation has an authenticated principal. */
export interface Context extends Services {
  principal: Principal;
  requestId: string;
  /** Added to the response's `extensions` (e.g. which path served an analytics read). */
  extensions: Record<string, unknown>;
}
