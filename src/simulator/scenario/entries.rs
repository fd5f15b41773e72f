//! Scenario maps keyed by domain values (`payment_types: {card: ...}`, `countries: {DE: 15}`):
//! each key is parsed once, by the domain type that owns its allowed values, when the file
//! is read. The generator then gets typed keys and never looks a string up again.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::domain::{Channel, Country, Currency, PaymentType};

/// A domain value that can key a scenario map: parsed from the key as written, and named
/// by its canonical text (the order of the entries and the text of the events).
pub trait EntryKey: Copy + Eq + Sized {
    /// Parses a key as written in the file.
    ///
    /// # Errors
    /// The domain's message, which names the allowed values.
    fn parse_key(text: &str) -> Result<Self, String>;

    /// The canonical text: `card`, `DE`, `USD`.
    fn name(self) -> &'static str;
}

impl EntryKey for PaymentType {
    fn parse_key(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| e.to_string())
    }
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl EntryKey for Channel {
    fn parse_key(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| e.to_string())
    }
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl EntryKey for Country {
    fn parse_key(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| e.to_string())
    }
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl EntryKey for Currency {
    fn parse_key(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| e.to_string())
    }
    fn name(self) -> &'static str {
        self.code()
    }
}

/// Entries keyed by domain values, in the order of their canonical names: the order the
/// generator builds its weighted choices in, so a scenario gives the same stream however
/// its keys are ordered or cased in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entries<K, V>(Vec<(K, V)>);

impl<K: EntryKey, V> Entries<K, V> {
    /// Entries from pairs; a key given twice keeps its last value.
    pub fn new(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut entries: Vec<(K, V)> = Vec::new();
        for (key, value) in pairs {
            entries.retain(|(k, _)| *k != key);
            entries.push((key, value));
        }
        entries.sort_by_key(|(k, _)| k.name());
        Self(entries)
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// The values, in order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The value of `key`.
    pub fn get(&self, key: K) -> Option<&V> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a, K: EntryKey, V> IntoIterator for &'a Entries<K, V> {
    type Item = (K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (*k, v))
    }
}

/// A key being deserialized.
struct Key<K>(K);

impl<'de, K: EntryKey> Deserialize<'de> for Key<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        K::parse_key(&text).map(Key).map_err(de::Error::custom)
    }
}

impl<'de, K: EntryKey, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K: EntryKey, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs: Vec<(K, V)> = Vec::new();
                while let Some(Key(key)) = map.next_key::<Key<K>>()? {
                    if pairs.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!(
                            "{} is written twice",
                            key.name()
                        )));
                    }
                    pairs.push((key, map.next_value()?));
                }
                Ok(Entries::new(pairs))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}
