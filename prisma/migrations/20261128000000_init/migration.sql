-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "metric_type" AS ENUM ('GAUGE', 'COUNTER', 'HISTOGRAM', 'SUMMARY');

-- CreateTable
CREATE TABLE "user_activities" (
    "id" BIGSERIAL NOT NULL,
    "user_id" TEXT NOT NULL,
    "activity_type" VARCHAR(100) NOT NULL,
    "description" TEXT,
    "ip_address" VARCHAR(45),
    "user_agent" TEXT,
    "referrer" TEXT,
    "metadata" JSONB,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_activities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "system_metrics" (
    "id" BIGSERIAL NOT NULL,
    "metric_name" VARCHAR(100) NOT NULL,
    "metric_type" "metric_type" NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "unit" VARCHAR(20),
    "host" VARCHAR(255),
    "tags" JSONB NOT NULL DEFAULT '{}',
    "dimensions" JSONB,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "system_metrics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "application_metrics" (
    "id" BIGSERIAL NOT NULL,
    "app_name" VARCHAR(100) NOT NULL,
    "metric_name" VARCHAR(100) NOT NULL,
    "metric_type" "metric_type" NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "unit" VARCHAR(20),
    "tags" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "application_metrics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_metrics" (
    "id" BIGSERIAL NOT NULL,
    "user_id" TEXT NOT NULL,
    "metric_name" VARCHAR(100) NOT NULL,
    "metric_type" "metric_type" NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "unit" VARCHAR(20),
    "session_id" TEXT,
    "tags" JSONB NOT NULL DEFAULT '{}',
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_metrics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "performance_metrics" (
    "id" BIGSERIAL NOT NULL,
    "metric_name" VARCHAR(100) NOT NULL,
    "metric_type" "metric_type" NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "unit" VARCHAR(20),
    "response_time_ms" DOUBLE PRECISION,
    "status_code" INTEGER,
    "tags" JSONB NOT NULL DEFAULT '{}',
    "dimensions" JSONB,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "performance_metrics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "key_hash" CHAR(64) NOT NULL,
    "key_prefix" VARCHAR(16) NOT NULL,
    "scopes" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "user_activities_timestamp_idx" ON "user_activities"("timestamp" DESC);

-- CreateIndex
CREATE INDEX "user_activities_user_id_timestamp_idx" ON "user_activities"("user_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "user_activities_activity_type_timestamp_idx" ON "user_activities"("activity_type", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_metrics_timestamp_idx" ON "system_metrics"("timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_metrics_metric_name_timestamp_idx" ON "system_metrics"("metric_name", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_metrics_host_metric_name_timestamp_idx" ON "system_metrics"("host", "metric_name", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "system_metrics_tags_idx" ON "system_metrics" USING GIN ("tags" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "application_metrics_timestamp_idx" ON "application_metrics"("timestamp" DESC);

-- CreateIndex
CREATE INDEX "application_metrics_metric_name_timestamp_idx" ON "application_metrics"("metric_name", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "application_metrics_app_name_metric_name_timestamp_idx" ON "application_metrics"("app_name", "metric_name", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "application_metrics_tags_idx" ON "application_metrics" USING GIN ("tags" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "user_metrics_timestamp_idx" ON "user_metrics"("timestamp" DESC);

-- CreateIndex
CREATE INDEX "user_metrics_metric_name_timestamp_idx" ON "user_metrics"("metric_name", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "user_metrics_user_id_timestamp_idx" ON "user_metrics"("user_id", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "user_metrics_session_id_idx" ON "user_metrics"("session_id");

-- CreateIndex
CREATE INDEX "user_metrics_tags_idx" ON "user_metrics" USING GIN ("tags" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "performance_metrics_timestamp_idx" ON "performance_metrics"("timestamp" DESC);

-- CreateIndex
CREATE INDEX "performance_metrics_metric_name_timestamp_idx" ON "performance_metrics"("metric_name", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "performance_metrics_status_code_timestamp_idx" ON "performance_metrics"("status_code", "timestamp" DESC);

-- CreateIndex
CREATE INDEX "performance_metrics_tags_idx" ON "performance_metrics" USING GIN ("tags" jsonb_path_ops);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");
