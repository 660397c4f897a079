-- The operator's dashboard (`/ui/`): each drift check keeps its columns' figures (name,
-- PSI, p-value, verdict, as JSON) beside its verdict, so the drift history's heatmap is
-- one query over a page of checks; and checks are found by date through an index.
ALTER TABLE drift_reports ADD COLUMN column_figures TEXT NULL;
CREATE INDEX drift_reports_created_at ON drift_reports (created_at);
