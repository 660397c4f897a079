-- The model registry: the source of truth for model versions and the `champion` alias
-- (MLflow only mirrors it). A version is one artifact (content-addressed, so training
-- the same snapshot twice registers it once), with where it came from and how it scored.
-- status: registered (not yet decided), champion, rejected (lost to the champion),
-- retired (a former champion), rolled_back (a champion taken back by `models rollback`).
CREATE TABLE IF NOT EXISTS model_versions (
    version          BIGINT NOT NULL AUTO_INCREMENT,
    name             VARCHAR(128) NOT NULL,
    artifact_uri     VARCHAR(1024) NOT NULL,
    sha256           CHAR(64) NOT NULL,
    snapshot_uri     VARCHAR(1024) NOT NULL,
    snapshot_sha256  CHAR(64) NOT NULL,
    family           VARCHAR(64) NOT NULL,
    params           JSON NOT NULL,
    cv_metrics       JSON NOT NULL,
    holdout_metrics  JSON NOT NULL,
    status           ENUM('registered','champion','rejected','retired','rolled_back') NOT NULL DEFAULT 'registered',
    decision         JSON NULL,
    train_job_id     BIGINT NULL,
    mlflow_run_id    VARCHAR(64) NULL,
    mlflow_version   VARCHAR(32) NULL,
    mlflow_error     TEXT NULL,
    created_at       TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (version),
    UNIQUE KEY model_versions_artifact (name, sha256)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Named pointers to versions; `champion` is the one predict serves.
CREATE TABLE IF NOT EXISTS model_aliases (
    name        VARCHAR(128) NOT NULL,
    alias       VARCHAR(64) NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (name, alias),
    CONSTRAINT model_aliases_version FOREIGN KEY (version) REFERENCES model_versions (version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Every move of an alias, so `models rollback` knows what the champion was before.
-- reason: promoted (won on the holdout, or the first model), manual (`models promote`),
-- rollback.
CREATE TABLE IF NOT EXISTS model_alias_events (
    id                BIGINT NOT NULL AUTO_INCREMENT,
    name              VARCHAR(128) NOT NULL,
    alias             VARCHAR(64) NOT NULL,
    version           BIGINT NOT NULL,
    previous_version  BIGINT NULL,
    reason            ENUM('promoted','manual','rollback') NOT NULL,
    created_at        TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY model_alias_events_lookup (name, alias, version, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
