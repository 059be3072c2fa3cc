import type { Ingestor } from '../ingest/ingest.js';
import type { JsonValue } from '../ingest/json.js';

/** Audit entries are user activities of this user, so they are queried, retained and streamed like any other. */
export const SYSTEM_USER_ID = 'system';

export interface Actor {
  keyId: string | null;
  keyName: string;
}

/**
 * Records an administrative action (key created or revoked; later rules and dashboards) as an activity of the
 * system user carrying the acting key's id.
 */
export async function recordAudit(
  ingestor: Ingestor,
  actor: Actor,
  action: string,
  description: string,
  details: Record<string, JsonValue>,
): Promise<void> {
  await ingestor.ingest({
    lists: [
      {
        family: 'activities',
        path: 'audit',
        indexed: false,
        items: [
          {
            userId: SYSTEM_USER_ID,
            activityType: action,
            description,
            metadata: { actorKeyId: actor.keyId, actorKeyName: actor.keyName, ...details },
          },
        ],
      },
    ],
  });
}
