-- Alerts on the metrics (engine settings `alerts:`), judged by the timer at each close.
-- An alert is state: one row per alert and group while it fires (a breach that lasts an
-- hour is one row, its last_window moving on), resolved once a later window of the group
-- no longer breaches. Expand-only: new tables and indexes; a handler of the previous
-- release never touches them.
CREATE TABLE IF NOT EXISTS metric_alerts (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert        text        NOT NULL,
    -- the group's values: {"payment_type": ..., "currency": ...} for a payment_metrics_5m
    -- measure, the rule's group_key for a rule
    group_key    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    severity     smallint    NOT NULL CHECK (severity BETWEEN 0 AND 4),
    -- the first window of the breach that fired it, and the latest breaching window
    first_window timestamptz NOT NULL,
    last_window  timestamptz NOT NULL,
    -- the value and the baseline (or threshold) at last_window
    value        numeric,
    baseline     numeric,
    state        text        NOT NULL CHECK (state IN ('firing', 'resolved')),
    fired_at     timestamptz NOT NULL,
    resolved_at  timestamptz,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK (first_window <= last_window)
);

-- At most one open alert per alert and group.
CREATE UNIQUE INDEX IF NOT EXISTS metric_alerts_open_idx
    ON metric_alerts (alert, group_key) WHERE state = 'firing';
CREATE INDEX IF NOT EXISTS metric_alerts_fired_at_idx ON metric_alerts (fired_at);

-- The rows a close has just written, which are the windows alerts judge.
CREATE INDEX IF NOT EXISTS payment_metrics_5m_closed_at_idx ON payment_metrics_5m (closed_at);
CREATE INDEX IF NOT EXISTS dynamic_metrics_computed_at_idx ON dynamic_metrics (computed_at);
