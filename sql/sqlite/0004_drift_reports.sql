-- One row per drift check (SQLite twin of sql/mysql/0004_drift_reports.sql).
CREATE TABLE IF NOT EXISTS drift_reports (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           INTEGER NULL UNIQUE,
    reference_uri    TEXT NOT NULL,
    reference_sha256 TEXT NOT NULL,
    reference_max_id INTEGER NOT NULL,
    current_max_id   INTEGER NOT NULL,
    n_current        INTEGER NOT NULL,
    drift            INTEGER NOT NULL CHECK (drift IN (0, 1)),
    drift_share      REAL NOT NULL,
    drifted_columns  TEXT NOT NULL,
    report_uri       TEXT NOT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
