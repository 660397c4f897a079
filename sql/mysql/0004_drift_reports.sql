-- One row per drift check: which reference snapshot and which rows were compared, the
-- verdict, and where the full report is. At most one row per drift job, so a job that
-- runs again (after a lost lease) does not count twice.
CREATE TABLE IF NOT EXISTS drift_reports (
    id               BIGINT NOT NULL AUTO_INCREMENT,
    job_id           BIGINT NULL,
    reference_uri    VARCHAR(1024) NOT NULL,
    reference_sha256 CHAR(64) NOT NULL,
    reference_max_id BIGINT NOT NULL,
    current_max_id   BIGINT NOT NULL,
    n_current        BIGINT NOT NULL,
    drift            BOOLEAN NOT NULL,
    drift_share      DOUBLE NOT NULL,
    drifted_columns  TEXT NOT NULL,
    report_uri       VARCHAR(1024) NOT NULL,
    created_at       TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY drift_reports_job (job_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
