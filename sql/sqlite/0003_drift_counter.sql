-- The database counts (SQLite twin of sql/mysql/0003_drift_counter.sql). SQLite runs
-- one writer at a time, so the trigger body alone is race-free.
CREATE TABLE IF NOT EXISTS drift_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    drift_every INTEGER NOT NULL DEFAULT 100 CHECK (drift_every > 0)
);

CREATE TABLE IF NOT EXISTS drift_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL DEFAULT 0
);

INSERT OR IGNORE INTO drift_settings (id, drift_every) VALUES (1, 100);
INSERT OR IGNORE INTO drift_counter (id, n) VALUES (1, 0);

DROP TRIGGER IF EXISTS features_count_insert;

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
