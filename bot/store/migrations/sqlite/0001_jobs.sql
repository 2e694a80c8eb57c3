-- Jobs: one row per video a member asked for, written before its create request leaves.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- One modal submit or button press makes at most one job.
    request_key      TEXT    NOT NULL UNIQUE,
    guild_id         INTEGER,
    channel_id       INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    locale           TEXT    NOT NULL,
    storyboard       TEXT    NOT NULL,  -- ValidStoryboard as JSON
    image_name       TEXT,
    filesize_limit   INTEGER NOT NULL,
    -- Ours: pending, active, completed, failed, submit_failed, uncertain, expired, cancelled.
    state            TEXT    NOT NULL,
    task_id          TEXT    UNIQUE,
    provider_status  TEXT,
    progress         INTEGER NOT NULL DEFAULT 0,
    provider_answer  TEXT,              -- the provider's last JSON, as it came
    error_key        TEXT,
    error_fields     TEXT,              -- JSON
    card_channel_id  INTEGER,
    card_message_id  INTEGER,
    thread_id        INTEGER,
    -- What the card shows now (status and progress step), so edits happen only on change.
    card_shown       TEXT,
    created_at       REAL    NOT NULL,
    updated_at       REAL    NOT NULL,
    submitted_at     REAL,
    finished_at      REAL,
    -- When the member-facing outcome (video, link or reason) was posted.
    delivered_at     REAL
);
CREATE INDEX jobs_open ON jobs (state) WHERE state IN ('pending', 'active', 'uncertain');
CREATE INDEX jobs_undelivered ON jobs (finished_at) WHERE delivered_at IS NULL;
CREATE INDEX jobs_user ON jobs (guild_id, user_id, created_at);

-- The reference image sent with a job, kept so Retry sends the same one.
CREATE TABLE job_images (
    job_id        INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    data          BLOB NOT NULL
);

-- Small facts the bot keeps between runs (the last synced command tree's hash).
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
