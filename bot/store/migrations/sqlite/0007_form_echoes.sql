-- What a member typed into a form the bot refused (issue 12), so a Fix button can reopen
-- the form filled in: a button's custom_id holds 100 characters, a storyboard 4000 per
-- field. Kept for a day; settings and fields as JSON text.
CREATE TABLE form_echoes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER,
    channel_id  INTEGER NOT NULL,
    settings    TEXT    NOT NULL,   -- StoryboardSettings as JSON
    fields      TEXT    NOT NULL,   -- the form's field texts, a JSON list of strings
    stash_id    INTEGER,            -- the reference image, in image_stash, if one was kept
    created_at  REAL    NOT NULL
);
CREATE INDEX form_echoes_age ON form_echoes (created_at);
