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

    /// The longest duration a setting takes: a century. Every duration of the settings is
    /// added to or taken from an instant (now, a window's end, an event time), and one of
    /// more than about 262,000 years overflows the calendar and panicked there.
    const LONGEST: Duration = Duration::from_secs(36_525 * 86_400);

    pub(crate) fn parse(text: &str) -> Result<Duration, String> {
        let duration = humantime::parse_duration(text).map_err(|e| {
            format!("{text:?} is not a duration ({e}); write it like 30s, 5m or 1h")
        })?;
        if duration > LONGEST {
            return Err(format!(
                "{text:?} is longer than 100y, the longest duration a setting takes"
            ));
        }
        Ok(duration)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_duration_past_a_century_is_refused_before_it_overflows_a_date() {
            assert_eq!(parse("100y"), Ok(LONGEST));
            assert_eq!(parse("90d"), Ok(Duration::from_secs(90 * 86_400)));
            let error = parse("300000y").unwrap_err();
            assert!(error.contains("longer than 100y"), "{error}");
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Policy {
        #[serde(default, with = "super::optional_duration")]
        keep: Option<Duration>,
    }

    fn keep(yaml: &str) -> Result<Option<Duration>, String> {
        serde_saphyr::from_str::<Policy>(yaml)
            .map(|p| p.keep)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_optional_duration_is_unset_when_absent_or_null() {
        assert_eq!(keep("{}\n"), Ok(None));
        assert_eq!(keep("keep: null\n"), Ok(None));
        assert_eq!(keep("keep: ~\n"), Ok(None));
        assert_eq!(
            keep("keep: 90d\n"),
            Ok(Some(Duration::from_secs(90 * 86_400)))
        );
        let err = keep("keep: later\n").unwrap_err();
        assert!(
            err.contains("\"later\" is not a duration") && err.contains("write it like 30s"),
            "{err}"
        );
    }
}
