//! The page shell and how values, times and actors are shown. maud escapes
//! every spliced string; this module also makes invisible characters
//! visible and cuts long text.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use revy_core::{Action, Actor};
use revy_seaorm::{codec, history::FieldValue};
use sea_orm::Value;

use super::Viewer;

/// Characters of a value shown before it is cut.
const SHOWN: usize = 160;

/// Headers every page carries: no script may run, nothing is loaded from
/// elsewhere, forms post only to the browser itself.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A whole page: the navigation, a title and the body.
pub(crate) fn page(viewer: &Viewer, title: &str, tables: &[String], body: Markup) -> Response {
    let base = &viewer.base;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · history" }
                link rel="stylesheet" href={ (base) "/style.css" };
            }
            body {
                header.top {
                    a.brand href=(home(base)) { "History" }
                    nav {
                        a href=(home(base)) { "Revisions" }
                        @for t in tables {
                            a href={ (base) "/tables/" (pct(t)) } { (clean(t)) }
                        }
                    }
                    span.who { "signed in as " code { (clean(&viewer.actor.to_string())) } }
                }
                main {
                    h1 { (clean(title)) }
                    (body)
                }
            }
        }
    };
    respond(StatusCode::OK, markup)
}

/// An HTML response with the browser's security headers.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// A page for an error, without navigation (the viewer may be unknown).
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (status.as_u16()) " · history" } }
            body {
                h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                p.error { (clean(message)) }
            }
        }
    };
    respond(status, markup)
}

/// Text with control and bidi/format characters shown as `\u{…}`, so that
/// no value can reorder or hide the text around it.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible = c.is_control() && c != '\n' && c != '\t'
            || matches!(c,
                '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}' | '\u{061C}' | '\u{00AD}');
        if invisible {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Text, cut after [`SHOWN`] characters with the rest behind a disclosure
/// (`<details>` opens without script).
pub(crate) fn text(s: &str) -> Markup {
    let s = clean(s);
    match s.char_indices().nth(SHOWN) {
        None => html! { span.text { (s) } },
        Some((cut, _)) => {
            let total = s.chars().count();
            html! {
                details.long {
                    summary { span.text { (&s[..cut]) } " … (" (total) " characters, open)" }
                    div.full { (s) }
                }
            }
        }
    }
}

/// A typed value: SQL NULL and JSON `null` are told apart, JSON is marked.
pub(crate) fn value(v: &Value) -> Markup {
    if codec::is_null(v) {
        return html! { span.null title="SQL NULL" { "NULL" } };
    }
    match v {
        Value::String(Some(s)) => text(s),
        Value::Char(Some(c)) => text(&c.to_string()),
        Value::Json(Some(j)) if j.is_null() => {
            html! { span.json title="JSON value" { "json " span.jnull { "null" } } }
        }
        Value::Json(Some(j)) => {
            html! { span.json title="JSON value" { "json " (text(&j.to_string())) } }
        }
        other => match codec::encode(other) {
            Ok(serde_json::Value::String(s)) => text(&s),
            Ok(json) => text(&json.to_string()),
            Err(e) => html! { span.raw { "(cannot show: " (clean(&e.to_string())) ")" } },
        },
    }
}

/// A journal value: typed, withheld, or raw for a column the entity lost.
pub(crate) fn field(v: &FieldValue) -> Markup {
    match v {
        FieldValue::Value(v) => value(v),
        FieldValue::Withheld => {
            html! { span.withheld title="redacted: the journal keeps no value" { "withheld" } }
        }
        FieldValue::Erased => {
            html! { span.withheld title="erased: the value was removed from the journal" { "erased" } }
        }
        FieldValue::Raw(j) => {
            html! { span.raw title="column no longer in the entity" { "raw " (text(&j.to_string())) } }
        }
        _ => html! { span.raw { "?" } },
    }
}

/// A column's value in a snapshot, unless the journal does not hold it.
pub(crate) fn snapshot_value(v: &Value, unrecorded: Option<&str>) -> Markup {
    match unrecorded {
        Some("redacted") => {
            html! { span.withheld title="redacted: the journal keeps no value" { "withheld" } }
        }
        Some(why) => {
            html! { span.withheld title="not in the journal" { "not recorded (" (why) ")" } }
        }
        None => value(v),
    }
}

pub(crate) fn actor(a: &Option<Actor>) -> Markup {
    match a {
        Some(a) => html! { span.actor { (clean(&a.to_string())) } },
        None => html! { span.actor.system { "system" } },
    }
}

pub(crate) fn action(a: Action) -> Markup {
    let (class, name) = match a {
        Action::Create => ("create", "created"),
        Action::Update => ("update", "updated"),
        Action::Delete => ("delete", "deleted"),
        Action::Set => ("update", "set"),
        Action::Unset => ("update", "unset"),
    };
    html! { span class={ "badge " (class) } { (name) } }
}

pub(crate) fn time(t: &DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S%.6f UTC")) } }
}

/// A time from a form: RFC 3339, or a `datetime-local` value taken as UTC.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|t| t.and_utc())
}

/// Percent-encodes a path segment or query value.
pub(crate) fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The revisions page: the mount point itself (axum's `nest` serves a
/// nested `/` there, without a trailing slash).
pub(crate) fn home(base: &str) -> &str {
    if base.is_empty() { "/" } else { base }
}

/// The link to a row's page.
pub(crate) fn row_href(base: &str, table: &str, key: &str) -> String {
    format!("{base}/rows/{}?key={}", pct(table), pct(key))
}

/// A query string from pairs, empty values left out.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", pct(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_shown() {
        assert_eq!(clean("a\u{202E}b"), "a\\u{202E}b");
        assert_eq!(clean("x\u{0}"), "x\\u{0000}");
        assert_eq!(clean("plain <b>"), "plain <b>");
    }

    #[test]
    fn values_are_escaped_and_nulls_distinct() {
        let s = value(&Value::String(Some("<script>alert(1)</script>".into()))).into_string();
        assert!(!s.contains("<script>"));
        let sql_null = value(&Value::Json(None)).into_string();
        let json_null = value(&Value::Json(Some(Box::new(serde_json::Value::Null)))).into_string();
        assert!(sql_null.contains("NULL"));
        assert!(json_null.contains("jnull"));
        assert_ne!(sql_null, json_null);
    }

    #[test]
    fn long_text_is_cut() {
        let long = "x".repeat(1000);
        let s = text(&long).into_string();
        assert!(s.contains("<details"));
        assert!(s.contains("1000 characters"));
    }

    #[test]
    fn percent_encoding_keeps_unreserved_only() {
        assert_eq!(pct("a b/\"<"), "a%20b%2F%22%3C");
        assert_eq!(
            parse_time("2026-01-02T03:04")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2026-01-02T03:04:00+00:00")
        );
    }
}
