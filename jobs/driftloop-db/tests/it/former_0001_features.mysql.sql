-- The feature table: one row per scored request or imported record.
-- Column names and value sets follow the dataset spec (jobs/driftloop-core/src/spec.rs);
-- a test checks that they agree.
CREATE TABLE IF NOT EXISTS features (
    id                  BIGINT NOT NULL AUTO_INCREMENT,
    sadness             ENUM('Seldom','Sometimes','Usually','Most-Often') NOT NULL,
    euphoric            ENUM('Seldom','Sometimes','Usually','Most-Often') NOT NULL,
    exhausted           ENUM('Seldom','Sometimes','Usually','Most-Often') NOT NULL,
    sleep_disorder      ENUM('Seldom','Sometimes','Usually','Most-Often') NOT NULL,
    mood_swing          ENUM('NO','YES') NOT NULL,
    suicidal_thoughts   ENUM('NO','YES') NOT NULL,
    anorexia            ENUM('NO','YES') NOT NULL,
    authority_respect   ENUM('NO','YES') NOT NULL,
    try_explanation     ENUM('NO','YES') NOT NULL,
    aggressive_response ENUM('NO','YES') NOT NULL,
    ignore_and_move_on  ENUM('NO','YES') NOT NULL,
    nervous_breakdown   ENUM('NO','YES') NOT NULL,
    admit_mistakes      ENUM('NO','YES') NOT NULL,
    overthinking        ENUM('NO','YES') NOT NULL,
    sexual_activity     TINYINT UNSIGNED NOT NULL,
    concentration       TINYINT UNSIGNED NOT NULL,
    optimism            TINYINT UNSIGNED NOT NULL,
    diagnosis           ENUM('Normal','Bipolar Type-1','Bipolar Type-2','Depression') NOT NULL,
    label_source        ENUM('expert','model') NOT NULL,
    model_version       VARCHAR(64) NULL,
    request_id          VARCHAR(128) NULL,
    created_at          TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY features_request_id (request_id),
    KEY features_label_source_id (label_source, id),
    CONSTRAINT features_sexual_activity_range CHECK (sexual_activity BETWEEN 1 AND 10),
    CONSTRAINT features_concentration_range CHECK (concentration BETWEEN 1 AND 10),
    CONSTRAINT features_optimism_range CHECK (optimism BETWEEN 1 AND 10)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
