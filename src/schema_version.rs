//! A database schema version, as a release declares it: a number (a Rails or Django
//! timestamp, a plain integer) or dotted numbers (`2.10.1`), compared as numbers.
//!
//! Migrations are never reverted, so the history compares these to know which earlier
//! code can still run against an environment's database.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The longest version accepted: long enough for any timestamp or dotted release.
const MAX_LEN: usize = 64;

/// A schema version; equal when equal as numbers (`1.2` = `1.2.0` = `01.2`).
#[derive(Debug, Clone)]
pub struct SchemaVersion(String);

impl SchemaVersion {
    /// As it was declared.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its numbers without leading zeros, trailing `.0`s dropped, so that comparing
    /// them by length, then as text, compares them as numbers of any size.
    fn parts(&self) -> Vec<&str> {
        let mut parts: Vec<&str> = self
            .0
            .split('.')
            .map(|p| {
                let trimmed = p.trim_start_matches('0');
                if trimmed.is_empty() {
                    "0"
                } else {
                    trimmed
                }
            })
            .collect();
        while parts.len() > 1 && parts.last() == Some(&"0") {
            parts.pop();
        }
        parts
    }
}

impl FromStr for SchemaVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let valid = !s.is_empty()
            && s.len() <= MAX_LEN
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if valid {
            Ok(SchemaVersion(s.to_string()))
        } else {
            Err(format!(
                "`{}` is not a schema version: use a number (such as 42 or 20240611093000) or dotted numbers (such as 2.10)",
                crate::text::printable(s)
            ))
        }
    }
}

impl Ord for SchemaVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.parts(), other.parts());
        for (x, y) in a.iter().zip(b.iter()) {
            let order = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if order != Ordering::Equal {
                return order;
            }
        }
        a.len().cmp(&b.len())
    }
}

impl PartialOrd for SchemaVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SchemaVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SchemaVersion {}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SchemaVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SchemaVersion {
        s.parse().unwrap()
    }

    #[test]
    fn numbers_and_dotted_numbers_are_versions_and_nothing_else_is() {
        for good in ["0", "42", "20240611093000", "2.10.1", "007", "1.0"] {
            assert!(good.parse::<SchemaVersion>().is_ok(), "{good}");
        }
        for bad in [
            "", "v2", "1.", ".1", "1..2", "-3", "1e5", "abc", " 1", "1 ", "²", "1,2",
        ] {
            assert!(bad.parse::<SchemaVersion>().is_err(), "{bad}");
        }
        assert!("1".repeat(65).parse::<SchemaVersion>().is_err());
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(v("9") < v("10"));
        assert!(v("35") < v("42"));
        assert!(v("20240611093000") > v("20231231235959"));
        assert!(v("2.9") < v("2.10"));
        assert!(v("2.10") < v("2.10.1"));
        assert!(v("3") > v("2.99"));
        assert_eq!(v("1.2"), v("1.2.0"));
        assert_eq!(v("007"), v("7"));
        assert_eq!(v("0"), v("0.0"));
        assert!(v("123456789012345678901234567890") > v("99999999999999999999999999999"));
    }
}
