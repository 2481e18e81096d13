//! Convergence planning through gRPC with development-issuer tokens, on SQLite and PostgreSQL:
//! the convergence part of the golden scenario (assessments recorded by the follower as snapshots
//! are imported and variations lapse, the matrix, divergences, the trajectory), as-of replay,
//! followers on two replicas recording each event once, settings, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use concordat_e2e::world::*;
use concordat_e2e::{ConvergenceClient, Options, TestServer, fields, reason};
use concordat_platform::both_backends;
use concordat_platform::testkit::TestBackend;
use concordat_proto::convergence::v1 as cv;
use concordat_proto::sharedconfig::v1 as pb;
use concordat_shared_config::grpc::json_of;
use futures::StreamExt;
use serde_json::{Value, json};
use tonic::Code;

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap(),
    }
}

async fn import(w: &World, trust: &str, items: Value) -> pb::Snapshot {
    w.config(trust, "automation", &format!("engine-{trust}"))
        .import_snapshot(pb::ImportSnapshotRequest {
            parent: "icss/QUE".into(),
            snapshot: Some(pb::Snapshot {
                trust: trust.into(),
                display_name: "Production build".into(),
                ..Default::default()
            }),
            bundle_json: json!({ "items": items }).to_string(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap()
}

/// The next assessment recorded of `trust` on `stream`.
async fn recorded(
    stream: &mut tonic::Streaming<cv::WatchConvergenceResponse>,
    trust: &str,
) -> cv::Assessment {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("an assessment within 20 s")
            .unwrap()
            .unwrap();
        if let Some(cv::watch_convergence_response::Resource::Assessment(a)) = event.resource
            && a.trust == trust
        {
            assert_eq!(event.kind, "assessment.recorded");
            return a;
        }
    }
}

async fn watch(client: &ConvergenceClient) -> tonic::Streaming<cv::WatchConvergenceResponse> {
    client
        .clone()
        .watch_convergence(cv::WatchConvergenceRequest {
            parent: "icss/QUE".into(),
            cursor: 0,
        })
        .await
        .unwrap()
        .into_inner()
}

fn count(cell: &cv::Cell, class: cv::KeyClass) -> i64 {
    cell.counts
        .iter()
        .find(|c| c.class == class as i32)
        .map_or(0, |c| c.count)
}

fn domain<'a>(a: &'a cv::Assessment, name: &str) -> &'a cv::Cell {
    a.domains.iter().find(|d| d.domain == name).unwrap()
}

