-- The feature table (SQLite twin of sql/mysql/0001_features.sql): the same columns,
-- with CHECK constraints where MySQL has ENUM types.
CREATE TABLE IF NOT EXISTS features (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    sadness             TEXT NOT NULL CHECK (sadness IN ('Seldom','Sometimes','Usually','Most-Often')),
    euphoric            TEXT NOT NULL CHECK (euphoric IN ('Seldom','Sometimes','Usually','Most-Often')),
    exhausted           TEXT NOT NULL CHECK (exhausted IN ('Seldom','Sometimes','Usually','Most-Often')),
    sleep_disorder      TEXT NOT NULL CHECK (sleep_disorder IN ('Seldom','Sometimes','Usually','Most-Often')),
    mood_swing          TEXT NOT NULL CHECK (mood_swing IN ('NO','YES')),
    suicidal_thoughts   TEXT NOT NULL CHECK (suicidal_thoughts IN ('NO','YES')),
    anorexia            TEXT NOT NULL CHECK (anorexia IN ('NO','YES')),
    authority_respect   TEXT NOT NULL CHECK (authority_respect IN ('NO','YES')),
    try_explanation     TEXT NOT NULL CHECK (try_explanation IN ('NO','YES')),
    aggressive_response TEXT NOT NULL CHECK (aggressive_response IN ('NO','YES')),
    ignore_and_move_on  TEXT NOT NULL CHECK (ignore_and_move_on IN ('NO','YES')),
    nervous_breakdown   TEXT NOT NULL CHECK (nervous_breakdown IN ('NO','YES')),
    admit_mistakes      TEXT NOT NULL CHECK (admit_mistakes IN ('NO','YES')),
    overthinking        TEXT NOT NULL CHECK (overthinking IN ('NO','YES')),
    sexual_activity     INTEGER NOT NULL CHECK (sexual_activity BETWEEN 1 AND 10),
    concentration       INTEGER NOT NULL CHECK (concentration BETWEEN 1 AND 10),
    optimism            INTEGER NOT NULL CHECK (optimism BETWEEN 1 AND 10),
    diagnosis           TEXT NOT NULL CHECK (diagnosis IN ('Normal','Bipolar Type-1','Bipolar Type-2','Depression')),
    label_source        TEXT NOT NULL CHECK (label_source IN ('expert','model')),
    model_version       TEXT NULL,
    request_id          TEXT NULL UNIQUE,
    -- UTC, microseconds, the same text form the jobs table uses.
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE INDEX IF NOT EXISTS features_label_source_id ON features (label_source, id);
