//! Merchant segmentation on planted behaviour, through the handler and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::engine::clustering::ClusteringPolicy;
use paymetrics::store;
use serde_json::{Value, json};

use crate::helpers::{Rng, TestApp, batch, count};

/// Three planted kinds of merchant and one odd one, active in 10:00-10:50.
fn planted() -> Vec<Value> {
    let mut rng = Rng::new(21);
    let start: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
    // (prefix, merchants, transactions each, amount range in cents, decline %, refund %)
    let kinds = [
        ("grocer", 8, 40, (500, 1500), 2, 0),
        ("jeweller", 8, 5, (50_000, 90_000), 5, 2),
        ("risky", 8, 15, (4_000, 6_000), 50, 5),
        ("odd", 1, 15, (200_000, 200_100), 10, 80),
    ];
    let mut events = Vec::new();
    for (prefix, merchants, each, (lo, hi), decline, refund) in kinds {
        for m in 0..merchants {
            for i in 0..each {
                let roll = rng.below(100);
                let status = if roll < decline {
                    "declined"
                } else if roll < decline + refund {
                    "refunded"
                } else {
                    "approved"
                };
                let cents = lo + rng.below(hi - lo);
                events.push(json!({
                    "transaction_id": format!("{prefix}-{m}-{i}"),
                    "occurred_at": (start + TimeDelta::seconds(rng.below(3000) as i64)).to_rfc3339(),
                    "amount": format!("{}.{:02}", cents / 100, cents % 100),
                    "currency": "USD",
                    "payment_type": "card",
                    "status": status,
                    "merchant_id": format!("{prefix}-{m}"),
                }));
            }
        }
    }
    events
}

async fn assignments(client: &tokio_postgres::Client) -> BTreeMap<String, (i32, bool)> {
    client
        .query(
            "SELECT merchant_id, cluster_id, is_outlier FROM merchant_clusters_latest",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

#[tokio::test]
async fn planted_merchant_groups_are_found_with_stable_ids_and_the_odd_one_flagged() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    for (n, chunk) in planted().chunks(200).enumerate() {
        let (status, body) = app.invoke(batch(chunk, "0", (n * 200) as i64)).await;
        assert_eq!(status, 200, "{body}");
    }
    // Four clusters: the three kinds, and room for k-means to isolate the odd merchant,
    // which it does; the odd one must be flagged all the same.
    let policy = ClusteringPolicy {
        k: 4,
        ..ClusteringPolicy::default()
    };
    let now: DateTime<Utc> = "2026-11-25T11:00:00Z".parse().unwrap();
    let mut client = app.db.connect().await;
    let first = store::cluster_merchants(&mut client, now, &policy)
        .await
        .unwrap();
    assert_eq!(first.merchants, 25);
    let before = assignments(&db).await;

    for prefix in ["grocer", "jeweller", "risky"] {
        let ids: BTreeSet<i32> = before
            .iter()
            .filter(|(m, _)| m.starts_with(prefix))
            .map(|(_, (c, _))| *c)
            .collect();
        assert_eq!(ids.len(), 1, "{prefix} merchants split over {ids:?}");
    }
    let kinds: BTreeSet<i32> = ["grocer-0", "jeweller-0", "risky-0"]
        .iter()
        .map(|m| before[*m].0)
        .collect();
    assert_eq!(kinds.len(), 3, "the three kinds share clusters: {before:?}");
    assert!(
        before["odd-0"].1,
        "the odd merchant is not flagged: {before:?}"
    );

    // Another run, another seed, a slightly later period: same ids for the same kinds.
    let second_policy = ClusteringPolicy {
        seed: 1234,
        ..policy
    };
    store::cluster_merchants(&mut client, now + TimeDelta::minutes(5), &second_policy)
        .await
        .unwrap();
    let after = assignments(&db).await;
    for prefix in ["grocer-0", "jeweller-0", "risky-0"] {
        assert_eq!(
            after[prefix].0, before[prefix].0,
            "{prefix} changed cluster id"
        );
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM merchant_cluster_runs").await,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT sum(size)::bigint FROM merchant_cluster_centroids_latest"
        )
        .await,
        25
    );
}

#[tokio::test]
async fn too_few_merchants_or_disabled_stores_no_run() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let mut client = app.db.connect().await;
    let now: DateTime<Utc> = "2026-11-25T11:00:00Z".parse().unwrap();
    let report = store::cluster_merchants(&mut client, now, &ClusteringPolicy::default())
        .await
        .unwrap();
    assert_eq!(report.run_id, None);
    let disabled = ClusteringPolicy {
        enabled: false,
        ..ClusteringPolicy::default()
    };
    store::cluster_merchants(&mut client, now, &disabled)
        .await
        .unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) FROM merchant_cluster_runs").await,
        0
    );
}
