// `npm run apikey -- create --name X --scope INGEST [--scope READ] [--expires-at 2027-01-01T00:00:00Z]`
// `npm run apikey -- list` · `npm run apikey -- revoke <id>`
// Works directly on the database from the environment's configuration, so no running service is needed.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createApiKey, revokeApiKey, ApiKeyNotFoundError } from '../auth/apiKeys.js';
import { recordAudit } from '../auth/audit.js';
import { API_KEY_SCOPES, type ApiKeyScope } from '../auth/scopes.js';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { Ingestor } from '../ingest/ingest.js';
import { createEventBus } from '../realtime/pubsub.js';

const USAGE = `Usage:
  npm run apikey -- create --name <name> --scope <INGEST|READ|ADMIN> [--scope …] [--expires-at <ISO date-time>]
  npm run apikey -- list
  npm run apikey -- revoke <id>`;

const CLI_ACTOR = { keyId: null, keyName: 'command line' };

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'expires-at': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  const log = pino({ level: 'warn' });
  const db = await openDatabase(config.database, log);
  const bus = createEventBus({ redisUrl: undefined, log });
  try {
    await migrate(db, log);
    const ingestor = new Ingestor(db, bus, config.ingest.batchSize);
    switch (command) {
      case 'create': {
        const name = values.name?.trim();
        if (!name || name.length > 100) fail('--name is required (1-100 characters)');
        const scopes = values.scope ?? [];
        const unknown = scopes.filter((scope) => !(API_KEY_SCOPES as readonly string[]).includes(scope));
        if (scopes.length === 0 || unknown.length > 0) {
          fail(`--scope must be given at least once, each one of ${API_KEY_SCOPES.join(', ')}${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`);
        }
        const expiresAt = values['expires-at'] ? new Date(values['expires-at']) : null;
        if (expiresAt && (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now())) {
          fail('--expires-at must be an ISO 8601 date-time in the future');
        }
        const { key, id } = await createApiKey(db, { name, scopes: [...new Set(scopes)] as ApiKeyScope[], expiresAt });
        await recordAudit(ingestor, CLI_ACTOR, 'api_key.created', `API key "${name}" created`, {
          keyId: id,
          name,
          scopes,
          expiresAt: expiresAt?.toISOString() ?? null,
        });
        process.stdout.write(`Created API key "${name}" (${id}) with scopes ${scopes.join(', ')}.\nKey (shown once): ${key}\n`);
        return 0;
      }
      case 'list': {
        const keys = await db.prisma.apiKey.findMany({ orderBy: { createdAt: 'desc' } });
        for (const key of keys) {
          const state = key.revokedAt ? 'revoked' : key.expiresAt && key.expiresAt < new Date() ? 'expired' : 'active';
          process.stdout.write(
            `${key.id}  ${key.keyPrefix}…  ${state.padEnd(7)}  ${key.scopes.join(',').padEnd(18)}  ${key.name}\n`,
          );
        }
        return 0;
      }
      case 'revoke': {
        const [id] = rest;
        if (!id || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
          fail('revoke needs the key id, a UUID (see `npm run apikey -- list`)');
        }
        try {
          const { apiKey, newlyRevoked } = await revokeApiKey(db, id);
          if (newlyRevoked) {
            await recordAudit(ingestor, CLI_ACTOR, 'api_key.revoked', `API key "${apiKey.name}" revoked`, { keyId: id, name: apiKey.name });
          }
          process.stdout.write(`${newlyRevoked ? 'Revoked' : 'Already revoked'}: ${apiKey.name} (${id})\n`);
          return 0;
        } catch (error) {
          if (error instanceof ApiKeyNotFoundError) fail(error.message);
          throw error;
        }
      }
      default:
        fail(`Unknown command "${command}".\n${USAGE}`);
    }
  } finally {
    await bus.close();
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`apikey failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
