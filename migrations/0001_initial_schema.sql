-- paymetrics schema, version 1.
-- Applied by `handler migrate` in one transaction; see docs/adr/0002-partitioning.md.

-- Accepted transactions, range-partitioned by event time into one partition per UTC day,
-- so retention drops whole partitions and window queries touch only the days they need.
CREATE TABLE normalized_transactions (
    transaction_id    text        NOT NULL,
    occurred_at       timestamptz NOT NULL,
    amount            numeric     NOT NULL CHECK (amount >= 0),
    currency          text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_type      text        NOT NULL CHECK (payment_type IN ('card', 'ach', 'wire', 'wallet', 'bnpl')),
    status            text        NOT NULL CHECK (status IN ('approved', 'declined', 'failed', 'pending', 'refunded')),
    merchant_id       text        NOT NULL,
    merchant_category text,
    customer_id       text,
    country           text        CHECK (country ~ '^[A-Z]{2}$'),
    channel           text        CHECK (channel IN ('pos', 'online', 'mobile')),
    decline_reason    text,
    is_fraud          boolean     NOT NULL DEFAULT false,
    -- lineage
    partition_id      text,
    sequence_number   bigint,
    enqueued_at       timestamptz,
    ingested_at       timestamptz NOT NULL,
    source_format     text        NOT NULL CHECK (source_format IN ('canonical_v1', 'legacy_camel')),
    PRIMARY KEY (transaction_id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE INDEX normalized_transactions_occurred_at_idx ON normalized_transactions (occurred_at);

-- The exactly-once ledger. A unique index on a partitioned table must include the
-- partition key, so global uniqueness of transaction_id lives here: one row per id ever
-- accepted, with the fingerprint of its content to tell a replay from a conflict.
CREATE TABLE transaction_ids (
    transaction_id text        PRIMARY KEY,
    content_hash   bytea       NOT NULL,
    occurred_at    timestamptz NOT NULL,
    first_seen_at  timestamptz NOT NULL
);

-- Creates the day partition holding `day` (UTC) unless it exists. Safe to call
-- concurrently: creators are serialized by an advisory lock.
CREATE FUNCTION paymetrics_ensure_partition(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    partition_name text := format('normalized_transactions_p%s', to_char(day, 'YYYYMMDD'));
BEGIN
    IF to_regclass(partition_name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('paymetrics.partitions'));
    -- The lock does not refresh this session's view of the catalog, so a partition
    -- created by the runner that held the lock before may still look absent here.
    BEGIN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF normalized_transactions FOR VALUES FROM (%L) TO (%L)',
            partition_name,
            (day::timestamp AT TIME ZONE 'UTC'),
            ((day + 1)::timestamp AT TIME ZONE 'UTC'));
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        NULL;
    END;
END;
$$;

-- Quarantine: every event that could not be accepted, exactly as received.
CREATE TABLE rejected_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reason          text        NOT NULL,
    detail          text        NOT NULL,
    raw             text        NOT NULL,
    raw_encoding    text        NOT NULL DEFAULT 'utf8' CHECK (raw_encoding IN ('utf8', 'base64')),
    transaction_id  text,
    -- lineage
    partition_id    text,
    sequence_number bigint,
    event_offset    text,
    enqueued_at     timestamptz,
    batch_index     integer,
    invocation_id   text,
    -- identity of the reject, so a redelivered batch stores it once
    fingerprint     bytea       NOT NULL UNIQUE,
    rejected_at     timestamptz NOT NULL
);

CREATE INDEX rejected_events_reason_idx ON rejected_events (reason, rejected_at);
CREATE INDEX rejected_events_rejected_at_idx ON rejected_events (rejected_at);

-- Closed 5-minute windows per payment type and currency (filled by the timer).
CREATE TABLE payment_metrics_5m (
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    payment_type     text        NOT NULL,
    currency         text        NOT NULL,
    txn_count        bigint      NOT NULL,
    approved_count   bigint      NOT NULL,
    declined_count   bigint      NOT NULL,
    failed_count     bigint      NOT NULL,
    pending_count    bigint      NOT NULL,
    refunded_count   bigint      NOT NULL,
    total_amount     numeric     NOT NULL,
    approved_amount  numeric     NOT NULL,
    avg_amount       numeric     NOT NULL,
    min_amount       numeric     NOT NULL,
    max_amount       numeric     NOT NULL,
    p50_amount       numeric     NOT NULL,
    p95_amount       numeric     NOT NULL,
    p99_amount       numeric     NOT NULL,
    unique_customers bigint      NOT NULL,
    unique_merchants bigint      NOT NULL,
    fraud_count      bigint      NOT NULL,
    approval_rate    numeric,
    late_events      bigint      NOT NULL DEFAULT 0,
    revision         integer     NOT NULL DEFAULT 1,
    closed_at        timestamptz NOT NULL,
    PRIMARY KEY (window_start, payment_type, currency)
);

-- Rule-based metrics declared in the engine YAML (filled by the timer).
CREATE TABLE dynamic_metrics (
    rule_name    text        NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    group_key    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    value        numeric,
    sample_count bigint      NOT NULL,
    rule_version text        NOT NULL,
    revision     integer     NOT NULL DEFAULT 1,
    computed_at  timestamptz NOT NULL,
    PRIMARY KEY (rule_name, window_start, group_key)
);
