//! Merchant segmentation runs: features from SQL, k-means in the engine, results back.
//!
//! A run reads its features by column name (not position), so the query and the
//! mapping cannot drift apart.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use tokio_postgres::{Client, GenericClient};

use super::StoreError;
use crate::engine::clustering::{
    self, Centroid, ClusteringPolicy, Feature, MerchantFeatures, Segmentation,
};

/// What a segmentation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterReport {
    /// The stored run, `None` when it was skipped (disabled, or too few merchants).
    pub run_id: Option<i64>,
    /// Merchants clustered.
    pub merchants: usize,
    /// Of them, flagged as outliers.
    pub outliers: usize,
}

/// Clusters the merchants active in `[now - period, now)` and stores the run: load the
/// features, segment them in the engine, save the run.
///
/// # Errors
/// Any [`StoreError`].
pub async fn cluster_merchants(
    client: &mut Client,
    now: DateTime<Utc>,
    policy: &ClusteringPolicy,
) -> Result<ClusterReport, StoreError> {
    if !policy.enabled {
        return Ok(ClusterReport::default());
    }
    let from = now - TimeDelta::from_std(policy.period).unwrap_or(TimeDelta::MAX);
    let merchants = load_features(client, from, now, policy).await?;
    let previous = previous_centroids(client, policy).await?;
    let Some(segmentation) = clustering::segment(&merchants, policy, &previous) else {
        return Ok(ClusterReport {
            merchants: merchants.len(),
            ..ClusterReport::default()
        });
    };
    let run = Run {
        now,
        from,
        policy,
        merchants: &merchants,
        segmentation: &segmentation,
    };
    let run_id = save_run(client, &run).await?;
    Ok(ClusterReport {
        run_id: Some(run_id),
        merchants: merchants.len(),
        outliers: segmentation
            .assignments
            .iter()
            .filter(|a| a.is_outlier)
            .count(),
    })
}

/// The features of every merchant active in `[from, now)`, in the policy's order.
async fn load_features(
    client: &Client,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &ClusteringPolicy,
) -> Result<Vec<MerchantFeatures>, StoreError> {
    let rows = client
        .query(
            "WITH recent AS (
                 SELECT merchant_id, currency, amount, status, is_fraud
                 FROM normalized_transactions WHERE occurred_at >= $1 AND occurred_at < $2
             ),
             currency_mean AS (
                 SELECT currency, avg(amount) AS mean FROM recent GROUP BY currency
             )
             SELECT r.merchant_id,
                    ln(1 + count(*))::float8 AS volume,
                    coalesce(avg(r.amount / nullif(m.mean, 0)), 0)::float8 AS avg_ticket,
                    avg((r.status = 'declined')::int)::float8 AS decline_rate,
                    avg((r.status = 'refunded')::int)::float8 AS refund_rate,
                    avg(r.is_fraud::int)::float8 AS fraud_rate
             FROM recent r JOIN currency_mean m USING (currency)
             GROUP BY r.merchant_id
             ORDER BY r.merchant_id",
            &[&from, &now],
        )
        .await
        .map_err(StoreError::query("computing merchant features"))?;
    Ok(rows
        .iter()
        .map(|row| MerchantFeatures {
            merchant_id: row.get("merchant_id"),
            values: policy
                .features
                .iter()
                .map(|f| match f {
                    Feature::Volume => row.get::<_, f64>("volume"),
                    Feature::AvgTicket => row.get("avg_ticket"),
                    Feature::DeclineRate => row.get("decline_rate"),
                    Feature::RefundRate => row.get("refund_rate"),
                    Feature::FraudRate => row.get("fraud_rate"),
                })
                .collect(),
        })
        .collect())
}

/// One segmentation run, as it is stored.
struct Run<'a> {
    now: DateTime<Utc>,
    from: DateTime<Utc>,
    policy: &'a ClusteringPolicy,
    merchants: &'a [MerchantFeatures],
    segmentation: &'a Segmentation,
}

impl Run<'_> {
    fn feature_names(&self) -> Vec<&'static str> {
        self.policy.features.iter().map(|f| f.name()).collect()
    }

    /// Feature values as a JSON object keyed by feature name.
    fn as_json(&self, values: &[f64]) -> Value {
        Value::Object(
            self.feature_names()
                .iter()
                .zip(values)
                .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
                .collect::<Map<_, _>>(),
        )
    }
}

