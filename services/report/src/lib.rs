//! The board report: one [`model::Report`] of an ICS's year — change control, convergence,
//! benefits and assurance, each figure with its source — rendered by [`render`] as a tagged,
//! deterministic PDF (typst, fonts embedded) or as one self-contained HTML page, both from the
//! same SVG charts ([`charts`]).

pub mod charts;
pub mod html;
pub mod model;
pub mod pdf;
pub mod provenance;

use charts::Chart;
use model::Report;
use serde_json::json;

/// The report's charts.
pub struct Charts {
    /// Change requests by state.
    pub pipeline: Chart,
    /// The trust × domain heatmap.
    pub heatmap: Chart,
    /// Each trust's convergence over time, as the report's trajectories.
    pub trajectories: Vec<Chart>,
    /// Each benefit's SPC chart, as the report's benefit charts.
    pub benefits: Vec<Chart>,
}

impl Charts {
    /// The charts of `report`.
    pub fn of(report: &Report) -> Self {
        Self {
            pipeline: charts::pipeline(&report.change_control.pipeline),
            heatmap: charts::heatmap(&report.convergence),
            trajectories: report
                .convergence
                .trajectories
                .iter()
                .enumerate()
                .map(|(i, s)| charts::spc(s, &format!("trajectory-{i}.svg")))
                .collect(),
            benefits: report
                .benefits
                .charts
                .iter()
                .enumerate()
                .map(|(i, s)| charts::spc(s, &format!("benefit-{i}.svg")))
                .collect(),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Chart> {
        [&self.pipeline, &self.heatmap]
            .into_iter()
            .chain(&self.trajectories)
            .chain(&self.benefits)
    }
}

/// The two formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A tagged PDF/UA-1 document.
    Pdf,
    /// One HTML page.
    Html,
}

impl Format {
    /// The format a file name asks for (`.pdf` or `.html`).
    pub fn of_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "pdf" => Some(Self::Pdf),
            "html" | "htm" => Some(Self::Html),
            _ => None,
        }
    }
}

/// The typst document of the board report.
const TEMPLATE: &str = include_str!("board.typ");

/// `report` as `format`. The same report gives the same bytes.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, String> {
    let charts = Charts::of(report);
    match format {
        Format::Html => Ok(html::render(report, &charts).into_bytes()),
        Format::Pdf => {
            let chart = |c: &Chart| json!({"file": format!("/charts/{}", c.file), "alt": c.alt});
            let data = json!({
                "report": report,
                "charts": {
                    "pipeline": chart(&charts.pipeline),
                    "heatmap": chart(&charts.heatmap),
                    "trajectories": charts.trajectories.iter().map(chart).collect::<Vec<_>>(),
                    "benefits": charts.benefits.iter().map(chart).collect::<Vec<_>>(),
                },
                "text": {
                    "convergence": provenance::convergence_now(&report.summary),
                    "chain": provenance::chain(&report.summary),
                    "verification": provenance::verification(&report.assurance),
                    "approved": provenance::list(&report.summary.approved),
                    "rejected": provenance::list(&report.summary.rejected),
                    "rate_cards": provenance::list(&report.benefits.rate_cards),
                    "targets": report.benefits.against_target.iter().map(provenance::target).collect::<Vec<_>>(),
                    "targets_met": provenance::targets_met(&report.benefits),
                    "icons": report.benefits.charts.iter().map(|s| format!(
                        "variation: {}; assurance: {}",
                        charts::icon_words(&s.variation),
                        charts::icon_words(&s.assurance)
                    )).collect::<Vec<_>>(),
                },
            });
            let mut files = vec![(
                "/data.json".to_owned(),
                serde_json::to_vec(&data).map_err(|e| e.to_string())?,
            )];
            files.extend(
                charts
                    .all()
                    .map(|c| (format!("/charts/{}", c.file), c.svg.clone().into_bytes())),
            );
            let date = pdf::date(&report.as_of)?;
            let world = pdf::ReportWorld::new(TEMPLATE, files, date)?;
            pdf::render(
                &world,
                &format!("concordat-board-{}-{}", report.ics, report.year),
                date,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::*;

    fn golden() -> Report {
        Report {
            ics: "QUE".into(),
            ics_name: "Cambridgeshire and Peterborough ICS".into(),
            year: "2025/26".into(),
            as_of: "2026-12-07".into(),
            summary: Summary {
                approved: vec!["CR-2026-0001".into()],
                convergence_now: Some(0.75),
                trusts_assessed: 2,
                cash_realised: "£0.00".into(),
                non_cash_realised: "£980,000.00".into(),
                chain_valid: true,
                chain_entries: 83,
                ..Default::default()
            },
            change_control: ChangeControl {
                pipeline: vec![StateCount {
                    state: "Approved".into(),
                    count: 1,
                }],
                ..Default::default()
            },
            benefits: Benefits {
                against_target: vec![AgainstTarget {
                    benefit: "Fewer adverse drug reactions".into(),
                    category: "non-cash-releasing".into(),
                    realised: "850".into(),
                    target: "900".into(),
                    basis: "75 a month × 12".into(),
                    unit: "reactions".into(),
                    share: Some(850.0 / 900.0),
                    met: Some(false),
                    value: "£980,000.00".into(),
                }],
                figures: vec![Figure {
                    benefit: "Fewer adverse drug reactions".into(),
                    trust: "ICS".into(),
                    quantity: "850 reactions".into(),
                    converted: "2,450 bed days".into(),
                    value: "£980,000.00".into(),
                    category: "non-cash-releasing".into(),
                    accepted: "12/48".into(),
                    rate_card: "standard v1".into(),
                }],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn both_formats_render_the_same_bytes_each_time() {
        let report = golden();
        let pdf = render(&report, Format::Pdf).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(pdf, render(&report, Format::Pdf).unwrap());
        let html = String::from_utf8(render(&report, Format::Html).unwrap()).unwrap();
        assert_eq!(html.as_bytes(), render(&report, Format::Html).unwrap());
        for figure in [
            "£980,000.00",
            "2,450 bed days",
            "CR-2026-0001",
            "lang=\"en-GB\"",
            "900 reactions (75 a month × 12)",
            "<th scope=\"row\">non-cash-releasing</th><td>1</td><td>1</td><td>0</td><td>1</td>",
        ] {
            assert!(html.contains(figure), "{figure}");
        }
        assert!(!html.contains("<script"));
    }

    #[test]
    fn an_empty_year_renders_and_says_none() {
        let report = Report {
            ics: "QUE".into(),
            ics_name: "QUE".into(),
            year: "2025/26".into(),
            as_of: "2026-04-01".into(),
            ..Default::default()
        };
        assert!(render(&report, Format::Pdf).is_ok());
        let html = String::from_utf8(render(&report, Format::Html).unwrap()).unwrap();
        assert!(html.contains("None.") && html.contains("no trust assessed yet"));
        assert!(
            render(
                &Report {
                    as_of: "someday".into(),
                    ..report
                },
                Format::Pdf
            )
            .unwrap_err()
            .contains("not a date")
        );
    }
}
