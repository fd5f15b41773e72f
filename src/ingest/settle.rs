//! Exactly-once: which accepted events of a batch are new transactions, which are
//! repeats (duplicates) and which reuse a stored id with other content (conflicts).
//!
//! The rule is "the first version wins", within a batch and across batches: an id's
//! first occurrence in a batch is its candidate; once the candidate has claimed the id
//! (the store's `transaction_ids`), it is the reference for every later event with that
//! id. An event with the reference's fingerprint is a duplicate (counted, not stored
//! again); one with another fingerprint is quarantined as `duplicate_conflict`. An id
//! that another batch claimed first has the stored fingerprint as its reference.
//!
//! Settling is two steps around the store, which only claims and reads:
//! 1. [`candidates`]: the first occurrence of each id, ordered by id, which the store
//!    claims in that one order (so concurrent batches cannot deadlock);
//! 2. [`settle`]: with what the claim found ([`Claimed`]), the verdict for every event.

use std::collections::{HashMap, HashSet};

use super::{Accepted, RejectReason, Rejected, Rejection};

/// What claiming a batch's candidate ids found in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// Ids this batch claimed: nobody had stored them before.
    pub new: HashSet<String>,
    /// For the other candidate ids, the fingerprint stored with them. An id missing here
    /// (and not new) has no known reference: its events settle as conflicts.
    pub stored: HashMap<String, Vec<u8>>,
}

/// A batch's accepted events, settled.
#[derive(Debug, Default)]
pub struct Settled {
    /// New transactions to store, in delivery order: the candidates that claimed their id.
    pub fresh: Vec<Accepted>,
    /// Events whose transaction is stored already (or earlier in the batch) with the same
    /// content.
    pub duplicates: usize,
    /// Events reusing an id with other content, to quarantine as `duplicate_conflict`.
    pub conflicts: Vec<Rejected>,
}

/// The first occurrence of each transaction id in `accepted`, ordered by id: the ids a
/// batch claims, in the one order every writer locks them in.
pub fn candidates(accepted: &[Accepted]) -> Vec<&Accepted> {
    let mut seen = HashSet::with_capacity(accepted.len());
    let mut first: Vec<&Accepted> = accepted
        .iter()
        .filter(|item| seen.insert(item.transaction.id.as_str()))
        .collect();
    first.sort_unstable_by(|a, b| a.transaction.id.as_str().cmp(b.transaction.id.as_str()));
    first
}

/// Settles every accepted event of a batch against what the claim of its
/// [`candidates`] found; see the module docs for the rule.
pub fn settle(accepted: Vec<Accepted>, claimed: &Claimed) -> Settled {
    // Each id's first occurrence: its index and fingerprint.
    let mut first: HashMap<&str, (usize, [u8; 32])> = HashMap::with_capacity(accepted.len());
    for (index, item) in accepted.iter().enumerate() {
        first
            .entry(item.transaction.id.as_str())
            .or_insert((index, item.fingerprint));
    }
    let verdicts: Vec<Verdict> = accepted
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let id = item.transaction.id.as_str();
            let (first_index, first_fingerprint) = first[id];
            let reference = if claimed.new.contains(id) {
                if index == first_index {
                    return Verdict::Fresh;
                }
                Some(&first_fingerprint[..])
            } else {
                claimed.stored.get(id).map(Vec::as_slice)
            };
            if reference == Some(&item.fingerprint[..]) {
                Verdict::Duplicate
            } else {
                Verdict::Conflict
            }
        })
        .collect();

    let mut settled = Settled {
        fresh: Vec::with_capacity(claimed.new.len()),
        ..Settled::default()
    };
    for (item, verdict) in accepted.into_iter().zip(verdicts) {
        match verdict {
            Verdict::Fresh => settled.fresh.push(item),
            Verdict::Duplicate => settled.duplicates += 1,
            Verdict::Conflict => settled.conflicts.push(conflict(item)),
        }
    }
    settled
}

enum Verdict {
    Fresh,
    Duplicate,
    Conflict,
}

