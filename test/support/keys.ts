import type { ApiKeyScope } from '../../src/core/auth.js';
import type { Services } from '../../src/core/module.js';

/** Who the audit trail names for keys a test creates directly through the service. */
export const TEST_ACTOR = { keyId: null, keyName: 'test setup' };

/** Creates a key through the key service (as the API and the command line do); returns its plaintext and id. */
export async function createKey(
  services: Services,
  input: { name: string; scopes: ApiKeyScope[]; expiresAt?: Date | null },
): Promise<{ key: string; id: string }> {
  const { key, apiKey } = await services.apiKeys.create(TEST_ACTOR, input);
  return { key, id: apiKey.id };
}
