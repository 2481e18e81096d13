//! The report's charts as SVG, one set for both the PDF (typst places them as images) and the
//! HTML (inline). Each comes with alt text stating what it shows. Colours hold for colour-blind
//! readers: a single-hue sequential scale with the value written in each cell, and Making Data
//! Count's blue (improvement) and orange (concern) with grey for common cause, never red and
//! green.

use std::fmt::Write as _;

use crate::model::{Convergence, Series, StateCount};

/// A chart: its SVG and its alt text.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// A file name for it, e.g. `heatmap.svg`.
    pub file: String,
    /// The SVG document.
    pub svg: String,
    /// What it shows, for readers who cannot see it.
    pub alt: String,
}

const FONT: &str = "Libertinus Serif";
const INK: &str = "#1d1d1b";
const GREY: &str = "#7b7d7d";
const BLUE: &str = "#1f77b4";
const ORANGE: &str = "#e66100";
const PURPLE: &str = "#5d3a9b";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn open(width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" font-family=\"{FONT}\" font-size=\"11\"><title>{}</title>",
        escape(title)
    )
}

fn text(svg: &mut String, x: f64, y: f64, anchor: &str, fill: &str, body: &str) {
    let _ = write!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"{fill}\">{}</text>",
        escape(body)
    );
}

/// A percentage for people, `87%`.
pub fn percent(value: f64) -> String {
    format!("{:.0}%", value * 100.0)
}

/// The blue of a convergence from 0 (lightest) to 1 (darkest), and the ink that reads on it.
fn shade(value: f64) -> (String, &'static str) {
    let v = value.clamp(0.0, 1.0);
    let (light, dark) = ((0xde, 0xeb, 0xf7), (0x08, 0x30, 0x6b));
    let mix = |a: i32, b: i32| (f64::from(a) + (f64::from(b) - f64::from(a)) * v).round() as i32;
    let colour = format!(
        "#{:02x}{:02x}{:02x}",
        mix(light.0, dark.0),
        mix(light.1, dark.1),
        mix(light.2, dark.2)
    );
    (colour, if v > 0.55 { "#ffffff" } else { INK })
}

/// The trust × domain heatmap: each cell's convergence written in it and shaded by it; a cell
/// not assessed is blank and says so.
pub fn heatmap(c: &Convergence) -> Chart {
    let (left, top, w, h) = (70.0, 40.0, 90.0, 28.0);
    let columns: Vec<String> = c
        .domains
        .iter()
        .cloned()
        .chain(["all domains".to_owned()])
        .collect();
    let width = left + w * columns.len() as f64 + 10.0;
    let height = top + h * c.trusts.len() as f64 + 10.0;
    let mut svg = open(width, height, "Convergence by trust and domain");
    for (j, domain) in columns.iter().enumerate() {
        text(
            &mut svg,
            left + w * j as f64 + w / 2.0,
            top - 10.0,
            "middle",
            INK,
            domain,
        );
    }
    let mut said = Vec::new();
    for (i, trust) in c.trusts.iter().enumerate() {
        let y = top + h * i as f64;
        text(&mut svg, left - 8.0, y + h / 2.0 + 4.0, "end", INK, trust);
        for (j, domain) in columns.iter().enumerate() {
            let x = left + w * j as f64;
            let cell = if j < c.domains.len() {
                c.cells
                    .iter()
                    .find(|x| &x.trust == trust && &x.domain == domain)
            } else {
                c.totals.iter().find(|x| &x.trust == trust)
            };
            // An assessed cell is shaded with its value written; one not assessed is blank,
            // dashed, and says so.
            let (fill, stroke, ink, label) = match cell {
                Some(cell) => {
                    let (fill, ink) = shade(cell.value);
                    said.push(format!("{trust} {domain} {}", percent(cell.value)));
                    (
                        fill,
                        "stroke=\"#ffffff\"".to_owned(),
                        ink,
                        percent(cell.value),
                    )
                }
                None => (
                    "#ffffff".to_owned(),
                    format!("stroke=\"{GREY}\" stroke-dasharray=\"3 2\""),
                    GREY,
                    "not assessed".to_owned(),
                ),
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" {stroke}/>",
                w - 2.0,
                h - 2.0
            );
            text(
                &mut svg,
                x + w / 2.0,
                y + h / 2.0 + 4.0,
                "middle",
                ink,
                &label,
            );
        }
    }
    svg.push_str("</svg>");
    let alt = if said.is_empty() {
        "Convergence heatmap: no trust has been assessed yet.".to_owned()
    } else {
        format!(
            "Convergence heatmap of {} trusts by {} domains; darker is closer to the baseline. {}. Trusts not listed have not been assessed.",
            c.trusts.len(),
            c.domains.len(),
            said.join("; ")
        )
    };
    Chart {
        file: "heatmap.svg".to_owned(),
        svg,
        alt,
    }
}

