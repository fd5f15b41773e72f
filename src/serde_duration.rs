//! Serde adapters for durations written like `30s`, `5m`, `1h` or `90d` in the YAML
//! files: the engine's policies, the ingest policy and the simulator's scenario share them.

/// Reads a duration written like `30s`, `5m`, `1h`, `90d`.
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub(super) fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration ({e}); write it like 30s, 5m or 1h"))
    }
}

/// An optional duration: absent or null means unset.
pub(crate) mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => super::duration::parse(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}
