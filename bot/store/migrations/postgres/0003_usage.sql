-- Video seconds per job, so quotas and the admin view add them up without parsing JSON.
ALTER TABLE jobs ADD COLUMN seconds INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET seconds = (storyboard::jsonb #>> '{settings,seconds}')::integer;
CREATE INDEX jobs_usage ON jobs (guild_id, created_at);
