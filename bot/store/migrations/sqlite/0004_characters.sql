-- Characters are jobs too: same tracking, another kind, with where they come from.
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'video';
ALTER TABLE jobs ADD COLUMN character TEXT;  -- CharacterSource as JSON
