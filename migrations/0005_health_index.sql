-- What the Health function reads, cheaply.

-- The last ingest is the latest changed_at of the 5-minute windows: every batch that
-- accepts a transaction stamps the 5-minute window of each one with the batch's
-- ingested_at. With this index the Health function reads it from one index entry instead
-- of scanning window_state or every partition of normalized_transactions.
-- (rejected_last_hour uses rejected_events_rejected_at_idx from migration 1.)
CREATE INDEX IF NOT EXISTS window_state_changed_at_idx ON window_state (width_seconds, changed_at);
