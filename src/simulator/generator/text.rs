//! The generator's text writers: ids, timestamps and amounts written straight into the
//! event being built (no `format!`, which is most of the generator's time otherwise).

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `m-00042`, `c-000123`: ids the pipeline stores as they are.
pub fn push_id(s: &mut String, prefix: char, n: u32) {
    s.push(prefix);
    s.push('-');
    let digits = n.to_string();
    for _ in digits.len()..6 {
        s.push('0');
    }
    s.push_str(&digits);
}

fn push_2(s: &mut String, n: u32) {
    s.push(char::from(b'0' + (n / 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
}

/// `2026-11-26T10:00:00.123Z`
pub(super) fn push_rfc3339(s: &mut String, t: DateTime<Utc>) {
    let year = t.year() as u32;
    push_2(s, year / 100);
    push_2(s, year % 100);
    s.push('-');
    push_2(s, t.month());
    s.push('-');
    push_2(s, t.day());
    s.push('T');
    push_2(s, t.hour());
    s.push(':');
    push_2(s, t.minute());
    s.push(':');
    push_2(s, t.second());
    s.push('.');
    let millis = t.timestamp_subsec_millis();
    s.push(char::from(b'0' + (millis / 100) as u8));
    push_2(s, millis % 100);
    s.push('Z');
}

/// Minor units as a major-unit decimal string (`1234`, 2 -> `12.34`).
pub fn push_major(s: &mut String, minor: i64, exponent: u32) {
    let scale = 10i64.pow(exponent);
    s.push_str(&(minor / scale).to_string());
    if exponent > 0 {
        s.push('.');
        let fraction = (minor % scale).to_string();
        for _ in fraction.len()..exponent as usize {
            s.push('0');
        }
        s.push_str(&fraction);
    }
}
