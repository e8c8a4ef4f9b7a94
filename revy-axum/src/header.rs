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

/// The Unicode `Cf` (format) characters, as of Unicode 15.1, as inclusive
/// ranges. The standard library has no predicate for the category.
const FORMAT: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),   // soft hyphen
    ('\u{0600}', '\u{0605}'),   // Arabic number signs
    ('\u{061C}', '\u{061C}'),   // Arabic letter mark
    ('\u{06DD}', '\u{06DD}'),   // Arabic end of ayah
    ('\u{070F}', '\u{070F}'),   // Syriac abbreviation mark
    ('\u{0890}', '\u{0891}'),   // Arabic pound and piastre marks above
    ('\u{08E2}', '\u{08E2}'),   // Arabic disputed end of ayah
    ('\u{180E}', '\u{180E}'),   // Mongolian vowel separator
    ('\u{200B}', '\u{200F}'),   // zero-width space, (non-)joiner, LRM, RLM
    ('\u{202A}', '\u{202E}'),   // bidi embeddings and overrides
    ('\u{2060}', '\u{2064}'),   // word joiner, invisible operators
    ('\u{2066}', '\u{206F}'),   // bidi isolates, deprecated format controls
    ('\u{FEFF}', '\u{FEFF}'),   // zero-width no-break space (BOM)
    ('\u{FFF9}', '\u{FFFB}'),   // interlinear annotation
    ('\u{110BD}', '\u{110BD}'), // Kaithi number sign
    ('\u{110CD}', '\u{110CD}'), // Kaithi number sign above
    ('\u{13430}', '\u{1343F}'), // Egyptian hieroglyph format controls
    ('\u{1BCA0}', '\u{1BCA3}'), // shorthand format controls
    ('\u{1D173}', '\u{1D17A}'), // musical symbol format controls
    ('\u{E0001}', '\u{E0001}'), // language tag
    ('\u{E0020}', '\u{E007F}'), // tag characters
];

/// True for what must not reach the journal: controls (`Cc`), format
/// characters (`Cf`) and the line and paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
        || FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// `raw` without control, format and line-separator characters and without
/// leading or trailing whitespace, cut to at most `max_len` bytes at a
/// character boundary.
pub(crate) fn clean(raw: &str, max_len: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_len));
    let kept = raw
        .chars()
        .filter(|&c| !is_unsafe(c))
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
    fn strips_bidi_overrides_and_other_format_characters() {
        // "Trojan Source": RLO makes "txt.exe" display as "exe.txt"
        assert_eq!(clean("Fix \u{202E}txt.exe\u{202C}", 100), "Fix txt.exe");
        // isolates, marks, zero-width characters, BOM, soft hyphen, tags
        assert_eq!(
            clean(
                "\u{2067}a\u{2069}\u{200F}b\u{200B}c\u{FEFF}d\u{AD}e\u{E0041}f\u{2028}g",
                100
            ),
            "abcdefg"
        );
        // a format character between spaces and text does not keep the spaces
        assert_eq!(clean(" \u{200E} x \u{200E} ", 100), "x");
        for &(lo, hi) in &FORMAT {
            assert!(lo <= hi);
            assert_eq!(clean(&format!("{lo}{hi}"), 100), "", "{lo:?}..{hi:?}");
        }
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
            prop_assert!(!out.chars().any(is_unsafe));
            prop_assert_eq!(out.trim(), out.as_str());
            let filtered: String = raw.chars().filter(|&c| !is_unsafe(c)).collect();
            prop_assert!(filtered.contains(out.as_str()));
        }

        #[test]
        fn clean_text_within_budget_is_kept_whole(raw in "[a-zA-Z0-9 éü✓]{0,40}") {
            prop_assert_eq!(clean(&raw, 1024), raw.trim());
        }
    }
}