async fn divergences(
    client: &ConvergenceClient,
    parent: &str,
    class: cv::KeyClass,
) -> Vec<cv::Divergence> {
    client
        .clone()
        .list_divergences(cv::ListDivergencesRequest {
            parent: parent.into(),
            class: class as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .divergences
}

fn baseline_items() -> Value {
    json!([
        {"kind": "alert-rule", "key": "allergy-interruptive", "value": {"enabled": true, "interrupt": true}},
        {"kind": "alert-rule", "key": "sepsis-news2", "value": {"enabled": true, "threshold": 5}},
        {"kind": "alert-rule", "key": "vte", "value": {"enabled": true}},
        {"kind": "theatre-list", "key": "list-a", "value": {"enabled": true}},
        {"kind": "theatre-list", "key": "list-b", "value": {"enabled": false}}
    ])
}

/// The baseline (three medicines keys, two theatres keys) and RGM's variation of the sepsis
/// threshold, lapsing at `expiry`.
async fn publish_baseline(w: &World, expiry: chrono::DateTime<chrono::Utc>) -> String {
    let rgt = w.engineer("RGT");
    let medicines_cr = w.change_request(&TRUSTS, true).await;
    let theatres_cr = w.change_request_of("theatres", &TRUSTS, true).await;
    let add = |kind: &str, key: &str, value: Value, g| {
        change(pb::Operation::Add, item(kind, key, value, g))
    };
    propose_and_publish(
        &rgt,
        "baseline",
        &medicines_cr,
        vec![
            add(
                "alert-rule",
                "allergy-interruptive",
                json!({"enabled": true, "interrupt": true}),
                locked(),
            ),
            add(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": true, "threshold": 5}),
                bounded(3.0, 7.0),
            ),
            add("alert-rule", "vte", json!({"enabled": true}), None),
        ],
    )
    .await;
    propose_and_publish(
        &rgt,
        "baseline",
        &theatres_cr,
        vec![
            add("theatre-list", "list-a", json!({"enabled": true}), None),
            add("theatre-list", "list-b", json!({"enabled": false}), None),
        ],
    )
    .await;
    let variation_cr = w.change_request(&["RGM"], true).await;
    let mut varied = item(
        "alert-rule",
        "sepsis-news2",
        json!({"enabled": true, "threshold": 6}),
        None,
    );
    varied.variation = Some(pb::Variation {
        rationale: "Paediatric pathway".into(),
        expire_time: Some(timestamp(expiry)),
        ..Default::default()
    });
    propose_and_publish(
        &w.engineer("RGM"),
        "RGM",
        &variation_cr,
        vec![change(pb::Operation::Add, varied)],
    )
    .await;
    variation_cr
}

fn milestone(
    id: &str,
    trust: &str,
    domain: &str,
    target: f64,
    days: (f64, f64, f64),
) -> cv::Milestone {
    cv::Milestone {
        id: id.into(),
        trust: trust.into(),
        domain: domain.into(),
        target_convergence: target,
        keys_in_scope: 3,
        optimistic_days: days.0,
        most_likely_days: days.1,
        pessimistic_days: days.2,
        ..Default::default()
    }
}

fn dependency(a: &str, b: &str, kind: cv::DependencyKind, lag: f64) -> cv::Dependency {
    cv::Dependency {
        predecessor: a.into(),
        successor: b.into(),
        kind: kind as i32,
        lag_days: lag,
    }
}

async fn schedule(client: &ConvergenceClient, name: &str) -> cv::PlanSchedule {
    client
        .clone()
        .schedule_convergence_plan(cv::ScheduleConvergencePlanRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap()
}

/// RGN's medicines, then RGM's medicines (finish to start), and RGT's theatres starting with RGN
/// (start to start, two days' lead): scheduled, forecast, and edited within the rules.
async fn plan_across_three_trusts(w: &World, board: &ConvergenceClient) -> String {
    let start = chrono::Utc::now();
    let mut rgn = milestone("rgn-medicines", "RGN", "medicines", 0.9, (10.0, 20.0, 40.0));
    rgn.due_time = Some(timestamp(start + chrono::Duration::days(15)));
    let plan = cv::ConvergencePlan {
        display_name: "Medicines convergence".into(),
        start_time: Some(timestamp(start)),
        target_time: Some(timestamp(start + chrono::Duration::days(45))),
        milestones: vec![
            rgn,
            milestone("rgm-medicines", "RGM", "medicines", 1.0, (5.0, 10.0, 20.0)),
            cv::Milestone {
                due_time: Some(timestamp(start + chrono::Duration::days(1))),
                ..milestone("rgt-theatres", "RGT", "theatres", 0.8, (5.0, 8.0, 12.0))
            },
        ],
        dependencies: vec![
            dependency(
                "rgn-medicines",
                "rgm-medicines",
                cv::DependencyKind::FinishToStart,
                0.0,
            ),
            dependency(
                "rgn-medicines",
                "rgt-theatres",
                cv::DependencyKind::StartToStart,
                -2.0,
            ),
        ],
        seed: 42,
        ..Default::default()
    };
    let created = board
        .clone()
        .create_convergence_plan(cv::CreateConvergencePlanRequest {
            parent: "icss/QUE".into(),
            plan_id: "medicines-2026".into(),
            plan: Some(plan.clone()),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(created.name, "icss/QUE/convergencePlans/medicines-2026");
    let s = schedule(board, &created.name).await;
    assert_eq!(s.critical_path, ["rgn-medicines", "rgm-medicines"]);
    assert_eq!(s.critical_path_summary, "RGN medicines → RGM medicines");
    let days = |t: &Option<prost_types::Timestamp>| {
        (t.unwrap().seconds - start.timestamp()) as f64 / 86_400.0
    };
    assert!((days(&s.finish_time) - 30.0).abs() < 0.01, "20 + 10 days");
    assert!(
        s.milestones[0].at_risk,
        "due at day 15, earliest finish day 20"
    );
    assert!(
        (s.milestones[2].total_slack_days - 22.0).abs() < 1e-9,
        "30 - 8"
    );
    let forecast = || async {
        board
            .clone()
            .forecast_convergence_plan(cv::ForecastConvergencePlanRequest {
                name: created.name.clone(),
                iterations: 2_000,
            })
            .await
            .unwrap()
            .into_inner()
            .forecast
            .unwrap()
    };
    let (f1, f2) = (forecast().await, forecast().await);
    assert_eq!(f1, f2, "the stored seed gives the same forecast");
    assert_eq!(f1.seed, 42);
    let (p50, p85, p95) = (days(&f1.p50_time), days(&f1.p85_time), days(&f1.p95_time));
    assert!(
        15.0 <= p50 && p50 <= p85 && p85 <= p95 && p95 <= 60.0,
        "{p50} {p85} {p95}"
    );
    assert!(f1.on_time_probability > 0.0 && f1.on_time_probability <= 1.0);
    assert_eq!(
        f1.criticality[0].index, 1.0,
        "RGN's medicines is always critical"
    );

    // RGN's people change RGN's milestone, not RGM's; a cycle is refused, naming it.
    let rgn_lead =
        w.s.convergence(&w.token("RGN", "trust-digital-lead", "lead-RGN"));
    let update = |p: cv::ConvergencePlan, etag: &str| cv::UpdateConvergencePlanRequest {
        plan: Some(cv::ConvergencePlan {
            name: created.name.clone(),
            ..p
        }),
        etag: etag.into(),
        request_id: String::new(),
    };
    let mut theirs = plan.clone();
    theirs.milestones[2].due_time = None;
    theirs.milestones[1].most_likely_days = 12.0;
    let refused = rgn_lead
        .clone()
        .update_convergence_plan(update(theirs, &created.etag))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::PermissionDenied, "TRUST_SCOPE")
    );
    let mut ours = plan.clone();
    ours.milestones[2].due_time = plan.milestones[2].due_time;
    ours.milestones[0].owner = "RGN digital lead".into();
    let updated = rgn_lead
        .clone()
        .update_convergence_plan(update(ours, &created.etag))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(updated.milestones[0].owner, "RGN digital lead");
    let stale = rgn_lead
        .clone()
        .update_convergence_plan(update(plan.clone(), &created.etag))
        .await
        .unwrap_err();
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    let mut cyclic = plan.clone();
    cyclic.dependencies.push(dependency(
        "rgm-medicines",
        "rgn-medicines",
        cv::DependencyKind::FinishToStart,
        0.0,
    ));
    let cycle = board
        .clone()
        .update_convergence_plan(update(cyclic, &updated.etag))
        .await
        .unwrap_err();
    assert_eq!(fields(&cycle), ["plan.dependencies"]);
    assert!(
        cycle
            .message()
            .contains("rgm-medicines → rgn-medicines → rgm-medicines"),
        "{}",
        cycle.message()
    );
    created.name
}

async fn the_convergence_part_of_the_golden_scenario(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let board = w.s.convergence(&w.token("RGT", "ics-admin", "admin"));
    let mut events = watch(&board).await;
    let expiry = chrono::Utc::now() + chrono::Duration::hours(1);
    let variation_cr = publish_baseline(&w, expiry).await;

    // RGN's build differs from the baseline at a known set of keys in two domains.
    let rgn_build = json!([
        {"kind": "alert-rule", "key": "allergy-interruptive", "value": {"enabled": true, "interrupt": true}},
        {"kind": "alert-rule", "key": "sepsis-news2", "value": {"enabled": true, "threshold": 8}},
        {"kind": "alert-rule", "key": "rgn-local", "value": {"enabled": true}},
        {"kind": "alert-rule", "key": "broken", "value": {"threshold": "high"}},
        {"kind": "theatre-list", "key": "list-a", "value": {"enabled": true}},
        {"kind": "theatre-list", "key": "list-b", "value": {"enabled": true}}
    ]);
    let rgn_snapshot = import(&w, "RGN", rgn_build).await;
    let first = recorded(&mut events, "RGN").await;
    assert_eq!(first.snapshot, rgn_snapshot.name);
    assert_eq!(first.trigger, "snapshot.imported");
    let medicines = domain(&first, "medicines");
    let theatres = domain(&first, "theatres");
    use cv::KeyClass as K;
    assert_eq!(
        [
            K::Aligned,
            K::Divergent,
            K::Missing,
            K::LocalOnly,
            K::Nonconforming
        ]
        .map(|k| count(medicines, k)),
        [1, 1, 1, 1, 1],
        "allergy aligned, sepsis divergent, vte missing, rgn-local local-only, broken nonconforming"
    );
    assert_eq!(
        [K::Aligned, K::Divergent].map(|k| count(theatres, k)),
        [1, 1]
    );
    assert_eq!(theatres.scores.as_ref().unwrap().convergence, 0.5);
    // Convergence = aligned ÷ governed: medicines governs allergy, sepsis, vte.
    assert_eq!(medicines.governed_count, 3);
    let divergent: Vec<(String, String)> = divergences(&board, "icss/QUE/trusts/RGN", K::Divergent)
        .await
        .into_iter()
        .map(|d| (d.key, d.domain))
        .collect();
    assert_eq!(
        divergent,
        [
            ("sepsis-news2".to_owned(), "medicines".to_owned()),
            ("list-b".to_owned(), "theatres".to_owned())
        ]
    );
    // From the evidence, RGN's lead drafts a change request aligning the sepsis alert: drafted
    // in change control, as the lead; nothing muted.
    let lead =
        w.s.convergence(&w.token("RGN", "trust-digital-lead", "lead-RGN"));
    let propose = |keys: &[&str]| cv::ProposeChangeRequestRequest {
        assessment: first.name.clone(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        intent: cv::ProposalIntent::Align as i32,
        design_authority: w.da.clone(),
        change_class: concordat_proto::changecontrol::v1::ChangeClass::Routine as i32,
        ..Default::default()
    };
    let drafted = lead
        .clone()
        .propose_change_request(propose(&["alert-rule/sepsis-news2"]))
        .await
        .unwrap()
        .into_inner();
    assert!(
        drafted
            .change_request
            .starts_with("icss/QUE/changeRequests/")
    );
    assert!(
        drafted
            .description
            .contains("alert-rule/sepsis-news2 (DIVERGENT)"),
        "{}",
        drafted.description
    );
    let cr = w
        .changes("RGN", "trust-digital-lead", "lead-RGN")
        .get_change_request(
            concordat_proto::changecontrol::v1::GetChangeRequestRequest {
                name: drafted.change_request.clone(),
            },
        )
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(
        (
            cr.title.as_str(),
            cr.affected_trusts.clone(),
            cr.configuration_items.clone()
        ),
        (
            "Align RGN's medicines build with the baseline",
            vec!["RGN".to_owned()],
            vec!["alert-rule/sepsis-news2".to_owned()]
        )
    );
    let spanning = lead
        .clone()
        .propose_change_request(propose(&["alert-rule/sepsis-news2", "theatre-list/list-b"]))
        .await
        .unwrap_err();
    assert_eq!(fields(&spanning), ["keys"]);
    let aligned = lead
        .clone()
        .propose_change_request(propose(&["alert-rule/allergy-interruptive", "nonsense"]))
        .await
        .unwrap_err();
    assert_eq!(fields(&aligned), ["keys[0]", "keys[1]"]);
    let all = divergences(&board, &first.name, K::Unspecified).await;
    assert_eq!(all.len(), 5, "every key but the two aligned ones");
    let sepsis = all.iter().find(|d| d.key == "sepsis-news2").unwrap();
    assert_eq!(
        json_of(sepsis.baseline_value.clone().unwrap())["threshold"],
        json!(5)
    );
    assert_eq!(
        json_of(sepsis.snapshot_value.clone().unwrap())["threshold"],
        json!(8)
    );
    assert_eq!(sepsis.governance, cv::GovernanceClass::Bounded as i32);

    // RGM's build holds its approved variation: VARIED_APPROVED until the expiry.
    let mut rgm_build = baseline_items();
    rgm_build[1]["value"]["threshold"] = json!(6);
    import(&w, "RGM", rgm_build).await;
    let rgm = recorded(&mut events, "RGM").await;
    assert_eq!(count(domain(&rgm, "medicines"), K::VariedApproved), 1);
    let approved = divergences(&board, &rgm.name, K::VariedApproved).await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].change_request, variation_cr);
    assert_eq!(
        approved[0].expire_time.map(|t| t.seconds),
        Some(expiry.timestamp())
    );
    let scores = rgm.scores.clone().unwrap();
    assert_eq!(scores.conformance, 1.0);
    assert!(scores.convergence < 1.0);

    // The matrix shows every trust × domain assessed, and nothing for the others.
    let matrix = board
        .clone()
        .get_convergence_matrix(cv::GetConvergenceMatrixRequest {
            parent: "icss/QUE".into(),
            as_of: None,
        })
        .await
        .unwrap()
        .into_inner();
    let cells: Vec<(String, String)> = matrix
        .cells
        .iter()
        .map(|c| (c.trust.clone(), c.domain.clone()))
        .collect();
    assert_eq!(
        cells,
        [
            ("RGM", "medicines"),
            ("RGM", "theatres"),
            ("RGN", "medicines"),
            ("RGN", "theatres")
        ]
        .map(|(t, d)| (t.to_owned(), d.to_owned()))
    );
    assert_eq!(
        matrix.trusts,
        ["RGT", "RGM", "RGN", "RT1"],
        "as the federation lists them"
    );
    assert_eq!(matrix.domains, ["medicines", "theatres"]);

    // The variation expires: RGM's configuration lapses, and the follower assesses RGM's build
    // again under the revision the system published — now VARIED_EXPIRED.
    let before_expiry = expiry - chrono::Duration::minutes(1);
    w.s.platform.clock.advance(Duration::from_secs(2 * 3600));
    let lapsed = recorded(&mut events, "RGM").await;
    assert_eq!(lapsed.trigger, "effectiveConfig.published");
    assert_eq!(count(domain(&lapsed, "medicines"), K::VariedExpired), 1);
    assert_eq!(count(domain(&lapsed, "medicines"), K::VariedApproved), 0);
    assert!(lapsed.scores.unwrap().conformance < 1.0);
    // As of before the expiry, the same build is assessed under the variation in force then.
    let replay = board
        .clone()
        .assess_snapshot(cv::AssessSnapshotRequest {
            parent: "icss/QUE/trusts/RGM".into(),
            as_of: Some(timestamp(before_expiry)),
        })
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(
        (replay.name.as_str(), replay.trigger.as_str()),
        ("", "asOf")
    );
    assert_eq!(count(domain(&replay, "medicines"), K::VariedApproved), 1);
    // The matrix as of before the expiry still shows the approved variation.
    let then = board
        .clone()
        .get_convergence_matrix(cv::GetConvergenceMatrixRequest {
            parent: "icss/QUE".into(),
            as_of: Some(timestamp(before_expiry + chrono::Duration::seconds(30))),
        })
        .await
        .unwrap()
        .into_inner();
    let rgm_then = then
        .cells
        .iter()
        .find(|c| c.trust == "RGM" && c.domain == "medicines")
        .unwrap();
    assert_eq!(rgm_then.assessment, rgm.name);

    // A plan of milestones across three trusts: the critical path, its P85 date, and RGN's
    // milestone at risk until RGN's build reaches its target.
    let plan_name = plan_across_three_trusts(&w, &board).await;

    // RGN corrects its build: its score rises in the trajectory.
    import(&w, "RGN", baseline_items()).await;
    let corrected = recorded(&mut events, "RGN").await;
    // The milestone whose target RGN reached is achieved by that assessment, and no other.
    let plan = board
        .clone()
        .get_convergence_plan(cv::GetConvergencePlanRequest {
            name: plan_name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    let achieved: Vec<(&str, &str)> = plan
        .milestones
        .iter()
        .map(|m| (m.id.as_str(), m.achieved_by.as_str()))
        .collect();
    assert_eq!(
        achieved,
        [
            ("rgn-medicines", corrected.name.as_str()),
            ("rgm-medicines", ""),
            ("rgt-theatres", "")
        ]
    );
    let rescheduled = schedule(&board, &plan_name).await;
    assert!(
        !rescheduled.milestones[0].at_risk,
        "achieved: no longer at risk"
    );
    assert!(rescheduled.milestones[0].achieved);
    assert_eq!(corrected.scores.clone().unwrap().convergence, 1.0);
    let trajectory = board
        .clone()
        .list_assessments(cv::ListAssessmentsRequest {
            parent: "icss/QUE/trusts/RGN".into(),
            domain: "medicines".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(trajectory.assessments.len(), 1);
    assert_eq!(trajectory.assessments[0].name, corrected.name);
    assert_eq!(trajectory.assessments[0].domains.len(), 1, "only medicines");
    let older = board
        .clone()
        .list_assessments(cv::ListAssessmentsRequest {
            parent: "icss/QUE/trusts/RGN".into(),
            page_token: trajectory.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = older.assessments.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&first.name.as_str()), "{names:?}");
    let first_score = older
        .assessments
        .iter()
        .find(|a| a.name == first.name)
        .unwrap()
        .scores
        .clone()
        .unwrap()
        .convergence;
    assert!(first_score < 1.0);

    // Notices, each once: RGM's variation within the 30 days' notice, and RGT's theatres
    // milestone (due on day 1, earliest finish day 8) at risk; not RGN's, achieved first.
    let mut all = watch(&board).await;
    let mut notices = Vec::new();
    while let Ok(Some(Ok(event))) = tokio::time::timeout(Duration::from_secs(2), all.next()).await {
        use cv::watch_convergence_response::Resource;
        match event.resource {
            Some(Resource::ExpiringVariation(v)) => {
                notices.push(format!("{} {}/{}", event.kind, v.trust, v.key));
                assert_eq!(v.expire_time.map(|t| t.seconds), Some(expiry.timestamp()));
                assert_eq!(v.change_request, variation_cr);
            }
            Some(Resource::MilestoneAtRisk(m)) => {
                notices.push(format!("{} {}", event.kind, m.milestone));
            }
            _ => {}
        }
    }
    assert_eq!(
        notices,
        [
            "variation.expiring RGM/sepsis-news2",
            "milestone.at_risk rgt-theatres"
        ]
    );

    // Every assessment is in the audit chain, recorded by the service.
    let audit =
        w.s.platform(&w.token("RGT", "ics-admin", "admin"))
            .list_audit_entries(concordat_proto::platform::v1::ListAuditEntriesRequest {
                parent: "icss/QUE".into(),
                action: "convergence.assess".into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
    assert!(
        audit
            .iter()
            .any(|e| e.resource == corrected.name && e.actor_subject == "convergence")
    );
}

async fn followers_on_two_replicas_and_after_a_restart_record_each_event_once(
    backend: TestBackend,
) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let Some(replica) = TestServer::start(Options {
        backend,
        federation: Some(concordat_e2e::federation("Test ICS", &TRUSTS, true)),
        replica_of: Some(w.s.database_url().to_owned()),
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let board = w.s.convergence(&w.token("RGT", "ics-admin", "admin"));
    let mut events = watch(&board).await;
    publish_baseline(&w, chrono::Utc::now() + chrono::Duration::days(30)).await;
    for _ in 0..3 {
        import(&w, "RGN", baseline_items()).await;
        recorded(&mut events, "RGN").await;
    }
    // Both replicas' followers have seen every event; give the slower one time to try.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let list = replica
        .convergence(&replica.token("RGT", &["ics-admin"], "admin"))
        .list_assessments(cv::ListAssessmentsRequest {
            parent: "icss/QUE/trusts/RGN".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .assessments;
    assert_eq!(
        list.len(),
        3,
        "one assessment per import, whichever replica recorded it"
    );
    replica.stop().await;
    // A replica started later (a restart) follows on from the stored cursor: it records the next
    // import, whichever replica gets it first, and none of the three again.
    let Some(late) = TestServer::start(Options {
        backend,
        federation: Some(concordat_e2e::federation("Test ICS", &TRUSTS, true)),
        replica_of: Some(w.s.database_url().to_owned()),
        ..Default::default()
    })
    .await
    else {
        return;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    import(&w, "RGN", baseline_items()).await;
    recorded(&mut events, "RGN").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = late
        .convergence(&late.token("RGT", &["ics-admin"], "admin"))
        .list_assessments(cv::ListAssessmentsRequest {
            parent: "icss/QUE/trusts/RGN".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .assessments;
    assert_eq!(after.len(), 4);
    late.stop().await;
}

async fn settings_and_bad_input(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let admin = w.s.convergence(&w.token("RGT", "ics-admin", "admin"));
    let engineer =
        w.s.convergence(&w.token("RGN", "trust-engineer", "engineer-RGN"));
    let current = admin
        .clone()
        .get_convergence_settings(cv::GetConvergenceSettingsRequest {
            name: "icss/QUE/convergenceSettings".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(current.weights.unwrap().locked, 3.0);
    assert_eq!(current.bands.len(), 4);
    let update = |etag: &str, weights: cv::Weights, bands: Vec<cv::Band>| {
        cv::UpdateConvergenceSettingsRequest {
            settings: Some(cv::ConvergenceSettings {
                name: "icss/QUE/convergenceSettings".into(),
                weights: Some(weights),
                bands,
                ..Default::default()
            }),
            etag: etag.into(),
            request_id: String::new(),
        }
    };
    let weights = cv::Weights {
        locked: 5.0,
        bounded: 2.0,
        overridable: 1.0,
    };
    let bands = vec![
        cv::Band {
            from: 0.9,
            label: "green".into(),
        },
        cv::Band {
            from: 0.0,
            label: "red".into(),
        },
    ];
    let stored = admin
        .clone()
        .update_convergence_settings(update(&current.etag, weights, bands.clone()))
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(stored.weights.unwrap().locked, 5.0);
    assert_eq!(stored.expiry_notice_days, 30, "0 is the default");
    assert_ne!(stored.etag, current.etag);
    let stale = admin
        .clone()
        .update_convergence_settings(update(&current.etag, weights, bands.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        (stale.code(), reason(&stale).as_str()),
        (Code::Aborted, "ETAG_MISMATCH")
    );
    let mut bad_request = update(
        &stored.etag,
        cv::Weights {
            locked: -1.0,
            ..weights
        },
        vec![cv::Band {
            from: 0.5,
            label: "half".into(),
        }],
    );
    if let Some(s) = bad_request.settings.as_mut() {
        s.expiry_notice_days = 400;
    }
    let bad = admin
        .clone()
        .update_convergence_settings(bad_request)
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&bad),
        [
            "settings.weights",
            "settings.expiry_notice_days",
            "settings.bands"
        ]
    );
    let denied = engineer
        .clone()
        .update_convergence_settings(update(&stored.etag, weights, bands))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Bad input: the field and the reason; another ICS is out of scope.
    let parent = engineer
        .clone()
        .get_convergence_matrix(cv::GetConvergenceMatrixRequest {
            parent: "icss".into(),
            as_of: None,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&parent), ["parent"]);
    let other = engineer
        .clone()
        .get_convergence_matrix(cv::GetConvergenceMatrixRequest {
            parent: "icss/OTH".into(),
            as_of: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (other.code(), reason(&other).as_str()),
        (Code::PermissionDenied, "ICS_SCOPE")
    );
    let unknown_trust = engineer
        .clone()
        .assess_snapshot(cv::AssessSnapshotRequest {
            parent: "icss/QUE/trusts/XXX".into(),
            as_of: None,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&unknown_trust), ["parent"]);
    let no_snapshot = engineer
        .clone()
        .assess_snapshot(cv::AssessSnapshotRequest {
            parent: "icss/QUE/trusts/RT1".into(),
            as_of: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (no_snapshot.code(), reason(&no_snapshot).as_str()),
        (Code::FailedPrecondition, "NO_SNAPSHOT")
    );
    let none_yet = engineer
        .clone()
        .list_divergences(cv::ListDivergencesRequest {
            parent: "icss/QUE/trusts/RGN".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(none_yet.code(), Code::NotFound);
    let missing = engineer
        .clone()
        .get_assessment(cv::GetAssessmentRequest {
            name: "icss/QUE/trusts/RGN/assessments/nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let token = engineer
        .clone()
        .list_assessments(cv::ListAssessmentsRequest {
            parent: "icss/QUE/trusts/RGN".into(),
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&token), ["page_token"]);
    let size = engineer
        .clone()
        .list_assessments(cv::ListAssessmentsRequest {
            parent: "icss/QUE/trusts/RGN".into(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&size), ["page_size"]);

    // Plans: each field refused by name; an existing id, an unknown plan, a forecast too long.
    let create = |id: &str, plan: cv::ConvergencePlan| cv::CreateConvergencePlanRequest {
        parent: "icss/QUE".into(),
        plan_id: id.into(),
        plan: Some(plan),
        request_id: String::new(),
    };
    let start = Some(timestamp(chrono::Utc::now()));
    let one = cv::ConvergencePlan {
        start_time: start,
        milestones: vec![milestone("a", "RGN", "medicines", 0.9, (1.0, 2.0, 3.0))],
        ..Default::default()
    };
    let bad_id = admin
        .clone()
        .create_convergence_plan(create("Bad Id", one.clone()))
        .await
        .unwrap_err();
    assert_eq!(fields(&bad_id), ["plan_id"]);
    let no_start = admin
        .clone()
        .create_convergence_plan(create(
            "p",
            cv::ConvergencePlan {
                start_time: None,
                dependencies: vec![dependency("a", "a", cv::DependencyKind::Unspecified, 0.0)],
                ..one.clone()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&no_start),
        ["plan.start_time", "plan.dependencies[0].kind"]
    );
    let by_trust = engineer
        .clone()
        .create_convergence_plan(create("p", one.clone()))
        .await
        .unwrap_err();
    assert_eq!(by_trust.code(), Code::PermissionDenied);
    admin
        .clone()
        .create_convergence_plan(create("p", one.clone()))
        .await
        .unwrap();
    let twice = admin
        .clone()
        .create_convergence_plan(create("p", one))
        .await
        .unwrap_err();
    assert_eq!(
        (twice.code(), reason(&twice).as_str()),
        (Code::AlreadyExists, "ALREADY_EXISTS")
    );
    let too_long = engineer
        .clone()
        .forecast_convergence_plan(cv::ForecastConvergencePlanRequest {
            name: "icss/QUE/convergencePlans/p".into(),
            iterations: 1_000_000,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&too_long), ["iterations"]);
    let unknown = engineer
        .clone()
        .schedule_convergence_plan(cv::ScheduleConvergencePlanRequest {
            name: "icss/QUE/convergencePlans/none".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let listed = engineer
        .clone()
        .list_convergence_plans(cv::ListConvergencePlansRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.plans.len(), 1);
}

async fn durations_come_from_a_trusts_own_pace(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let admin = || w.s.convergence(&w.token("RGT", "ics-admin", "admin"));
    let mut events = watch(&admin()).await;
    publish_baseline(&w, chrono::Utc::now() + chrono::Duration::days(365)).await;
    // RGN aligns one medicines key a week: vte, then the allergy alert, then the sepsis alert.
    let week = Duration::from_secs(7 * 86_400);
    let vte = json!({"kind": "alert-rule", "key": "vte", "value": {"enabled": true}});
    let allergy = json!({"kind": "alert-rule", "key": "allergy-interruptive",
        "value": {"enabled": true, "interrupt": true}});
    let sepsis = json!({"kind": "alert-rule", "key": "sepsis-news2",
        "value": {"enabled": true, "threshold": 5}});
    let builds = [
        json!([vte]),
        json!([vte, allergy]),
        json!([vte, allergy, sepsis]),
    ];
    for (i, build) in builds.into_iter().enumerate() {
        if i > 0 {
            w.s.platform.clock.advance(week);
        }
        import(&w, "RGN", build).await;
        let a = recorded(&mut events, "RGN").await;
        assert_eq!(
            count(domain(&a, "medicines"), cv::KeyClass::Aligned),
            i as i64 + 1
        );
    }
    // At one key a week, three keys take 21 days; RT1 has no history and keeps its estimates.
    let start = w.s.platform.clock.now();
    let mut rgn = milestone("rgn-medicines", "RGN", "medicines", 1.0, (1.0, 2.0, 3.0));
    rgn.keys_in_scope = 3;
    let plan = cv::ConvergencePlan {
        start_time: Some(timestamp(start)),
        milestones: vec![
            rgn,
            milestone("rt1-medicines", "RT1", "medicines", 1.0, (1.0, 1.0, 1.0)),
        ],
        duration_source: cv::DurationSource::History as i32,
        seed: 7,
        ..Default::default()
    };
    let created = admin()
        .create_convergence_plan(cv::CreateConvergencePlanRequest {
            parent: "icss/QUE".into(),
            plan_id: "paced".into(),
            plan: Some(plan),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    let forecast = admin()
        .forecast_convergence_plan(cv::ForecastConvergencePlanRequest {
            name: created.name,
            iterations: 100,
        })
        .await
        .unwrap()
        .into_inner()
        .forecast
        .unwrap();
    assert_eq!(forecast.duration_sources, ["history", "estimates"]);
    let p50 = forecast.p50_time.unwrap();
    let days = (p50.seconds - start.timestamp()) as f64 / 86_400.0;
    assert!((days - 21.0).abs() < 0.01, "{days} days");
}

both_backends!(
    golden_convergence,
    the_convergence_part_of_the_golden_scenario
);
both_backends!(
    replicas,
    followers_on_two_replicas_and_after_a_restart_record_each_event_once
);
both_backends!(settings, settings_and_bad_input);
both_backends!(paced, durations_come_from_a_trusts_own_pace);
