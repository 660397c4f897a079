-- The job outbox (SQLite twin of sql/mysql/0002_jobs.sql). Claims run inside one
-- write transaction (BEGIN IMMEDIATE), which SQLite serialises.
CREATE TABLE IF NOT EXISTS jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('drift','train')),
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','done','failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT NULL,
    payload     TEXT NULL CHECK (payload IS NULL OR json_valid(payload)),
    error       TEXT NULL,
    dedupe_key  TEXT NULL UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE INDEX IF NOT EXISTS jobs_status_kind_id ON jobs (status, kind, id);
