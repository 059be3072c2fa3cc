-- Alerting (src/modules/alerts): rules, their health, alerts, silences, channels, aggregation groups, the
-- notification log and deliveries with every attempt.

-- CreateEnum
CREATE TYPE "alert_rule_kind" AS ENUM ('THRESHOLD', 'ANOMALY');

-- CreateEnum
CREATE TYPE "alert_rule_family" AS ENUM ('SYSTEM', 'APPLICATION', 'USER', 'PERFORMANCE', 'ACTIVITY');

-- CreateEnum
CREATE TYPE "alert_severity" AS ENUM ('INFO', 'WARNING', 'CRITICAL');

-- CreateEnum
CREATE TYPE "alert_missing_data_policy" AS ENUM ('KEEP_STATE', 'OK', 'ALERTING');

-- CreateEnum
CREATE TYPE "alert_rule_state" AS ENUM ('INACTIVE', 'PENDING', 'FIRING', 'NO_DATA', 'ERROR');

-- CreateEnum
CREATE TYPE "alert_status" AS ENUM ('PENDING', 'FIRING', 'RESOLVED');

-- CreateEnum
CREATE TYPE "alert_channel_type" AS ENUM ('WEBHOOK', 'SLACK', 'EMAIL', 'SMS');

-- CreateEnum
CREATE TYPE "alert_notification_kind" AS ENUM ('FIRING', 'RESOLVED', 'REMINDER', 'TEST');

-- CreateEnum
CREATE TYPE "alert_notification_status" AS ENUM ('PENDING', 'SENDING', 'SENT', 'FAILED');

