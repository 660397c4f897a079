//! A drift report as one self-contained HTML page: a summary, a table of every column, and
//! per column a bar chart of reference against current proportions (drawn with plotters'
//! SVG backend and inlined), with its PSI, p-value and verdict. No scripts, fonts or links
//! to fetch: the page opens offline from the object store.

use plotters::prelude::*;

use crate::{ColumnDrift, DriftReport};

pub(crate) const REFERENCE_COLOUR: RGBColor = RGBColor(54, 110, 180);
pub(crate) const CURRENT_COLOUR: RGBColor = RGBColor(230, 126, 34);
const CHART_WIDTH: u32 = 520;
const CHART_HEIGHT: u32 = 150;

/// Where the compared rows came from, for the page's header.
#[derive(Debug, Clone, Copy)]
pub struct ReportContext<'a> {
    pub title: &'a str,
    pub reference: &'a str,
    pub current: &'a str,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn proportions(column: &ColumnDrift) -> Vec<(f64, f64)> {
    let share = |count: u64, n: u64| if n == 0 { 0.0 } else { count as f64 / n as f64 };
    column
        .categories
        .iter()
        .map(|c| {
            (
                share(c.reference_count, column.n_reference),
                share(c.current_count, column.n_current),
            )
        })
        .collect()
}

/// Side-by-side bars per category, reference then current, scaled to the largest share.
fn bar_chart(column: &ColumnDrift) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let shares = proportions(column);
        let top = shares
            .iter()
            .flat_map(|(r, c)| [*r, *c])
            .fold(0.0f64, f64::max)
            .max(1e-9);
        let slot = CHART_WIDTH as f64 / shares.len().max(1) as f64;
        let bar = (slot * 0.36).max(1.0);
        let height = (CHART_HEIGHT - 4) as f64;
        for (i, (reference, current)) in shares.iter().enumerate() {
            let left = i as f64 * slot + slot * 0.14;
            for (offset, share, colour) in [(0.0, reference, REFERENCE_COLOUR), (bar, current, CURRENT_COLOUR)] {
                let x0 = (left + offset) as i32;
                let y0 = (CHART_HEIGHT as f64 - share / top * height) as i32;
                let _ = root.draw(&Rectangle::new(
                    [(x0, y0), ((left + offset + bar) as i32, CHART_HEIGHT as i32)],
                    colour.filled(),
                ));
            }
        }
        let _ = root.draw(&PathElement::new(
            vec![
                (0, CHART_HEIGHT as i32 - 1),
                (CHART_WIDTH as i32, CHART_HEIGHT as i32 - 1),
            ],
            BLACK,
        ));
        let _ = root.present();
    }
    svg
}

fn verdict(drifted: bool) -> &'static str {
    if drifted {
        "drifted"
    } else {
        "stable"
    }
}

fn column_section(column: &ColumnDrift) -> String {
    let labels: String = column
        .categories
        .iter()
        .zip(proportions(column))
        .map(|(c, (r, cur))| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{:.1} %</td><td>{}</td><td>{:.1} %</td></tr>",
                escape(&c.value),
                c.reference_count,
                r * 100.0,
                c.current_count,
                cur * 100.0
            )
        })
        .collect();
    format!(
        "<section class=\"{cls}\"><h3>{name} <span class=\"tag\">{verdict}</span></h3>\
         <p>PSI {psi:.4} · χ² {chi2:.3} on {dof} dof · p = {p:.3e}{ks} · {nr} reference, {nc} current values</p>\
         <div class=\"chart\">{svg}</div>\
         <table><tr><th>value (left to right)</th><th>reference</th><th></th><th>current</th><th></th></tr>{labels}</table></section>",
        cls = verdict(column.drifted),
        name = escape(&column.name),
        verdict = verdict(column.drifted),
        psi = column.psi,
        chi2 = column.chi2,
        dof = column.dof,
        p = column.p_value,
        nr = column.n_reference,
        nc = column.n_current,
        ks = match &column.ks {
            Some(ks) => format!(
                " · KS D = {:.4}, p = {:.3e} ({})",
                ks.statistic,
                ks.p_value,
                escape(&ks.method)
            ),
            None => String::new(),
        },
        svg = bar_chart(column),
    )
}

/// The whole page.
pub fn report_html(report: &DriftReport, context: &ReportContext<'_>) -> String {
    let rows: String = report
        .columns
        .iter()
        .chain(std::iter::once(&report.label))
        .map(|c| {
            format!(
                "<tr class=\"{}\"><td>{}</td><td>{:.4}</td><td>{:.3}</td><td>{}</td><td>{:.3e}</td><td>{}</td></tr>",
                verdict(c.drifted),
                escape(&c.name),
                c.psi,
                c.chi2,
                c.dof,
                c.p_value,
                verdict(c.drifted)
            )
        })
        .collect();
    let sections: String = report
        .columns
        .iter()
        .chain(std::iter::once(&report.label))
        .map(column_section)
        .collect();
    let headline = if report.drift { "Drift detected" } else { "No drift" };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>\
         body{{font-family:sans-serif;margin:2em;max-width:60em}} table{{border-collapse:collapse}}\
         td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}} td:first-child,th:first-child{{text-align:left}}\
         .drifted .tag,tr.drifted td:last-child{{color:#b03020;font-weight:bold}} .stable .tag{{color:#2a7a2a}}\
         .legend span{{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}}\
         section{{margin:1.5em 0}}</style></head><body>\
         <h1>{title}</h1><h2>{headline}: {n_drifted} of {n_columns} columns drifted ({share:.0} %, threshold {threshold:.0} %)</h2>\
         <p>Reference: {reference} ({n_reference} rows). Current: {current} ({n_current} rows).</p>\
         <p>A column drifts when its chi-square p-value is below {alpha} / {n_columns} (Bonferroni) or its PSI reaches {psi}{psi_rows}. \
         {continuous}The label is tested at {alpha} and not counted in the share.</p>\
         <p class=\"legend\"><span style=\"background:#366eb4\"></span>reference<span style=\"background:#e67e22\"></span>current</p>\
         <table><tr><th>column</th><th>PSI</th><th>χ²</th><th>dof</th><th>p</th><th>verdict</th></tr>{rows}</table>{sections}</body></html>",
        title = escape(context.title),
        continuous = if report.columns.iter().any(|c| c.ks.is_some()) {
            "A continuous column (binned at the reference's deciles) drifts when its Kolmogorov-Smirnov p-value is \
             below the same level or its PSI reaches the threshold. "
        } else {
            ""
        },
        headline = headline,
        n_drifted = report.drifted_columns().len(),
        n_columns = report.columns.len(),
        share = report.drift_share * 100.0,
        threshold = report.config.drift_share * 100.0,
        reference = escape(context.reference),
        current = escape(context.current),
        n_reference = report.n_reference,
        n_current = report.n_current,
        alpha = report.config.alpha,
        psi = report.config.psi_threshold,
        psi_rows = match report.config.psi_min_rows {
            0 => String::new(),
            rows => format!(" with at least {rows} rows on each side"),
        },
    )
}
