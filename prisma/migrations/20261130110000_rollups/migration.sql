-- Rollups: per-bucket aggregates with mergeable sketches, kept up to date from rollup_invalidations.
-- See src/modules/analytics/rollups/ for the model; rows are written and read with SQL only.

CREATE TABLE "metric_rollups" (
    "family" TEXT NOT NULL,
    "resolution" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "metric_name" VARCHAR(100) NOT NULL,
    "app_name" VARCHAR(100) NOT NULL DEFAULT '',
    "slice" VARCHAR(100) NOT NULL,
    -- The slice's tag values as canonical JSON text (keys in INSIGHTS_ROLLUP_TAGS order): part of the key.
    "dims" TEXT NOT NULL,
    "count" BIGINT NOT NULL,
    "value_sum" DOUBLE PRECISION,
    "value_min" DOUBLE PRECISION,
    "value_max" DOUBLE PRECISION,
    "value_sketch" BYTEA,
    "last_value" DOUBLE PRECISION,
    "last_ts" DOUBLE PRECISION,
    "last_id" BIGINT,
    "rt_count" BIGINT NOT NULL DEFAULT 0,
    "rt_sum" DOUBLE PRECISION,
    "rt_min" DOUBLE PRECISION,
    "rt_max" DOUBLE PRECISION,
    "rt_sketch" BYTEA,
    "error_count" BIGINT NOT NULL DEFAULT 0,
    "users" BYTEA,

    CONSTRAINT "metric_rollups_pkey" PRIMARY KEY ("family", "resolution", "slice", "metric_name", "bucket", "app_name", "dims")
);
CREATE INDEX "metric_rollups_family_resolution_bucket_idx" ON "metric_rollups"("family", "resolution", "bucket");

CREATE TABLE "activity_rollups" (
    "resolution" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "activity_type" VARCHAR(100) NOT NULL,
    "count" BIGINT NOT NULL,
    "users" BYTEA,

    CONSTRAINT "activity_rollups_pkey" PRIMARY KEY ("resolution", "activity_type", "bucket")
);
CREATE INDEX "activity_rollups_resolution_bucket_idx" ON "activity_rollups"("resolution", "bucket");

CREATE TABLE "activity_user_rollups" (
    "resolution" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "user_id" TEXT NOT NULL,
    "count" BIGINT NOT NULL,

    CONSTRAINT "activity_user_rollups_pkey" PRIMARY KEY ("resolution", "bucket", "user_id")
);
CREATE INDEX "activity_user_rollups_user_id_bucket_idx" ON "activity_user_rollups"("user_id", "bucket");

-- Written in every ingest transaction: the minutes a write touched. No unique key on purpose: concurrent writers
-- of the same minute must not wait for each other; the maintainer folds duplicates together.
CREATE TABLE "rollup_invalidations" (
    "id" BIGSERIAL NOT NULL,
    "family" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "rollup_invalidations_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "rollup_invalidations_family_bucket_idx" ON "rollup_invalidations"("family", "bucket");

-- What the rollups were built with (the tags), and how far back each resolution is kept.
CREATE TABLE "rollup_state" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rollup_state_pkey" PRIMARY KEY ("key")
);
