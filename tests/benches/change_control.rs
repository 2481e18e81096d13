//! Benchmarks of change control through gRPC over 10,000 change requests, on SQLite and on
//! PostgreSQL: `ListChangeRequests` (first page, a trust filter, a text search) and `CastVote`
//! (each vote a fresh (change request, trust) pair; the last vote of a change request decides it),
//! and `ListMyActions` of a voter with a vote due on all 10,000, beside plain SQL reads of the
//! rows it stands on.
//!
//! Run with `cargo bench -p concordat-e2e --bench change_control`. PostgreSQL comes from
//! `CONCORDAT_TEST_DATABASE_URL` or a throwaway cluster, as in the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use concordat_change_control::domain::change_request::{ChangeRequest, ChangeType};
use concordat_change_control::domain::charter::ChangeClass;
use concordat_change_control::domain::lifecycle::State;
use concordat_e2e::{Bearer, Options, TestServer};
use concordat_platform::identity::Person;
use concordat_platform::testkit::TestBackend;
use concordat_proto::changecontrol::v1 as pb;
use criterion::{Criterion, criterion_group, criterion_main};
use pb::change_control_service_client::ChangeControlServiceClient;

/// The server's allocator, as in the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CRS: usize = 10_000;
const TRUSTS: [&str; 8] = ["RGT", "RGM", "RGN", "RT1", "RWH", "RQQ", "RC1", "RGP"];

fn token(s: &TestServer, trust: Option<&str>, role: &str, subject: &str) -> String {
    s.token(trust.unwrap_or("QUE"), &[role], subject)
}

