//! How the pages print: escaping, the frame every page shares, times in UTC with how long
//! ago, numbers, and small building blocks (tables, links, badges).

use std::fmt::Write;
use std::time::Instant;

use chrono::{DateTime, Utc};

/// Markup made by the page code. Text from storage or requests never becomes `Html`
/// without [`esc`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Html(pub String);

impl Html {
    pub(crate) fn push(&mut self, more: Html) {
        self.0.push_str(&more.0);
    }
}

/// `text` as HTML text or attribute value: `&`, `<`, `>`, `"` and `'` escaped.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}\
header{background:#1d3557;color:#fff;padding:.6em 1.5em;display:flex;gap:1.5em;align-items:baseline}\
header a{color:#fff;text-decoration:none;margin-right:1em}header a:hover{text-decoration:underline}\
header .brand{font-weight:bold;margin-right:1.5em}header .dataset{margin-left:auto;opacity:.8}\
main{padding:1em 1.5em;max-width:84em}h1{font-size:1.5em;margin:.3em 0 .6em}h2{font-size:1.15em;margin:1.4em 0 .5em}\
table{border-collapse:collapse;background:#fff;margin:.3em 0}td,th{padding:3px 9px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}\
th{background:#eef1f4;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
.cards{display:flex;flex-wrap:wrap;gap:1em}.card{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:.8em 1em;min-width:16em}\
.card h2{margin-top:0;font-size:1em;color:#56606b}.big{font-size:1.6em;font-weight:600}\
.ago,.muted{color:#6b7480}.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85em;background:#e3e6ea}\
.b-champion,.b-done,.b-healthy,.b-stable,.b-promoted{background:#d3f0d6}.b-rejected,.b-failed,.b-degraded,.b-drift,.b-rolled_back,.b-rollback{background:#f8d3d0}\
.b-running,.b-pending,.b-registered,.b-insufficient,.b-manual{background:#fbeec6}\
.error{background:#f8d3d0;padding:.8em 1em;border-radius:6px}.empty{background:#fff;border:1px dashed #b8c0c8;padding:.8em 1em;border-radius:6px}\
pre{background:#fff;border:1px solid #e3e6ea;padding:.6em;overflow-x:auto;max-width:80em}\
.heat td.cell{width:2.2em;height:1.4em;text-align:center;padding:0;border:1px solid #fff;font-size:.8em}\
.heat td.cell.drifted{outline:2px solid #1d232a;outline-offset:-2px}.heat th.check{writing-mode:vertical-rl;font-weight:normal;font-size:.8em}\
.legend span{display:inline-block;width:1.6em;height:1em;vertical-align:middle;border:1px solid #ddd}\
.key-ref{color:#366eb4}.key-cur{color:#e67e22}nav.pages{margin:.8em 0}nav.pages a{margin-right:1.5em}\
footer{color:#6b7480;font-size:.85em;padding:1em 1.5em}form.filter{margin:.5em 0}form.filter input{margin:0 .8em 0 .3em}";

/// The page: its title, the navigation, the body, and how long it took.
pub(crate) fn layout(title: &str, body: &Html, started: Instant) -> String {
    let dataset = &driftloop_core::spec().name;
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · driftloop</title><style>{STYLE}</style></head><body>\
         <header><span class=\"brand\">driftloop</span><nav>\
         <a href=\"/ui/\">Overview</a><a href=\"/ui/drift\">Drift</a><a href=\"/ui/models\">Models</a>\
         <a href=\"/ui/jobs\">Jobs</a><a href=\"/ui/performance\">Performance</a></nav>\
         <span class=\"dataset\">dataset {dataset}</span></header>\
         <main><h1>{title}</h1>{body}</main>\
         <footer>Read-only. Rendered {now} in {ms:.0} ms. Times are UTC.</footer></body></html>",
        title = esc(title),
        dataset = esc(dataset),
        body = body.0,
        now = Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
        ms = started.elapsed().as_secs_f64() * 1000.0,
    )
}

/// A stored time (ISO 8601, UTC) parsed; `None` when it is not one.
pub(crate) fn parse_time(iso: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(iso).ok().map(|t| t.with_timezone(&Utc))
}

/// How long ago `then` was, in words: "just now", "5 min ago", "3 h ago", "2 days ago".
pub(crate) fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds();
    match seconds {
        s if s < 0 => "in the future".to_string(),
        0..=9 => "just now".to_string(),
        10..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => match seconds / 86_400 {
            1 => "1 day ago".to_string(),
            days => format!("{days} days ago"),
        },
    }
}

/// A stored time as `2026-12-04 21:07:33 UTC (5 min ago)`, machine-readable in a `<time>`.
pub(crate) fn when(iso: &str, now: DateTime<Utc>) -> Html {
    match parse_time(iso) {
        Some(t) => Html(format!(
            "<time datetime=\"{}\">{}</time> <span class=\"ago\">({})</span>",
            esc(iso),
            t.format("%Y-%m-%d %H:%M:%S UTC"),
            ago(t, now)
        )),
        None => Html(esc(iso)),
    }
}

/// A share as a percentage with one decimal.
pub(crate) fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// A score with three decimals, or a dash.
pub(crate) fn score(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

/// An integer with thin groups of three digits: `1 000 000`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A status word as a coloured badge.
pub(crate) fn badge(word: &str) -> Html {
    Html(format!(
        "<span class=\"badge b-{}\">{}</span>",
        esc(&word.replace(' ', "_")),
        esc(word)
    ))
}

/// A link to a model version's page.
pub(crate) fn version_link(version: i64) -> Html {
    Html(format!("<a href=\"/ui/models/{version}\">v{version}</a>"))
}

/// A table: header cells (a trailing `#` marks a number column) and rows of cells.
pub(crate) fn table(class: &str, headers: &[&str], rows: impl IntoIterator<Item = Vec<Html>>) -> Html {
    let mut out = format!("<table class=\"{}\"><thead><tr>", esc(class));
    let numeric: Vec<bool> = headers.iter().map(|h| h.ends_with('#')).collect();
    for h in headers {
        match h.strip_suffix('#') {
            Some(h) => {
                let _ = write!(out, "<th class=\"num\">{}</th>", esc(h));
            }
            None => {
                let _ = write!(out, "<th>{}</th>", esc(h));
            }
        }
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.into_iter().enumerate() {
            if numeric.get(i).copied().unwrap_or(false) {
                let _ = write!(out, "<td class=\"num\">{}</td>", cell.0);
            } else {
                let _ = write!(out, "<td>{}</td>", cell.0);
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    Html(out)
}

/// Plain text as a cell.
pub(crate) fn text(value: &str) -> Html {
    Html(esc(value))
}

/// A box saying what is not there yet and what to do about it.
pub(crate) fn empty(message: &str) -> Html {
    Html(format!("<p class=\"empty\">{}</p>", esc(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn times_say_how_long_ago() {
        let now = parse_time("2026-12-04T12:00:00Z").unwrap();
        let at = |iso: &str| ago(parse_time(iso).unwrap(), now);
        assert_eq!(at("2026-12-04T11:59:58.5Z"), "just now");
        assert_eq!(at("2026-12-04T11:59:15Z"), "45 s ago");
        assert_eq!(at("2026-12-04T11:55:00.000000Z"), "5 min ago");
        assert_eq!(at("2026-12-04T09:00:00Z"), "3 h ago");
        assert_eq!(at("2026-12-03T11:00:00Z"), "1 day ago");
        assert_eq!(at("2026-11-20T12:00:00Z"), "14 days ago");
        assert_eq!(
            when("2026-12-04T11:54:59.123Z", now).0,
            "<time datetime=\"2026-12-04T11:54:59.123Z\">2026-12-04 11:54:59 UTC</time> <span class=\"ago\">(5 min ago)</span>"
        );
        assert_eq!(when("<b>", now).0, "&lt;b&gt;");
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1\u{202f}000");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
    }
}
