-- The Weights & Biases mirror of a version, beside the MLflow one: the W&B run it was
-- written to (derived from the artifact's sha256, so mirroring again updates the same
-- run), or why the mirror failed, until it succeeds.
ALTER TABLE model_versions ADD COLUMN wandb_run_id VARCHAR(64) NULL;
ALTER TABLE model_versions ADD COLUMN wandb_error TEXT NULL;
