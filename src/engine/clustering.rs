//! Merchant segmentation: k-means (k-means++ initialisation, `linfa-clustering`) over
//! behaviour features of the merchants active in a trailing period, with stable cluster
//! ids from one run to the next and distance-based outliers.

use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array1, Array2};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;
use serde::Deserialize;

/// A behaviour feature of a merchant over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Transactions in the period, on a log scale (ln(1 + n)), so a few giants do not
    /// flatten everyone else.
    Volume,
    /// Average ticket relative to the average of its currency in the period (1.0 is a
    /// typical ticket), so currencies compare.
    AvgTicket,
    /// Share of transactions declined.
    DeclineRate,
    /// Share of transactions refunded.
    RefundRate,
    /// Share of transactions labelled fraud.
    FraudRate,
}

impl Feature {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Volume => "volume",
            Self::AvgTicket => "avg_ticket",
            Self::DeclineRate => "decline_rate",
            Self::RefundRate => "refund_rate",
            Self::FraudRate => "fraud_rate",
        }
    }
}

/// The `clustering` section of the engine settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusteringPolicy {
    /// Run after each window close.
    pub enabled: bool,
    /// Number of clusters.
    pub k: usize,
    /// Trailing period of activity that defines a merchant's behaviour.
    #[serde(with = "crate::serde_duration::duration")]
    pub period: std::time::Duration,
    /// Features, scaled to zero mean and unit variance before clustering.
    pub features: Vec<Feature>,
    /// Merchants whose distance to their centroid is above this quantile of all
    /// distances are flagged as outliers.
    pub outlier_quantile: f64,
    /// Seed of the k-means++ initialisation: same data and seed, same clusters.
    pub seed: u64,
}

impl Default for ClusteringPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            k: 4,
            period: std::time::Duration::from_secs(3600),
            features: vec![
                Feature::Volume,
                Feature::AvgTicket,
                Feature::DeclineRate,
                Feature::RefundRate,
            ],
            outlier_quantile: 0.95,
            seed: 42,
        }
    }
}

impl ClusteringPolicy {
    /// Checks the settings.
    ///
    /// # Errors
    /// A sentence naming the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.k < 2 {
            return Err("clustering.k must be at least 2".into());
        }
        if self.features.is_empty() {
            return Err("clustering.features must name at least one feature".into());
        }
        if !(0.0..1.0).contains(&self.outlier_quantile) {
            return Err("clustering.outlier_quantile must be in [0, 1), e.g. 0.95".into());
        }
        if self.period.is_zero() {
            return Err("clustering.period must be longer than zero, e.g. 1h".into());
        }
        Ok(())
    }
}

/// One merchant's raw feature values, in the policy's feature order.
#[derive(Debug, Clone, PartialEq)]
pub struct MerchantFeatures {
    /// The merchant.
    pub merchant_id: String,
    /// Raw values, unscaled (the engine scales them per run).
    pub values: Vec<f64>,
}

/// A cluster of a previous run: its id and raw centroid.
#[derive(Debug, Clone, PartialEq)]
pub struct Centroid {
    /// Stable id: kept from run to run for the nearest matching centroid.
    pub cluster_id: i32,
    /// Centroid in raw feature units.
    pub values: Vec<f64>,
    /// Merchants in it.
    pub size: usize,
}

/// A merchant's place in the segmentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The merchant.
    pub merchant_id: String,
    /// Its cluster's stable id.
    pub cluster_id: i32,
    /// Euclidean distance to the centroid, in scaled units.
    pub distance: f64,
    /// Its leave-one-out distance (to the rest of its cluster, or to the nearest other
    /// cluster when it is alone) is above the outlier quantile of all merchants'.
    pub is_outlier: bool,
}

/// The result of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// Every merchant, in input order.
    pub assignments: Vec<Assignment>,
    /// Clusters with their raw centroids and sizes, by id.
    pub centroids: Vec<Centroid>,
}

