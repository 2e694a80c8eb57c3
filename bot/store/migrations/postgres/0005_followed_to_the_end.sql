-- Every paid job followed to its end (issue 11).
-- Which key made the job (a digest, never the key): polls keep using it after a rotation.
ALTER TABLE jobs ADD COLUMN key_fingerprint TEXT;
-- Looks at the provider that found nothing yet: lookups of a create whose answer was lost,
-- or consecutive 404s on a poll. Reset by any answer that knows the job.
ALTER TABLE jobs ADD COLUMN looks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lost_since DOUBLE PRECISION;
-- Why looking stopped for an uncertain or expired job: NULL while still looking;
-- 'unlistable' (the provider can't list jobs), 'not_found' or 'gave_up' (past the horizon).
ALTER TABLE jobs ADD COLUMN resolution TEXT;
-- Delivery is a recorded claim: set before posting, so a restart checks the thread first.
ALTER TABLE jobs ADD COLUMN delivery_claimed_at DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN delivery_message_id BIGINT;
ALTER TABLE jobs ADD COLUMN delivery_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN delivery_failing_since DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN delivery_error TEXT;
-- When the provider first said the job runs (the card says "started ... ago").
ALTER TABLE jobs ADD COLUMN started_at DOUBLE PRECISION;
DROP INDEX IF EXISTS jobs_open;
CREATE INDEX jobs_open ON jobs (state) WHERE state IN ('pending', 'active', 'uncertain', 'expired');
