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
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  const located = error instanceof GraphQLError ? error : undefined;
  const locate = { nodes: located?.nodes, path: located?.path, source: located?.source, positions: located?.positions };
  if (original instanceof InputValidationError) {
    return {
      expected: true,
      error: new GraphQLError(original.message, {
        ...locate,
        extensions: { code: 'BAD_USER_INPUT', issues: original.issues },
      }),
    };
  }
  if (original instanceof PothosValidationError) {
    return { expected: true, error: new GraphQLError(original.message, { ...locate, extensions: { code: 'BAD_USER_INPUT' } }) };
  }
  if (original instanceof GraphQLError) return { expected: true, error: original === error ? original : (error as GraphQLError) };
  if (error instanceof GraphQLError && !error.originalError) return { expected: true, error };
  return {
    expected: false,
    error: new GraphQLError('Unexpected error.', { ...locate, extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
  };
}
