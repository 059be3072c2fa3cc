import { z } from 'zod';
import { API_KEY_SCOPES } from '../../core/auth.js';
import { invalidInput, parseInput, text } from '../../core/input.js';
import { ADMIN_ONLY, builder } from '../../schema/builder.js';
import { ApiKeyNotFoundError } from './service.js';

const ApiKeyScopeEnum = builder.enumType('ApiKeyScope', {
  description: 'What an API key may do.',
  values: {
    INGEST: { description: 'Record mutations and ingest: write records.' },
    READ: { description: 'Queries and subscriptions: read records, statistics and live streams.' },
    ADMIN: { description: 'Everything, including key management, jobs, introspection and GraphiQL.' },
  } satisfies Record<(typeof API_KEY_SCOPES)[number], { description: string }>,
});

const ApiKeyObject = builder.prismaObject('ApiKey', {
  description: 'A service credential. The key itself is shown only once, when created; only its hash is stored.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The key id (a UUID), used to revoke it.' }),
    name: t.exposeString('name', { description: 'Who uses the key, e.g. checkout-service.' }),
    keyPrefix: t.exposeString('keyPrefix', { description: 'First characters of the key, to tell keys apart.' }),
    scopes: t.field({ type: [ApiKeyScopeEnum], description: 'What the key may do.', resolve: (key) => key.scopes.filter(isScope) }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was created.' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'When it was last used, updated at most once a minute; null if never.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'When it stops working; null: never.' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true, description: 'When it was revoked; null while it is not.' }),
  }),
});

const isScope = (scope: string): scope is (typeof API_KEY_SCOPES)[number] => (API_KEY_SCOPES as readonly string[]).includes(scope);

const CreatedApiKey = builder.simpleObject('CreatedApiKey', {
  description: 'A new key: the only time its plaintext is shown.',
  fields: (t) => ({
    key: t.string({ description: 'The plaintext key. Store it now: it cannot be shown again.' }),
    apiKey: t.field({ type: ApiKeyObject, description: 'The stored key (without its plaintext).' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A key to create.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Who will use it, 1-100 characters.' }),
    scopes: t.field({ type: [ApiKeyScopeEnum], required: true, description: 'What it may do: at least one scope.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the key stops working (in the future); never when absent.' }),
  }),
});

const createInput = z.object({
  name: text(100).min(1, { message: 'must not be empty' }),
  scopes: z
    .array(z.enum(API_KEY_SCOPES))
    .min(1, { message: 'must hold at least one scope' })
    .transform((scopes) => [...new Set(scopes)]),
  expiresAt: z
    .date()
    .nullish()
    .refine((value) => !value || value.getTime() > Date.now(), { message: 'must be in the future' }),
});

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [ApiKeyObject],
    ...ADMIN_ONLY,
    description: 'Every API key, newest first, revoked and expired ones included.',
    resolve: (_root, _args, ctx) => ctx.apiKeys.list(),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKey,
    ...ADMIN_ONLY,
    description: 'Creates a key and returns its plaintext once; recorded in the audit trail.',
    args: { input: t.arg({ type: CreateApiKeyInput, required: true, description: 'The key to create.' }) },
    resolve: (_root, args, ctx) => ctx.apiKeys.create(ctx.principal, parseInput(createInput, args.input, 'input')),
  }),
  revokeApiKey: t.field({
    type: ApiKeyObject,
    ...ADMIN_ONLY,
    description: 'Stops a key at once on this instance, and within 5 seconds on every other; recorded in the audit trail.',
    args: { id: t.arg.id({ required: true, description: 'The key id (a UUID).' }) },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      if (!z.uuid().safeParse(id).success) throw invalidInput('id', 'must be an API key id (UUID)');
      try {
        return (await ctx.apiKeys.revoke(ctx.principal, id)).apiKey;
      } catch (error) {
        if (error instanceof ApiKeyNotFoundError) throw invalidInput('id', 'no API key has this id');
        throw error;
      }
    },
  }),
}));
