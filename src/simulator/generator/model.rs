//! What the generator samples from, built once from the scenario: per payment type its
//! amount distributions and outcome rates, the currencies with their rates to USD, the
//! merchant categories with their fixed JSON fragments, and the weighted choices.

use rand::distributions::WeightedIndex;
use rand_distr::LogNormal;

use crate::domain::{Currency, Mcc, PaymentType, Status};
use crate::simulator::scenario::{PaymentTypeMix, Scenario};

/// A payment type's amount distributions and outcome rates, ready to sample.
pub(super) struct TypeModel {
    pub(super) payment_type: PaymentType,
    pub(super) amount: LogNormal<f64>,
    /// Per merchant category (by index): its own amount distribution, if it has one.
    pub(super) by_category: Vec<Option<LogNormal<f64>>>,
    /// decline, failure, pending, refund
    pub(super) outcome: [f64; 4],
}

impl TypeModel {
    pub(super) fn new(
        payment_type: PaymentType,
        mix: &PaymentTypeMix,
        categories: &[String],
    ) -> Self {
        let lognormal = |median: f64| LogNormal::new(median.ln(), mix.sigma).expect("validated");
        Self {
            payment_type,
            amount: lognormal(mix.median),
            by_category: categories
                .iter()
                .map(|c| mix.category_medians.get(c).map(|m| lognormal(*m)))
                .collect(),
            outcome: [
                mix.decline_rate,
                mix.failure_rate,
                mix.pending_rate,
                mix.refund_rate,
            ],
        }
    }
}

/// What a transaction's kind, amount and outcome were drawn as, before
/// [`Generator::finish`] draws the rest.
pub(super) struct Draw {
    pub(super) payment_type: PaymentType,
    /// Index into the generator's currencies.
    pub(super) currency: usize,
    /// Amount in USD-equivalent major units.
    pub(super) usd: f64,
    pub(super) status: Status,
    pub(super) merchant: u32,
}

pub(super) struct CurrencyModel {
    pub(super) currency: Currency,
    pub(super) per_usd: f64,
}

/// Static JSON fragments of a category.
pub(super) struct CategoryModel {
    pub(super) quoted: String,
    /// The legacy `mcc` value: the category's ISO 18245 code, as legacy producers send it,
    /// from the table ingest maps codes back with; the quoted name for a category that has
    /// no code, so both formats store the same category.
    pub(super) legacy: String,
}

impl CategoryModel {
    pub(super) fn new(category: &str) -> Self {
        let quoted = serde_json::to_string(category).expect("strings serialize");
        let legacy =
            Mcc::of_category(category).map_or_else(|| quoted.clone(), |c| c.code().to_string());
        Self { quoted, legacy }
    }
}

/// A weighted choice over validated weights (at least one positive, none negative).
pub(super) fn weighted(weights: impl Iterator<Item = f64>) -> WeightedIndex<f64> {
    WeightedIndex::new(weights).expect("validated")
}

/// The keys of a weighted map and the choice among them.
pub(super) fn choice<'a, K: Copy + 'a>(
    entries: impl Iterator<Item = (K, &'a f64)>,
) -> (Vec<K>, WeightedIndex<f64>) {
    let (keys, weights): (Vec<K>, Vec<f64>) = entries.map(|(k, w)| (k, *w)).unzip();
    (keys, weighted(weights.into_iter()))
}

/// The choice between the two fraud typologies; a typology of weight 0 is all but never
/// drawn (and two of weight 0 are drawn alike).
pub(super) fn fraud_index(scenario: &Scenario) -> WeightedIndex<f64> {
    weighted(
        [
            scenario.fraud.card_testing.weight.max(0.0) + f64::EPSILON,
            scenario.fraud.account_takeover.weight.max(0.0) + f64::EPSILON,
        ]
        .into_iter(),
    )
}
