-- Claiming jobs reads two index ranges: the pending jobs of a kind in id order
-- (jobs_status_kind_id), and the running ones whose lease has expired (this index), so a
-- claim reads the rows it takes, not every job queued since the first (a burst of
-- thousands of claimed jobs, or years of finished ones).
CREATE INDEX jobs_status_kind_lease ON jobs (status, kind, lease_until);
