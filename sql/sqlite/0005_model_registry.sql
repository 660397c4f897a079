-- The model registry (SQLite twin of sql/mysql/0005_model_registry.sql).
CREATE TABLE IF NOT EXISTS model_versions (
    version          INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL,
    artifact_uri     TEXT NOT NULL,
    sha256           TEXT NOT NULL,
    snapshot_uri     TEXT NOT NULL,
    snapshot_sha256  TEXT NOT NULL,
    family           TEXT NOT NULL,
    params           TEXT NOT NULL,
    cv_metrics       TEXT NOT NULL,
    holdout_metrics  TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'registered'
                     CHECK (status IN ('registered','champion','rejected','retired','rolled_back')),
    decision         TEXT NULL,
    train_job_id     INTEGER NULL,
    mlflow_run_id    TEXT NULL,
    mlflow_version   TEXT NULL,
    mlflow_error     TEXT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    UNIQUE (name, sha256)
);

CREATE TABLE IF NOT EXISTS model_aliases (
    name        TEXT NOT NULL,
    alias       TEXT NOT NULL,
    version     INTEGER NOT NULL REFERENCES model_versions (version),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (name, alias)
);

CREATE TABLE IF NOT EXISTS model_alias_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL,
    alias             TEXT NOT NULL,
    version           INTEGER NOT NULL,
    previous_version  INTEGER NULL,
    reason            TEXT NOT NULL CHECK (reason IN ('promoted','manual','rollback')),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX IF NOT EXISTS model_alias_events_lookup ON model_alias_events (name, alias, version, id);
