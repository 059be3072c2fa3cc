import { GraphQLError } from 'graphql';
import { PothosValidationError } from '@pothos/core';
import { InputValidationError } from './ingest/validation.js';

/** The error codes callers can rely on. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
  });
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
      error: new GraphQLError('The document nests too deeply to be parsed', {
        extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } },
      }),
    };
  }
  // Malformed JSON in the GET parameters `variables` or `extensions` surfaces from yoga as a bare SyntaxError.
  if (cause instanceof SyntaxError) {
    return {
      expected: true,
      error: new GraphQLError('Malformed JSON in the request parameters', {
        extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
      }),
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
