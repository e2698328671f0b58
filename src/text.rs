//! Free text that crosses into a terminal or a log: what a user or a client may write
//! (`--reason`), and how anything stored is shown.
//!
//! A reason arrives from a terminal, a script or the network and ends up in an operator's
//! terminal (`temps show`) and in logs. Control characters in it could clear a screen,
//! set a window title or forge a log line, so they are refused on the way in, and
//! escaped on the way out for what was stored before (or comes from elsewhere: image
//! references, names in error messages).

use std::borrow::Cow;

use crate::error::Failure;

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

/// `text` as it may be shown on a terminal or written to a log: every control character
/// (C0, DEL, C1) and every bidirectional override written out (`\x1b`, `\n`,
/// `\u{202e}`), everything else as it is. Borrows when there is nothing to escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            shown.push_str(&escape_char(c));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// Whether `c` must not reach a terminal as it is.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_char(c: char) -> String {
    match c {
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        c if (c as u32) < 0x80 => format!("\\x{:02x}", c as u32),
        c => format!("\\u{{{:x}}}", c as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_as_it_is() {
        assert!(matches!(printable("web:1.3 — ça va"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_and_controls_are_written_out() {
        assert_eq!(
            printable("\u{1b}[2J\u{1b}]0;pwned\u{7}x"),
            "\\x1b[2J\\x1b]0;pwned\\x07x"
        );
        assert_eq!(printable("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(printable("\u{7f}\u{9b}31m"), "\\x7f\\u{9b}31m");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn a_reason_with_a_control_character_is_refused() {
        let refused = clean_reason(Some("\u{1b}[2J oops".into())).unwrap_err();
        assert_eq!(refused.status, crate::error::ExitStatus::Usage);
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
