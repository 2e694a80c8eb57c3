-- A finished video's still for its card when the provider offers none (issue 13), kept
-- so every later edit of the card (after a restart too) can attach it again.
CREATE TABLE job_stills (
    job_id    BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    filename  TEXT  NOT NULL,
    data      BYTEA NOT NULL
);
