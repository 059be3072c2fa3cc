import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure } from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { hasScope, type ApiKeyScope } from '../core/auth.js';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';
import type { JsonValue } from '../core/json.js';
import type { Context } from './context.js';
import { generatedDescriptionsPlugin, RELAY_DESCRIPTIONS } from './generatedDescriptions.js';

function missingScopes(failure: AuthFailure): string[] {
  if (failure.kind === AuthScopeFailureType.AuthScope) return [String(failure.parameter)];
  if (failure.kind === AuthScopeFailureType.AnyAuthScopes || failure.kind === AuthScopeFailureType.AllAuthScopes) {
    return failure.failures.flatMap(missingScopes);
  }
  return ['required'];
}

export const builder = new SchemaBuilder<{
  PrismaTypes: PrismaTypes;
  Context: Context;
  AuthScopes: { scope: ApiKeyScope };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: JsonValue; Output: unknown };
    ID: { Input: string; Output: string | bigint };
  };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, PrismaPlugin, SimpleObjectsPlugin, generatedDescriptionsPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    ...RELAY_DESCRIPTIONS,
  },
  prisma: {
    // Each app owns its client (tests run several apps in one process), so the plugin takes it from the context.
    client: (ctx) => ctx.db.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({ scope: (scope: ApiKeyScope) => hasScope(ctx.principal, scope) }),
    unauthorizedError: (_parent, _context, info, result) => {
      const missing = missingScopes(result.failure);
      return new GraphQLError(
        `Forbidden: ${info.parentType.name}.${info.fieldName} needs the ${missing.join(' or ')} scope, which this API key does not have`,
        { extensions: { code: 'FORBIDDEN', missingScopes: missing, http: { status: 403 } } },
      );
    },
  },
});

builder.addScalarType('DateTime', DateTimeResolver, {
  description:
    'An instant, as an RFC 3339 date-time with a time zone offset, e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00. ' +
    'Returned in UTC with milliseconds (2024-05-01T12:00:00.000Z), the precision the service keeps.',
});
builder.addScalarType('JSON', JSONResolver);

builder.queryType({ description: 'Reads: need the READ scope (ADMIN fields say so).', authScopes: { scope: 'READ' } });
builder.mutationType({ description: 'Writes: record mutations need INGEST; management fields need ADMIN.', authScopes: { scope: 'INGEST' } });
builder.subscriptionType({
  description: 'Live streams over WebSocket (graphql-transport-ws) or Server-Sent Events: need the READ scope.',
  authScopes: { scope: 'READ' },
});

/**
 * For ADMIN fields on Query and Mutation: replaces the root type's READ/INGEST requirement, so a key lacking
 * ADMIN is told it lacks ADMIN (not that it lacks the root type's scope).
 */
export const ADMIN_ONLY = { authScopes: { scope: 'ADMIN' }, skipTypeScopes: true } as const;
