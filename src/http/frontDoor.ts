import type { GraphQLError } from 'graphql';
import { bearerToken, type Authenticator, type Principal } from '../core/auth.js';
import { codedError, unauthenticated } from '../core/errors.js';
import type { RateLimiter } from './rateLimiter.js';

export type Admission = { admitted: true; principal: Principal; token: string } | { admitted: false; error: GraphQLError };

/**
 * The one place where callers are let in, for HTTP requests, Server-Sent Events and WebSocket operations alike:
 * the API key of the Authorization header (or of the WebSocket connection_init payload) is resolved to a
 * principal, and the key's rate limit is taken. A refusal is a GraphQL error with its code and HTTP status
 * (UNAUTHENTICATED 401, RATE_LIMITED 429 with retryAfterSeconds), sent the same way by every transport.
 */
export class FrontDoor {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly rateLimiter: RateLimiter,
  ) {}

  /** The principal of an Authorization header value, or null (no key, or an unknown, revoked or expired one). */
  async identify(authorization: string | null | undefined): Promise<{ principal: Principal | null; token: string | null }> {
    const token = bearerToken(authorization);
    return { principal: token ? await this.authenticator.authenticate(token) : null, token };
  }

  /** Lets a request or operation in: a valid key whose rate limit is not exhausted. */
  async admit(authorization: string | null | undefined, known?: { principal: Principal | null; token: string | null }): Promise<Admission> {
    const { principal, token } = known ?? (await this.identify(authorization));
    if (!principal || !token) {
      return {
        admitted: false,
        error: unauthenticated(token ? 'Invalid, revoked or expired API key' : 'Missing API key: send "Authorization: Bearer <key>"'),
      };
    }
    const decision = await this.rateLimiter.take(principal);
    if (!decision.allowed) {
      return {
        admitted: false,
        error: codedError(
          'RATE_LIMITED',
          `Rate limit of this API key exceeded; retry in ${decision.retryAfterSeconds} s`,
          { retryAfterSeconds: decision.retryAfterSeconds },
          { 'retry-after': String(decision.retryAfterSeconds) },
        ),
      };
    }
    return { admitted: true, principal, token };
  }
}
