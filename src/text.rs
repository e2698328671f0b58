//! Free text that crosses into a terminal or a log: what a user or a client may write
//! (`--reason`), and how anything stored is shown.
//!
//! A reason arrives from a terminal, a script or the network and ends up in an operator's
//! terminal (`temps show`) and in logs. Control characters in it could clear a screen,
//! set a window title or forge a log line, so they are refused on the way in, and
//! escaped on the way out for what was stored before (or comes from elsewhere: image
//! references, names in error messages).

use std::borrow::Cow;

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
pub fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `c` written out: `\n`, `\x1b`, `\u{202e}`.
pub fn escape_char(c: char) -> String {
    match c {
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        c if (c as u32) < 0x80 => format!("\\x{:02x}", c as u32),
        c => format!("\\u{{{:x}}}", c as u32),
    }
}

/// `sha256:0123456789ab…` → `0123456789ab`; a repository digest
/// (`repo@sha256:0123456789ab…`) likewise.
pub fn short_id(image_id: &str) -> &str {
    let digest = image_id.rsplit_once('@').map_or(image_id, |(_, d)| d);
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
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
}