/// The change requests in each state as horizontal bars, the count written at each.
pub fn pipeline(states: &[StateCount]) -> Chart {
    let (left, top, h, scale_width) = (120.0, 10.0, 20.0, 300.0);
    let most = states.iter().map(|s| s.count).max().unwrap_or(0).max(1) as f64;
    let height = top * 2.0 + h * states.len() as f64;
    let mut svg = open(
        left + scale_width + 40.0,
        height,
        "Change requests by state",
    );
    for (i, s) in states.iter().enumerate() {
        let y = top + h * i as f64;
        text(
            &mut svg,
            left - 8.0,
            y + h / 2.0 + 4.0,
            "end",
            INK,
            &s.state,
        );
        let length = scale_width * s.count as f64 / most;
        let _ = write!(
            svg,
            "<rect x=\"{left}\" y=\"{:.1}\" width=\"{length:.1}\" height=\"{:.1}\" fill=\"{BLUE}\"/>",
            y + 3.0,
            h - 6.0
        );
        text(
            &mut svg,
            left + length + 6.0,
            y + h / 2.0 + 4.0,
            "start",
            INK,
            &s.count.to_string(),
        );
    }
    svg.push_str("</svg>");
    let alt = format!(
        "Bar chart of change requests by state: {}.",
        states
            .iter()
            .map(|s| format!("{} {}", s.state, s.count))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Chart {
        file: "pipeline.svg".to_owned(),
        svg,
        alt,
    }
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Making Data Count's variation icon: a circle, grey for common cause, blue for improvement,
/// orange for concern, purple for a change neither better nor worse, with H or L for a high or
/// low special cause.
fn variation_icon(svg: &mut String, x: f64, y: f64, icon: &str) {
    let (colour, letter) = match icon {
        "improvement-high" => (BLUE, "H"),
        "improvement-low" => (BLUE, "L"),
        "concern-high" => (ORANGE, "H"),
        "concern-low" => (ORANGE, "L"),
        "neither-high" => (PURPLE, "H"),
        "neither-low" => (PURPLE, "L"),
        _ => (GREY, "~"),
    };
    let _ = write!(
        svg,
        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"12\" fill=\"{colour}\"/>"
    );
    text(svg, x, y + 4.0, "middle", "#ffffff", letter);
}

/// Making Data Count's assurance icon: P (the limits are all on the target's good side),
/// F (all on its bad side), ? (the target lies between them).
fn assurance_icon(svg: &mut String, x: f64, y: f64, icon: &str) {
    let (colour, letter) = match icon {
        "pass" => (BLUE, "P"),
        "fail" => (ORANGE, "F"),
        "hit-and-miss" => (GREY, "?"),
        _ => return,
    };
    let _ = write!(
        svg,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"24\" height=\"24\" rx=\"4\" fill=\"{colour}\"/>",
        x - 12.0,
        y - 12.0
    );
    text(svg, x, y + 4.0, "middle", "#ffffff", letter);
}

/// What an icon means, in words.
pub fn icon_words(icon: &str) -> &'static str {
    match icon {
        "common-cause" => "common cause variation only",
        "improvement-high" => "special cause improvement (high)",
        "improvement-low" => "special cause improvement (low)",
        "concern-high" => "special cause concern (high)",
        "concern-low" => "special cause concern (low)",
        "neither-high" => "special cause, neither improvement nor concern (high)",
        "neither-low" => "special cause, neither improvement nor concern (low)",
        "pass" => "the target is consistently met",
        "fail" => "the target is consistently missed",
        "hit-and-miss" => "the target is met or missed at random",
        _ => "no assurance (no target)",
    }
}

/// An XmR (SPC) chart: the values joined by a line, the mean solid, the process limits dashed,
/// the target dotted, special-cause points ringed; the variation and assurance icons at the top
/// right.
pub fn spc(series: &Series, file: &str) -> Chart {
    let (left, top, width, height) = (50.0, 40.0, 420.0, 160.0);
    let mut svg = open(
        left + width + 20.0,
        top + height + 40.0,
        &format!("{}: SPC chart", series.name),
    );
    let values = series
        .points
        .iter()
        .flat_map(|p| [p.value, p.lower, p.upper])
        .chain(series.target);
    let (mut low, mut high) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if low > high {
        (low, high) = (0.0, 1.0);
    }
    if (high - low).abs() < f64::EPSILON {
        (low, high) = (low - 1.0, high + 1.0);
    }
    let pad = (high - low) * 0.1;
    let (low, high) = (low - pad, high + pad);
    let n = series.points.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + width * i as f64 / n;
    let y = |v: f64| top + height - height * (v - low) / (high - low);
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{left}\" y2=\"{top}\" stroke=\"{INK}\"/><line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{INK}\"/>",
        top + height,
        top + height,
        left + width,
        top + height
    );
    for v in [low + pad, high - pad] {
        text(&mut svg, left - 6.0, y(v) + 4.0, "end", INK, &number(v));
    }
    let line =
        |svg: &mut String, key: fn(&crate::model::Point) -> f64, style: &str, colour: &str| {
            let points: Vec<String> = series
                .points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(key(p))))
                .collect();
            let _ = write!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" {style}/>",
                points.join(" ")
            );
        };
    if !series.points.is_empty() {
        line(&mut svg, |p| p.mean, "stroke-width=\"1\"", GREY);
        line(&mut svg, |p| p.upper, "stroke-dasharray=\"4 3\"", GREY);
        line(&mut svg, |p| p.lower, "stroke-dasharray=\"4 3\"", GREY);
        line(&mut svg, |p| p.value, "stroke-width=\"1.5\"", INK);
    }
    if let Some(target) = series.target {
        let _ = write!(
            svg,
            "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{PURPLE}\" stroke-dasharray=\"1 3\" stroke-width=\"2\"/>",
            y(target),
            left + width,
            y(target)
        );
        text(
            &mut svg,
            left + width,
            y(target) - 4.0,
            "end",
            PURPLE,
            &format!("target {}", number(target)),
        );
    }
    let special_colour = if series.variation.starts_with("concern") {
        ORANGE
    } else if series.variation.starts_with("improvement") {
        BLUE
    } else {
        PURPLE
    };
    for (i, p) in series.points.iter().enumerate() {
        let colour = if p.special { special_colour } else { INK };
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{colour}\"/>",
            x(i),
            y(p.value),
            if p.special { 4.0 } else { 2.5 }
        );
    }
    let every = (series.points.len() / 6).max(1);
    for (i, p) in series
        .points
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
    {
        text(&mut svg, x(i), top + height + 16.0, "middle", INK, &p.label);
    }
    text(
        &mut svg,
        left,
        top - 24.0,
        "start",
        INK,
        &format!("{} ({})", series.name, series.unit),
    );
    variation_icon(&mut svg, left + width - 36.0, top - 24.0, &series.variation);
    assurance_icon(&mut svg, left + width - 6.0, top - 24.0, &series.assurance);
    svg.push_str("</svg>");
    let special = series.points.iter().filter(|p| p.special).count();
    let alt = match (series.points.first(), series.points.last()) {
        (Some(first), Some(last)) => format!(
            "SPC chart of {} in {}, {} points from {} to {}: from {} to {}, mean {}, process limits {} to {}; {} point(s) of special cause; variation: {}; assurance: {}.",
            series.name,
            series.unit,
            series.points.len(),
            first.label,
            last.label,
            number(first.value),
            number(last.value),
            number(last.mean),
            number(last.lower),
            number(last.upper),
            special,
            icon_words(&series.variation),
            icon_words(&series.assurance)
        ),
        _ => format!("SPC chart of {}: no points yet.", series.name),
    };
    Chart {
        file: file.to_owned(),
        svg,
        alt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cell, Point};

    #[test]
    fn the_heatmap_writes_each_value_and_says_it_in_its_alt_text() {
        let c = Convergence {
            trusts: vec!["RGM".into(), "RGT".into()],
            domains: vec!["medicines".into()],
            cells: vec![Cell {
                trust: "RGM".into(),
                domain: "medicines".into(),
                value: 0.5,
                band: "apart".into(),
                assessment: String::new(),
            }],
            ..Default::default()
        };
        let chart = heatmap(&c);
        assert!(chart.svg.contains(">50%<") && chart.svg.contains(">not assessed<"));
        assert!(chart.alt.contains("RGM medicines 50%"), "{}", chart.alt);
        assert_eq!(shade(0.0).0, "#deebf7");
        assert_eq!(shade(1.0).0, "#08306b");
    }

    #[test]
    fn the_spc_chart_rings_special_causes_and_states_its_icons() {
        let points: Vec<Point> = (0..12)
            .map(|i| Point {
                label: format!("2025-{:02}", i + 1),
                value: if i == 11 { 95.0 } else { 70.0 },
                mean: 70.0,
                lower: 60.0,
                upper: 80.0,
                special: i == 11,
            })
            .collect();
        let s = Series {
            name: "ADRs prevented".into(),
            unit: "reactions".into(),
            points,
            variation: "improvement-high".into(),
            assurance: "pass".into(),
            target: Some(70.0),
            source: String::new(),
        };
        let chart = spc(&s, "b.svg");
        assert_eq!(
            chart.svg.matches(&format!("fill=\"{BLUE}\"/>")).count(),
            3,
            "one ringed point, two icons"
        );
        assert!(
            chart.alt.contains("1 point(s) of special cause"),
            "{}",
            chart.alt
        );
        assert!(chart.alt.contains("special cause improvement (high)"));
        assert!(chart.alt.contains("the target is consistently met"));
        assert_eq!(spc(&s, "b.svg"), chart);
    }
}
