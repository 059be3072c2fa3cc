-- CreateTable
CREATE TABLE "user_first_seen" (
    "user_id" TEXT NOT NULL,
    "first_seen" TIMESTAMPTZ(3) NOT NULL,
    "last_seen" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "user_first_seen_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE INDEX "user_first_seen_first_seen_idx" ON "user_first_seen"("first_seen");

-- Users already seen: their first and last activity so far.
INSERT INTO "user_first_seen" ("user_id", "first_seen", "last_seen")
SELECT "user_id", min("timestamp"), max("timestamp") FROM "user_activities" GROUP BY "user_id";

-- CreateEnum
CREATE TYPE "report_type" AS ENUM ('DAILY', 'WEEKLY', 'MONTHLY', 'CUSTOM');

-- CreateEnum
CREATE TYPE "report_status" AS ENUM ('PENDING', 'RUNNING', 'READY', 'FAILED');

-- CreateEnum
CREATE TYPE "report_email_status" AS ENUM ('NOT_REQUESTED', 'PENDING', 'SENDING', 'SENT', 'FAILED', 'SKIPPED');

-- CreateTable
CREATE TABLE "reports" (
    "id" BIGSERIAL NOT NULL,
    "type" "report_type" NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "time_zone" VARCHAR(64) NOT NULL,
    "period_key" VARCHAR(200),
    "status" "report_status" NOT NULL DEFAULT 'PENDING',
    "data" JSONB,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_expires_at" TIMESTAMPTZ(3),
    "instance" VARCHAR(400),
    "requested_by" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "ready_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "email_status" "report_email_status" NOT NULL DEFAULT 'NOT_REQUESTED',
    "email_attempts" INTEGER NOT NULL DEFAULT 0,
    "email_next_attempt_at" TIMESTAMPTZ(3),
    "emailed_at" TIMESTAMPTZ(3),
    "email_recipients" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "email_error" TEXT,

    CONSTRAINT "reports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "report_artifacts" (
    "report_id" BIGINT NOT NULL,
    "format" VARCHAR(10) NOT NULL,
    "content_type" VARCHAR(100) NOT NULL,
    "file_name" VARCHAR(200) NOT NULL,
    "size_bytes" INTEGER NOT NULL,
    "content" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "report_artifacts_pkey" PRIMARY KEY ("report_id","format")
);

-- CreateIndex
CREATE UNIQUE INDEX "reports_period_key_key" ON "reports"("period_key");

-- CreateIndex
CREATE INDEX "reports_type_period_start_idx" ON "reports"("type", "period_start" DESC);

-- CreateIndex
CREATE INDEX "reports_status_next_attempt_at_idx" ON "reports"("status", "next_attempt_at");

-- AddForeignKey
ALTER TABLE "report_artifacts" ADD CONSTRAINT "report_artifacts_report_id_fkey" FOREIGN KEY ("report_id") REFERENCES "reports"("id") ON DELETE CASCADE ON UPDATE CASCADE;
