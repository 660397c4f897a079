-- Bulk counting (SQLite twin of sql/mysql/0009_bulk_counting.sql): the importing
-- transaction pauses the per-row count, counts its rows with one call, and clears the
-- flag before it commits; SQLite runs one writer at a time, so no other writer sees it.
ALTER TABLE drift_counter ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER IF EXISTS features_count_insert;

CREATE TRIGGER features_count_insert AFTER INSERT ON features
WHEN (SELECT paused FROM drift_counter WHERE id = 1) = 0
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
