-- A card that tells the truth (issue 12).
-- The model as a column, like `seconds`: estimates compare jobs of one model and length
-- without parsing each storyboard's JSON.
ALTER TABLE jobs ADD COLUMN model TEXT;
UPDATE jobs SET model = storyboard::jsonb #>> '{settings,model}';
CREATE INDEX jobs_durations ON jobs (model, seconds, finished_at) WHERE state = 'completed';
CREATE INDEX jobs_guild_durations ON jobs (guild_id, model, seconds, finished_at)
    WHERE state = 'completed';
-- The job's one progress message in its thread, once its card is too old to edit often.
ALTER TABLE jobs ADD COLUMN progress_message_id BIGINT;
