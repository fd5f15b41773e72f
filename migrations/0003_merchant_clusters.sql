-- Merchant segmentation runs (k-means over behaviour features), written by the timer.

CREATE TABLE merchant_cluster_runs (
    run_id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    computed_at  timestamptz NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    k            integer     NOT NULL,
    features     text[]      NOT NULL,
    seed         bigint      NOT NULL,
    merchants    integer     NOT NULL
);

CREATE TABLE merchant_cluster_centroids (
    run_id     bigint  NOT NULL REFERENCES merchant_cluster_runs ON DELETE CASCADE,
    cluster_id integer NOT NULL,
    size       integer NOT NULL,
    -- feature name -> centroid value in the feature's own units
    centroid   jsonb   NOT NULL,
    PRIMARY KEY (run_id, cluster_id)
);

CREATE TABLE merchant_clusters (
    run_id      bigint           NOT NULL REFERENCES merchant_cluster_runs ON DELETE CASCADE,
    merchant_id text             NOT NULL,
    cluster_id  integer          NOT NULL,
    -- Euclidean distance to the centroid, in standardized feature units
    distance    double precision NOT NULL,
    is_outlier  boolean          NOT NULL,
    -- feature name -> the merchant's value
    features    jsonb            NOT NULL,
    PRIMARY KEY (run_id, merchant_id)
);

-- The latest run, for dashboards.
CREATE VIEW merchant_clusters_latest AS
SELECT c.merchant_id, c.cluster_id, c.distance, c.is_outlier, c.features, r.computed_at,
       r.period_start, r.period_end
FROM merchant_clusters c
JOIN merchant_cluster_runs r USING (run_id)
WHERE c.run_id = (SELECT max(run_id) FROM merchant_cluster_runs);

CREATE VIEW merchant_cluster_centroids_latest AS
SELECT c.cluster_id, c.size, c.centroid, r.computed_at
FROM merchant_cluster_centroids c
JOIN merchant_cluster_runs r USING (run_id)
WHERE c.run_id = (SELECT max(run_id) FROM merchant_cluster_runs);