/// Stores the run, its centroids and every merchant's assignment in one transaction;
/// returns the run's id.
async fn save_run(client: &mut Client, run: &Run<'_>) -> Result<i64, StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("starting a clustering run"))?;
    let run_id: i64 = tx
        .query_one(
            "INSERT INTO merchant_cluster_runs
                 (computed_at, period_start, period_end, k, features, seed, merchants)
             VALUES ($1, $2, $1, $3, $4, $5, $6) RETURNING run_id",
            &[
                &run.now,
                &run.from,
                &(run.policy.k as i32),
                &run.feature_names(),
                &(run.policy.seed as i64),
                &(run.merchants.len() as i32),
            ],
        )
        .await
        .map_err(StoreError::query("recording a clustering run"))?
        .get(0);
    save_centroids(&tx, run_id, run).await?;
    save_assignments(&tx, run_id, run).await?;
    tx.commit()
        .await
        .map_err(StoreError::query("committing a clustering run"))?;
    Ok(run_id)
}

async fn save_centroids(
    tx: &impl GenericClient,
    run_id: i64,
    run: &Run<'_>,
) -> Result<(), StoreError> {
    let centroids = &run.segmentation.centroids;
    let ids: Vec<i32> = centroids.iter().map(|c| c.cluster_id).collect();
    let sizes: Vec<i32> = centroids.iter().map(|c| c.size as i32).collect();
    let values: Vec<Value> = centroids.iter().map(|c| run.as_json(&c.values)).collect();
    tx.execute(
        "INSERT INTO merchant_cluster_centroids (run_id, cluster_id, size, centroid)
         SELECT $1, * FROM unnest($2::integer[], $3::integer[], $4::jsonb[])",
        &[&run_id, &ids, &sizes, &values],
    )
    .await
    .map_err(StoreError::query("storing cluster centroids"))?;
    Ok(())
}

async fn save_assignments(
    tx: &impl GenericClient,
    run_id: i64,
    run: &Run<'_>,
) -> Result<(), StoreError> {
    let assignments = &run.segmentation.assignments;
    let merchant_ids: Vec<&str> = assignments.iter().map(|a| a.merchant_id.as_str()).collect();
    let clusters: Vec<i32> = assignments.iter().map(|a| a.cluster_id).collect();
    let distances: Vec<f64> = assignments.iter().map(|a| a.distance).collect();
    let outliers: Vec<bool> = assignments.iter().map(|a| a.is_outlier).collect();
    let features: Vec<Value> = run
        .merchants
        .iter()
        .map(|m| run.as_json(&m.values))
        .collect();
    tx.execute(
        "INSERT INTO merchant_clusters (run_id, merchant_id, cluster_id, distance, is_outlier, features)
         SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::float8[], $5::boolean[], $6::jsonb[])",
        &[&run_id, &merchant_ids, &clusters, &distances, &outliers, &features],
    )
    .await
    .map_err(StoreError::query("storing merchant clusters"))?;
    Ok(())
}

/// The centroids of the latest run with the same features, for stable ids.
async fn previous_centroids(
    client: &Client,
    policy: &ClusteringPolicy,
) -> Result<Vec<Centroid>, StoreError> {
    let names: Vec<&str> = policy.features.iter().map(|f| f.name()).collect();
    let rows = client
        .query(
            "SELECT c.cluster_id, c.size, c.centroid
             FROM merchant_cluster_centroids c
             WHERE c.run_id = (SELECT max(run_id) FROM merchant_cluster_runs WHERE features = $1::text[])",
            &[&names],
        )
        .await
        .map_err(StoreError::query("reading the previous clusters"))?;
    Ok(rows
        .iter()
        .map(|row| {
            let centroid: Value = row.get(2);
            Centroid {
                cluster_id: row.get(0),
                size: usize::try_from(row.get::<_, i32>(1)).unwrap_or(0),
                values: names
                    .iter()
                    .map(|n| centroid.get(*n).and_then(Value::as_f64).unwrap_or(0.0))
                    .collect(),
            }
        })
        .collect())
}
