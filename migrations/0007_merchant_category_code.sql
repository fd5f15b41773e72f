-- The ISO 18245 merchant category code an event came with (legacy producers send one
-- where canonical ones send a category name). merchant_category now holds the canonical
-- name the code maps to, so one category is one value; the code itself is kept here.
-- Expand-only: a nullable column, so a handler of the previous release keeps inserting.
-- The table is partitioned by day; a column added to the parent reaches every partition.
ALTER TABLE normalized_transactions ADD COLUMN IF NOT EXISTS mcc smallint
    CHECK (mcc BETWEEN 0 AND 9999);
