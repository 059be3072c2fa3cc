import { defineModule } from '../../core/module.js';
import { apiKeyCommand } from './cli.js';
import { ApiKeyAuthenticator, ApiKeyService, bootstrapAdminKey } from './service.js';
import './schema.js';

// API keys: the credentials every caller holds, their management (GraphQL and `apikey` command), and the
// authenticator the front door uses.

declare module '../../core/module.js' {
  interface ModuleServices {
    /** Resolves presented keys to principals (cached a few seconds). */
    authenticator: ApiKeyAuthenticator;
    apiKeys: ApiKeyService;
  }
}

export const apiKeysModule = defineModule({
  name: 'apiKeys',
  commands: [apiKeyCommand],
  setup({ services }) {
    const authenticator = new ApiKeyAuthenticator(services.db, services.log);
    return {
      services: { authenticator, apiKeys: new ApiKeyService(services.db, services.audit, authenticator) },
      // On a fresh install an administrator must be able to get in: INSIGHTS_ADMIN_KEY, or a generated key.
      start: () => bootstrapAdminKey(services.db, services.config.adminKey, services.log),
    };
  },
});
