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
