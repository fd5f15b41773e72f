//! Merchant category codes (ISO 18245) and the canonical category names they mean.
//!
//! Legacy producers send a numeric MCC where canonical ones send a category name; storing
//! both as they came would split every category in two (`5411` and `grocery`). This is
//! the one table that says which name a code means: ingest maps codes through it, and the
//! simulator picks the code it writes for a category from it, so both always agree.

use std::fmt;

/// The category of a code that no range below covers.
const OTHER: &str = "other";

/// The canonical category names and the code the simulator writes for each.
const REPRESENTATIVES: &[(&str, u16)] = &[
    ("grocery", 5411),
    ("restaurants", 5812),
    ("electronics", 5732),
    ("fuel", 5541),
    ("travel", 4722),
    ("apparel", 5651),
    ("digital_goods", 5818),
    (OTHER, 5999),
];

/// Inclusive code ranges and their category, from the ISO 18245 / card-network groups.
/// Only groups whose meaning is clear are mapped; every other code is `other`.
const RANGES: &[(u16, u16, &str)] = &[
    (3000, 3299, "travel"),        // airlines
    (3300, 3499, "travel"),        // car rental
    (3500, 3999, "travel"),        // lodging
    (4111, 4112, "travel"),        // commuter transport, passenger railways
    (4121, 4121, "travel"),        // taxis and limousines
    (4131, 4131, "travel"),        // bus lines
    (4411, 4411, "travel"),        // cruise lines
    (4511, 4511, "travel"),        // airlines, air carriers
    (4582, 4582, "travel"),        // airports and terminals
    (4722, 4723, "travel"),        // travel agencies, tour operators
    (4812, 4812, "electronics"),   // telecommunication equipment and telephone sales
    (5045, 5045, "electronics"),   // computers and peripherals
    (5400, 5499, "grocery"),       // food stores
    (5540, 5542, "fuel"),          // service stations, automated fuel dispensers
    (5600, 5699, "apparel"),       // clothing stores
    (5732, 5732, "electronics"),   // electronics stores
    (5734, 5734, "electronics"),   // computer software stores
    (5811, 5814, "restaurants"),   // caterers, eating places, bars, fast food
    (5815, 5818, "digital_goods"), // digital books, games, applications, large merchants
    (5946, 5946, "electronics"),   // camera and photographic supply stores
    (5983, 5983, "fuel"),          // fuel dealers
    (7011, 7012, "travel"),        // hotels, timeshares
    (7512, 7512, "travel"),        // car rental agencies
];

/// Why a number is not a merchant category code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a merchant category code (ISO 18245 codes are 0 to 9999)")]
pub struct MccError(pub u64);

/// An ISO 18245 merchant category code: four decimal digits, 0000 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mcc(u16);

impl Mcc {
    /// # Errors
    /// [`MccError`] for a number above 9999.
    pub fn new(code: u64) -> Result<Self, MccError> {
        u16::try_from(code)
            .ok()
            .filter(|c| *c <= 9999)
            .map(Self)
            .ok_or(MccError(code))
    }

    /// The code a category is written as, for a canonical category name; `None` for any
    /// other name, which has no code.
    ///
    /// # Example
    /// ```
    /// use paymetrics::domain::Mcc;
    /// let code = Mcc::of_category("grocery").unwrap();
    /// assert_eq!((code.code(), code.category()), (5411, "grocery"));
    /// ```
    pub fn of_category(name: &str) -> Option<Self> {
        REPRESENTATIVES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, code)| Self(*code))
    }

    /// The code as a number.
    pub fn code(self) -> u16 {
        self.0
    }

    /// The canonical category this code belongs to; `other` when no group covers it.
    pub fn category(self) -> &'static str {
        RANGES
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&self.0))
            .map_or(OTHER, |(_, _, name)| name)
    }
}

impl fmt::Display for Mcc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(code: u64) -> &'static str {
        Mcc::new(code).unwrap().category()
    }

    #[test]
    fn each_named_code_maps_to_its_category() {
        assert_eq!(category(5411), "grocery");
        assert_eq!(category(5812), "restaurants");
        assert_eq!(category(5732), "electronics");
        assert_eq!(category(5541), "fuel");
        assert_eq!(category(4722), "travel");
        assert_eq!(category(5651), "apparel");
        assert_eq!(category(5818), "digital_goods");
        assert_eq!(category(4511), "travel");
    }

    #[test]
    fn whole_ranges_map_up_to_and_including_their_edges() {
        let edges = [
            (2999, OTHER),
            (3000, "travel"),
            (3299, "travel"),
            (3999, "travel"),
            (4000, OTHER),
            (5399, OTHER),
            (5400, "grocery"),
            (5499, "grocery"),
            (5500, OTHER),
            (5539, OTHER),
            (5540, "fuel"),
            (5542, "fuel"),
            (5543, OTHER),
            (5599, OTHER),
            (5600, "apparel"),
            (5699, "apparel"),
            (5700, OTHER),
            (5810, OTHER),
            (5811, "restaurants"),
            (5814, "restaurants"),
            (5815, "digital_goods"),
            (5819, OTHER),
        ];
        for (code, expected) in edges {
            assert_eq!(category(code), expected, "code {code}");
        }
    }

    #[test]
    fn unknown_codes_are_other() {
        for code in [0, 1520, 4900, 5311, 5999, 8999, 9999] {
            assert_eq!(category(code), OTHER, "code {code}");
        }
    }

    #[test]
    fn codes_have_four_digits_at_most() {
        assert_eq!(Mcc::new(9999).unwrap().code(), 9999);
        assert_eq!(Mcc::new(10_000), Err(MccError(10_000)));
        assert_eq!(Mcc::new(u64::MAX), Err(MccError(u64::MAX)));
        assert_eq!(Mcc::new(742).unwrap().to_string(), "0742");
    }

    #[test]
    fn every_category_is_written_as_a_code_that_means_it() {
        for (name, _) in REPRESENTATIVES {
            assert_eq!(Mcc::of_category(name).unwrap().category(), *name);
        }
        assert_eq!(Mcc::of_category("books"), None);
    }

    #[test]
    fn the_ranges_are_ordered_and_do_not_overlap() {
        for pair in RANGES.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }
}
