-- The audit trail leaves user analytics: it was stored as activities of the user "system".
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_key_id" UUID,
    "actor_name" VARCHAR(100) NOT NULL,
    "action" VARCHAR(100) NOT NULL,
    "target_type" VARCHAR(50) NOT NULL,
    "target_id" VARCHAR(255),
    "description" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "audit_events_at_idx" ON "audit_events"("at" DESC);
CREATE INDEX "audit_events_action_at_idx" ON "audit_events"("action", "at" DESC);
CREATE INDEX "audit_events_target_type_target_id_idx" ON "audit_events"("target_type", "target_id");

-- Existing entries move over, oldest first, keeping their time, actor and details.
INSERT INTO "audit_events" ("at", "actor_key_id", "actor_name", "action", "target_type", "target_id", "description", "details")
SELECT "timestamp",
       CASE WHEN metadata->>'actorKeyId' ~ '^[0-9a-fA-F-]{36}$' THEN (metadata->>'actorKeyId')::uuid END,
       left(coalesce(metadata->>'actorKeyName', 'unknown'), 100),
       activity_type,
       CASE WHEN activity_type LIKE 'api_key.%' THEN 'api_key' WHEN activity_type LIKE 'job.%' THEN 'job' ELSE 'unknown' END,
       left(coalesce(metadata->>'keyId', metadata->>'job'), 255),
       coalesce(description, activity_type),
       coalesce(metadata, '{}'::jsonb) - 'actorKeyId' - 'actorKeyName'
FROM "user_activities"
WHERE user_id = 'system' AND activity_type IN ('api_key.created', 'api_key.revoked', 'job.run')
ORDER BY "timestamp", id;

DELETE FROM "user_activities" WHERE user_id = 'system' AND activity_type IN ('api_key.created', 'api_key.revoked', 'job.run');
