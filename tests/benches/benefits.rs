//! Benefits at national scale: 10,080,000 measurement cells (`CONCORDAT_BENCH_MEASUREMENTS` for
//! another size, rounded up to whole ICSs) — 420 ICSs × 10 trusts × 100 benefits × 24 months
//! (April 2024 to March 2026), every cell accepted.
//!
//! ICS QUE's 100 benefit profiles, its rate card, its attributions and one template cell are made
//! through the API (the template submitted, validated and accepted by three people); the other
//! cells are copied from the template in bulk with plain SQL, each with its own value, in key
//! order, with the yearly summaries the service keeps beside them (built per ICS in bulk). The
//! versions table holds only the API's own rows.
//!
//! - `GetBenefitRollup` of ICS QUE for 2025/26 through gRPC (12,000 accepted cells: 100 benefits
//!   × 10 trusts × 12 months, each valued under the rate card and attributed), beside the physical
//!   limit in the same run: a plain SQL `GROUP BY` of the same rows (count and sum of values per
//!   benefit, trust and state), read from the server's own database.
//! - `SubmitMeasurement` of a new cell through gRPC, beside a plain SQL insert of one cell and one
//!   version row in a transaction.
//!
//! On SQLite and, when a PostgreSQL server is given (`CONCORDAT_TEST_DATABASE_URL`, as the tests
//! take it) or its binaries are installed, on PostgreSQL.
//!
//! Run with `cargo bench -p concordat-e2e --bench benefits`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use concordat_e2e::{BenefitsClient, Options, TestServer};
use concordat_platform::testkit::TestBackend;
use concordat_proto::benefits::v1 as bn;
use criterion::{Criterion, criterion_group, criterion_main};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

/// The server's allocator, as in the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TRUSTS: [&str; 10] = [
    "RGT", "RGM", "RGN", "RT1", "RWH", "RQQ", "RC1", "RGP", "RDE", "RCX",
];
const BENEFITS: usize = 100;
const MONTHS: usize = 24;
/// Cells per ICS.
const PER_ICS: usize = TRUSTS.len() * BENEFITS * MONTHS;

