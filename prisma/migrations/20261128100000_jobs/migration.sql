-- CreateEnum
CREATE TYPE "job_run_status" AS ENUM ('RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED');

-- CreateEnum
CREATE TYPE "job_trigger" AS ENUM ('SCHEDULED', 'MANUAL');

-- CreateTable
CREATE TABLE "job_runs" (
    "id" BIGSERIAL NOT NULL,
    "job_name" VARCHAR(100) NOT NULL,
    "lock_key" VARCHAR(300) NOT NULL,
    "scheduled_at" TIMESTAMPTZ(3) NOT NULL,
    "trigger" "job_trigger" NOT NULL,
    "status" "job_run_status" NOT NULL,
    "instance" VARCHAR(400) NOT NULL,
    "host" VARCHAR(255) NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "duration_ms" INTEGER,
    "error" TEXT,
    "result" JSONB,
    "lease_expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "job_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "job_runs_job_name_id_idx" ON "job_runs"("job_name", "id");

-- CreateIndex
CREATE INDEX "job_runs_started_at_idx" ON "job_runs"("started_at");

-- CreateIndex
CREATE UNIQUE INDEX "job_runs_job_name_lock_key_scheduled_at_key" ON "job_runs"("job_name", "lock_key", "scheduled_at");
