-- What ingest did per hour and Event Hubs partition, for the dashboard's ingest health
-- panel: transactions stored for the first time, and events that were already stored
-- (redeliveries and replays, which change nothing else and are otherwise kept nowhere).
-- Rejects are not counted here: rejected_events keeps each one, with its reason.
-- Every batch transaction adds its counts to the row of its hour (the handler's clock)
-- and partition; one consumer reads a partition at a time, so batches of different
-- partitions never wait on each other's row.
-- Expand-only: a new table, which a handler of the previous release never touches.
CREATE TABLE IF NOT EXISTS ingest_counts (
    hour         timestamptz NOT NULL,
    -- '' for invocations without a partition (the simulator's handler sink, tests)
    partition_id text        NOT NULL,
    accepted     bigint      NOT NULL DEFAULT 0,
    duplicates   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, partition_id)
);
