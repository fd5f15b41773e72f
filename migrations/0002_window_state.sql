-- Window bookkeeping for the timer that closes windows into payment_metrics_5m.

-- One row per window that ever received a transaction, per window width (5-minute
-- windows today; rule windows of other widths later). Ingest upserts the row of every
-- window it adds transactions to, as the last statement of its transaction, so the timer,
-- which locks the rows it closes, never misses a transaction committed around a close.
CREATE TABLE window_state (
    width_seconds   integer     NOT NULL CHECK (width_seconds > 0),
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    -- changed since it was last closed (or never closed): the timer must (re)compute it
    dirty           boolean     NOT NULL DEFAULT true,
    -- times computed; the metric rows carry it
    revision        integer     NOT NULL DEFAULT 0,
    -- transactions ingested into the window, and those of them that arrived after it
    -- had been closed
    events          bigint      NOT NULL DEFAULT 0,
    late_events     bigint      NOT NULL DEFAULT 0,
    first_closed_at timestamptz,
    closed_at       timestamptz,
    changed_at      timestamptz NOT NULL,
    PRIMARY KEY (width_seconds, window_start)
);

CREATE INDEX window_state_dirty_idx ON window_state (width_seconds, window_end) WHERE dirty;

-- Late transactions per 5-minute window and (payment_type, currency), for the
-- late_events column of payment_metrics_5m.
CREATE TABLE late_events_5m (
    window_start timestamptz NOT NULL,
    payment_type text        NOT NULL,
    currency     text        NOT NULL,
    late_events  bigint      NOT NULL,
    PRIMARY KEY (window_start, payment_type, currency)
);

CREATE INDEX payment_metrics_5m_window_end_idx ON payment_metrics_5m (window_end);
