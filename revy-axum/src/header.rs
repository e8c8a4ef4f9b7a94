//! Reading text from request headers, which anyone can send.
//!
//! A header value ends up in the journal, and from there in log lines, admin
//! pages and terminals. So only valid UTF-8 is taken, control characters
//! (CR, LF, NUL, ESC, every Unicode `Cc`) are dropped rather than escaped,
//! and the text is cut to a byte budget at a character boundary: a client
//! cannot grow the journal by more than that per request, nor forge lines in
//! whatever prints it.

use http::{HeaderMap, HeaderName};

/// The first value of header `name`, cleaned with [`clean`]; `None` when the
/// header is absent, is not UTF-8, or holds nothing but whitespace and
/// control characters.
pub(crate) fn text(headers: &HeaderMap, name: &HeaderName, max_len: usize) -> Option<String> {
    let value = headers.get(name)?;
    // `HeaderValue::to_str` refuses everything outside visible ASCII, which
    // would drop a commit message with an accent in it: decode UTF-8 instead.
    let raw = std::str::from_utf8(value.as_bytes()).ok()?;
    let cleaned = clean(raw, max_len);
    (!cleaned.is_empty()).then_some(cleaned)
}

/// `raw` without control characters and without leading or trailing
/// whitespace, cut to at most `max_len` bytes at a character boundary.
pub(crate) fn clean(raw: &str, max_len: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_len));
    let kept = raw
        .chars()
        .filter(|c| !c.is_control())
        .skip_while(|c| c.is_whitespace());
    for c in kept {
        if out.len() + c.len_utf8() > max_len {
            break;
        }
        out.push(c);
    }
    let end = out.trim_end().len();
    out.truncate(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    #[test]
    fn strips_control_characters_and_outer_whitespace() {
        assert_eq!(
            clean("  Fix\r\n typo\0\u{1b}[31m \u{85}", 100),
            "Fix typo[31m"
        );
        assert_eq!(clean("\ttab\tseparated\t", 100), "tabseparated");
        assert_eq!(clean("\r\n", 100), "");
    }

    #[test]
    fn keeps_non_ascii_text() {
        assert_eq!(clean("Corrigé à la main ✓", 100), "Corrigé à la main ✓");
    }

    #[test]
    fn cuts_at_a_char_boundary() {
        // "é" is two bytes: a budget of 3 keeps "a" and one "é", not half of the next
        assert_eq!(clean("aéé", 3), "aé");
        assert_eq!(clean("aéé", 4), "aé");
        assert_eq!(clean("aéé", 5), "aéé");
        assert_eq!(clean("abc", 0), "");
    }

    #[test]
    fn whitespace_left_at_the_cut_is_trimmed() {
        assert_eq!(clean("ab   cd", 4), "ab");
    }

    #[test]
    fn reads_utf8_header_values_and_ignores_the_rest() {
        let name = HeaderName::from_static("x-commit-message");
        let mut headers = HeaderMap::new();
        assert_eq!(text(&headers, &name, 10), None);

        headers.insert(&name, HeaderValue::from_bytes("Réparé".as_bytes()).unwrap());
        assert_eq!(text(&headers, &name, 100).as_deref(), Some("Réparé"));

        headers.insert(&name, HeaderValue::from_bytes(b"bad \xff byte").unwrap());
        assert_eq!(text(&headers, &name, 100), None);

        headers.insert(&name, HeaderValue::from_static("   "));
        assert_eq!(text(&headers, &name, 100), None);
    }

    proptest! {
        #[test]
        fn output_is_bounded_clean_and_taken_from_the_input(raw in any::<String>(), max in 0usize..64) {
            let out = clean(&raw, max);
            prop_assert!(out.len() <= max);
            prop_assert!(!out.chars().any(char::is_control));
            prop_assert_eq!(out.trim(), out.as_str());
            let filtered: String = raw.chars().filter(|c| !c.is_control()).collect();
            prop_assert!(filtered.contains(out.as_str()));
        }

        #[test]
        fn clean_text_within_budget_is_kept_whole(raw in "[a-zA-Z0-9 éü✓]{0,40}") {
            prop_assert_eq!(clean(&raw, 1024), raw.trim());
        }
    }
}
