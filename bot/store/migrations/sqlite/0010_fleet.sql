-- Several processes over one database (issue 16).
-- A delivery claim has an owner (one process's run) and a lease: a process that dies
-- mid-delivery holds the job only until the lease runs out.
ALTER TABLE jobs ADD COLUMN delivery_owner TEXT;
ALTER TABLE jobs ADD COLUMN delivery_lease_until REAL;
-- One request ceiling per API key for the whole fleet (used with PostgreSQL: an SQLite
-- file serves one process, whose pacer is in memory); the same table in both dialects.
CREATE TABLE key_pacers (
    key_digest    TEXT PRIMARY KEY,
    last_start    REAL NOT NULL,
    paused_until  REAL NOT NULL DEFAULT 0
);
