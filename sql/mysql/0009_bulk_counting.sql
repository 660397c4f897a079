-- Bulk counting: a bulk insert (`driftloop import`) counts its rows with one call instead
-- of one trigger call per row. The importing transaction sets `paused` on the counter row
-- (which locks it), inserts, adds its row count and queues the drift jobs those rows made
-- due, and clears `paused`, all before it commits; so no other transaction ever sees
-- `paused` set, and a failed import rolls it back with its rows. The trigger skips a row
-- only while its own transaction has paused the count; every other insert is counted as
-- before, after waiting for the importer's lock on the counter row.
ALTER TABLE drift_counter ADD COLUMN paused TINYINT NOT NULL DEFAULT 0;

DROP TRIGGER IF EXISTS features_count_insert;

DELIMITER //
CREATE TRIGGER features_count_insert AFTER INSERT ON features
FOR EACH ROW
BEGIN
    IF (SELECT paused FROM drift_counter WHERE id = 1) = 0 THEN
        CALL driftloop_count_feature_row(NEW.id);
    END IF;
END //
DELIMITER ;
