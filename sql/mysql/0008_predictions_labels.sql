-- Predictions are kept and labels are a history. A feature row's label column holds the
-- latest label (the model's answer until an expert gives one), as training and snapshots
-- read it; the model's answer itself stays in `predictions` (one row per scored feature
-- row, written in the inserting transaction), and every expert label is appended to
-- `labels` (relabelling keeps the earlier ones). A template: __LABEL__ is the dataset's
-- label column and __CLASSES__ its classes, filled in from the dataset file.
CREATE TABLE IF NOT EXISTS predictions (
    row_id        BIGINT NOT NULL,
    predicted     ENUM(__CLASSES__) NOT NULL,
    probability   DOUBLE NULL,
    probabilities JSON NULL,
    model_version VARCHAR(64) NULL,
    predicted_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (row_id),
    KEY predictions_model_version (model_version, row_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS labels (
    id          BIGINT NOT NULL AUTO_INCREMENT,
    row_id      BIGINT NOT NULL,
    label       ENUM(__CLASSES__) NOT NULL,
    source      ENUM('expert','model') NOT NULL,
    request_id  VARCHAR(128) NULL,
    labelled_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY labels_row_id (row_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- The rows stored before: a row still labelled by the model holds the model's answer;
-- a scored row an expert labelled since lost it (the label overwrote it), and keeps its
-- label as the first of its history, dated when the row was stored (the labelling time
-- was not kept). Imported rows came labelled and have no history.
INSERT IGNORE INTO predictions (row_id, predicted, model_version, predicted_at)
SELECT id, __LABEL__, model_version, created_at FROM features WHERE label_source = 'model';

INSERT INTO labels (row_id, label, source, labelled_at)
SELECT f.id, f.__LABEL__, 'expert', f.created_at FROM features AS f
WHERE f.label_source = 'expert' AND f.model_version IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.row_id = f.id);

-- The database counts labels too: every expert label on a row a model scored bumps a
-- second counter inside the labelling transaction (the single-statement pattern of
-- 0003), and every `labels_every` such labels one pending `performance` job is queued.
ALTER TABLE jobs MODIFY kind ENUM('drift','train','performance') NOT NULL;

CREATE TABLE IF NOT EXISTS label_settings (
    id           TINYINT NOT NULL,
    labels_every INT NOT NULL DEFAULT 50,
    PRIMARY KEY (id),
    CONSTRAINT label_settings_single_row CHECK (id = 1),
    CONSTRAINT label_settings_positive CHECK (labels_every > 0)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS label_counter (
    id TINYINT NOT NULL,
    n  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    CONSTRAINT label_counter_single_row CHECK (id = 1)
) ENGINE = InnoDB;

INSERT IGNORE INTO label_settings (id, labels_every) VALUES (1, 50);
INSERT IGNORE INTO label_counter (id, n) VALUES (1, 0);

DROP PROCEDURE IF EXISTS driftloop_count_label;

DELIMITER //
CREATE PROCEDURE driftloop_count_label(IN new_label_id BIGINT, IN labelled_row BIGINT, IN label_source VARCHAR(16))
    MODIFIES SQL DATA
BEGIN
    DECLARE counted BIGINT;
    DECLARE every_n INT;
    IF label_source = 'expert' AND EXISTS (SELECT 1 FROM predictions WHERE row_id = labelled_row) THEN
        UPDATE label_counter SET n = n + 1 WHERE id = 1;
        SELECT n INTO counted FROM label_counter WHERE id = 1;
        SELECT labels_every INTO every_n FROM label_settings WHERE id = 1;
        IF counted >= every_n THEN
            INSERT INTO jobs (kind, status, payload)
            VALUES ('performance', 'pending',
                    JSON_OBJECT('reason', 'label_count', 'labels', CAST(counted AS SIGNED),
                                'last_label_id', CAST(new_label_id AS SIGNED)));
            UPDATE label_counter SET n = 0 WHERE id = 1;
        END IF;
    END IF;
END //
DELIMITER ;

DROP TRIGGER IF EXISTS labels_count_insert;

CREATE TRIGGER labels_count_insert AFTER INSERT ON labels
FOR EACH ROW CALL driftloop_count_label(NEW.id, NEW.row_id, NEW.source);

-- Each performance check: the champion's realized scores on its labelled rows.
CREATE TABLE IF NOT EXISTS performance_reports (
    id               BIGINT NOT NULL AUTO_INCREMENT,
    job_id           BIGINT NULL,
    model_version    BIGINT NOT NULL,
    window_rows      BIGINT NOT NULL,
    accuracy         DOUBLE NULL,
    holdout_accuracy DOUBLE NOT NULL,
    verdict          ENUM('healthy','degraded','insufficient') NOT NULL,
    cumulative_rows  BIGINT NOT NULL,
    report_uri       VARCHAR(1024) NOT NULL,
    created_at       TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY performance_reports_job (job_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
