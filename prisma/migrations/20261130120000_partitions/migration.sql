-- The five record tables become range-partitioned by "timestamp", one partition per UTC day
-- (<table>_pYYYYMMDD), plus a default partition that takes a record whose day has no partition yet (the
-- maintain-partitions job moves such rows into their own partition). Retention then drops whole days.
-- The primary key becomes (id, "timestamp"): a partitioned table's unique keys must hold its partition key.
-- Ids still come from the same sequence, so they stay unique and increasing.

-- Creates the partition of one day unless it exists (used here, then dropped).
CREATE FUNCTION "insights_tmp_day_partition"(parent TEXT, day DATE) RETURNS VOID AS $$
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
    parent || '_p' || to_char(day, 'YYYYMMDD'), parent, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
END
$$ LANGUAGE plpgsql;

-- user_activities
ALTER TABLE "user_activities" RENAME TO "user_activities_old";
ALTER INDEX "user_activities_pkey" RENAME TO "user_activities_old_pkey";
ALTER INDEX "user_activities_timestamp_idx" RENAME TO "user_activities_old_timestamp_idx";
ALTER INDEX "user_activities_user_id_timestamp_idx" RENAME TO "user_activities_old_user_id_timestamp_idx";
ALTER INDEX "user_activities_activity_type_timestamp_idx" RENAME TO "user_activities_old_activity_type_timestamp_idx";
CREATE TABLE "user_activities" (LIKE "user_activities_old" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE ("timestamp");
ALTER TABLE "user_activities" ADD CONSTRAINT "user_activities_pkey" PRIMARY KEY ("id", "timestamp");
CREATE INDEX "user_activities_timestamp_idx" ON "user_activities"("timestamp" DESC);
CREATE INDEX "user_activities_user_id_timestamp_idx" ON "user_activities"("user_id", "timestamp" DESC);
CREATE INDEX "user_activities_activity_type_timestamp_idx" ON "user_activities"("activity_type", "timestamp" DESC);
CREATE TABLE "user_activities_default" PARTITION OF "user_activities" DEFAULT;
SELECT "insights_tmp_day_partition"('user_activities', day::date)
FROM (
  SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM "user_activities_old"
  UNION SELECT (now() AT TIME ZONE 'UTC')::date + offs FROM generate_series(0, 7) AS offs
) AS days;
INSERT INTO "user_activities" SELECT * FROM "user_activities_old";
ALTER SEQUENCE "user_activities_id_seq" OWNED BY "user_activities"."id";
DROP TABLE "user_activities_old";

-- system_metrics
ALTER TABLE "system_metrics" RENAME TO "system_metrics_old";
ALTER INDEX "system_metrics_pkey" RENAME TO "system_metrics_old_pkey";
ALTER INDEX "system_metrics_timestamp_idx" RENAME TO "system_metrics_old_timestamp_idx";
ALTER INDEX "system_metrics_metric_name_timestamp_idx" RENAME TO "system_metrics_old_metric_name_timestamp_idx";
ALTER INDEX "system_metrics_host_metric_name_timestamp_idx" RENAME TO "system_metrics_old_host_metric_name_timestamp_idx";
ALTER INDEX "system_metrics_tags_idx" RENAME TO "system_metrics_old_tags_idx";
CREATE TABLE "system_metrics" (LIKE "system_metrics_old" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE ("timestamp");
ALTER TABLE "system_metrics" ADD CONSTRAINT "system_metrics_pkey" PRIMARY KEY ("id", "timestamp");
CREATE INDEX "system_metrics_timestamp_idx" ON "system_metrics"("timestamp" DESC);
CREATE INDEX "system_metrics_metric_name_timestamp_idx" ON "system_metrics"("metric_name", "timestamp" DESC);
CREATE INDEX "system_metrics_host_metric_name_timestamp_idx" ON "system_metrics"("host", "metric_name", "timestamp" DESC);
CREATE INDEX "system_metrics_tags_idx" ON "system_metrics" USING GIN ("tags" jsonb_path_ops);
CREATE TABLE "system_metrics_default" PARTITION OF "system_metrics" DEFAULT;
SELECT "insights_tmp_day_partition"('system_metrics', day::date)
FROM (
  SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM "system_metrics_old"
  UNION SELECT (now() AT TIME ZONE 'UTC')::date + offs FROM generate_series(0, 7) AS offs
) AS days;
INSERT INTO "system_metrics" SELECT * FROM "system_metrics_old";
ALTER SEQUENCE "system_metrics_id_seq" OWNED BY "system_metrics"."id";
DROP TABLE "system_metrics_old";

-- application_metrics
ALTER TABLE "application_metrics" RENAME TO "application_metrics_old";
ALTER INDEX "application_metrics_pkey" RENAME TO "application_metrics_old_pkey";
ALTER INDEX "application_metrics_timestamp_idx" RENAME TO "application_metrics_old_timestamp_idx";
ALTER INDEX "application_metrics_metric_name_timestamp_idx" RENAME TO "application_metrics_old_metric_name_timestamp_idx";
ALTER INDEX "application_metrics_app_name_metric_name_timestamp_idx" RENAME TO "application_metrics_old_app_name_metric_name_timestamp_idx";
ALTER INDEX "application_metrics_tags_idx" RENAME TO "application_metrics_old_tags_idx";
CREATE TABLE "application_metrics" (LIKE "application_metrics_old" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE ("timestamp");
ALTER TABLE "application_metrics" ADD CONSTRAINT "application_metrics_pkey" PRIMARY KEY ("id", "timestamp");
CREATE INDEX "application_metrics_timestamp_idx" ON "application_metrics"("timestamp" DESC);
CREATE INDEX "application_metrics_metric_name_timestamp_idx" ON "application_metrics"("metric_name", "timestamp" DESC);
CREATE INDEX "application_metrics_app_name_metric_name_timestamp_idx" ON "application_metrics"("app_name", "metric_name", "timestamp" DESC);
CREATE INDEX "application_metrics_tags_idx" ON "application_metrics" USING GIN ("tags" jsonb_path_ops);
CREATE TABLE "application_metrics_default" PARTITION OF "application_metrics" DEFAULT;
SELECT "insights_tmp_day_partition"('application_metrics', day::date)
FROM (
  SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM "application_metrics_old"
  UNION SELECT (now() AT TIME ZONE 'UTC')::date + offs FROM generate_series(0, 7) AS offs
) AS days;
INSERT INTO "application_metrics" SELECT * FROM "application_metrics_old";
ALTER SEQUENCE "application_metrics_id_seq" OWNED BY "application_metrics"."id";
DROP TABLE "application_metrics_old";

-- user_metrics
ALTER TABLE "user_metrics" RENAME TO "user_metrics_old";
ALTER INDEX "user_metrics_pkey" RENAME TO "user_metrics_old_pkey";
ALTER INDEX "user_metrics_timestamp_idx" RENAME TO "user_metrics_old_timestamp_idx";
ALTER INDEX "user_metrics_metric_name_timestamp_idx" RENAME TO "user_metrics_old_metric_name_timestamp_idx";
ALTER INDEX "user_metrics_user_id_timestamp_idx" RENAME TO "user_metrics_old_user_id_timestamp_idx";
ALTER INDEX "user_metrics_session_id_idx" RENAME TO "user_metrics_old_session_id_idx";
ALTER INDEX "user_metrics_tags_idx" RENAME TO "user_metrics_old_tags_idx";
CREATE TABLE "user_metrics" (LIKE "user_metrics_old" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE ("timestamp");
ALTER TABLE "user_metrics" ADD CONSTRAINT "user_metrics_pkey" PRIMARY KEY ("id", "timestamp");
CREATE INDEX "user_metrics_timestamp_idx" ON "user_metrics"("timestamp" DESC);
CREATE INDEX "user_metrics_metric_name_timestamp_idx" ON "user_metrics"("metric_name", "timestamp" DESC);
CREATE INDEX "user_metrics_user_id_timestamp_idx" ON "user_metrics"("user_id", "timestamp" DESC);
CREATE INDEX "user_metrics_session_id_idx" ON "user_metrics"("session_id");
CREATE INDEX "user_metrics_tags_idx" ON "user_metrics" USING GIN ("tags" jsonb_path_ops);
CREATE TABLE "user_metrics_default" PARTITION OF "user_metrics" DEFAULT;
SELECT "insights_tmp_day_partition"('user_metrics', day::date)
FROM (
  SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM "user_metrics_old"
  UNION SELECT (now() AT TIME ZONE 'UTC')::date + offs FROM generate_series(0, 7) AS offs
) AS days;
INSERT INTO "user_metrics" SELECT * FROM "user_metrics_old";
ALTER SEQUENCE "user_metrics_id_seq" OWNED BY "user_metrics"."id";
DROP TABLE "user_metrics_old";

-- performance_metrics
ALTER TABLE "performance_metrics" RENAME TO "performance_metrics_old";
ALTER INDEX "performance_metrics_pkey" RENAME TO "performance_metrics_old_pkey";
ALTER INDEX "performance_metrics_timestamp_idx" RENAME TO "performance_metrics_old_timestamp_idx";
ALTER INDEX "performance_metrics_metric_name_timestamp_idx" RENAME TO "performance_metrics_old_metric_name_timestamp_idx";
ALTER INDEX "performance_metrics_status_code_timestamp_idx" RENAME TO "performance_metrics_old_status_code_timestamp_idx";
ALTER INDEX "performance_metrics_tags_idx" RENAME TO "performance_metrics_old_tags_idx";
CREATE TABLE "performance_metrics" (LIKE "performance_metrics_old" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE ("timestamp");
ALTER TABLE "performance_metrics" ADD CONSTRAINT "performance_metrics_pkey" PRIMARY KEY ("id", "timestamp");
CREATE INDEX "performance_metrics_timestamp_idx" ON "performance_metrics"("timestamp" DESC);
CREATE INDEX "performance_metrics_metric_name_timestamp_idx" ON "performance_metrics"("metric_name", "timestamp" DESC);
CREATE INDEX "performance_metrics_status_code_timestamp_idx" ON "performance_metrics"("status_code", "timestamp" DESC);
CREATE INDEX "performance_metrics_tags_idx" ON "performance_metrics" USING GIN ("tags" jsonb_path_ops);
CREATE TABLE "performance_metrics_default" PARTITION OF "performance_metrics" DEFAULT;
SELECT "insights_tmp_day_partition"('performance_metrics', day::date)
FROM (
  SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM "performance_metrics_old"
  UNION SELECT (now() AT TIME ZONE 'UTC')::date + offs FROM generate_series(0, 7) AS offs
) AS days;
INSERT INTO "performance_metrics" SELECT * FROM "performance_metrics_old";
ALTER SEQUENCE "performance_metrics_id_seq" OWNED BY "performance_metrics"."id";
DROP TABLE "performance_metrics_old";

DROP FUNCTION "insights_tmp_day_partition"(TEXT, DATE);
