import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ApiKeyScope, Principal } from '../core/auth.js';

export interface RateLimitPolicy {
  /** Sustained requests per second per key; 0 disables the limit for that scope. */
  perSecond: number;
  /** Bucket size: how many requests may arrive at once after a quiet period. */
  burst: number;
}

export type RateLimitPolicies = Record<ApiKeyScope, RateLimitPolicy>;

export interface RateDecision {
  allowed: boolean;
  /** Seconds until one request will be allowed again (for Retry-After). */
  retryAfterSeconds: number;
}

/** A key with several scopes gets the most generous of their limits. */
export function policyFor(principal: Principal, policies: RateLimitPolicies): RateLimitPolicy {
  return principal.scopes
    .map((scope) => policies[scope])
    .reduce((best, policy) => (best.perSecond === 0 || policy.perSecond === 0 ? { perSecond: 0, burst: 0 } : policy.perSecond > best.perSecond ? policy : best));
}

// Token bucket in one Redis hash per key, refilled lazily on each call; atomic because Lua runs alone.
const TOKEN_BUCKET_SCRIPT = `
local tokens = tonumber(redis.call('HGET', KEYS[1], 't'))
local stamp = tonumber(redis.call('HGET', KEYS[1], 's'))
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if tokens == nil then tokens = burst; stamp = now end
tokens = math.min(burst, tokens + (now - stamp) * rate / 1000)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 't', tokens, 's', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return { allowed, tostring(tokens) }
`;

/** How long a request waits for Redis's answer on its rate limit, and how long Redis is left alone after that. */
const REDIS_ANSWER_MS = 250;
const REDIS_BACKOFF_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
  });
  // A late answer (or failure) after the timeout is of no interest.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Per-key token buckets. With Redis they are shared by every instance, so a key's limit holds for the whole
 * cluster; without Redis, or while Redis is unreachable, each instance keeps its own buckets (limits then
 * apply per instance rather than failing requests).
 */
export class RateLimiter {
  private readonly local = new Map<string, { tokens: number; stamp: number }>();
  private redisSkippedUntil = 0;

  constructor(
    private readonly policies: RateLimitPolicies,
    private readonly redis: Redis | undefined,
    private readonly log: Logger,
    private readonly prefix = 'insights:ratelimit:',
  ) {}

  async take(principal: Principal): Promise<RateDecision> {
    const policy = policyFor(principal, this.policies);
    if (policy.perSecond === 0) return { allowed: true, retryAfterSeconds: 0 };
    const now = Date.now();
    if (this.redis && this.redis.status === 'ready' && now >= this.redisSkippedUntil) {
      try {
        const [allowed] = await withTimeout(
          this.redis.eval(TOKEN_BUCKET_SCRIPT, 1, this.prefix + principal.keyId, policy.perSecond, policy.burst, now) as Promise<
            [number, string]
          >,
          REDIS_ANSWER_MS,
        );
        return { allowed: allowed === 1, retryAfterSeconds: Math.max(1, Math.ceil(1 / policy.perSecond)) };
      } catch (error) {
        // Every request asks for a token: a Redis that answers slowly or not at all would delay each of them,
        // so the local buckets take over for a while before Redis is asked again.
        this.redisSkippedUntil = Date.now() + REDIS_BACKOFF_MS;
        this.log.warn({ err: error }, 'rate limit check in Redis failed; using local buckets for a while');
      }
    }
    return this.takeLocal(principal.keyId, policy, now);
  }

  private takeLocal(keyId: string, policy: RateLimitPolicy, now: number): RateDecision {
    const bucket = this.local.get(keyId) ?? { tokens: policy.burst, stamp: now };
    bucket.tokens = Math.min(policy.burst, bucket.tokens + ((now - bucket.stamp) * policy.perSecond) / 1000);
    bucket.stamp = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    if (this.local.size > 100_000) this.local.clear();
    this.local.set(keyId, bucket);
    const wait = allowed ? 0 : (1 - bucket.tokens) / policy.perSecond;
    return { allowed, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
  }
}