/// How many ICSs hold cells: `CONCORDAT_BENCH_MEASUREMENTS` ÷ 24,000, rounded up (420 by default).
fn icss() -> usize {
    std::env::var("CONCORDAT_BENCH_MEASUREMENTS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(10_080_000)
        .div_ceil(PER_ICS)
        .max(1)
}

/// The ICS codes: QUE first, then made-up codes.
fn ics_codes() -> Vec<String> {
    std::iter::once("QUE".to_owned())
        .chain((1..icss()).map(|i| format!("Q{i:02}")))
        .collect()
}

fn benefit_id(b: usize) -> String {
    format!("b{b:03}")
}

/// April 2024 to March 2026.
fn months() -> Vec<String> {
    (0..MONTHS)
        .map(|i| {
            let m = 3 + i;
            format!("{}-{:02}", 2024 + m / 12, m % 12 + 1)
        })
        .collect()
}

async fn exec(s: &TestServer, sql: &str) {
    s.platform.db.conn().execute_unprepared(sql).await.unwrap();
}

fn profile(s: &TestServer, b: usize, cr: &str) -> bn::Benefit {
    bn::Benefit {
        enabling_change_requests: vec![cr.to_owned()],
        title: format!("Benefit {b}"),
        four_tests: Some(bn::FourTests {
            precisely: "Adverse drug reactions prevented".into(),
            observable_outcome: "Prescriptions changed after an alert".into(),
            why_this_change: "The alerts exist only since the change".into(),
            how_measured: "Monthly pharmacy audit".into(),
        }),
        senior_responsible_owner: Some(s.person("sro")),
        category: if b.is_multiple_of(2) {
            bn::Category::NonCashReleasing
        } else {
            bn::Category::CashReleasing
        } as i32,
        dimension: bn::Dimension::Direct as i32,
        measure: Some(bn::Measure {
            unit: "adverse drug reaction prevented".into(),
            higher_is_better: true,
            aggregation: bn::Aggregation::Sum as i32,
        }),
        frequency: bn::Frequency::Monthly as i32,
        valuation: Some(bn::Valuation {
            rate_card: "icss/QUE/rateCards/standard".into(),
            rate_card_version: 1,
            units: vec!["bed day".into()],
        }),
        ..Default::default()
    }
}

async fn seeded(backend: TestBackend) -> (TestServer, BenefitsClient) {
    let s = TestServer::start(Options {
        backend,
        federation: Some(concordat_e2e::federation("Bench ICS", &TRUSTS, false)),
        max_message_bytes: 64 << 20,
        ..Default::default()
    })
    .await
    .unwrap();
    let cr = concordat_e2e::standard_change(&s, &TRUSTS, &["alert-rule"]).await;
    let mut ics = s
        .benefits(&s.token("QUE", &["benefits-analyst"], "ics-analyst"))
        .max_decoding_message_size(64 << 20);
    ics.create_rate_card(concordat_e2e::golden_rate_card("Standard", "2024-04-01"))
        .await
        .unwrap();
    let mut lead = s.benefits(&s.token("RGT", &["trust-digital-lead"], "lead-RGT"));
    for b in 0..BENEFITS {
        ics.create_benefit(bn::CreateBenefitRequest {
            parent: "icss/QUE".into(),
            benefit_id: benefit_id(b),
            benefit: Some(profile(&s, b, &cr)),
            request_id: String::new(),
        })
        .await
        .unwrap();
        lead.set_attribution(bn::SetAttributionRequest {
            attribution: Some(bn::Attribution {
                name: format!(
                    "icss/QUE/benefits/{}/trusts/RGT/attributions/2025-26",
                    benefit_id(b)
                ),
                shares: vec![bn::Share {
                    change_request: cr.clone(),
                    percent: "60".into(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    // The template: one cell through its whole life, in a month the rows below leave out.
    let template = "icss/QUE/benefits/b000/trusts/RGT/measurements/2023-04";
    s.benefits(&s.token("RGT", &["benefits-analyst"], "analyst-RGT"))
        .submit_measurement(bn::SubmitMeasurementRequest {
            name: template.into(),
            value: "70".into(),
            evidence: Some(bn::Evidence {
                note: "Pharmacy audit of allergy alert outcomes".into(),
                link: "https://intranet.example/audit".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let names = vec![template.to_owned()];
    lead.validate_measurements(bn::ValidateMeasurementsRequest {
        names: names.clone(),
        request_id: String::new(),
    })
    .await
    .unwrap();
    ics.accept_measurements(bn::AcceptMeasurementsRequest {
        names,
        request_id: String::new(),
    })
    .await
    .unwrap();

    let started = Instant::now();
    exec(&s, "CREATE TABLE bench_benefits (id TEXT NOT NULL)").await;
    exec(
        &s,
        "CREATE TABLE bench_months (month TEXT NOT NULL, n INTEGER NOT NULL)",
    )
    .await;
    exec(
        &s,
        "CREATE TABLE bench_trusts (trust TEXT NOT NULL, n INTEGER NOT NULL)",
    )
    .await;
    let list = |rows: Vec<String>| rows.join(", ");
    exec(
        &s,
        &format!(
            "INSERT INTO bench_benefits VALUES {}",
            list(
                (0..BENEFITS)
                    .map(|b| format!("('{}')", benefit_id(b)))
                    .collect()
            )
        ),
    )
    .await;
    exec(
        &s,
        &format!(
            "INSERT INTO bench_months VALUES {}",
            list(
                months()
                    .iter()
                    .enumerate()
                    .map(|(i, m)| format!("('{m}', {i})"))
                    .collect()
            )
        ),
    )
    .await;
    exec(
        &s,
        &format!(
            "INSERT INTO bench_trusts VALUES {}",
            list(
                TRUSTS
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("('{t}', {i})"))
                    .collect()
            )
        ),
    )
    .await;
    let backend = s.platform.db.conn().get_database_backend();
    let mut summaries = Duration::ZERO;
    for code in ics_codes() {
        let txn = s.platform.db.conn().begin().await.unwrap();
        txn.execute_unprepared(&format!(
            "INSERT INTO bn_measurements (ics, benefit, month, trust, value, note, link, state, \
             version, submitter, first_submit_time, on_time, validator, acceptor, reason, \
             update_time) \
             SELECT '{code}', b.id, m.month, t.trust, CAST(60 + m.n + t.n AS TEXT), tpl.note, \
             tpl.link, tpl.state, tpl.version, tpl.submitter, tpl.first_submit_time, \
             tpl.on_time, tpl.validator, tpl.acceptor, tpl.reason, tpl.update_time \
             FROM bench_benefits b CROSS JOIN bench_months m CROSS JOIN bench_trusts t \
             CROSS JOIN (SELECT * FROM bn_measurements WHERE ics = 'QUE' AND benefit = 'b000' \
             AND month = '2023-04' AND trust = 'RGT') tpl \
             ORDER BY b.id, m.month, t.trust"
        ))
        .await
        .unwrap();
        // The yearly summaries the service keeps with each cell, built for the ICS at once.
        let at = Instant::now();
        txn.execute_unprepared(&concordat_benefits::store::cell_years_sql(
            backend,
            &format!("ics = '{code}'"),
        ))
        .await
        .unwrap();
        summaries += at.elapsed();
        txn.commit().await.unwrap();
    }
    exec(&s, "ANALYZE").await;
    eprintln!(
        "seed: {} cells ({} ICSs × {PER_ICS}) inserted in bulk in {:?}, of which their yearly \
         summaries {summaries:?}",
        icss() * PER_ICS,
        icss(),
        started.elapsed()
    );
    (s, ics)
}

/// The plain SQL read the rollup stands on: ICS QUE's cells of 2025/26 grouped by benefit, trust
/// and state, counted and summed. Returns the number of cells.
async fn group_by(s: &TestServer) -> i64 {
    let db = s.platform.db.conn();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT benefit, trust, state, COUNT(*) AS cells, \
             SUM(CAST(value AS NUMERIC)) AS total FROM bn_measurements \
             WHERE ics = 'QUE' AND month >= '2025-04' AND month <= '2026-03' \
             GROUP BY benefit, trust, state",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<i64>("", "cells").unwrap())
        .sum()
}

async fn rollup(client: &BenefitsClient) -> bn::GetBenefitRollupResponse {
    client
        .clone()
        .get_benefit_rollup(bn::GetBenefitRollupRequest {
            parent: "icss/QUE".into(),
            period: "2025/26".into(),
            revalue_with: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// A new cell each time: benefit × trust × month, back from March 2023 (before any seeded).
fn fresh_cell(i: usize) -> (String, String, String) {
    let b = benefit_id(i % BENEFITS);
    let trust = TRUSTS[(i / BENEFITS) % TRUSTS.len()];
    let back = i / (BENEFITS * TRUSTS.len());
    (b, trust.to_owned(), month_before_2023_04(back))
}

/// The month `back` months before March 2023 (0: March 2023).
fn month_before_2023_04(back: usize) -> String {
    let m = 2023 * 12 + 2 - back as i64;
    format!("{}-{:02}", m / 12, m % 12 + 1)
}

/// The physical limit of a submit: one cell row and one version row written in a transaction.
async fn raw_submit(s: &TestServer, i: usize) {
    let (b, trust, month) = fresh_cell(i);
    let txn = s.platform.db.conn().begin().await.unwrap();
    txn.execute_unprepared(&format!(
        "INSERT INTO bn_measurements (ics, benefit, month, trust, value, note, link, state, \
         version, submitter, first_submit_time, on_time, validator, acceptor, reason, \
         update_time) VALUES ('RAW', '{b}', '{month}', '{trust}', '70', 'audit', '', \
         'SUBMITTED', 1, NULL, NULL, TRUE, NULL, NULL, '', CURRENT_TIMESTAMP)"
    ))
    .await
    .unwrap();
    txn.execute_unprepared(&format!(
        "INSERT INTO bn_measurement_versions (ics, benefit, month, trust, version, act, state, \
         value, note, link, actor, reason, time) VALUES ('RAW', '{b}', '{month}', '{trust}', 1, \
         'submitted', 'SUBMITTED', '70', 'audit', '', '{{}}', '', CURRENT_TIMESTAMP)"
    ))
    .await
    .unwrap();
    txn.commit().await.unwrap();
}

fn grpc(c: &mut Criterion) {
    let mut backends = vec![TestBackend::Sqlite];
    if concordat_platform::testkit::postgres_server().is_some() {
        backends.push(TestBackend::Postgres);
    }
    for backend in backends {
        on(c, backend);
    }
}

fn on(c: &mut Criterion, backend: TestBackend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (s, ics) = rt.block_on(seeded(backend));
    let label = format!("{backend:?}").to_lowercase();

    // What is timed is checked once: every benefit's ICS figure counts 120 accepted cells, and
    // the plain read sees the same 12,000.
    let r = rt.block_on(rollup(&ics));
    assert_eq!(r.benefits.len(), BENEFITS);
    for b in &r.benefits {
        let ics_figure = b.figures.iter().find(|f| f.trust.is_empty()).unwrap();
        let evidence = ics_figure.evidence.unwrap();
        assert_eq!((evidence.expected, evidence.accepted), (120, 120));
    }
    assert_eq!(
        rt.block_on(group_by(&s)),
        (BENEFITS * TRUSTS.len() * 12) as i64
    );

    let mut g = c.benchmark_group(format!("benefits/{label}"));
    g.sample_size(20);
    g.bench_function("GetBenefitRollup QUE 2025/26 (12,000 cells)", |b| {
        b.iter(|| rt.block_on(rollup(&ics)))
    });
    g.bench_function("plain SQL GROUP BY of the same rows", |b| {
        b.iter(|| rt.block_on(group_by(&s)))
    });
    let analyst = s.benefits(&s.token("RGT", &["benefits-analyst"], "analyst-RGT"));
    let next = AtomicUsize::new(0);
    g.bench_function("SubmitMeasurement of a new cell", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    // Only RGT's cells: the analyst's own trust.
                    let b = benefit_id(i % BENEFITS);
                    let month = month_before_2023_04(i / BENEFITS);
                    let started = Instant::now();
                    analyst
                        .clone()
                        .submit_measurement(bn::SubmitMeasurementRequest {
                            name: format!("icss/QUE/benefits/{b}/trusts/RGT/measurements/{month}"),
                            value: "70".into(),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                    spent += started.elapsed();
                }
                spent
            })
        })
    });
    let raw = AtomicUsize::new(0);
    g.bench_function("plain SQL insert of a cell and its version", |b| {
        b.iter(|| rt.block_on(raw_submit(&s, raw.fetch_add(1, Ordering::Relaxed))))
    });
    g.finish();
    rt.block_on(s.stop());
}

criterion_group!(benches, grpc);
criterion_main!(benches);
