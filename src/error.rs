//! Error kinds that carry an exit code and a hint.
//!
//! Operations return `anyhow::Error`; when one of them must end the program with a
//! particular exit code, it carries a [`Failure`] somewhere in its chain. `main` walks the
//! chain to find it, so context added on the way up never hides the code or the hint.

use crate::text::{escape_char, needs_escape};
use std::fmt;

/// The exit codes of the spec's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    Unexpected = 1,
    Usage = 2,
    NotFound = 3,
    Refused = 4,
    HealthFailed = 5,
    DockerUnreachable = 6,
    Busy = 7,
    Interrupted = 130,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that decides the exit code, with the next step for the user.
#[derive(Debug)]
pub struct Failure {
    pub status: ExitStatus,
    pub message: String,
    pub hint: Option<String>,
    /// With `--output json`, the document to print on stdout for this failure (the failed
    /// deployment's record, say), so scripts get one even when the command fails.
    pub document: Option<serde_json::Value>,
}

impl Failure {
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            hint: None,
            document: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitStatus::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ExitStatus::NotFound, message)
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ExitStatus::Refused, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The failure that decides the exit code, if any error in the chain is one.
pub fn failure_of(err: &anyhow::Error) -> Option<&Failure> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
}

/// The exit status an error ends the program with.
pub fn exit_status_of(err: &anyhow::Error) -> ExitStatus {
    failure_of(err).map_or(ExitStatus::Unexpected, |f| f.status)
}

/// The longest reason accepted, in characters.
pub const MAX_REASON: usize = 500;

/// Free text the user gives (`--reason`, the API's `"reason"`): one line, at most
/// [`MAX_REASON`] characters, no control characters. Runs of whitespace (tabs and line
/// breaks included) become one space; a blank reason is none.
pub fn clean_reason(reason: Option<String>) -> Result<Option<String>, Failure> {
    let Some(text) = reason else {
        return Ok(None);
    };
    if let Some(bad) = text
        .chars()
        .find(|c| needs_escape(*c) && !c.is_whitespace())
    {
        return Err(Failure::usage(format!(
            "the reason contains the control character {}",
            escape_char(bad)
        ))
        .hint("write the reason as plain text"));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_REASON {
        return Err(
            Failure::usage(format!("the reason is longer than {MAX_REASON} characters"))
                .hint("say it in a sentence; longer notes belong in the incident document"),
        );
    }
    Ok(Some(text.split_whitespace().collect::<Vec<_>>().join(" ")))
}

/// Fail with a usage error unless `name` is a valid project or environment name.
pub fn check_name(what: &str, name: &str) -> Result<(), Failure> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if valid {
        Ok(())
    } else {
        let shown: String = name.chars().take(70).collect();
        let shown = crate::text::printable(&shown);
        Err(
            Failure::usage(format!("invalid {what} name `{shown}`")).hint(
                "names are 1 to 63 characters of a-z, 0-9 and `-`, starting with a letter or digit",
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        for good in ["web", "a", "0", "my-app-2", &"a".repeat(63)] {
            assert!(check_name("project", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-web",
            "Web",
            "web_1",
            "web.app",
            &"a".repeat(64),
            "wéb",
        ] {
            let err = check_name("project", bad).unwrap_err();
            assert_eq!(err.status, ExitStatus::Usage, "{bad}");
        }
    }

    #[test]
    fn the_failure_is_found_under_context() {
        let err = anyhow::Error::new(Failure::refused("no")).context("rolling back");
        assert_eq!(exit_status_of(&err), ExitStatus::Refused);
        assert_eq!(
            exit_status_of(&anyhow::anyhow!("x")),
            ExitStatus::Unexpected
        );
    }

    #[test]
    fn a_reason_with_a_control_character_is_refused() {
        let refused = clean_reason(Some("\u{1b}[2J oops".into())).unwrap_err();
        assert_eq!(refused.status, ExitStatus::Usage);
        assert!(refused.message.contains("\\x1b"), "{}", refused.message);
        assert!(clean_reason(Some("ok\u{9b}".into())).is_err());
    }

    #[test]
    fn whitespace_in_a_reason_becomes_one_space() {
        assert_eq!(
            clean_reason(Some(" checkout\n errors\tafter 1.3 ".into())).unwrap(),
            Some("checkout errors after 1.3".into())
        );
        assert_eq!(clean_reason(Some(" \n ".into())).unwrap(), None);
        assert_eq!(clean_reason(None).unwrap(), None);
        assert!(clean_reason(Some("x".repeat(MAX_REASON + 1))).is_err());
    }
}
