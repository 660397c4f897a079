-- The database counts: every insert into `features` bumps a counter inside the
-- inserting transaction, and every `drift_every` rows one pending drift job is queued.
-- The bump is a single UPDATE ... SET n = n + 1, which takes the row lock first; the
-- read after it sees this transaction's own write, so concurrent inserts serialise on
-- the counter row and no count is lost (a read-then-write counter loses updates).
CREATE TABLE IF NOT EXISTS drift_settings (
    id          TINYINT NOT NULL,
    drift_every INT NOT NULL DEFAULT 100,
    PRIMARY KEY (id),
    CONSTRAINT drift_settings_single_row CHECK (id = 1),
    CONSTRAINT drift_settings_positive CHECK (drift_every > 0)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS drift_counter (
    id TINYINT NOT NULL,
    n  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    CONSTRAINT drift_counter_single_row CHECK (id = 1)
) ENGINE = InnoDB;

INSERT IGNORE INTO drift_settings (id, drift_every) VALUES (1, 100);
INSERT IGNORE INTO drift_counter (id, n) VALUES (1, 0);

DROP PROCEDURE IF EXISTS driftloop_count_feature_row;

DELIMITER //
CREATE PROCEDURE driftloop_count_feature_row(IN new_row_id BIGINT)
    MODIFIES SQL DATA
BEGIN
    DECLARE counted BIGINT;
    DECLARE every_n INT;
    UPDATE drift_counter SET n = n + 1 WHERE id = 1;
    SELECT n INTO counted FROM drift_counter WHERE id = 1;
    SELECT drift_every INTO every_n FROM drift_settings WHERE id = 1;
    IF counted >= every_n THEN
        -- CAST: MariaDB would write routine variables into JSON as strings.
        INSERT INTO jobs (kind, status, payload)
        VALUES ('drift', 'pending',
                JSON_OBJECT('reason', 'row_count', 'rows', CAST(counted AS SIGNED),
                            'last_row_id', CAST(new_row_id AS SIGNED)));
        UPDATE drift_counter SET n = 0 WHERE id = 1;
    END IF;
END //
DELIMITER ;

DROP TRIGGER IF EXISTS features_count_insert;

CREATE TRIGGER features_count_insert AFTER INSERT ON features
FOR EACH ROW CALL driftloop_count_feature_row(NEW.id);
