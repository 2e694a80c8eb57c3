-- Who reads which language (issue 14): a job's public messages (card, thread, delivery)
-- are in the server's language, fixed at submit; `locale` stays the requester's.
ALTER TABLE jobs ADD COLUMN public_locale TEXT;
UPDATE jobs SET public_locale = locale;