fn conflict(item: Accepted) -> Rejected {
    let id = item.transaction.id.as_str().to_owned();
    Rejected {
        rejection: Rejection {
            reason: RejectReason::DuplicateConflict,
            detail: format!(
                "transaction_id: {id:?} was received before with different content; \
                 the first version is kept"
            ),
            transaction_id: Some(id),
        },
        raw: item.raw,
        lineage: item.lineage,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::domain::TransactionId;
    use crate::ingest::{IngestPolicy, Lineage, RawText, normalize};

    /// An accepted event with transaction id `id` whose content is version `version`
    /// (the fingerprint stands for the content), at `batch_index`.
    fn event(id: &str, version: u8, batch_index: usize) -> Accepted {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let json = json!({
            "transaction_id": "t", "occurred_at": "2026-11-26T11:59:00Z", "amount": "1.00",
            "currency": "USD", "payment_type": "card", "status": "approved",
            "merchant_id": "m-1",
        });
        let (mut transaction, format) = normalize(&json, now, &IngestPolicy::default()).unwrap();
        transaction.id = TransactionId::parse(id).unwrap();
        Accepted {
            transaction,
            fingerprint: [version; 32],
            format,
            raw: RawText::Utf8(format!("{id} v{version}")),
            lineage: Lineage {
                batch_index,
                ..Lineage::default()
            },
        }
    }

    fn batch(events: &[(&str, u8)]) -> Vec<Accepted> {
        events
            .iter()
            .enumerate()
            .map(|(index, (id, version))| event(id, *version, index))
            .collect()
    }

    /// What a store holding `stored` (id -> version) finds when `batch` claims its ids.
    fn claim(batch: &[Accepted], stored: &HashMap<String, u8>) -> Claimed {
        let mut claimed = Claimed::default();
        for candidate in candidates(batch) {
            let id = candidate.transaction.id.as_str().to_owned();
            match stored.get(&id) {
                Some(version) => {
                    claimed.stored.insert(id, vec![*version; 32]);
                }
                None => {
                    claimed.new.insert(id);
                }
            }
        }
        claimed
    }

    /// Settles `batch` against `stored` and stores what was new, as the store does.
    fn settle_into(batch: Vec<Accepted>, stored: &mut HashMap<String, u8>) -> Settled {
        let claimed = claim(&batch, stored);
        let settled = settle(batch, &claimed);
        for fresh in &settled.fresh {
            stored.insert(
                fresh.transaction.id.as_str().to_owned(),
                fresh.fingerprint[0],
            );
        }
        settled
    }

    fn ids(events: &[Accepted]) -> Vec<&str> {
        events.iter().map(|e| e.transaction.id.as_str()).collect()
    }

    #[test]
    fn candidates_are_the_first_occurrence_of_each_id_ordered_by_id() {
        let events = batch(&[("b", 1), ("a", 1), ("b", 2), ("c", 1), ("a", 3)]);
        let first: Vec<(&str, u8)> = candidates(&events)
            .into_iter()
            .map(|e| (e.transaction.id.as_str(), e.fingerprint[0]))
            .collect();
        assert_eq!(first, [("a", 1), ("b", 1), ("c", 1)]);
    }

    #[test]
    fn new_ids_are_fresh_in_delivery_order() {
        let mut stored = HashMap::new();
        let settled = settle_into(batch(&[("b", 1), ("a", 1)]), &mut stored);
        assert_eq!(ids(&settled.fresh), ["b", "a"]);
        assert_eq!(settled.duplicates, 0);
        assert!(settled.conflicts.is_empty());
    }

    #[test]
    fn a_repeat_within_the_batch_is_a_duplicate_or_a_conflict_and_the_first_version_wins() {
        let mut stored = HashMap::new();
        let settled = settle_into(batch(&[("a", 1), ("a", 1), ("a", 2)]), &mut stored);
        assert_eq!(ids(&settled.fresh), ["a"]);
        assert_eq!(settled.fresh[0].fingerprint[0], 1);
        assert_eq!(settled.duplicates, 1);
        assert_eq!(settled.conflicts.len(), 1);
        let conflict = &settled.conflicts[0];
        assert_eq!(conflict.rejection.reason, RejectReason::DuplicateConflict);
        assert_eq!(conflict.rejection.transaction_id.as_deref(), Some("a"));
        assert_eq!(
            conflict.rejection.detail,
            "transaction_id: \"a\" was received before with different content; \
             the first version is kept"
        );
        assert_eq!(conflict.raw, RawText::Utf8("a v2".into()));
        assert_eq!(conflict.lineage.batch_index, 2);
    }

    #[test]
    fn a_stored_id_is_a_duplicate_with_the_same_content_and_a_conflict_with_other_content() {
        let mut stored = HashMap::from([("a".to_owned(), 1)]);
        let settled = settle_into(batch(&[("a", 2), ("a", 1), ("b", 1)]), &mut stored);
        assert_eq!(ids(&settled.fresh), ["b"]);
        assert_eq!(settled.duplicates, 1);
        assert_eq!(settled.conflicts.len(), 1);
        assert_eq!(settled.conflicts[0].lineage.batch_index, 0);
        assert_eq!(stored["a"], 1, "the stored version stays the reference");
    }

    #[test]
    fn an_id_claimed_elsewhere_without_a_readable_fingerprint_is_a_conflict() {
        let events = batch(&[("a", 1)]);
        let settled = settle(events, &Claimed::default());
        assert!(settled.fresh.is_empty());
        assert_eq!(settled.conflicts.len(), 1);
    }

    fn arbitrary_batch() -> impl Strategy<Value = Vec<(String, u8)>> {
        prop::collection::vec(("[a-e]", 0u8..3), 0..24)
    }

    fn owned(events: &[(String, u8)]) -> Vec<Accepted> {
        let pairs: Vec<(&str, u8)> = events.iter().map(|(id, v)| (id.as_str(), *v)).collect();
        batch(&pairs)
    }

    proptest! {
        #[test]
        fn every_event_ends_up_in_exactly_one_of_fresh_duplicate_or_conflict(
            history in arbitrary_batch(),
            events in arbitrary_batch(),
        ) {
            let mut stored = HashMap::new();
            settle_into(owned(&history), &mut stored);
            let settled = settle_into(owned(&events), &mut stored);
            prop_assert_eq!(
                settled.fresh.len() + settled.duplicates + settled.conflicts.len(),
                events.len()
            );
            let mut positions: Vec<usize> = settled
                .fresh
                .iter()
                .map(|e| e.lineage.batch_index)
                .chain(settled.conflicts.iter().map(|r| r.lineage.batch_index))
                .collect();
            positions.sort_unstable();
            positions.dedup();
            prop_assert_eq!(positions.len(), settled.fresh.len() + settled.conflicts.len());
        }

        #[test]
        fn each_id_is_stored_at_most_once_and_only_when_it_was_new(
            history in arbitrary_batch(),
            events in arbitrary_batch(),
        ) {
            let mut stored = HashMap::new();
            settle_into(owned(&history), &mut stored);
            let before = stored.clone();
            let settled = settle_into(owned(&events), &mut stored);
            let fresh = ids(&settled.fresh);
            let distinct: HashSet<&str> = fresh.iter().copied().collect();
            prop_assert_eq!(distinct.len(), fresh.len());
            for id in fresh {
                prop_assert!(!before.contains_key(id), "{} was stored already", id);
            }
        }

        #[test]
        fn the_first_version_of_an_id_wins(
            history in arbitrary_batch(),
            events in arbitrary_batch(),
        ) {
            let mut first: HashMap<String, u8> = HashMap::new();
            for (id, version) in history.iter().chain(&events) {
                first.entry(id.clone()).or_insert(*version);
            }
            let mut stored = HashMap::new();
            settle_into(owned(&history), &mut stored);
            let settled = settle_into(owned(&events), &mut stored);
            prop_assert_eq!(&stored, &first);
            let conflicts = events.iter().filter(|(id, v)| first[id] != *v).count();
            prop_assert_eq!(settled.conflicts.len(), conflicts);
        }

        #[test]
        fn a_replay_of_the_same_batch_settles_as_all_duplicates_or_the_same_conflicts(
            events in arbitrary_batch(),
        ) {
            let mut stored = HashMap::new();
            let first = settle_into(owned(&events), &mut stored);
            let replay = settle_into(owned(&events), &mut stored);
            prop_assert!(replay.fresh.is_empty());
            prop_assert_eq!(replay.duplicates, events.len() - first.conflicts.len());
            let positions = |s: &Settled| -> Vec<usize> {
                s.conflicts.iter().map(|r| r.lineage.batch_index).collect()
            };
            prop_assert_eq!(positions(&replay), positions(&first));
        }

        #[test]
        fn a_replay_of_a_batch_without_conflicts_settles_as_all_duplicates(
            ids in prop::collection::vec("[a-z]{1,3}", 0..24),
        ) {
            let events: Vec<(String, u8)> = ids.into_iter().map(|id| (id, 7)).collect();
            let mut stored = HashMap::new();
            settle_into(owned(&events), &mut stored);
            let replay = settle_into(owned(&events), &mut stored);
            prop_assert!(replay.fresh.is_empty());
            prop_assert!(replay.conflicts.is_empty());
            prop_assert_eq!(replay.duplicates, events.len());
        }
    }
}
