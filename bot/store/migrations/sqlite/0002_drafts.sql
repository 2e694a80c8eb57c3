-- Drafts: a storyboard a community builds together in a thread.
CREATE TABLE drafts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id          INTEGER NOT NULL,
    channel_id        INTEGER NOT NULL,   -- where /draft new was run
    thread_id         INTEGER,
    panel_message_id  INTEGER,
    owner_id          INTEGER NOT NULL,
    title             TEXT    NOT NULL,
    locale            TEXT    NOT NULL,
    settings          TEXT    NOT NULL,   -- StoryboardSettings as JSON
    -- open, submitted, discarded, archived
    state             TEXT    NOT NULL,
    -- Bumped by every change of the draft's own fields (settings, image, state).
    version           INTEGER NOT NULL DEFAULT 1,
    job_id            INTEGER REFERENCES jobs (id),
    image_filename    TEXT,
    image_type        TEXT,
    image_data        BLOB,
    created_at        REAL    NOT NULL,
    updated_at        REAL    NOT NULL
);
CREATE INDEX drafts_open ON drafts (guild_id, state, updated_at);

CREATE TABLE draft_shots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id    INTEGER NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    position    REAL    NOT NULL,   -- order key; moves swap two positions
    scene       TEXT    NOT NULL,
    duration    INTEGER,
    author_id   INTEGER NOT NULL,
    -- Bumped by every edit of this shot: an edit made against an older one is refused.
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  REAL    NOT NULL,
    updated_at  REAL    NOT NULL
);
CREATE INDEX draft_shots_order ON draft_shots (draft_id, position);

-- Images picked with "Use as reference image", kept until the member says where they go.
CREATE TABLE image_stash (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL,
    filename      TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    created_at    REAL    NOT NULL
);
