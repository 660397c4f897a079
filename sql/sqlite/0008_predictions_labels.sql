-- Predictions are kept and labels are a history (SQLite twin of
-- sql/mysql/0008_predictions_labels.sql). A template: __LABEL__ is the dataset's label
-- column and __CLASSES__ its classes, filled in from the dataset file.
CREATE TABLE IF NOT EXISTS predictions (
    row_id        INTEGER PRIMARY KEY,
    predicted     TEXT NOT NULL CHECK (predicted IN (__CLASSES__)),
    probability   REAL NULL,
    probabilities TEXT NULL,
    model_version TEXT NULL,
    predicted_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX IF NOT EXISTS predictions_model_version ON predictions (model_version, row_id);

CREATE TABLE IF NOT EXISTS labels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    row_id      INTEGER NOT NULL,
    label       TEXT NOT NULL CHECK (label IN (__CLASSES__)),
    source      TEXT NOT NULL CHECK (source IN ('expert','model')),
    request_id  TEXT NULL,
    labelled_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX IF NOT EXISTS labels_row_id ON labels (row_id, id);

-- The rows stored before (see the MySQL file).
INSERT OR IGNORE INTO predictions (row_id, predicted, model_version, predicted_at)
SELECT id, __LABEL__, model_version, created_at FROM features WHERE label_source = 'model';

INSERT INTO labels (row_id, label, source, labelled_at)
SELECT f.id, f.__LABEL__, 'expert', f.created_at FROM features AS f
WHERE f.label_source = 'expert' AND f.model_version IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.row_id = f.id);

-- The database counts labels too (see the MySQL file). `jobs.kind` gains `performance`:
-- SQLite changes a CHECK by rebuilding the table; the feature trigger that writes into
-- `jobs` is dropped first and made again after, as 0003 made it.
DROP TRIGGER IF EXISTS features_count_insert;
CREATE TABLE jobs_0008 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('drift','train','performance')),
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','done','failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT NULL,
    payload     TEXT NULL CHECK (payload IS NULL OR json_valid(payload)),
    error       TEXT NULL,
    dedupe_key  TEXT NULL UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
INSERT INTO jobs_0008 SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_0008 RENAME TO jobs;
CREATE INDEX IF NOT EXISTS jobs_status_kind_id ON jobs (status, kind, id);
CREATE TRIGGER features_count_insert AFTER INSERT ON features
BEGIN
    UPDATE drift_counter SET n = n + 1 WHERE id = 1;
    INSERT INTO jobs (kind, status, payload)
        SELECT 'drift', 'pending',
               json_object('reason', 'row_count', 'rows', c.n, 'last_row_id', NEW.id)
        FROM drift_counter AS c, drift_settings AS s
        WHERE c.id = 1 AND s.id = 1 AND c.n >= s.drift_every;
    UPDATE drift_counter SET n = 0
        WHERE id = 1 AND n >= (SELECT drift_every FROM drift_settings WHERE id = 1);
END;

CREATE TABLE IF NOT EXISTS label_settings (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    labels_every INTEGER NOT NULL DEFAULT 50 CHECK (labels_every > 0)
);

CREATE TABLE IF NOT EXISTS label_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL DEFAULT 0
);

INSERT OR IGNORE INTO label_settings (id, labels_every) VALUES (1, 50);
INSERT OR IGNORE INTO label_counter (id, n) VALUES (1, 0);

DROP TRIGGER IF EXISTS labels_count_insert;

CREATE TRIGGER labels_count_insert AFTER INSERT ON labels
WHEN NEW.source = 'expert' AND EXISTS (SELECT 1 FROM predictions WHERE row_id = NEW.row_id)
BEGIN
    UPDATE label_counter SET n = n + 1 WHERE id = 1;
    INSERT INTO jobs (kind, status, payload)
        SELECT 'performance', 'pending',
               json_object('reason', 'label_count', 'labels', c.n, 'last_label_id', NEW.id)
        FROM label_counter AS c, label_settings AS s
        WHERE c.id = 1 AND s.id = 1 AND c.n >= s.labels_every;
    UPDATE label_counter SET n = 0
        WHERE id = 1 AND n >= (SELECT labels_every FROM label_settings WHERE id = 1);
END;

CREATE TABLE IF NOT EXISTS performance_reports (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           INTEGER NULL UNIQUE,
    model_version    INTEGER NOT NULL,
    window_rows      INTEGER NOT NULL,
    accuracy         REAL NULL,
    holdout_accuracy REAL NOT NULL,
    verdict          TEXT NOT NULL CHECK (verdict IN ('healthy','degraded','insufficient')),
    cumulative_rows  INTEGER NOT NULL,
    report_uri       TEXT NOT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
