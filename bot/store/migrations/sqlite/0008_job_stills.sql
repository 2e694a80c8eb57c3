-- A finished video's still for its card when the provider offers none (issue 13): made
-- from the downloaded video at delivery, kept so every later edit of the card (after a
-- restart too) can attach it again. A small JPEG.
CREATE TABLE job_stills (
    job_id    INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    filename  TEXT NOT NULL,
    data      BLOB NOT NULL
);
