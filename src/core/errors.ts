import { GraphQLError } from 'graphql';
import { PothosValidationError } from '@pothos/core';
import { InputValidationError } from './input.js';

/**
 * Every code the service sends in `extensions.code`, over HTTP, WebSocket and SSE alike, with the HTTP status
 * it goes with. Callers may rely on these and on nothing else; README "Errors" lists them.
 */
export const ERROR_CODES = {
  /** The input is wrong; `extensions.issues` names each field and item. */
  BAD_USER_INPUT: 400,
  /** The request is not GraphQL over HTTP as the spec has it (malformed JSON in GET parameters). */
  BAD_REQUEST: 400,
  /** The document does not parse (or nests too deeply to be parsed). */
  GRAPHQL_PARSE_FAILED: 400,
  /** The document does not validate against the schema, or exceeds a limit (depth, cost, aliases…). */
  GRAPHQL_VALIDATION_FAILED: 400,
  /** No key, or an unknown, revoked or expired one. WebSocket: close code 4403. */
  UNAUTHENTICATED: 401,
  /** The key lacks a scope; `extensions.missingScopes` says which. */
  FORBIDDEN: 403,
  /** The thing asked for does not exist (report downloads). */
  NOT_FOUND: 404,
  /** The write was based on a stale version (optimistic concurrency); nothing was changed. */
  CONFLICT: 409,
  /** The request body exceeds the configured limit. */
  PAYLOAD_TOO_LARGE: 413,
  /** The key's rate limit is exhausted; retry after `Retry-After` seconds. */
  RATE_LIMITED: 429,
  /** A WebSocket already runs INSIGHTS_MAX_SUBSCRIPTIONS_PER_SOCKET operations. */
  TOO_MANY_SUBSCRIPTIONS: 429,
  /** A subscriber fell INSIGHTS_SUBSCRIPTION_BUFFER events behind; its subscription was ended. */
  SUBSCRIPTION_OVERFLOW: 503,
  /** The database is unreachable or overloaded, or the service is shutting down; retry. */
  UNAVAILABLE: 503,
  /** Anything unexpected: masked, and logged with the request id. */
  INTERNAL_SERVER_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error we raise on purpose, shown to the caller as it is, with its code and (over HTTP) its status. */
export function codedError(
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
  headers?: Record<string, string>,
): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code, ...extensions, http: { status: ERROR_CODES[code], ...(headers ? { headers } : {}) } },
  });
}

export function unauthenticated(message: string): GraphQLError {
  return codedError('UNAUTHENTICATED', message, {}, { 'WWW-Authenticate': 'Bearer' });
}

/** A stale write under optimistic concurrency: nothing was changed. */
export function conflict(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return codedError('CONFLICT', message, extensions);
}

/**
 * Turns an error raised while serving a request into what the caller sees. Caller mistakes keep their
 * message and get BAD_USER_INPUT; GraphQL errors we raised on purpose pass as they are; anything else is
 * logged by the caller of this function and replaced by a generic message.
 */
export function presentError(error: unknown): { error: GraphQLError; expected: boolean } {
  const cause = rootCause(error);
  const located = isGraphQLError(error) ? error : undefined;
  const locate = { nodes: located?.nodes, path: located?.path, source: located?.source, positions: located?.positions };
  if (cause instanceof InputValidationError) {
    return {
      expected: true,
      error: new GraphQLError(cause.message, { ...locate, extensions: { code: 'BAD_USER_INPUT', issues: cause.issues } }),
    };
  }
  if (cause instanceof PothosValidationError) {
    return { expected: true, error: new GraphQLError(cause.message, { ...locate, extensions: { code: 'BAD_USER_INPUT' } }) };
  }
  // graphql-js's recursive-descent parser runs out of stack on absurdly nested documents; that is the caller's.
  if (cause instanceof RangeError && /call stack/i.test(cause.message)) {
    return {
      expected: true,
      error: codedError('GRAPHQL_PARSE_FAILED', 'The document nests too deeply to be parsed'),
    };
  }
  // Malformed JSON in the GET parameters `variables` or `extensions` surfaces from yoga as a bare SyntaxError.
  if (cause instanceof SyntaxError) {
    return {
      expected: true,
      error: codedError('BAD_REQUEST', 'Malformed JSON in the request parameters'),
    };
  }
  if (isDatabaseUnavailable(cause)) {
    return {
      expected: false,
      error: new GraphQLError('The database is unavailable or overloaded; this operation did not complete. Retry shortly.', {
        ...locate,
        extensions: { code: 'UNAVAILABLE', http: { status: 503, headers: { 'retry-after': '1' } } },
      }),
    };
  }
  // Raised on purpose (auth, scope, parse and validation errors): shown as they are.
  if (isGraphQLError(cause) && located) return { expected: true, error: located };
  return {
    expected: false,
    error: new GraphQLError('Unexpected error.', { ...locate, extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
  };
}

// Connection-level failures (server restarting, network gone, pool exhausted): the operation may be retried.
// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, crash recovery).
const UNAVAILABLE_SQLSTATE = /^(08|57P)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|the database system is (starting up|shutting down)|terminating connection/i;

// Prisma's own codes for an unreachable or overloaded database (P1001 can't reach, P1002 timed out, P1008
// operation timed out, P1017 connection closed, P2024 pool timeout).
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 8; depth += 1) {
    if (typeof current !== 'object') return false;
    const { code, message, cause, originalCode, originalMessage, meta } = current as Record<string, unknown>;
    if (typeof code === 'string' && PRISMA_UNAVAILABLE.has(code)) return true;
    const adapterError = (meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError;
    if (adapterError && isDatabaseUnavailable(adapterError)) return true;
    for (const value of [code, originalCode]) {
      if (typeof value === 'string' && (UNAVAILABLE_SQLSTATE.test(value) || UNAVAILABLE_ERRNO.has(value))) return true;
    }
    for (const value of [message, originalMessage]) {
      if (typeof value === 'string' && UNAVAILABLE_MESSAGE.test(value)) return true;
    }
    current = cause ?? (current as { originalError?: unknown }).originalError;
  }
  return false;
}

// Duck-typed rather than instanceof: graphql ships CJS and ESM builds, and a GraphQLError from the other build
// (a dependency loading the other one) must still be recognised.
function isGraphQLError(value: unknown): value is GraphQLError {
  return value instanceof Error && value.name === 'GraphQLError';
}

/** Errors get wrapped (located by the executor, wrapped again by yoga); what was thrown is innermost. */
function rootCause(error: unknown): unknown {
  let current = error;
  while (isGraphQLError(current) && current.originalError) current = current.originalError;
  return current;
}
