-- The job outbox: drift checks and training runs waiting for a worker.
-- A worker claims a pending job (or a running one whose lease expired) with
-- SELECT ... FOR UPDATE SKIP LOCKED, runs it, and marks it done or failed.
-- `attempts` doubles as the fencing token: only the holder of the latest claim can
-- finish a job. `dedupe_key`, when set, makes enqueueing idempotent.
CREATE TABLE IF NOT EXISTS jobs (
    id          BIGINT NOT NULL AUTO_INCREMENT,
    kind        ENUM('drift','train') NOT NULL,
    status      ENUM('pending','running','done','failed') NOT NULL DEFAULT 'pending',
    attempts    INT NOT NULL DEFAULT 0,
    lease_until TIMESTAMP(6) NULL,
    payload     JSON NULL,
    error       TEXT NULL,
    dedupe_key  VARCHAR(191) NULL,
    created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY jobs_dedupe_key (dedupe_key),
    KEY jobs_status_kind_id (status, kind, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