-- CreateTable
CREATE TABLE "alert_rules" (
    "id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "kind" "alert_rule_kind" NOT NULL,
    "condition" TEXT NOT NULL,
    "family" "alert_rule_family" NOT NULL,
    "for_seconds" INTEGER NOT NULL,
    "keep_firing_for_seconds" INTEGER NOT NULL,
    "window_seconds" INTEGER NOT NULL,
    "severity" "alert_severity" NOT NULL,
    "group_by" TEXT[],
    "labels" JSONB NOT NULL DEFAULT '{}',
    "annotations" JSONB NOT NULL DEFAULT '{}',
    "channels" TEXT[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "group_wait_seconds" INTEGER NOT NULL,
    "group_interval_seconds" INTEGER NOT NULL,
    "repeat_interval_seconds" INTEGER NOT NULL,
    "no_data_state" "alert_missing_data_policy" NOT NULL,
    "error_state" "alert_missing_data_policy" NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_rules_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_rule_health" (
    "rule_id" UUID NOT NULL,
    "state" "alert_rule_state" NOT NULL,
    "series_count" INTEGER NOT NULL,
    "last_error" TEXT,
    "last_evaluated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "alert_rule_health_pkey" PRIMARY KEY ("rule_id")
);

-- CreateTable
CREATE TABLE "alert_rule_defaults" (
    "name" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_rule_defaults_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "alerts" (
    "id" BIGSERIAL NOT NULL,
    "rule_id" UUID,
    "rule_name" VARCHAR(100) NOT NULL,
    "fingerprint" VARCHAR(64) NOT NULL,
    "series_key" VARCHAR(64) NOT NULL,
    "group_key" VARCHAR(100) NOT NULL,
    "labels" JSONB NOT NULL,
    "annotations" JSONB NOT NULL DEFAULT '{}',
    "severity" "alert_severity" NOT NULL,
    "status" "alert_status" NOT NULL,
    "value" DOUBLE PRECISION,
    "score" DOUBLE PRECISION,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "fired_at" TIMESTAMPTZ(3),
    "ends_at" TIMESTAMPTZ(3),
    "last_breach_at" TIMESTAMPTZ(3),
    "last_evaluated_at" TIMESTAMPTZ(3) NOT NULL,
    "awaiting_flush" BOOLEAN NOT NULL DEFAULT false,
    "acknowledged_at" TIMESTAMPTZ(3),
    "acknowledgement" TEXT,
    "acknowledged_by" VARCHAR(100),

    CONSTRAINT "alerts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_silences" (
    "id" UUID NOT NULL,
    "matchers" JSONB NOT NULL,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "ends_at" TIMESTAMPTZ(3) NOT NULL,
    "comment" TEXT NOT NULL,
    "created_by" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_silences_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_channels" (
    "id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "type" "alert_channel_type" NOT NULL,
    "config" JSONB NOT NULL,
    "secrets" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_channels_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_groups" (
    "group_key" VARCHAR(100) NOT NULL,
    "rule_id" UUID,
    "rule_name" VARCHAR(100) NOT NULL,
    "channels" TEXT[],
    "group_interval_seconds" INTEGER NOT NULL,
    "repeat_interval_seconds" INTEGER NOT NULL,
    "next_flush_at" TIMESTAMPTZ(3) NOT NULL,
    "last_flush_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_groups_pkey" PRIMARY KEY ("group_key")
);

-- CreateTable
CREATE TABLE "alert_notification_log" (
    "group_key" VARCHAR(100) NOT NULL,
    "channel" VARCHAR(100) NOT NULL,
    "firing_fingerprints" TEXT[],
    "resolved_fingerprints" TEXT[],
    "sequence" INTEGER NOT NULL,
    "sent_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "alert_notification_log_pkey" PRIMARY KEY ("group_key","channel")
);

-- CreateTable
CREATE TABLE "alert_notifications" (
    "id" BIGSERIAL NOT NULL,
    "group_key" VARCHAR(100),
    "channel_name" VARCHAR(100) NOT NULL,
    "channel_type" "alert_channel_type" NOT NULL,
    "kind" "alert_notification_kind" NOT NULL,
    "status" "alert_notification_status" NOT NULL,
    "sequence" INTEGER,
    "alert_ids" BIGINT[],
    "payload" JSONB NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_attempts" INTEGER NOT NULL,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "lease_expires_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),

    CONSTRAINT "alert_notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_notification_attempts" (
    "id" BIGSERIAL NOT NULL,
    "notification_id" BIGINT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "succeeded" BOOLEAN NOT NULL,
    "error" TEXT,
    "response_status" INTEGER,
    "instance" VARCHAR(400) NOT NULL,

    CONSTRAINT "alert_notification_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "alert_rules_name_key" ON "alert_rules"("name");

-- CreateIndex
CREATE INDEX "alerts_status_group_key_idx" ON "alerts"("status", "group_key");

-- CreateIndex
CREATE INDEX "alerts_rule_id_status_idx" ON "alerts"("rule_id", "status");

-- CreateIndex
CREATE INDEX "alerts_starts_at_idx" ON "alerts"("starts_at" DESC);

-- One unresolved alert per series of a rule: evaluations racing on two instances cannot open two (not
-- expressible in schema.prisma, hence here only).
CREATE UNIQUE INDEX "alerts_open_rule_fingerprint_key" ON "alerts"("rule_id", "fingerprint") WHERE "status" <> 'RESOLVED';

-- CreateIndex
CREATE INDEX "alert_silences_ends_at_idx" ON "alert_silences"("ends_at");

-- CreateIndex
CREATE UNIQUE INDEX "alert_channels_name_key" ON "alert_channels"("name");

-- CreateIndex
CREATE INDEX "alert_groups_next_flush_at_idx" ON "alert_groups"("next_flush_at");

-- CreateIndex
CREATE INDEX "alert_notification_log_sent_at_idx" ON "alert_notification_log"("sent_at");

-- CreateIndex
CREATE INDEX "alert_notifications_status_next_attempt_at_idx" ON "alert_notifications"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "alert_notifications_created_at_idx" ON "alert_notifications"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "alert_notifications_group_key_channel_name_sequence_key" ON "alert_notifications"("group_key", "channel_name", "sequence");

-- CreateIndex
CREATE INDEX "alert_notification_attempts_notification_id_attempt_idx" ON "alert_notification_attempts"("notification_id", "attempt");

-- AddForeignKey
ALTER TABLE "alert_rule_health" ADD CONSTRAINT "alert_rule_health_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "alert_rules"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "alert_rules"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alert_notification_attempts" ADD CONSTRAINT "alert_notification_attempts_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "alert_notifications"("id") ON DELETE CASCADE ON UPDATE CASCADE;
