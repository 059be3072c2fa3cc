import { z } from 'zod';
import { ApiKeyNotFoundError, createApiKey, revokeApiKey } from '../auth/apiKeys.js';
import { recordAudit } from '../auth/audit.js';
import { API_KEY_SCOPES } from '../auth/scopes.js';
import { InputValidationError, issuesFromZod, text } from '../ingest/validation.js';
import { ADMIN_ONLY, builder } from './builder.js';

const ApiKeyScopeEnum = builder.enumType('ApiKeyScope', {
  description: 'INGEST: record mutations and ingest. READ: queries and subscriptions. ADMIN: everything, including keys.',
  values: API_KEY_SCOPES,
});

const ApiKeyObject = builder.prismaObject('ApiKey', {
  description: 'A service credential. The key itself is shown only once, when created; only its hash is stored.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    keyPrefix: t.exposeString('keyPrefix', { description: 'First characters of the key, to tell keys apart.' }),
    scopes: t.field({ type: [ApiKeyScopeEnum], resolve: (key) => key.scopes.filter(isScope) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'Updated at most once a minute.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const isScope = (scope: string): scope is (typeof API_KEY_SCOPES)[number] => (API_KEY_SCOPES as readonly string[]).includes(scope);

const CreatedApiKey = builder.simpleObject('CreatedApiKey', {
  fields: (t) => ({
    key: t.string({ description: 'The plaintext key. Store it now: it cannot be shown again.' }),
    apiKey: t.field({ type: ApiKeyObject }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({ type: [ApiKeyScopeEnum], required: true }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the key stops working; never when absent.' }),
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
  apiKeys: t.prismaField({
    type: [ApiKeyObject],
    ...ADMIN_ONLY,
    description: 'Every API key, newest first, revoked and expired ones included.',
    resolve: (query, _root, _args, ctx) => ctx.db.prisma.apiKey.findMany({ ...query, orderBy: { createdAt: 'desc' } }),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKey,
    ...ADMIN_ONLY,
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const parsed = createInput.safeParse(args.input);
      if (!parsed.success) throw new InputValidationError(issuesFromZod(parsed.error.issues, 'input'));
      const { key, id } = await createApiKey(ctx.db, parsed.data);
      const apiKey = await ctx.db.prisma.apiKey.findUniqueOrThrow({ where: { id } });
      await recordAudit(ctx.ingestor, ctx.principal, 'api_key.created', `API key "${apiKey.name}" created`, {
        keyId: id,
        name: apiKey.name,
        scopes: apiKey.scopes,
        expiresAt: apiKey.expiresAt?.toISOString() ?? null,
      });
      return { key, apiKey };
    },
  }),
  revokeApiKey: t.prismaField({
    type: ApiKeyObject,
    ...ADMIN_ONLY,
    description: 'Stops a key at once on this instance, and within 5 seconds on every other.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_query, _root, args, ctx) => {
      const id = String(args.id);
      if (!z.uuid().safeParse(id).success) {
        throw new InputValidationError([{ path: 'id', index: null, field: 'id', message: 'must be an API key id (UUID)' }]);
      }
      try {
        const { apiKey, newlyRevoked } = await revokeApiKey(ctx.db, id);
        ctx.authenticator.invalidate(id);
        if (newlyRevoked) {
          await recordAudit(ctx.ingestor, ctx.principal, 'api_key.revoked', `API key "${apiKey.name}" revoked`, {
            keyId: id,
            name: apiKey.name,
          });
        }
        return apiKey;
      } catch (error) {
        if (error instanceof ApiKeyNotFoundError) {
          throw new InputValidationError([{ path: 'id', index: null, field: 'id', message: 'no API key has this id' }]);
        }
        throw error;
      }
    },
  }),
}));
