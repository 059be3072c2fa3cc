import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { hasScope } from '../core/auth.js';
import type { Config } from '../core/config.js';
import { ERROR_CODES } from '../core/errors.js';
import { useCostLimit } from './costLimit.js';
import type { ServerContext } from './serverContext.js';

/** Drops graphql-js's "Did you mean …?" hints, which name fields and enum values of the schema. */
export const withoutSuggestions = (message: string) => message.replace(/\s*Did you mean [^?]*\?/g, '');

const isAdmin = (context: unknown) => {
  const principal = (context as ServerContext).principal;
  return principal !== undefined && hasScope(principal, 'ADMIN');
};

/**
 * Introspection is for ADMIN keys only (GraphiQL, codegen); everyone else also gets validation errors without
 * "Did you mean …?" hints, which would otherwise reveal the schema field by field. graphql-js reports every
 * introspection field it meets (`__schema` and each `__Type` below it); a refusal is one FORBIDDEN error (403)
 * for the whole operation instead, and the other validation errors of a document the caller may not look into
 * are left out.
 */
function useSchemaPrivacy(): Plugin<ServerContext> {
  return {
    onValidate({ context, addValidationRule }) {
      if (isAdmin(context)) return undefined;
      addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ result, setResult }) => {
        if (result.length === 0) return;
        if (result.some((error) => error.message.startsWith('GraphQL introspection has been disabled'))) {
          // `spec: false`: yoga marks validation errors as the spec's own 400, which it answers with 200 to
          // application/json clients; this refusal is ours and is 403 for every client.
          setResult([
            new GraphQLError('Introspection is only allowed for ADMIN keys', {
              extensions: { code: 'FORBIDDEN', missingScopes: ['ADMIN'], http: { status: ERROR_CODES.FORBIDDEN, spec: false } },
            }),
          ]);
          return;
        }
        setResult(
          result.map((error) => {
            const message = withoutSuggestions(error.message);
            if (message === error.message) return error;
            return new GraphQLError(message, { nodes: error.nodes, extensions: error.extensions });
          }),
        );
      };
    },
  };
}

/**
 * yoga attaches the JSON parser's message to "invalid JSON" errors as extensions.originalError, and that
 * message quotes the body: a caller could get megabytes of its own garbage back. The entry stays (yoga reads
 * its presence to answer 400) but says only what kind of error it was.
 */
function useNoErrorInternals(): Plugin<ServerContext> {
  const strip = (result: unknown) => {
    const errors = (result as { errors?: { extensions?: Record<string, unknown> }[] } | null)?.errors;
    for (const error of errors ?? []) {
      const original = error.extensions?.originalError as { name?: unknown } | undefined;
      if (error.extensions && original && typeof original === 'object') {
        error.extensions.originalError = { name: String(original.name ?? 'Error'), message: 'see the error message' };
      }
    }
  };
  return {
    onResultProcess({ result }) {
      if (Array.isArray(result)) result.forEach(strip);
      else strip(result);
    },
  };
}

/**
 * Limits on what a single operation may ask for, sized from the operations our dashboards and tests send
 * (depth ≤ 5, cost up to about 121,000 for five full pages at once) with headroom; the standard introspection
 * query (depth 21) passes.
 */
export function hardeningPlugins(limits: Config['graphqlLimits']): Plugin<ServerContext>[] {
  // Refusals are reported as validation errors (400 GRAPHQL_VALIDATION_FAILED, and an error for that one
  // WebSocket operation) rather than thrown out of validation, which would look like a server failure.
  const report = { propagateOnRejection: false, onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)] };
  const armor = EnvelopArmorPlugin<ServerContext>({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: false, exposeLimits: true, ...report },
    // Counted with the request's variables by useCostLimit instead: armor reads only literal `first:` values.
    costLimit: { enabled: false },
    maxAliases: { n: limits.maxAliases, exposeLimits: true, ...report },
    maxDirectives: { n: limits.maxDirectives, exposeLimits: true, ...report },
    maxTokens: { n: limits.maxTokens, exposeLimits: true },
    // Suggestions are handled per caller by useSchemaPrivacy.
    blockFieldSuggestion: { enabled: false },
  });
  return [
    armor as Plugin<ServerContext>,
    useCostLimit(limits.maxCost),
    useSchemaPrivacy(),
    useNoErrorInternals(),
    // Every legitimate request carries Authorization, which browsers never add to a cross-site form post.
    useCSRFPrevention({ requestHeaders: ['authorization', 'x-graphql-yoga-csrf'] }) as Plugin<ServerContext>,
  ];
}
