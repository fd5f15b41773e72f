//! Merchant segmentation runs: features from SQL, k-means in the engine, results back.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use tokio_postgres::Client;

use super::StoreError;
use crate::engine::clustering::{self, Centroid, ClusteringPolicy, Feature, MerchantFeatures};

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

/// Clusters the merchants active in `[now - period, now)` and stores the run.
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
                    ln(1 + count(*))::float8,
                    coalesce(avg(r.amount / nullif(m.mean, 0)), 0)::float8,
                    avg((r.status = 'declined')::int)::float8,
                    avg((r.status = 'refunded')::int)::float8,
                    avg(r.is_fraud::int)::float8
             FROM recent r JOIN currency_mean m USING (currency)
             GROUP BY r.merchant_id
             ORDER BY r.merchant_id",
            &[&from, &now],
        )
        .await
        .map_err(StoreError::query("computing merchant features"))?;
    let merchants: Vec<MerchantFeatures> = rows
        .iter()
        .map(|row| MerchantFeatures {
            merchant_id: row.get(0),
            values: policy
                .features
                .iter()
                .map(|f| match f {
                    Feature::Volume => row.get::<_, f64>(1),
                    Feature::AvgTicket => row.get(2),
                    Feature::DeclineRate => row.get(3),
                    Feature::RefundRate => row.get(4),
                    Feature::FraudRate => row.get(5),
                })
                .collect(),
        })
        .collect();

    let previous = previous_centroids(client, policy).await?;
    let Some(segmentation) = clustering::segment(&merchants, policy, &previous) else {
        return Ok(ClusterReport {
            merchants: merchants.len(),
            ..ClusterReport::default()
        });
    };

    let names: Vec<&str> = policy.features.iter().map(|f| f.name()).collect();
    let as_json = |values: &[f64]| -> Value {
        Value::Object(
            names
                .iter()
                .zip(values)
                .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
                .collect::<Map<_, _>>(),
        )
    };
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
                &now,
                &from,
                &(policy.k as i32),
                &names,
                &(policy.seed as i64),
                &(merchants.len() as i32),
            ],
        )
        .await
        .map_err(StoreError::query("recording a clustering run"))?
        .get(0);
    let ids: Vec<i32> = segmentation
        .centroids
        .iter()
        .map(|c| c.cluster_id)
        .collect();
    let sizes: Vec<i32> = segmentation
        .centroids
        .iter()
        .map(|c| c.size as i32)
        .collect();
    let centroids: Vec<Value> = segmentation
        .centroids
        .iter()
        .map(|c| as_json(&c.values))
        .collect();
    tx.execute(
        "INSERT INTO merchant_cluster_centroids (run_id, cluster_id, size, centroid)
         SELECT $1, * FROM unnest($2::integer[], $3::integer[], $4::jsonb[])",
        &[&run_id, &ids, &sizes, &centroids],
    )
    .await
    .map_err(StoreError::query("storing cluster centroids"))?;
    let merchant_ids: Vec<&str> = segmentation
        .assignments
        .iter()
        .map(|a| a.merchant_id.as_str())
        .collect();
    let clusters: Vec<i32> = segmentation
        .assignments
        .iter()
        .map(|a| a.cluster_id)
        .collect();
    let distances: Vec<f64> = segmentation
        .assignments
        .iter()
        .map(|a| a.distance)
        .collect();
    let outliers: Vec<bool> = segmentation
        .assignments
        .iter()
        .map(|a| a.is_outlier)
        .collect();
    let features: Vec<Value> = merchants.iter().map(|m| as_json(&m.values)).collect();
    tx.execute(
        "INSERT INTO merchant_clusters (run_id, merchant_id, cluster_id, distance, is_outlier, features)
         SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::float8[], $5::boolean[], $6::jsonb[])",
        &[&run_id, &merchant_ids, &clusters, &distances, &outliers, &features],
    )
    .await
    .map_err(StoreError::query("storing merchant clusters"))?;
    tx.commit()
        .await
        .map_err(StoreError::query("committing a clustering run"))?;
    Ok(ClusterReport {
        run_id: Some(run_id),
        merchants: merchants.len(),
        outliers: outliers.iter().filter(|o| **o).count(),
    })
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
