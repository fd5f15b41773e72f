-- Exact percentiles for rules, and the window widths in use.

-- percentile_cont semantics (linear interpolation between the nearest ranks) in exact
-- numeric arithmetic, over an array sorted ascending. percentile_cont itself only takes
-- double precision, which rounds amounts past 15 significant digits.
CREATE FUNCTION paymetrics_percentile(sorted numeric[], p numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT sorted[floor(p * (cardinality(sorted) - 1))::int + 1]
         + (p * (cardinality(sorted) - 1) - floor(p * (cardinality(sorted) - 1)))
         * (sorted[ceil(p * (cardinality(sorted) - 1))::int + 1]
            - sorted[floor(p * (cardinality(sorted) - 1))::int + 1])
$$;

-- Widths whose windows exist in window_state. A width seen for the first time (a new
-- rule window) gets its windows created over the existing history.
CREATE TABLE window_widths (
    width_seconds integer     PRIMARY KEY,
    adopted_at    timestamptz NOT NULL
);
INSERT INTO window_widths (width_seconds, adopted_at)
SELECT DISTINCT width_seconds, now() FROM window_state
ON CONFLICT DO NOTHING;
