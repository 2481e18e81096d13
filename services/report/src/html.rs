//! The report as one self-contained HTML page: the same model and the same SVG charts as the
//! PDF, inline, with tables that have headers, a language, and no scripts or anything fetched
//! from elsewhere.

use std::fmt::Write as _;

use crate::charts::{self, Chart};
use crate::model::Report;
use crate::{Charts, provenance};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn table(out: &mut String, caption: &str, header: &[&str], rows: &[Vec<String>]) {
    let _ = write!(
        out,
        "<table><caption>{}</caption><thead><tr>",
        escape(caption)
    );
    for h in header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(out, "<tr><td colspan=\"{}\">None.</td></tr>", header.len());
    }
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\">{}</th>", escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn figure(out: &mut String, chart: &Chart, caption: &str) {
    // The alt text is the SVG's accessible name (its <title> is the short one).
    let svg = chart.svg.replacen(
        "role=\"img\"",
        &format!("role=\"img\" aria-label=\"{}\"", escape(&chart.alt)),
        1,
    );
    let _ = write!(
        out,
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

const STYLE: &str = "body{font-family:'Libertinus Serif',Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1b;line-height:1.4}\
h1{font-size:1.8rem}h2{border-bottom:1px solid #7b7d7d;margin-top:2.5rem}\
table{border-collapse:collapse;margin:1rem 0;width:100%}caption{text-align:left;font-weight:bold;margin-bottom:.3rem}\
th,td{border:1px solid #c8c8c8;padding:.25rem .5rem;text-align:left;vertical-align:top}thead th{background:#deebf7}\
figure{margin:1rem 0}figcaption{font-style:italic}.kpi{display:flex;gap:1rem;flex-wrap:wrap}\
.kpi div{border:1px solid #7b7d7d;padding:.5rem 1rem}.small{font-size:.85rem;color:#4a4a4a}\
@media print{section{break-before:page}}";

/// The report as an HTML document.
pub fn render(report: &Report, charts: &Charts) -> String {
    let r = report;
    let mut out = String::new();
    let title = format!("{} programme board report, {}", r.ics_name, r.year);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        escape(&title)
    );
    let _ = write!(
        out,
        "<h1>{}</h1><p>As of {}. Every figure names its source: change request numbers, assessments, measurement counts and rate card versions.</p>",
        escape(&title),
        escape(&r.as_of)
    );

    // 1. Summary.
    let s = &r.summary;
    out.push_str("<section><h2>1. Summary</h2><div class=\"kpi\">");
    let _ = write!(
        out,
        "<div><strong>Decisions</strong><br>{} approved, {} rejected</div>",
        s.approved.len(),
        s.rejected.len()
    );
    let _ = write!(
        out,
        "<div><strong>Convergence</strong><br>{}</div>",
        escape(&provenance::convergence_now(s))
    );
    let _ = write!(
        out,
        "<div><strong>Benefits realised</strong><br>cash-releasing {}<br>non-cash-releasing {}</div>",
        escape(&s.cash_realised),
        escape(&s.non_cash_realised)
    );
    let _ = write!(
        out,
        "<div><strong>Audit chain</strong><br>{}</div></div>",
        escape(&provenance::chain(s))
    );
    table(
        &mut out,
        &format!("Benefits against their targets for {}", r.year),
        &["Category", "Benefits", "With a target", "Met", "Not met"],
        &provenance::targets_met(&r.benefits),
    );
    out.push_str("<p>Each benefit against its target: section 4.</p>");
    let _ = write!(
        out,
        "<p class=\"small\">Approved: {}. Rejected: {}.</p></section>",
        escape(&provenance::list(&s.approved)),
        escape(&provenance::list(&s.rejected))
    );

    // 2. Change control.
    let c = &r.change_control;
    out.push_str("<section><h2>2. Change control</h2>");
    figure(&mut out, &charts.pipeline, "Change requests by state now");
    let rows: Vec<Vec<String>> = c
        .decisions
        .iter()
        .map(|d| {
            vec![
                d.number.clone(),
                d.title.clone(),
                d.outcome.clone(),
                d.rule.clone(),
                d.votes.clone(),
                format!("v{}", d.charter_version),
                d.board.clone(),
                d.date.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Decisions from the start of the year to the report's date",
        &[
            "Change request",
            "Title",
            "Outcome",
            "Rule",
            "For/against/abstain",
            "Charter",
            "Board",
            "Date",
        ],
        &rows,
    );
    let deadline_rows = |list: &[crate::model::Deadline]| -> Vec<Vec<String>> {
        list.iter()
            .map(|d| {
                vec![
                    d.number.clone(),
                    d.title.clone(),
                    d.state.clone(),
                    d.what.clone(),
                    format!("{}{}", d.date, if d.overdue { " (overdue)" } else { "" }),
                ]
            })
            .collect()
    };
    table(
        &mut out,
        "Emergency changes awaiting retrospective review",
        &["Change request", "Title", "State", "Due", "Date"],
        &deadline_rows(&c.emergencies),
    );
    table(
        &mut out,
        "Changes past their deadline",
        &["Change request", "Title", "State", "Deadline", "Date"],
        &deadline_rows(&c.past_deadline),
    );
    out.push_str("</section>");

    // 3. Convergence.
    let v = &r.convergence;
    out.push_str("<section><h2>3. Convergence</h2>");
    figure(
        &mut out,
        &charts.heatmap,
        "Convergence by trust and domain now",
    );
    for (series, chart) in v.trajectories.iter().zip(&charts.trajectories) {
        figure(
            &mut out,
            chart,
            &format!("{}: convergence over time ({})", series.name, series.source),
        );
    }
    let rows: Vec<Vec<String>> = v
        .expiring
        .iter()
        .map(|e| {
            vec![
                e.trust.clone(),
                e.key.clone(),
                e.change_request.clone(),
                e.date.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Variations expiring in the next 90 days",
        &["Trust", "Item", "Approved by", "Lapses"],
        &rows,
    );
    let rows: Vec<Vec<String>> = v
        .plans
        .iter()
        .map(|p| {
            vec![
                p.title.clone(),
                p.critical_path.clone(),
                p.p50.clone(),
                p.p85.clone(),
                p.target.clone(),
                if p.target.is_empty() {
                    "no target date".to_owned()
                } else {
                    format!(
                        "{} ({} on time)",
                        if p.holds { "holds" } else { "at risk" },
                        charts::percent(p.on_time)
                    )
                },
                p.source.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Convergence plans",
        &[
            "Plan",
            "Critical path",
            "P50",
            "P85",
            "Target",
            "Target date",
            "Forecast",
        ],
        &rows,
    );
    out.push_str("</section>");

    // 4. Benefits.
    let b = &r.benefits;
    out.push_str("<section><h2>4. Benefits</h2>");
    let rows: Vec<Vec<String>> = b
        .against_target
        .iter()
        .map(|a| {
            vec![
                a.benefit.clone(),
                a.category.clone(),
                format!("{} {}", a.realised, a.unit),
                provenance::target(a),
                a.share.map(charts::percent).unwrap_or_default(),
                a.value.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        &format!("Benefits realised in {} against target", r.year),
        &[
            "Benefit",
            "Category",
            "Realised",
            "Target",
            "Of target",
            "Value",
        ],
        &rows,
    );
    let rows: Vec<Vec<String>> = b
        .figures
        .iter()
        .map(|f| {
            vec![
                f.benefit.clone(),
                f.trust.clone(),
                f.quantity.clone(),
                f.converted.clone(),
                f.value.clone(),
                f.category.clone(),
                f.accepted.clone(),
                f.rate_card.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        &format!("Benefits in {} by trust", r.year),
        &[
            "Benefit",
            "Trust",
            "Quantity",
            "Converted",
            "Value",
            "Category",
            "Accepted",
            "Rate card",
        ],
        &rows,
    );
    let rows: Vec<Vec<String>> = b
        .by_change_request
        .iter()
        .map(|d| vec![d.change_request.clone(), d.cash.clone(), d.non_cash.clone()])
        .collect();
    table(
        &mut out,
        "Benefits by change request",
        &["Change request", "Cash-releasing", "Non-cash-releasing"],
        &rows,
    );
    for (series, chart) in b.charts.iter().zip(&charts.benefits) {
        figure(
            &mut out,
            chart,
            &format!("{} ({})", series.name, series.source),
        );
    }
    let rows: Vec<Vec<String>> = b
        .evidence
        .iter()
        .map(|e| {
            vec![
                e.trust.clone(),
                e.expected.to_string(),
                e.submitted.to_string(),
                e.validated.to_string(),
                e.accepted.to_string(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Evidence completeness by trust",
        &["Trust", "Expected", "Submitted", "Validated", "Accepted"],
        &rows,
    );
    let _ = write!(
        out,
        "<p class=\"small\">Valued with {}.</p></section>",
        escape(&provenance::list(&b.rate_cards))
    );

    // 5. Assurance.
    let a = &r.assurance;
    out.push_str("<section><h2>5. Assurance</h2>");
    let _ = write!(out, "<p>{}</p>", escape(&provenance::verification(a)));
    let rows: Vec<Vec<String>> = a
        .refusals
        .iter()
        .map(|x| vec![x.reason.clone(), x.count.to_string()])
        .collect();
    table(
        &mut out,
        "Refusals from the start of the year to the report's date, by reason",
        &["Reason", "Refusals"],
        &rows,
    );
    out.push_str("</section></main></body></html>\n");
    out
}
