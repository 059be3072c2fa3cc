-- When each invalidation was written (the database's clock, shared by every instance): the maintainer folds a
-- minute once writes to it have paused, or once it has waited long enough, instead of recomputing a minute
-- that is still being written at every interval.
ALTER TABLE "rollup_invalidations" ADD COLUMN "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
