-- When each invalidation was written (the database's clock, shared by every instance): the maintainer folds a
-- minute once writes to it have paused, or once it has waited long enough, instead of recomputing a minute
-- that is still being written at every interval.
ALTER TABLE "rollup_invalidations" ADD COLUMN "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- A queue: every write inserts, every fold deletes. Left to the default (vacuum after 20 % of the table is dead),
-- a table that is nearly empty at rest keeps tens of thousands of dead index entries that every read's
-- pending-minutes lookup walks through; vacuum it after a few thousand instead.
ALTER TABLE "rollup_invalidations" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
