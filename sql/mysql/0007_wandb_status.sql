-- The standing (status) a version's W&B run shows in its tags, summary and artifact
-- aliases, as of its last mirror: a promotion, retirement or rollback since then makes it
-- differ from model_versions.status, and the next sync sends the run again.
ALTER TABLE model_versions ADD COLUMN wandb_status VARCHAR(16) NULL;
