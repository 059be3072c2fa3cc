export const API_KEY_SCOPES = ['INGEST', 'READ', 'ADMIN'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** The caller of one request or socket. ADMIN holds every scope. */
export interface Principal {
  keyId: string;
  keyName: string;
  scopes: readonly ApiKeyScope[];
}

export function hasScope(principal: Principal, scope: ApiKeyScope): boolean {
  return principal.scopes.includes('ADMIN') || principal.scopes.includes(scope);
}

/** Resolves a presented API key to its principal (null: unknown, revoked or expired). */
export interface Authenticator {
  authenticate(presentedKey: string): Promise<Principal | null>;
}

/**
 * The API key of an Authorization header: `Bearer <key>`, or `Basic` with the key as password — what a browser
 * sends after its sign-in prompt, so GraphiQL can be opened with a key (the user name is ignored).
 */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1] ?? null;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic?.[1]) return null;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  const password = separator >= 0 ? decoded.slice(separator + 1) : '';
  return password.length > 0 && !/\s/.test(password) ? password : null;
}
