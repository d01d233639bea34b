//! Cutting and cleaning text that comes from outside (helpdesk names, config names, server
//! replies): one place, so every cut lands on a character boundary and every header is one
//! clean line.

use std::borrow::Cow;

/// The mark a shortened text ends with.
pub const ELLIPSIS: char = '…';

/// `s` cut to at most `max_chars` characters (not bytes), ending in `…` when it was cut.
/// Never splits a character, so it cannot panic on any input.
pub fn cut(s: &str, max_chars: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max_chars) {
        None => Cow::Borrowed(s),
        Some(_) if max_chars == 0 => Cow::Borrowed(""),
        Some(_) => {
            // Keep max_chars - 1 characters and the ellipsis.
            let end = s
                .char_indices()
                .nth(max_chars - 1)
                .map_or(s.len(), |(i, _)| i);
            let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
            out.push_str(&s[..end]);
            out.push(ELLIPSIS);
            Cow::Owned(out)
        }
    }
}

/// The longest prefix of `s` of at most `max_bytes` bytes that ends on a character boundary
/// (for byte budgets: log lines, stored errors).
pub fn cut_bytes(s: &str, max_bytes: usize) -> &str {
    &s[..s.floor_char_boundary(max_bytes)]
}

/// Unicode bidirectional controls (embeddings, overrides, isolates, marks). In a name they
/// can reorder the text around it ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `s` as one header-safe line: bidi controls removed, every other control character (CR,
/// LF, NUL, tab...) a space, runs of spaces collapsed, trimmed.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if is_bidi_control(c) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// The first control character (CR, LF, NUL and the other C0/C1 controls) in `s`, for config
/// checks that refuse them.
pub fn control_char(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut("Billing", 10), "Billing");
        assert_eq!(cut("Billing", 7), "Billing");
        assert_eq!(cut("Billing", 4), "Bil…");
        assert_eq!(cut("ééééééé", 4), "ééé…");
        assert_eq!(cut("👩‍👩‍👧x", 2), "👩…");
        assert_eq!(cut("abc", 0), "");
        assert_eq!(cut_bytes("ééé", 3), "é");
        assert_eq!(cut_bytes("abc", 10), "abc");
        // Any length, any character: no panic.
        let long: String = "日本語".repeat(7000);
        assert_eq!(cut(&long, 60).chars().count(), 60);
        for n in 0..12 {
            let _ = cut_bytes(&long, n);
        }
    }

    #[test]
    fn one_line_strips_controls_and_bidi() {
        assert_eq!(one_line("a\r\nb\0c"), "a b c");
        assert_eq!(one_line("x\u{202E}evil\u{202C}y"), "xevily");
        assert_eq!(one_line("  two   spaces "), "two spaces");
        assert_eq!(control_char("ok"), None);
        assert_eq!(control_char("a\nb"), Some('\n'));
    }
}