/// Clusters merchants; `None` when there are fewer merchants than clusters.
///
/// The steps: scale the features, fit k-means, give the clusters stable ids, measure
/// each merchant's distance and outlier score, and report the centroids in raw units.
pub fn segment(
    merchants: &[MerchantFeatures],
    policy: &ClusteringPolicy,
    previous: &[Centroid],
) -> Option<Segmentation> {
    let n = merchants.len();
    let dims = policy.features.len();
    if n < policy.k {
        return None;
    }
    let raw = Array2::from_shape_fn((n, dims), |(i, j)| merchants[i].values[j]);
    let scaler = Scaler::fit(&raw);
    let scaled = Array2::from_shape_fn((n, dims), |(i, j)| scaler.scale(j, raw[[i, j]]));
    let (labels, centers) = fit(&scaled, policy)?;
    let ids = stable_ids(&centers, previous, &scaler, policy.k);
    let distances: Vec<f64> = (0..n)
        .map(|i| distance(row(&scaled, i), row(&centers, labels[i])))
        .collect();
    let sizes: Vec<usize> = (0..policy.k)
        .map(|c| labels.iter().filter(|l| **l == c).count())
        .collect();
    let scores = outlier_scores(&scaled, &labels, &centers, &sizes, &distances);
    let threshold = quantile(&scores, policy.outlier_quantile);
    let assignments = merchants
        .iter()
        .enumerate()
        .map(|(i, m)| Assignment {
            merchant_id: m.merchant_id.clone(),
            cluster_id: ids[labels[i]],
            distance: distances[i],
            is_outlier: scores[i] > threshold,
        })
        .collect();
    let mut centroids: Vec<Centroid> = (0..policy.k)
        .map(|c| Centroid {
            cluster_id: ids[c],
            values: (0..dims)
                .map(|j| scaler.unscale(j, centers[[c, j]]))
                .collect(),
            size: sizes[c],
        })
        .collect();
    centroids.sort_by_key(|c| c.cluster_id);
    Some(Segmentation {
        assignments,
        centroids,
    })
}

/// Per-feature zero mean and unit variance (a constant feature scales to zero).
struct Scaler {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Scaler {
    fn fit(raw: &Array2<f64>) -> Self {
        let dims = raw.ncols();
        Self {
            mean: (0..dims)
                .map(|j| raw.column(j).mean().unwrap_or(0.0))
                .collect(),
            std: (0..dims).map(|j| raw.column(j).std(0.0)).collect(),
        }
    }

    fn scale(&self, j: usize, v: f64) -> f64 {
        if self.std[j] > 0.0 {
            (v - self.mean[j]) / self.std[j]
        } else {
            0.0
        }
    }

    fn unscale(&self, j: usize, v: f64) -> f64 {
        if self.std[j] > 0.0 {
            v * self.std[j] + self.mean[j]
        } else {
            self.mean[j]
        }
    }
}

fn row(matrix: &Array2<f64>, i: usize) -> &[f64] {
    matrix.row(i).to_slice().unwrap_or(&[])
}

/// k-means (k-means++ start, ten runs, seeded): each merchant's cluster and the centroids.
fn fit(scaled: &Array2<f64>, policy: &ClusteringPolicy) -> Option<(Array1<usize>, Array2<f64>)> {
    let dataset = DatasetBase::from(scaled.clone());
    let model = KMeans::params_with_rng(policy.k, Xoshiro256Plus::seed_from_u64(policy.seed))
        .init_method(KMeansInit::KMeansPlusPlus)
        .n_runs(10)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&dataset)
        .ok()?;
    let labels: Array1<usize> = model.predict(scaled);
    Some((labels, model.centroids().clone()))
}

