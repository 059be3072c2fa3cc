import type { Database } from '../../core/db/database.js';
import { sql, type Queryable } from '../../core/db/sql.js';
import type { JsonValue } from '../../core/json.js';

/** Who acted: an API key, or the command line / the service itself (keyId null). */
export interface Actor {
  keyId: string | null;
  keyName: string;
}

export interface AuditTarget {
  /** api_key, job, alert_rule, dashboard, … */
  type: string;
  id: string | null;
}

/**
 * The audit trail of administrative actions, kept in its own table so user analytics contain only what users
 * did. Modules record their actions here, inside the transaction of the action when they have one, so an
 * action and its audit entry are stored together or not at all.
 */
export class AuditTrail {
  constructor(private readonly db: Database) {}

  async record(
    actor: Actor,
    action: string,
    target: AuditTarget,
    description: string,
    details: Record<string, JsonValue> = {},
    tx: Queryable = this.db,
  ): Promise<void> {
    await tx.query(sql`/* audit.record */
      INSERT INTO audit_events (actor_key_id, actor_name, action, target_type, target_id, description, details)
      VALUES (${actor.keyId}::uuid, ${actor.keyName.slice(0, 100)}, ${action}, ${target.type}, ${target.id}, ${description},
              ${JSON.stringify(details)}::jsonb)`);
  }
}
