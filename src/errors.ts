import { GraphQLError } from 'graphql';
import { PothosValidationError } from '@pothos/core';
import { InputValidationError } from './ingest/validation.js';

/** The error codes callers can rely on. */
export type ErrorCode = 'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'UNAVAILABLE' | 'INTERNAL_SERVER_ERROR';

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
  // Raised on purpose (auth, scope, parse and validation errors): shown as they are.
  if (isGraphQLError(cause) && located) return { expected: true, error: located };
  return {
    expected: false,
    error: new GraphQLError('Unexpected error.', { ...locate, extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
  };
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
