//! How long the board report takes to render, from its model, for the golden scenario's ICS
//! (4 trusts, 1 domain, 1 benefit) and for an ICS of 10 trusts × 12 domains × 100 benefits; beside
//! them, in the same run, the PDF of an empty year (the template with no rows or charts: what every
//! PDF pays to typeset its pages and fonts) and copying the large page's HTML bytes (the floor of
//! the page).
//!
//! `cargo bench -p concordat-report --bench render`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use concordat_report::model::*;
use concordat_report::{Format, render};
use criterion::{Criterion, criterion_group, criterion_main};

fn series(name: &str, unit: &str, n: usize) -> Series {
    let points = (0..n)
        .map(|i| Point {
            label: format!("2025-{:02}", i % 12 + 1),
            value: 70.0 + (i % 5) as f64,
            mean: 72.0,
            lower: 65.0,
            upper: 79.0,
            special: i % 11 == 10,
        })
        .collect();
    Series {
        name: name.to_owned(),
        unit: unit.to_owned(),
        points,
        variation: "common-cause".to_owned(),
        assurance: "hit-and-miss".to_owned(),
        target: Some(72.0),
        source: format!("{n} monthly totals"),
    }
}

/// An ICS of `trusts` trusts, `domains` domains and `benefits` benefits, every part filled.
fn ics(trusts: usize, domains: usize, benefits: usize) -> Report {
    let trust_codes: Vec<String> = (0..trusts).map(|t| format!("R{t:02}")).collect();
    let domain_names: Vec<String> = (0..domains).map(|d| format!("domain-{d:02}")).collect();
    let cell = |t: &str, d: &str, i: usize| Cell {
        trust: t.to_owned(),
        domain: d.to_owned(),
        value: (i % 10) as f64 / 10.0,
        band: "apart".to_owned(),
        assessment: format!("icss/QUE/trusts/{t}/assessments/{i}"),
    };
    let cells = trust_codes
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            domain_names
                .iter()
                .enumerate()
                .map(move |(j, d)| cell(t, d, i + j))
        })
        .collect();
    let mut figures = Vec::new();
    let mut charts = Vec::new();
    for b in 0..benefits {
        for t in trust_codes.iter().chain(["ICS".to_owned()].iter()) {
            figures.push(Figure {
                benefit: format!("Benefit {b:03}"),
                trust: t.clone(),
                quantity: "850 reactions".to_owned(),
                converted: "2,450 bed days".to_owned(),
                value: "£980,000.00".to_owned(),
                category: "non-cash-releasing".to_owned(),
                accepted: "12/12".to_owned(),
                rate_card: "standard v1".to_owned(),
            });
        }
        charts.push(series(&format!("Benefit {b:03}"), "reactions", 12));
    }
    Report {
        ics: "QUE".to_owned(),
        ics_name: "A large ICS".to_owned(),
        year: "2025/26".to_owned(),
        as_of: "2026-12-07".to_owned(),
        summary: Summary {
            approved: (1..=50).map(|i| format!("CR-2026-{i:04}")).collect(),
            convergence_now: Some(0.8),
            convergence_before: Some(0.7),
            trusts_assessed: trusts,
            cash_realised: "£1,000,000.00".to_owned(),
            non_cash_realised: "£98,000,000.00".to_owned(),
            chain_valid: true,
            chain_entries: 250_000,
            ..Default::default()
        },
        change_control: ChangeControl {
            pipeline: ["Draft", "Submitted", "DA review", "Approved", "Closed"]
                .iter()
                .enumerate()
                .map(|(i, s)| StateCount {
                    state: (*s).to_owned(),
                    count: 10 * (i + 1),
                })
                .collect(),
            decisions: (1..=50)
                .map(|i| Decision {
                    number: format!("CR-2026-{i:04}"),
                    title: "A change".to_owned(),
                    outcome: "approved".to_owned(),
                    rule: "simple majority: 3 of 4".to_owned(),
                    votes: "3/1/0".to_owned(),
                    charter_version: 1,
                    board: String::new(),
                    date: "2026-01-01".to_owned(),
                })
                .collect(),
            ..Default::default()
        },
        convergence: Convergence {
            trusts: trust_codes.clone(),
            domains: domain_names,
            cells,
            totals: trust_codes
                .iter()
                .enumerate()
                .map(|(i, t)| cell(t, "", i))
                .collect(),
            trajectories: trust_codes
                .iter()
                .map(|t| series(t, "convergence, 0–1", 24))
                .collect(),
            ..Default::default()
        },
        benefits: Benefits {
            against_target: (0..benefits)
                .map(|b| AgainstTarget {
                    benefit: format!("Benefit {b:03}"),
                    category: "non-cash-releasing".to_owned(),
                    realised: "850".to_owned(),
                    target: "900".to_owned(),
                    basis: "75 a month × 12".to_owned(),
                    unit: "reactions".to_owned(),
                    share: Some(0.94),
                    met: Some(false),
                    value: "£980,000.00".to_owned(),
                })
                .collect(),
            figures,
            charts,
            evidence: trust_codes
                .iter()
                .map(|t| Evidence {
                    trust: t.clone(),
                    expected: 1200,
                    submitted: 1200,
                    validated: 1100,
                    accepted: 1000,
                })
                .collect(),
            rate_cards: vec!["standard v1".to_owned()],
            ..Default::default()
        },
        assurance: Assurance {
            valid: true,
            entries: 250_000,
            head: "ab".repeat(32),
            ..Default::default()
        },
    }
}

fn bench(c: &mut Criterion) {
    let golden = ics(4, 1, 1);
    let large = ics(10, 12, 100);
    let mut group = c.benchmark_group("board report");
    group.sample_size(10);
    for (name, report) in [("golden", &golden), ("10x12x100", &large)] {
        group.bench_function(format!("{name} pdf"), |b| {
            b.iter(|| render(black_box(report), Format::Pdf).unwrap())
        });
        group.bench_function(format!("{name} html"), |b| {
            b.iter(|| render(black_box(report), Format::Html).unwrap())
        });
    }
    let floor = Report {
        as_of: "2026-12-07".to_owned(),
        ..Default::default()
    };
    group.bench_function("floor: an empty year's pdf (the template alone)", |b| {
        b.iter(|| render(black_box(&floor), Format::Pdf).unwrap())
    });
    let page = render(&large, Format::Html).unwrap();
    group.bench_function("floor: copying the large html", |b| {
        b.iter(|| String::from_utf8(black_box(&page).clone()).unwrap())
    });
    let pdf = render(&large, Format::Pdf).unwrap();
    eprintln!(
        "10x12x100: pdf {} bytes, html {} bytes; golden: pdf {} bytes",
        pdf.len(),
        page.len(),
        render(&golden, Format::Pdf).unwrap().len()
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
