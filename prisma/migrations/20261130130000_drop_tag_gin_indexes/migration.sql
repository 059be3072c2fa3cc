-- The GIN indexes on tags cost about a fifth of the write throughput (measured: 22,100 vs 27,600 rows/s into a
-- partitioned performance table) and served group-bys and counts by tag, which the rollups now serve. Raw reads
-- that still filter by a tag (a tag outside INSIGHTS_ROLLUP_TAGS) narrow by time (partitions) and metric name first.
DROP INDEX IF EXISTS "system_metrics_tags_idx";
DROP INDEX IF EXISTS "application_metrics_tags_idx";
DROP INDEX IF EXISTS "user_metrics_tags_idx";
DROP INDEX IF EXISTS "performance_metrics_tags_idx";
