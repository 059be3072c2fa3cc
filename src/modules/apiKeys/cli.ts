import { API_KEY_SCOPES, type ApiKeyScope } from '../../core/auth.js';
import { CLI_ACTOR, CliError, table, type CliArguments, type CliCommand } from '../../core/cli.js';
import type { Services } from '../../core/module.js';
import { ApiKeyNotFoundError } from './service.js';

const USAGE = `insights apikey create --name <name> --scope <INGEST|READ|ADMIN> [--scope …] [--expires-at <ISO date-time>]
  insights apikey list
  insights apikey revoke <id>`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseCreate(values: CliArguments['values']): { name: string; scopes: ApiKeyScope[]; expiresAt: Date | null } {
  const name = typeof values.name === 'string' ? values.name.trim() : '';
  if (!name || name.length > 100) throw new CliError('--name is required (1-100 characters)', 2);
  const scopes = Array.isArray(values.scope) ? values.scope : [];
  const unknown = scopes.filter((scope) => !(API_KEY_SCOPES as readonly string[]).includes(scope));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new CliError(
      `--scope must be given at least once, each one of ${API_KEY_SCOPES.join(', ')}${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`,
      2,
    );
  }
  const expiresText = typeof values['expires-at'] === 'string' ? values['expires-at'] : undefined;
  const expiresAt = expiresText ? new Date(expiresText) : null;
  if (expiresAt && (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now())) {
    throw new CliError('--expires-at must be an ISO 8601 date-time in the future', 2);
  }
  return { name, scopes: [...new Set(scopes)] as ApiKeyScope[], expiresAt };
}

/** `npm run apikey -- …` (or `npm run insights -- apikey …`): key management without a running service. */
export const apiKeyCommand: CliCommand<Services> = {
  name: 'apikey',
  usage: USAGE,
  summary: 'Creates, lists and revokes API keys (each action recorded in the audit trail as the command line).',
  options: { name: { type: 'string' }, scope: { type: 'string', multiple: true }, 'expires-at': { type: 'string' } },
  validate({ positionals, values }) {
    const [subcommand, ...rest] = positionals;
    if (subcommand === 'create') parseCreate(values);
    else if (subcommand === 'revoke') {
      if (!rest[0] || !UUID.test(rest[0])) throw new CliError('revoke needs the key id, a UUID (see `npm run apikey -- list`)', 2);
    } else if (subcommand !== 'list') throw new CliError(`apikey needs a subcommand: create, list or revoke.\nUsage: ${USAGE}`, 2);
  },
  async run(services, { positionals, values }, output) {
    const [subcommand, ...rest] = positionals;
    switch (subcommand) {
      case 'create': {
        const { name, scopes, expiresAt } = parseCreate(values);
        const { key, apiKey } = await services.apiKeys.create(CLI_ACTOR, { name, scopes, expiresAt });
        output.out(`Created API key "${name}" (${apiKey.id}) with scopes ${scopes.join(', ')}.\nKey (shown once): ${key}\n`);
        return 0;
      }
      case 'list': {
        const keys = await services.apiKeys.list();
        const rows = keys.map((key) => {
          const state = key.revokedAt ? 'revoked' : key.expiresAt && key.expiresAt < new Date() ? 'expired' : 'active';
          return [key.id, `${key.keyPrefix}…`, state, key.scopes.join(','), key.name];
        });
        if (rows.length > 0) output.out(`${table(rows)}\n`);
        return 0;
      }
      case 'revoke': {
        const [id] = rest;
        if (!id || !UUID.test(id)) throw new CliError('revoke needs the key id, a UUID (see `npm run apikey -- list`)', 2);
        try {
          const { apiKey, newlyRevoked } = await services.apiKeys.revoke(CLI_ACTOR, id);
          output.out(`${newlyRevoked ? 'Revoked' : 'Already revoked'}: ${apiKey.name} (${id})\n`);
          return 0;
        } catch (error) {
          if (error instanceof ApiKeyNotFoundError) throw new CliError(error.message, 2);
          throw error;
        }
      }
      default:
        throw new CliError(`apikey needs a subcommand: create, list or revoke.\nUsage: ${USAGE}`, 2);
    }
  },
};
