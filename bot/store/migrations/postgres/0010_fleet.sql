-- Several processes over one database (issue 16).
-- A delivery claim has an owner (one process's run) and a lease: a process that dies
-- mid-delivery holds the job only until the lease runs out.
ALTER TABLE jobs ADD COLUMN delivery_owner TEXT;
ALTER TABLE jobs ADD COLUMN delivery_lease_until DOUBLE PRECISION;
-- One request ceiling per API key for the whole fleet: the last request start and the
-- pause after a 429, per key digest (never the key), on the database's clock.
CREATE TABLE key_pacers (
    key_digest    TEXT PRIMARY KEY,
    last_start    DOUBLE PRECISION NOT NULL,
    paused_until  DOUBLE PRECISION NOT NULL DEFAULT 0
);
