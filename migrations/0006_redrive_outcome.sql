-- Redrive: a quarantined event re-validated by `handler redrive` keeps its row and
-- records when and with what outcome (stored, duplicate, still_rejected:<reason>).
-- Expand-only: older handlers never read these columns.
ALTER TABLE rejected_events ADD COLUMN IF NOT EXISTS redriven_at timestamptz;
ALTER TABLE rejected_events ADD COLUMN IF NOT EXISTS redrive_outcome text;