/// Stable ids: new centroids are paired with the previous run's (rescaled to this run's
/// units), nearest pairs first; new clusters get ids not used before, numbered in order
/// of their centroids so the numbering does not depend on k-means' internal order.
fn stable_ids(centers: &Array2<f64>, previous: &[Centroid], scaler: &Scaler, k: usize) -> Vec<i32> {
    let dims = centers.ncols();
    let previous_scaled: Vec<(i32, Vec<f64>)> = previous
        .iter()
        .filter(|c| c.values.len() == dims)
        .map(|c| {
            let values = c
                .values
                .iter()
                .enumerate()
                .map(|(j, v)| scaler.scale(j, *v));
            (c.cluster_id, values.collect())
        })
        .collect();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for new in 0..k {
        for (old, (_, values)) in previous_scaled.iter().enumerate() {
            pairs.push((distance(row(centers, new), values), new, old));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut ids: Vec<Option<i32>> = vec![None; k];
    let mut taken = vec![false; previous_scaled.len()];
    for (_, new, old) in pairs {
        if ids[new].is_none() && !taken[old] {
            ids[new] = Some(previous_scaled[old].0);
            taken[old] = true;
        }
    }
    let mut unmatched: Vec<usize> = (0..k).filter(|c| ids[*c].is_none()).collect();
    unmatched.sort_by(|a, b| {
        let (ra, rb) = (centers.row(*a), centers.row(*b));
        ra.iter()
            .zip(rb.iter())
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let first_free = previous.iter().map(|c| c.cluster_id + 1).max().unwrap_or(0);
    for (id, c) in (first_free..).zip(unmatched) {
        ids[c] = Some(id);
    }
    ids.into_iter()
        .map(|id| id.expect("every cluster has an id"))
        .collect()
}

/// Each merchant's leave-one-out distance: to the centroid of the rest of its cluster,
/// or, for a merchant alone in its cluster (k-means gladly gives a far-off point its own
/// cluster), to the nearest other centroid.
fn outlier_scores(
    scaled: &Array2<f64>,
    labels: &Array1<usize>,
    centers: &Array2<f64>,
    sizes: &[usize],
    distances: &[f64],
) -> Vec<f64> {
    (0..scaled.nrows())
        .map(|i| {
            let own = labels[i];
            match sizes[own] {
                1 => (0..sizes.len())
                    .filter(|c| *c != own)
                    .map(|c| distance(row(scaled, i), row(centers, c)))
                    .fold(f64::INFINITY, f64::min),
                size => distances[i] * size as f64 / (size - 1) as f64,
            }
        })
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Linear-interpolation quantile (`percentile_cont`).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    sorted[lo] + (position - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three planted groups of ten merchants and one far-off merchant.
    fn planted(shift: f64) -> Vec<MerchantFeatures> {
        let groups = [
            [5.0, 0.5, 0.02, 0.01],
            [2.0, 3.0, 0.05, 0.02],
            [3.5, 1.0, 0.40, 0.10],
        ];
        let mut merchants = Vec::new();
        for (g, center) in groups.iter().enumerate() {
            for i in 0..10 {
                let jitter = ((i as f64 * 7.3 + g as f64).sin()) * 0.05 + shift;
                merchants.push(MerchantFeatures {
                    merchant_id: format!("g{g}-m{i}"),
                    values: center.iter().map(|v| v * (1.0 + jitter)).collect(),
                });
            }
        }
        merchants.push(MerchantFeatures {
            merchant_id: "outlier".into(),
            values: vec![3.5, 9.0, 0.9, 0.6],
        });
        merchants
    }

    fn policy() -> ClusteringPolicy {
        ClusteringPolicy {
            k: 3,
            ..ClusteringPolicy::default()
        }
    }

    #[test]
    fn a_merchant_alone_in_its_cluster_is_still_an_outlier() {
        let result = segment(&planted(0.0), &ClusteringPolicy { k: 4, ..policy() }, &[]).unwrap();
        let outlier = result
            .assignments
            .iter()
            .find(|a| a.merchant_id == "outlier")
            .unwrap();
        assert!(outlier.is_outlier);
    }

    #[test]
    fn planted_groups_are_found_and_the_outlier_flagged() {
        let result = segment(&planted(0.0), &policy(), &[]).unwrap();
        for g in 0..3 {
            let ids: std::collections::BTreeSet<i32> = result
                .assignments
                .iter()
                .filter(|a| a.merchant_id.starts_with(&format!("g{g}-")))
                .map(|a| a.cluster_id)
                .collect();
            assert_eq!(ids.len(), 1, "group {g} split: {ids:?}");
        }
        let outliers: Vec<&str> = result
            .assignments
            .iter()
            .filter(|a| a.is_outlier)
            .map(|a| a.merchant_id.as_str())
            .collect();
        assert!(outliers.contains(&"outlier"), "{outliers:?}");
        assert_eq!(result.centroids.iter().map(|c| c.size).sum::<usize>(), 31);
    }

    #[test]
    fn the_same_data_and_seed_give_the_same_result() {
        assert_eq!(
            segment(&planted(0.0), &policy(), &[]),
            segment(&planted(0.0), &policy(), &[])
        );
    }

    #[test]
    fn cluster_ids_follow_their_groups_from_run_to_run() {
        let first = segment(&planted(0.0), &policy(), &[]).unwrap();
        // The data drift a little and k-means may number its clusters differently; the
        // stable ids must not care.
        let second = segment(
            &planted(0.03),
            &ClusteringPolicy {
                seed: 7,
                ..policy()
            },
            &first.centroids,
        )
        .unwrap();
        for (a, b) in first.assignments.iter().zip(&second.assignments) {
            assert_eq!(a.cluster_id, b.cluster_id, "{}", a.merchant_id);
        }
    }

    #[test]
    fn fewer_merchants_than_clusters_is_no_run() {
        assert!(segment(&planted(0.0)[..2], &policy(), &[]).is_none());
    }

    #[test]
    fn each_invalid_setting_is_named_with_its_fix() {
        let cases = [
            (
                ClusteringPolicy { k: 1, ..policy() },
                "clustering.k must be at least 2",
            ),
            (
                ClusteringPolicy {
                    features: vec![],
                    ..policy()
                },
                "clustering.features must name at least one feature",
            ),
            (
                ClusteringPolicy {
                    outlier_quantile: 1.0,
                    ..policy()
                },
                "clustering.outlier_quantile must be in [0, 1), e.g. 0.95",
            ),
            (
                ClusteringPolicy {
                    outlier_quantile: -0.1,
                    ..policy()
                },
                "clustering.outlier_quantile must be in [0, 1), e.g. 0.95",
            ),
            (
                ClusteringPolicy {
                    period: std::time::Duration::ZERO,
                    ..policy()
                },
                "clustering.period must be longer than zero, e.g. 1h",
            ),
        ];
        for (invalid, message) in cases {
            assert_eq!(invalid.validate(), Err(message.to_owned()), "{invalid:?}");
        }
        assert_eq!(policy().validate(), Ok(()));
    }

    #[test]
    fn features_have_their_stored_names() {
        let names: Vec<&str> = [
            Feature::Volume,
            Feature::AvgTicket,
            Feature::DeclineRate,
            Feature::RefundRate,
            Feature::FraudRate,
        ]
        .into_iter()
        .map(Feature::name)
        .collect();
        assert_eq!(
            names,
            [
                "volume",
                "avg_ticket",
                "decline_rate",
                "refund_rate",
                "fraud_rate"
            ]
        );
    }

    #[test]
    fn a_feature_every_merchant_shares_is_its_centroid_value_everywhere() {
        // Two groups by volume; every merchant has the same fraud rate, 0.25.
        let merchants: Vec<MerchantFeatures> = [1.0, 1.1, 0.9, 9.0, 9.1, 8.9]
            .iter()
            .enumerate()
            .map(|(i, volume)| MerchantFeatures {
                merchant_id: format!("m{i}"),
                values: vec![*volume, 0.25],
            })
            .collect();
        let policy = ClusteringPolicy {
            k: 2,
            features: vec![Feature::Volume, Feature::FraudRate],
            ..ClusteringPolicy::default()
        };
        let result = segment(&merchants, &policy, &[]).unwrap();
        let mut volumes: Vec<f64> = Vec::new();
        for centroid in &result.centroids {
            assert_eq!(centroid.size, 3);
            assert_eq!(centroid.values[1], 0.25, "{centroid:?}");
            volumes.push(centroid.values[0]);
        }
        volumes.sort_by(f64::total_cmp);
        // The mean of each group: 1.0 and 9.0.
        assert!((volumes[0] - 1.0).abs() < 1e-9, "{volumes:?}");
        assert!((volumes[1] - 9.0).abs() < 1e-9, "{volumes:?}");
    }

    #[test]
    fn the_quantile_interpolates_linearly_like_percentile_cont() {
        // Sorted 1 2 3 4: the median lies half-way between 2 and 3; 0.9 at 3 + 0.7 * 1.
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert!((quantile(&[4.0, 1.0, 3.0, 2.0], 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&[7.0], 0.95), 7.0);
        assert_eq!(quantile(&[], 0.95), 0.0);
    }
}