/// A server with one design authority of eight trusts and 10,000 change requests in DA_REVIEW.
async fn seeded(backend: TestBackend) -> Option<TestServer> {
    let s = TestServer::start(Options {
        backend,
        federation: Some(concordat_e2e::federation("Bench ICS", &TRUSTS, false)),
        ..Default::default()
    })
    .await?;
    let admin = token(&s, None, "ics-admin", "admin");
    let mut client =
        ChangeControlServiceClient::with_interceptor(s.channel.clone(), Bearer::new(&admin));
    let rule = |c: pb::ChangeClass| pb::ClassRule {
        change_class: c as i32,
        threshold: pb::Threshold::SimpleMajority as i32,
        cso_sign_off_required: false,
    };
    client
        .create_design_authority(pb::CreateDesignAuthorityRequest {
            parent: "icss/QUE".into(),
            design_authority_id: "medicines".into(),
            design_authority: Some(pb::DesignAuthority {
                display_name: "Medicines".into(),
                domains: vec!["medicines".into()],
                members: TRUSTS
                    .iter()
                    .map(|t| pb::Membership {
                        trust: t.to_string(),
                        voting_members: vec![s.person(&format!("voter-{t}"))],
                    })
                    .collect(),
                chair: Some(s.person("chair")),
                charter: Some(pb::Charter {
                    quorum_percent: 75,
                    rules: vec![
                        rule(pb::ChangeClass::Routine),
                        rule(pb::ChangeClass::Significant),
                        rule(pb::ChangeClass::SafetyCritical),
                    ],
                    silence: pb::SilencePolicy::Abstain as i32,
                    max_residual_risk: 5,
                    assessment_days: 14,
                    voting_days: 7,
                    emergency_review_days: 10,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let txn = s.platform.db.begin_write().await.unwrap();
    let now = Utc::now();
    for i in 0..CRS {
        let cr = ChangeRequest {
            ics: "QUE".into(),
            id: format!("cr{i:05}"),
            number: format!("CR-2026-{:05}", i + 1),
            title: if i % 10 == 0 {
                format!("Allergy alert tuning {i}")
            } else {
                format!("Order set update {i}")
            },
            description: "A change to the shared build".into(),
            rationale: String::new(),
            requesting_trust: TRUSTS[i % 8].into(),
            requester: Person::new(s.person("lead").issuer, "lead"),
            domain: "medicines".into(),
            design_authority: "medicines".into(),
            affected_trusts: [TRUSTS[i % 8], TRUSTS[(i + 3) % 8]]
                .into_iter()
                .map(String::from)
                .collect::<BTreeSet<_>>(),
            change_type: ChangeType::Normal,
            change_class: ChangeClass::Routine,
            standard_template: String::new(),
            cost_estimate_pence: 0,
            effort_days: 1,
            target_release: String::new(),
            configuration_links: vec![],
            configuration_items: vec![format!("order-set/item-{i}")],
            benefit_links: vec![],
            state: State::DaReview,
            charter_version: 1,
            assessment_deadline: None,
            voting_deadline: Some(now + chrono::Duration::days(7)),
            residual_risk: 0,
            decision: None,
            board_decision: None,
            missing_assessment_trusts: vec![],
            deployments: vec![],
            retrospective_review_deadline: None,
            retrospective_review_time: None,
            version: 1,
            create_time: now + chrono::Duration::milliseconds(i as i64),
            update_time: now,
        };
        concordat_change_control::store::insert_change_request(&*txn, &cr)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    Some(s)
}

fn bench_backend(c: &mut Criterion, backend: TestBackend, label: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(s) = rt.block_on(seeded(backend)) else {
        eprintln!("skipping {label}: no PostgreSQL");
        return;
    };
    let viewer = token(&s, Some("RGT"), "viewer", "viewer");
    let client =
        ChangeControlServiceClient::with_interceptor(s.channel.clone(), Bearer::new(&viewer));
    let mut group = c.benchmark_group(format!("change_control/{label}"));
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    for (name, filter) in [
        ("list_first_page", ""),
        ("list_trust_filter", "trust = RGM AND state = DA_REVIEW"),
        ("list_text_search", "text : \"allergy\""),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut client = client.clone();
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let page = client
                            .list_change_requests(pb::ListChangeRequestsRequest {
                                parent: "icss/QUE".into(),
                                page_size: 50,
                                filter: filter.into(),
                                ..Default::default()
                            })
                            .await
                            .unwrap()
                            .into_inner();
                        assert_eq!(page.change_requests.len(), 50);
                    }
                    start.elapsed()
                })
            })
        });
    }
    // ListMyActions of a voter with a vote due on every one of the 10,000 active change requests:
    // a first page of 500, beside a plain SQL read of 500 of the same rows.
    let voter = ChangeControlServiceClient::with_interceptor(
        s.channel.clone(),
        Bearer::new(&token(&s, Some("RGT"), "da-member", "voter-RGT")),
    );
    let before = s.platform.db.statements();
    let first = rt
        .block_on(voter.clone().list_my_actions(pb::ListMyActionsRequest {
            parent: "icss/QUE".into(),
            page_size: 500,
            ..Default::default()
        }))
        .unwrap()
        .into_inner();
    eprintln!(
        "{label}: ListMyActions with {CRS} active change requests: {} actions on the first page, {} SQL statements",
        first.actions.len(),
        s.platform.db.statements() - before
    );
    group.bench_function("list_my_actions_first_page", |b| {
        b.iter_custom(|iters| {
            let mut voter = voter.clone();
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let page = voter
                        .list_my_actions(pb::ListMyActionsRequest {
                            parent: "icss/QUE".into(),
                            page_size: 500,
                            ..Default::default()
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    assert_eq!(page.actions.len(), 500);
                }
                start.elapsed()
            })
        })
    });
    // The rows it stands on: a page of 500 by an index, and every active change request with
    // its votes (what the use case reads today).
    for (name, sql, rows) in [
        (
            "sql_read_500_active_rows",
            "SELECT * FROM cc_change_requests WHERE ics = 'QUE' AND state = 'DA_REVIEW' \
             ORDER BY voting_deadline, id LIMIT 500",
            500,
        ),
        (
            "sql_read_all_active_rows",
            "SELECT * FROM cc_change_requests WHERE ics = 'QUE' AND state = 'DA_REVIEW'",
            CRS,
        ),
    ] {
        group.bench_function(name, |b| {
            use sea_orm::{ConnectionTrait, Statement};
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let db = s.platform.db.conn();
                    let start = Instant::now();
                    for _ in 0..iters {
                        let read = db
                            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                            .await
                            .unwrap();
                        assert_eq!(read.len(), rows);
                    }
                    start.elapsed()
                })
            })
        });
    }
    // Votes: the n-th vote goes to change request n / 8 for trust n % 8.
    let voters: Vec<_> = TRUSTS
        .iter()
        .map(|t| {
            ChangeControlServiceClient::with_interceptor(
                s.channel.clone(),
                Bearer::new(&token(&s, Some(t), "da-member", &format!("voter-{t}"))),
            )
        })
        .collect();
    let next = AtomicUsize::new(0);
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("cast_vote", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    assert!(n < CRS * 8, "ran out of seeded votes");
                    let mut voter = voters[n % 8].clone();
                    voter
                        .cast_vote(pb::CastVoteRequest {
                            parent: format!("icss/QUE/changeRequests/cr{:05}", n / 8),
                            choice: pb::VoteChoice::Approve as i32,
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    eprintln!(
        "{label}: {} votes cast in all",
        next.load(Ordering::Relaxed)
    );
}

fn benches(c: &mut Criterion) {
    bench_backend(c, TestBackend::Sqlite, "sqlite");
    bench_backend(c, TestBackend::Postgres, "postgres");
}

criterion_group!(change_control, benches);
criterion_main!(change_control);
