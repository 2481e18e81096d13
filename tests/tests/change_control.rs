//! The change-control service through gRPC with development-issuer tokens, on SQLite and
//! PostgreSQL: authorization, bad input, concurrency, stale votes, objections, quorum, watching
//! and safe retries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use concordat_e2e::{Bearer, Options, TestServer, fields, reason};
use concordat_platform::both_backends;
use concordat_platform::testkit::TestBackend;
use concordat_proto::changecontrol::v1 as pb;
use concordat_proto::platform::v1 as platform_pb;
use futures::StreamExt;
use pb::change_control_service_client::ChangeControlServiceClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const TRUSTS: [&str; 8] = ["RGT", "RGM", "RGN", "RT1", "RWH", "RQQ", "RC1", "RGP"];

type Client = ChangeControlServiceClient<InterceptedService<Channel, Bearer>>;

struct World {
    s: TestServer,
    da: String,
}

impl World {
    async fn new(
        backend: TestBackend,
        members: usize,
        class_threshold: pb::Threshold,
    ) -> Option<Self> {
        let s = TestServer::start(Options {
            backend,
            federation: Some(concordat_e2e::federation("Test ICS", &TRUSTS, true)),
            ..Default::default()
        })
        .await?;
        let admin = s.dev_token(None, Some("QUE"), &["ics-admin"]);
        let rule = |c: pb::ChangeClass, t: pb::Threshold, cso: bool| pb::ClassRule {
            change_class: c as i32,
            threshold: t as i32,
            cso_sign_off_required: cso,
        };
        let da = client(&s, &admin)
            .create_design_authority(pb::CreateDesignAuthorityRequest {
                parent: "icss/QUE".into(),
                design_authority_id: "medicines".into(),
                design_authority: Some(pb::DesignAuthority {
                    display_name: "Medicines".into(),
                    domains: vec!["medicines".into()],
                    members: TRUSTS[..members]
                        .iter()
                        .map(|t| pb::Membership {
                            trust: t.to_string(),
                            voting_members: vec![s.person(&voter(t))],
                        })
                        .collect(),
                    chair: Some(s.person("chair")),
                    charter: Some(pb::Charter {
                        quorum_percent: 75,
                        rules: vec![
                            rule(pb::ChangeClass::Routine, class_threshold, false),
                            rule(
                                pb::ChangeClass::Significant,
                                pb::Threshold::SimpleMajority,
                                false,
                            ),
                            rule(
                                pb::ChangeClass::SafetyCritical,
                                pb::Threshold::Unanimous,
                                true,
                            ),
                        ],
                        silence: pb::SilencePolicy::Abstain as i32,
                        board_risk_threshold: 3,
                        board_cost_threshold_pence: 5_000_000,
                        max_residual_risk: 3,
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
            .unwrap()
            .into_inner()
            .design_authority
            .unwrap()
            .name;
        Some(Self { s, da })
    }

    fn token(&self, trust: &str, role: &str, subject: &str) -> String {
        let issuer = self.s.platform.dev_issuer.as_ref().unwrap();
        issuer
            .mint(&concordat_platform::identity::dev_issuer::TokenRequest {
                subject: subject.into(),
                name: None,
                org: trust.into(),
                ics: None,
                roles: vec![role.into()],
                ttl: Duration::from_secs(600),
            })
            .unwrap()
    }

    fn as_(&self, trust: &str, role: &str, subject: &str) -> Client {
        client(&self.s, &self.token(trust, role, subject))
    }

    fn chair(&self) -> Client {
        self.as_("RGT", "da-chair", "chair")
    }

    fn lead(&self, trust: &str) -> Client {
        self.as_(trust, "trust-digital-lead", &format!("lead-{trust}"))
    }

    fn voter(&self, trust: &str) -> Client {
        self.as_(trust, "da-member", &voter(trust))
    }

    /// A routine change affecting `affected` trusts, taken to DA_REVIEW.
    async fn in_review(&self, affected: &[&str]) -> pb::ChangeRequest {
        let cr = self.draft(affected).await;
        let name = cr.name.clone();
        self.lead("RGT")
            .submit_change_request(pb::SubmitChangeRequestRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        self.chair()
            .start_impact_assessment(pb::StartImpactAssessmentRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        for trust in affected {
            self.lead(trust)
                .submit_impact_assessment(pb::SubmitImpactAssessmentRequest {
                    parent: name.clone(),
                    impact_assessment: Some(pb::ImpactAssessment {
                        trust: trust.to_string(),
                        recommendation: pb::Recommendation::Support as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .unwrap();
        }
        self.chair()
            .open_voting(pb::OpenVotingRequest {
                name,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap()
    }

    async fn draft(&self, affected: &[&str]) -> pb::ChangeRequest {
        self.lead("RGT")
            .create_change_request(pb::CreateChangeRequestRequest {
                parent: "icss/QUE".into(),
                change_request: Some(routine(&self.da, affected)),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap()
    }
}

fn voter(trust: &str) -> String {
    format!("voter-{}", trust.to_lowercase())
}

fn client(s: &TestServer, token: &str) -> Client {
    s.change_control(token)
}

fn routine(da: &str, affected: &[&str]) -> pb::ChangeRequest {
    pb::ChangeRequest {
        title: "Default dose units on the paediatric order set".into(),
        description: "Show mg/kg by default".into(),
        domain: "medicines".into(),
        design_authority: da.into(),
        affected_trusts: affected.iter().map(|t| t.to_string()).collect(),
        change_type: pb::ChangeType::Normal as i32,
        change_class: pb::ChangeClass::Routine as i32,
        configuration_items: vec!["order-set/paediatric-analgesia".into()],
        ..Default::default()
    }
}

fn vote(parent: &str, choice: pb::VoteChoice) -> pb::CastVoteRequest {
    pb::CastVoteRequest {
        parent: parent.into(),
        choice: choice as i32,
        reason: if choice == pb::VoteChoice::Reject {
            "not ready for our wards".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

fn state(cr: &pb::ChangeRequest) -> pb::State {
    pb::State::try_from(cr.state).unwrap()
}

async fn authorization_keeps_each_party_to_its_part(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let viewer = w.as_("RGN", "viewer", "viewer-rgn");
    let denied = viewer
        .clone()
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(routine(&w.da, &["RGT"])),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "ROLE_NOT_PERMITTED")
    );

    let cr = w.in_review(&["RGT", "RGM"]).await;
    let denied = viewer
        .clone()
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap_err();
    assert_eq!(
        reason(&denied),
        "ROLE_NOT_PERMITTED",
        "a viewer cannot vote"
    );
    // A DA member of RGM who is not RGM's voting member.
    let denied = w
        .as_("RGM", "da-member", "someone-else")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "NOT_A_VOTING_MEMBER")
    );
    // A trust outside the design authority.
    let denied = w
        .as_("RQQ", "da-member", &voter("RQQ"))
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "TRUST_NOT_INVOLVED");
    // Board-only moves.
    let denied = w
        .chair()
        .record_board_decision(pb::RecordBoardDecisionRequest {
            name: cr.name.clone(),
            approved: true,
            minutes_reference: "x".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "ROLE_NOT_PERMITTED");
    // Chair-only moves need this authority's chair, not any da-chair.
    let other = w.draft(&["RGT"]).await;
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: other.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let denied = w
        .as_("RGM", "da-chair", "another-chair")
        .start_impact_assessment(pb::StartImpactAssessmentRequest {
            name: other.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "NOT_THE_CHAIR");
    // Only the requesting trust submits or edits.
    let third = w.draft(&["RGT"]).await;
    let denied = w
        .lead("RGM")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: third.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "TRUST_SCOPE");
    // Another ICS sees nothing.
    let denied = w
        .as_("RJ1", "viewer", "viewer-rj1")
        .get_change_request(pb::GetChangeRequestRequest {
            name: cr.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "ICS_SCOPE");
    // Every refusal is in the audit chain.
    let admin = w.s.dev_token(None, Some("QUE"), &["ics-admin"]);
    let entries =
        w.s.platform(&admin)
            .list_audit_entries(platform_pb::ListAuditEntriesRequest {
                parent: "icss/QUE".into(),
                action: "authorization.denied".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
    assert_eq!(entries.len(), 7, "{entries:?}");
}
both_backends!(
    authorization_keeps_each_party_to_its_part_on,
    authorization_keeps_each_party_to_its_part
);

async fn bad_input_is_explained_field_by_field(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let mut bad = routine(&w.da, &["RGT", "ZZZ"]);
    bad.title = "  ".into();
    let status = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(bad),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        ["change_request.title", "change_request.affected_trusts"]
    );
    assert_eq!(
        status.get_error_details().error_info().unwrap().domain,
        "changecontrol.concordat"
    );

    let cr = w.draft(&["RGT"]).await;
    let status = w
        .chair()
        .open_voting(pb::OpenVotingRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "INVALID_TRANSITION")
    );
    assert!(
        status
            .message()
            .contains("state DRAFT; allowed: SubmitChangeRequest, WithdrawChangeRequest"),
        "{}",
        status.message()
    );
    let violations = status
        .get_error_details()
        .precondition_failure()
        .unwrap()
        .violations
        .clone();
    assert_eq!(violations[0].subject, "DRAFT");

    let cr = w.in_review(&["RGT", "RGM", "RGN", "RT1"]).await;
    let status = w
        .voter("RGT")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Reject))
        .await
        .map(|_| ())
        .unwrap_err_or_reason();
    assert!(status.is_none(), "a reasoned rejection is accepted");
    let mut no_reason = vote(&cr.name, pb::VoteChoice::Reject);
    no_reason.reason.clear();
    let status = w.voter("RGM").cast_vote(no_reason).await.unwrap_err();
    assert_eq!(fields(&status), ["reason"]);
    let status = w
        .voter("RGT")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::AlreadyExists, "ALREADY_VOTED")
    );
    for t in ["RGM", "RGN", "RT1"] {
        w.voter(t)
            .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
            .await
            .unwrap();
    }
    w.chair()
        .dispose_objection(pb::DisposeObjectionRequest {
            name: format!("{}/votes/RGT", cr.name),
            disposition: pb::Disposition::NotPersuasive as i32,
            note: "wards are ready".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let status = w
        .as_("RGT", "da-member", &voter("RGT"))
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "a vote after the decision: {status:?}"
    );
    assert_eq!(reason(&status), "INVALID_TRANSITION");
}
both_backends!(
    bad_input_is_explained_field_by_field_on,
    bad_input_is_explained_field_by_field
);

trait UnwrapErrOrReason {
    fn unwrap_err_or_reason(self) -> Option<String>;
}

impl UnwrapErrOrReason for Result<(), tonic::Status> {
    fn unwrap_err_or_reason(self) -> Option<String> {
        self.err().map(|s| format!("{s:?}"))
    }
}

async fn parallel_votes_decide_exactly_once(backend: TestBackend) {
    let Some(w) = World::new(backend, 8, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w.in_review(&TRUSTS).await;
    let admin = w.s.dev_token(None, Some("QUE"), &["ics-admin"]);
    let mut events = client(&w.s, &admin)
        .watch_change_requests(pb::WatchChangeRequestsRequest {
            parent: "icss/QUE".into(),
            cursor: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let votes: Vec<_> = TRUSTS
        .iter()
        .map(|t| {
            let mut c = w.voter(t);
            let parent = cr.name.clone();
            tokio::spawn(async move { c.cast_vote(vote(&parent, pb::VoteChoice::Approve)).await })
        })
        .collect();
    let mut decided = 0;
    for v in votes {
        let response = v.await.unwrap().unwrap().into_inner();
        if state(response.change_request.as_ref().unwrap()) == pb::State::Approved {
            decided += 1;
        }
    }
    assert_eq!(decided, 1, "exactly one vote completed the count");
    let final_cr = w
        .chair()
        .get_change_request(pb::GetChangeRequestRequest {
            name: cr.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&final_cr), pb::State::Approved);
    let decision = final_cr.decision.unwrap();
    assert_eq!((decision.approvals, decision.rejections), (8, 0));
    // Exactly one approval event.
    let mut approvals = 0;
    while let Ok(Some(Ok(event))) =
        tokio::time::timeout(Duration::from_millis(500), events.next()).await
    {
        if event.kind == "changeRequest.approved" {
            approvals += 1;
        }
    }
    assert_eq!(approvals, 1);
}
both_backends!(
    parallel_votes_decide_exactly_once_on,
    parallel_votes_decide_exactly_once
);

async fn parallel_edits_with_one_etag_let_exactly_one_win(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w.draft(&["RGT"]).await;
    let edits: Vec<_> = (0..8)
        .map(|i| {
            let mut c = w.lead("RGT");
            let mut edited = cr.clone();
            edited.title = format!("Edit {i}");
            tokio::spawn(async move {
                c.update_change_request(pb::UpdateChangeRequestRequest {
                    change_request: Some(edited),
                    update_mask: vec!["title".into()],
                    request_id: String::new(),
                })
                .await
            })
        })
        .collect();
    let mut wins = 0;
    for e in edits {
        match e.await.unwrap() {
            Ok(_) => wins += 1,
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(wins, 1);
    let stored = w
        .lead("RGT")
        .get_change_request(pb::GetChangeRequestRequest {
            name: cr.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert!(stored.title.starts_with("Edit "));
    assert_ne!(stored.etag, cr.etag);
}
both_backends!(
    parallel_edits_with_one_etag_let_exactly_one_win_on,
    parallel_edits_with_one_etag_let_exactly_one_win
);

async fn only_a_change_of_substance_makes_votes_stale(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w.in_review(&["RGT", "RGM", "RGN", "RT1"]).await;
    for t in ["RGT", "RGM"] {
        w.voter(t)
            .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
            .await
            .unwrap();
    }
    let current = w
        .lead("RGT")
        .get_change_request(pb::GetChangeRequestRequest {
            name: cr.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let mut edit = current.clone();
    edit.title = "Clearer title".into();
    let after = w
        .lead("RGT")
        .update_change_request(pb::UpdateChangeRequestRequest {
            change_request: Some(edit),
            update_mask: vec!["title".into()],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert!(
        after.stale_vote_trusts.is_empty(),
        "a title is not substance"
    );
    let mut edit = after.clone();
    edit.description = "Show mg/kg by default, and on discharge prescriptions".into();
    let after = w
        .lead("RGT")
        .update_change_request(pb::UpdateChangeRequestRequest {
            change_request: Some(edit),
            update_mask: vec!["description".into()],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(after.stale_vote_trusts, ["RGM", "RGT"]);
    // A stale vote no longer counts and may be cast again.
    for t in ["RGN", "RT1"] {
        let r = w
            .voter(t)
            .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            state(r.change_request.as_ref().unwrap()),
            pb::State::DaReview
        );
    }
    w.voter("RGT")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap();
    let r = w
        .voter("RGM")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state(r.change_request.as_ref().unwrap()),
        pb::State::Approved
    );
}
both_backends!(
    only_a_change_of_substance_makes_votes_stale_on,
    only_a_change_of_substance_makes_votes_stale
);

async fn an_objection_holds_the_decision_until_disposed_of(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w.in_review(&["RGT", "RGM", "RGN", "RT1"]).await;
    for t in ["RGT", "RGM", "RGN"] {
        w.voter(t)
            .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
            .await
            .unwrap();
    }
    let r = w
        .voter("RT1")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Reject))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state(r.change_request.as_ref().unwrap()),
        pb::State::DaReview,
        "waits for the disposition"
    );
    let r = w
        .chair()
        .dispose_objection(pb::DisposeObjectionRequest {
            name: format!("{}/votes/RT1", cr.name),
            disposition: pb::Disposition::ConsideredForFuture as i32,
            note: "phase 2".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        pb::Disposition::try_from(r.vote.unwrap().disposition).unwrap(),
        pb::Disposition::ConsideredForFuture
    );
    let decided = r.change_request.unwrap();
    assert_eq!(state(&decided), pb::State::Approved);
    assert!(
        decided
            .decision
            .unwrap()
            .rule
            .starts_with("simple majority: 3 approve, 1 reject")
    );
}
both_backends!(
    an_objection_holds_the_decision_until_disposed_of_on,
    an_objection_holds_the_decision_until_disposed_of
);

async fn closing_short_of_quorum_defers_and_unanimity_rejects_on_one_no(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::Unanimous).await else {
        return;
    };
    // Short of quorum at the deadline: deferred, not decided.
    let cr = w.draft(&["RGT"]).await;
    let name = cr.name.clone();
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    w.chair()
        .start_impact_assessment(pb::StartImpactAssessmentRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    w.lead("RGT")
        .submit_impact_assessment(pb::SubmitImpactAssessmentRequest {
            parent: name.clone(),
            impact_assessment: Some(pb::ImpactAssessment {
                trust: "RGT".into(),
                recommendation: pb::Recommendation::Support as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let soon = chrono::Utc::now() + chrono::Duration::hours(1);
    w.chair()
        .open_voting(pb::OpenVotingRequest {
            name: name.clone(),
            deadline: Some(prost_types::Timestamp {
                seconds: soon.timestamp(),
                nanos: soon.timestamp_subsec_nanos() as i32,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    w.voter("RGT")
        .cast_vote(vote(&name, pb::VoteChoice::Approve))
        .await
        .unwrap();
    let early = w
        .chair()
        .close_voting(pb::CloseVotingRequest {
            name: name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&early), "VOTING_OPEN");
    // The server's clock moves past the deadline: no waiting.
    w.s.platform.clock.advance(Duration::from_secs(2 * 3600));
    let closed = w
        .chair()
        .close_voting(pb::CloseVotingRequest {
            name: name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&closed), pb::State::Deferred);
    // The deferral is recorded as the change request's decision, with the rule that deferred it.
    let decision = closed
        .decision
        .clone()
        .expect("a deferral records a decision");
    assert!(!decision.approved);
    assert!(
        decision.rule.starts_with("deferred: quorum not met"),
        "{}",
        decision.rule
    );

    // Unanimity: one rejection rejects once the objection is disposed of.
    let cr = w.in_review(&["RGT", "RGM", "RGN", "RT1"]).await;
    for t in ["RGT", "RGM", "RGN"] {
        w.voter(t)
            .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
            .await
            .unwrap();
    }
    w.voter("RT1")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Reject))
        .await
        .unwrap();
    let r = w
        .chair()
        .dispose_objection(pb::DisposeObjectionRequest {
            name: format!("{}/votes/RT1", cr.name),
            disposition: pb::Disposition::Persuasive as i32,
            note: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state(r.change_request.as_ref().unwrap()),
        pb::State::Rejected
    );
}
both_backends!(
    closing_short_of_quorum_defers_and_unanimity_rejects_on_one_no_on,
    closing_short_of_quorum_defers_and_unanimity_rejects_on_one_no
);

async fn a_watcher_resumes_from_its_cursor(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let admin = w.s.dev_token(None, Some("QUE"), &["ics-admin"]);
    let mut watcher = client(&w.s, &admin);
    let mut events = watcher
        .watch_change_requests(pb::WatchChangeRequestsRequest {
            parent: "icss/QUE".into(),
            cursor: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let cr = w.draft(&["RGT"]).await;
    let first = events.message().await.unwrap().unwrap();
    assert_eq!(
        (
            first.kind.as_str(),
            first.change_request.as_ref().unwrap().name.as_str()
        ),
        ("changeRequest.created", cr.name.as_str())
    );
    drop(events);
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut resumed = watcher
        .watch_change_requests(pb::WatchChangeRequestsRequest {
            parent: "icss/QUE".into(),
            cursor: first.cursor,
        })
        .await
        .unwrap()
        .into_inner();
    let next = resumed.message().await.unwrap().unwrap();
    assert_eq!(next.kind, "changeRequest.submitted");
    assert!(next.cursor > first.cursor);
    assert_eq!(
        state(next.change_request.as_ref().unwrap()),
        pb::State::Submitted
    );
}
both_backends!(
    a_watcher_resumes_from_its_cursor_on,
    a_watcher_resumes_from_its_cursor
);

async fn a_retry_with_the_same_request_id_acts_once(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let request = pb::CreateChangeRequestRequest {
        parent: "icss/QUE".into(),
        change_request: Some(routine(&w.da, &["RGT"])),
        request_id: "retry-1".into(),
    };
    let a = w
        .lead("RGT")
        .create_change_request(request.clone())
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let b = w
        .lead("RGT")
        .create_change_request(request)
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(a, b);
    let list = w
        .lead("RGT")
        .list_change_requests(pb::ListChangeRequestsRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.total_size, 1);
    // The same id for another method is refused.
    let reused = w
        .lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: a.name.clone(),
            etag: String::new(),
            request_id: "retry-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&reused), ["request_id"]);
}
both_backends!(
    a_retry_with_the_same_request_id_acts_once_on,
    a_retry_with_the_same_request_id_acts_once
);

async fn concurrent_retries_all_get_the_first_response(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let request = pb::CreateChangeRequestRequest {
        parent: "icss/QUE".into(),
        change_request: Some(routine(&w.da, &["RGT"])),
        request_id: "retry-storm".into(),
    };
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let mut client = w.lead("RGT");
            let request = request.clone();
            tokio::spawn(async move { client.create_change_request(request).await })
        })
        .collect();
    let mut created = Vec::new();
    for call in calls {
        let response = call.await.unwrap();
        let response = response.unwrap_or_else(|status| panic!("a retry failed: {status:?}"));
        created.push(response.into_inner().change_request.unwrap());
    }
    assert!(
        created.iter().all(|cr| *cr == created[0]),
        "every caller gets the first response"
    );
    let list = w
        .lead("RGT")
        .list_change_requests(pb::ListChangeRequestsRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        list.total_size, 1,
        "32 concurrent retries create one change request"
    );
}
both_backends!(
    concurrent_retries_all_get_the_first_response_on,
    concurrent_retries_all_get_the_first_response
);

async fn lists_filter_order_and_page(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    for _ in 0..5 {
        w.draft(&["RGT"]).await;
    }
    let submitted = w.draft(&["RGM"]).await;
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: submitted.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut c = w.lead("RGT");
    let list =
        |filter: &str, order: &str, size: i32, token: String| pb::ListChangeRequestsRequest {
            parent: "icss/QUE".into(),
            page_size: size,
            page_token: token,
            filter: filter.into(),
            order_by: order.into(),
        };
    let only = c
        .list_change_requests(list("state = SUBMITTED", "", 0, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        only.change_requests
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
        [submitted.name.as_str()]
    );
    let by_trust = c
        .list_change_requests(list(
            "trust = RGM AND text : \"PAEDIATRIC\"",
            "",
            0,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_trust.total_size, 1);
    // `%` and `_` in a text search are themselves, not wildcards, on both backends.
    let mut literal = routine(&w.da, &["RGT"]);
    literal.title = "Round doses to 50% of tablet_strength".into();
    c.create_change_request(pb::CreateChangeRequestRequest {
        parent: "icss/QUE".into(),
        change_request: Some(literal),
        request_id: String::new(),
    })
    .await
    .unwrap();
    for (text, found) in [
        ("50%", 1),
        ("tablet_s", 1),
        ("5_%", 0),
        ("0%_of", 0),
        ("50\\%", 0),
    ] {
        let hits = c
            .list_change_requests(list(&format!("text : \"{text}\""), "", 0, String::new()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(hits.total_size, found, "text : {text}");
    }
    let mut numbers = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_change_requests(list("", "number", 4, token.clone()))
            .await
            .unwrap()
            .into_inner();
        numbers.extend(page.change_requests.into_iter().map(|c| c.number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(numbers, sorted);
    assert_eq!(numbers.len(), 7);
    let bad = c
        .list_change_requests(list("colour = red", "", 0, String::new()))
        .await
        .unwrap_err();
    assert_eq!(fields(&bad), ["filter"]);
    let bad = c
        .list_change_requests(list("", "number", 4, token_for_other_query()))
        .await
        .unwrap_err();
    assert_eq!(fields(&bad), ["page_token"]);
}
both_backends!(lists_filter_order_and_page_on, lists_filter_order_and_page);

async fn every_list_pages_and_refuses_tokens_it_did_not_issue(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::Unanimous).await else {
        return;
    };
    let cr = w.in_review(&["RGT", "RGM", "RGN", "RT1"]).await;
    for t in ["RGT", "RGM", "RGN"] {
        w.voter(t)
            .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
            .await
            .unwrap();
    }
    let votes_page = |page_token: String| pb::ListVotesRequest {
        parent: cr.name.clone(),
        page_size: 2,
        page_token,
    };
    let first = w
        .chair()
        .list_votes(votes_page(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.votes.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = w
        .chair()
        .list_votes(votes_page(first.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.votes.len(), 1);
    assert!(second.next_page_token.is_empty(), "the last page says so");
    let mut trusts: Vec<String> = first
        .votes
        .iter()
        .chain(&second.votes)
        .map(|v| v.trust.clone())
        .collect();
    trusts.sort();
    assert_eq!(
        trusts,
        ["RGM", "RGN", "RGT"],
        "every vote once across the pages"
    );

    // A genuine token of one list is refused by another.
    let elsewhere = w
        .chair()
        .list_hazards(pb::ListHazardsRequest {
            parent: cr.name.clone(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::InvalidArgument);
    assert_eq!(fields(&elsewhere), ["page_token"]);

    // A hand-made token with an offset of 2^63 is refused, not a crash.
    let forged = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("9223372036854775808|icss/QUE||")
    };
    let refused = w
        .chair()
        .list_change_requests(pb::ListChangeRequestsRequest {
            parent: "icss/QUE".into(),
            page_token: forged,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["page_token"]);
    assert_eq!(reason(&refused), "INVALID_ARGUMENT");

    // Each list refuses a negative page size.
    let negative = w
        .chair()
        .list_design_authorities(pb::ListDesignAuthoritiesRequest {
            parent: "icss/QUE".into(),
            page_size: -1,
            page_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&negative), ["page_size"]);
    let actions = w
        .chair()
        .list_my_actions(pb::ListMyActionsRequest {
            parent: "icss/QUE".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(actions.actions.len() <= 1);
    let assessments = w
        .chair()
        .list_impact_assessments(pb::ListImpactAssessmentsRequest {
            parent: cr.name.clone(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assessments.impact_assessments.len(), 1);
    assert!(!assessments.next_page_token.is_empty());
}
both_backends!(
    every_list_pages_and_refuses_tokens_it_did_not_issue_on,
    every_list_pages_and_refuses_tokens_it_did_not_issue
);

fn token_for_other_query() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("4|icss/QUE|state = DRAFT|number")
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

impl World {
    /// A routine change touching `items`, approved by all four members.
    async fn approved(&self, affected: &[&str], items: &[&str]) -> pb::ChangeRequest {
        let draft = self.draft(affected).await;
        let mut edit = draft.clone();
        edit.configuration_items = items.iter().map(|s| s.to_string()).collect();
        self.lead("RGT")
            .update_change_request(pb::UpdateChangeRequestRequest {
                change_request: Some(edit),
                update_mask: vec!["configuration_items".into()],
                request_id: String::new(),
            })
            .await
            .unwrap();
        let name = draft.name.clone();
        self.lead("RGT")
            .submit_change_request(pb::SubmitChangeRequestRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        self.chair()
            .start_impact_assessment(pb::StartImpactAssessmentRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        for trust in affected {
            self.lead(trust)
                .submit_impact_assessment(pb::SubmitImpactAssessmentRequest {
                    parent: name.clone(),
                    impact_assessment: Some(pb::ImpactAssessment {
                        trust: trust.to_string(),
                        recommendation: pb::Recommendation::Support as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .unwrap();
        }
        self.chair()
            .open_voting(pb::OpenVotingRequest {
                name: name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut last = None;
        for t in ["RGT", "RGM", "RGN", "RT1"] {
            last = self
                .voter(t)
                .cast_vote(vote(&name, pb::VoteChoice::Approve))
                .await
                .unwrap()
                .into_inner()
                .change_request;
        }
        let cr = last.unwrap();
        assert_eq!(state(&cr), pb::State::Approved);
        cr
    }
}

async fn the_charter_in_force_when_voting_opened_decides(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w.in_review(&["RGT", "RGM", "RGN", "RT1"]).await;
    let admin = w.as_("QUE", "ics-admin", "ics-admin");
    let da = admin
        .clone()
        .get_design_authority(pb::GetDesignAuthorityRequest { name: w.da.clone() })
        .await
        .unwrap()
        .into_inner()
        .design_authority
        .unwrap();
    let mut charter = da.charter.clone().unwrap();
    for rule in &mut charter.rules {
        rule.threshold = pb::Threshold::Unanimous as i32;
    }
    let stale = admin
        .clone()
        .update_charter(pb::UpdateCharterRequest {
            name: w.da.clone(),
            charter: Some(charter.clone()),
            etag: "0".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let updated = w
        .chair()
        .update_charter(pb::UpdateCharterRequest {
            name: w.da.clone(),
            charter: Some(charter),
            etag: da.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .design_authority
        .unwrap();
    assert_eq!(updated.charter.unwrap().version, 2);
    for t in ["RGT", "RGM", "RGN"] {
        w.voter(t)
            .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
            .await
            .unwrap();
    }
    w.voter("RT1")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Reject))
        .await
        .unwrap();
    let decided = w
        .chair()
        .dispose_objection(pb::DisposeObjectionRequest {
            name: format!("{}/votes/RT1", cr.name),
            disposition: pb::Disposition::NotPersuasive as i32,
            note: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(
        state(&decided),
        pb::State::Approved,
        "version 1 (simple majority) decides, not version 2 (unanimous)"
    );
    assert_eq!(decided.decision.unwrap().charter_version, 1);
}
both_backends!(
    the_charter_in_force_when_voting_opened_decides_on,
    the_charter_in_force_when_voting_opened_decides
);

async fn releases_schedule_with_conflicts_then_deploy_and_close(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let now = chrono::Utc::now();
    let admin = w.as_("QUE", "ics-admin", "ics-admin");
    let release = admin
        .clone()
        .create_release(pb::CreateReleaseRequest {
            parent: "icss/QUE".into(),
            release_id: "r2026-12".into(),
            release: Some(pb::Release {
                display_name: "2026.12".into(),
                window_start_time: Some(stamp(now + chrono::Duration::days(10))),
                window_end_time: Some(stamp(now + chrono::Duration::days(12))),
                freezes: vec![pb::Freeze {
                    trust: "RGM".into(),
                    start_time: Some(stamp(now + chrono::Duration::days(11))),
                    end_time: Some(stamp(now + chrono::Duration::days(40))),
                    reason: "winter pressures".into(),
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .release
        .unwrap();
    let a = w.approved(&["RGT"], &["alert-rule/allergy"]).await;
    let b = w.approved(&["RGN"], &["alert-rule/allergy"]).await;
    let c = w.approved(&["RGM"], &["order-set/x"]).await;
    let schedule = |name: &str, validate_only| pb::ScheduleChangeRequestRequest {
        name: name.into(),
        release: release.name.clone(),
        validate_only,
        request_id: String::new(),
    };
    let checked = w
        .lead("RGT")
        .schedule_change_request(schedule(&a.name, true))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(
        state(&checked),
        pb::State::Approved,
        "validate_only changes nothing"
    );
    let scheduled = w
        .lead("RGT")
        .schedule_change_request(schedule(&a.name, false))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&scheduled), pb::State::Scheduled);
    let conflict = admin
        .clone()
        .schedule_change_request(schedule(&b.name, false))
        .await
        .unwrap_err();
    assert_eq!(
        (conflict.code(), reason(&conflict).as_str()),
        (Code::FailedPrecondition, "RELEASE_CONFLICT")
    );
    let v = conflict
        .get_error_details()
        .precondition_failure()
        .unwrap()
        .violations
        .clone();
    assert_eq!(
        (v[0].r#type.as_str(), v[0].subject.as_str()),
        ("CONFIGURATION_ITEM", "alert-rule/allergy")
    );
    let frozen = admin
        .clone()
        .schedule_change_request(schedule(&c.name, false))
        .await
        .unwrap_err();
    let v = frozen
        .get_error_details()
        .precondition_failure()
        .unwrap()
        .violations
        .clone();
    assert_eq!(
        (v[0].r#type.as_str(), v[0].subject.as_str()),
        ("TRUST_FREEZE", "RGM")
    );
    let got = admin
        .clone()
        .get_release(pb::GetReleaseRequest {
            name: release.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .release
        .unwrap();
    assert_eq!(got.change_requests, [a.name.as_str()]);
    // The releases are found without knowing their ids: the latest window first, each with what
    // is scheduled in it, paged.
    let later = admin
        .clone()
        .create_release(pb::CreateReleaseRequest {
            parent: "icss/QUE".into(),
            release_id: "r2027-01".into(),
            release: Some(pb::Release {
                display_name: "2027.01".into(),
                window_start_time: Some(stamp(now + chrono::Duration::days(40))),
                window_end_time: Some(stamp(now + chrono::Duration::days(42))),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .release
        .unwrap();
    let list = |page_size, page_token| pb::ListReleasesRequest {
        parent: "icss/QUE".into(),
        page_size,
        page_token,
    };
    let first = w
        .lead("RGN")
        .list_releases(list(1, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.releases.len(), 1);
    assert_eq!(first.releases[0].name, later.name);
    assert!(first.releases[0].change_requests.is_empty());
    let second = w
        .lead("RGN")
        .list_releases(list(1, first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.releases[0].name, release.name);
    assert_eq!(second.releases[0].change_requests, [a.name.as_str()]);
    assert_eq!(second.releases[0].freezes.len(), 1);
    assert!(second.next_page_token.is_empty());

    // Deployment: only affected trusts report; every affected trust deployed → IMPLEMENTED.
    let denied = w
        .as_("RGN", "trust-engineer", "eng-rgn")
        .report_deployment(pb::ReportDeploymentRequest {
            name: a.name.clone(),
            deployed: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "TRUST_SCOPE");
    let rolled = w
        .as_("RGT", "trust-engineer", "eng-rgt")
        .report_deployment(pb::ReportDeploymentRequest {
            name: a.name.clone(),
            deployed: false,
            note: "rolled back: interface error".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&rolled), pb::State::Scheduled);
    let done = w
        .as_("RGT", "automation", "engine-rgt")
        .report_deployment(pb::ReportDeploymentRequest {
            name: a.name.clone(),
            deployed: true,
            note: "deployed by the integration engine".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&done), pb::State::Implemented);
    assert_eq!(done.deployments.len(), 1);
    let closed = w
        .chair()
        .close_change_request(pb::CloseChangeRequestRequest {
            name: a.name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&closed), pb::State::Closed);
}
both_backends!(
    releases_schedule_with_conflicts_then_deploy_and_close_on,
    releases_schedule_with_conflicts_then_deploy_and_close
);

async fn an_ics_admin_replaces_a_design_authoritys_chair_and_members(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let admin = w.as_("QUE", "ics-admin", "ics-admin");
    let read = || {
        let (mut c, name) = (admin.clone(), w.da.clone());
        async move {
            c.get_design_authority(pb::GetDesignAuthorityRequest { name })
                .await
                .unwrap()
                .into_inner()
                .design_authority
                .unwrap()
        }
    };
    let before = read().await;
    let cr = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(routine(&w.da, &["RGT", "RGM"])),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    // The chair leaves: the ICS admin names another, who chairs the change already submitted.
    let update = |da: pb::DesignAuthority, mask: &[&str]| pb::UpdateDesignAuthorityRequest {
        design_authority: Some(da),
        update_mask: mask.iter().map(|m| m.to_string()).collect(),
        request_id: String::new(),
    };
    let new_chair = pb::DesignAuthority {
        chair: Some(w.s.person("chair-2")),
        ..before.clone()
    };
    let denied = w
        .chair()
        .update_design_authority(update(new_chair.clone(), &["chair"]))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let after = admin
        .clone()
        .update_design_authority(update(new_chair.clone(), &["chair"]))
        .await
        .unwrap()
        .into_inner()
        .design_authority
        .unwrap();
    assert_eq!(after.chair.as_ref().unwrap().subject, "chair-2");
    assert_ne!(after.etag, before.etag);
    assert_eq!(after.charter, before.charter, "the charter is not touched");
    let start = |c: &mut Client| {
        let request = pb::StartImpactAssessmentRequest {
            name: cr.name.clone(),
            ..Default::default()
        };
        let mut c = c.clone();
        async move { c.start_impact_assessment(request).await }
    };
    let old = start(&mut w.chair()).await.unwrap_err();
    assert_eq!(reason(&old), "NOT_THE_CHAIR");
    start(&mut w.as_("RGT", "da-chair", "chair-2"))
        .await
        .unwrap();
    // RGM's voting member changes; the old etag is refused; so are fields not replaced here, and
    // a member trust outside the ICS.
    let stale = admin
        .clone()
        .update_design_authority(update(new_chair, &["chair"]))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);
    let mut members = after.clone();
    for m in &mut members.members {
        if m.trust == "RGM" {
            m.voting_members = vec![w.s.person("voter-rgm-2")];
        }
    }
    let replaced = admin
        .clone()
        .update_design_authority(update(members.clone(), &["members", "display_name"]))
        .await
        .unwrap()
        .into_inner()
        .design_authority
        .unwrap();
    let rgm = replaced.members.iter().find(|m| m.trust == "RGM").unwrap();
    assert_eq!(rgm.voting_members[0].subject, "voter-rgm-2");
    assert_eq!(replaced.display_name, before.display_name);
    let charter = admin
        .clone()
        .update_design_authority(update(replaced.clone(), &["charter"]))
        .await
        .unwrap_err();
    assert_eq!(fields(&charter), ["update_mask"]);
    let mut outsider = replaced.clone();
    outsider.members.push(pb::Membership {
        trust: "RJ1".into(),
        voting_members: vec![w.s.person("voter-rj1")],
    });
    let outside = admin
        .clone()
        .update_design_authority(update(outsider, &["members"]))
        .await
        .unwrap_err();
    assert_eq!(fields(&outside), ["design_authority.members"]);
    assert_eq!(read().await.etag, replaced.etag, "nothing half-written");
}
both_backends!(
    an_ics_admin_replaces_a_design_authoritys_chair_and_members_on,
    an_ics_admin_replaces_a_design_authoritys_chair_and_members
);

async fn a_revised_hazard_is_signed_off_afresh_and_the_risk_follows_the_log(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(routine(&w.da, &["RGT", "RGM"])),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let cso = || w.as_("RGM", "clinical-safety-officer", "cso-rgm");
    let hazard = |residual_likelihood| pb::Hazard {
        description: "an alert is missed".into(),
        initial_likelihood: 4,
        initial_severity: 5,
        residual_likelihood,
        residual_severity: 5,
        ..Default::default()
    };
    let mut logged = Vec::new();
    for likelihood in [5, 2] {
        logged.push(
            cso()
                .create_hazard(pb::CreateHazardRequest {
                    parent: cr.name.clone(),
                    hazard: Some(hazard(likelihood)),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .hazard
                .unwrap(),
        );
    }
    cso()
        .sign_off_hazard(pb::SignOffHazardRequest {
            name: logged[0].name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let residual = || {
        let (mut c, name) = (w.lead("RGT"), cr.name.clone());
        async move {
            c.get_change_request(pb::GetChangeRequestRequest { name })
                .await
                .unwrap()
                .into_inner()
                .change_request
                .unwrap()
                .residual_risk
        }
    };
    assert_eq!(residual().await, logged[0].residual_risk);
    // The mis-scored hazard revised: its sign-off cleared, the CR's risk now the log's highest
    // (the other hazard's), not the old maximum.
    let revised = cso()
        .update_hazard(pb::UpdateHazardRequest {
            hazard: Some(pb::Hazard {
                name: logged[0].name.clone(),
                further_controls: "a second, interruptive alert".into(),
                ..hazard(1)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .hazard
        .unwrap();
    assert!(
        revised.residual_risk < logged[0].residual_risk,
        "{revised:?}"
    );
    assert_eq!(revised.further_controls, "a second, interruptive alert");
    assert!(revised.signed_off_by.is_none() && revised.sign_off_time.is_none());
    assert_eq!(revised.name, logged[0].name);
    let highest = revised.residual_risk.max(logged[1].residual_risk);
    assert_eq!(residual().await, highest);
    let log = w
        .lead("RGT")
        .list_hazards(pb::ListHazardsRequest {
            parent: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .hazards;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].residual_risk, revised.residual_risk);
    // Bad input, an unknown hazard, a role that may not log hazards, a CR past editing.
    let bad = cso()
        .update_hazard(pb::UpdateHazardRequest {
            hazard: Some(pb::Hazard {
                name: logged[0].name.clone(),
                ..hazard(9)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&bad), ["hazard.residual_likelihood"]);
    let unknown = cso()
        .update_hazard(pb::UpdateHazardRequest {
            hazard: Some(pb::Hazard {
                name: format!("{}/hazards/nosuchhazard", cr.name),
                ..hazard(1)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let denied = w
        .as_("RGM", "da-member", "voter-rgm")
        .update_hazard(pb::UpdateHazardRequest {
            hazard: Some(pb::Hazard {
                name: logged[1].name.clone(),
                ..hazard(1)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    w.lead("RGT")
        .withdraw_change_request(pb::WithdrawChangeRequestRequest {
            name: cr.name.clone(),
            reason: "superseded".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let closed = cso()
        .update_hazard(pb::UpdateHazardRequest {
            hazard: Some(pb::Hazard {
                name: logged[1].name.clone(),
                ..hazard(1)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&closed), "INVALID_TRANSITION");
}
both_backends!(
    a_revised_hazard_is_signed_off_afresh_and_the_risk_follows_the_log_on,
    a_revised_hazard_is_signed_off_afresh_and_the_risk_follows_the_log
);

async fn an_emergency_needs_a_cso_and_a_retrospective_review(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let mut emergency = routine(&w.da, &["RGT", "RGM"]);
    emergency.change_type = pb::ChangeType::Emergency as i32;
    emergency.title = "Withdraw the recalled heparin product from order sets".into();
    let cr = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(emergency),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let approve = pb::ApproveEmergencyChangeRequest {
        name: cr.name.clone(),
        justification: "MHRA recall today".into(),
        request_id: String::new(),
    };
    let blocked = w
        .chair()
        .approve_emergency_change(approve.clone())
        .await
        .unwrap_err();
    assert_eq!(reason(&blocked), "SAFETY_NOT_CLEARED");
    let hazard = w
        .as_("RGM", "clinical-safety-officer", "cso-rgm")
        .create_hazard(pb::CreateHazardRequest {
            parent: cr.name.clone(),
            hazard: Some(pb::Hazard {
                description: "a recalled product is prescribed".into(),
                initial_likelihood: 3,
                initial_severity: 4,
                residual_likelihood: 1,
                residual_severity: 4,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .hazard
        .unwrap();
    w.as_("RGM", "clinical-safety-officer", "cso-rgm")
        .sign_off_hazard(pb::SignOffHazardRequest {
            name: hazard.name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let approved = w
        .chair()
        .approve_emergency_change(approve)
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&approved), pb::State::Approved);
    assert!(approved.retrospective_review_deadline.is_some());
    assert!(
        approved
            .decision
            .unwrap()
            .rule
            .starts_with("emergency approval")
    );
    let actions = w
        .chair()
        .list_my_actions(pb::ListMyActionsRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert!(
        actions
            .iter()
            .any(|a| a.kind == pb::ActionKind::RetrospectiveReview as i32
                && a.change_request == cr.name),
        "{actions:?}"
    );
    let review = pb::CompleteRetrospectiveReviewRequest {
        name: cr.name.clone(),
        summary: "recall handled; no harm".into(),
        request_id: String::new(),
    };
    let reviewed = w
        .chair()
        .complete_retrospective_review(review.clone())
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert!(reviewed.retrospective_review_time.is_some());
    let again = w
        .chair()
        .complete_retrospective_review(review)
        .await
        .unwrap_err();
    assert_eq!(reason(&again), "NO_REVIEW_DUE");
}
both_backends!(
    an_emergency_needs_a_cso_and_a_retrospective_review_on,
    an_emergency_needs_a_cso_and_a_retrospective_review
);

async fn a_standard_change_from_an_approved_template_skips_voting(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let template = w
        .chair()
        .create_standard_template(pb::CreateStandardTemplateRequest {
            parent: "icss/QUE".into(),
            standard_template_id: "formulary-price-update".into(),
            standard_template: Some(pb::StandardTemplate {
                display_name: "Formulary price update".into(),
                description: "Update drug prices from the monthly dm+d release".into(),
                design_authority: w.da.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .standard_template
        .unwrap();
    let denied = w
        .as_("RGM", "da-chair", "another-chair")
        .create_standard_template(pb::CreateStandardTemplateRequest {
            parent: "icss/QUE".into(),
            standard_template_id: "other".into(),
            standard_template: Some(pb::StandardTemplate {
                display_name: "x".into(),
                description: "y".into(),
                design_authority: w.da.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "NOT_THE_CHAIR");
    let mut standard = routine(&w.da, &["RGT", "RGM"]);
    standard.change_type = pb::ChangeType::Standard as i32;
    standard.standard_template = template.name.clone();
    let cr = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(standard.clone()),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let submitted = w
        .lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&submitted), pb::State::Approved);
    assert!(
        submitted
            .decision
            .unwrap()
            .rule
            .contains("formulary-price-update")
    );
    let templates = w
        .lead("RGT")
        .list_standard_templates(pb::ListStandardTemplatesRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .standard_templates;
    assert_eq!(
        templates
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        [template.name.as_str()],
        "the refused template is not there"
    );
    assert_eq!(templates[0].design_authority, template.design_authority);
    // Only a routine change within the charter's limits is approved without a vote: a
    // safety-critical one is refused as written, one costing the board's threshold on submission
    // (and stays a draft).
    let mut critical = standard.clone();
    critical.change_class = pb::ChangeClass::SafetyCritical as i32;
    let refused = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(critical),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(fields(&refused), ["change_request.change_class"]);
    let mut costly = standard.clone();
    costly.cost_estimate_pence = 5_000_000;
    let costly = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(costly),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let refused = w
        .lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: costly.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(reason(&refused), "TEMPLATE_NOT_APPROVED");
    assert!(refused.message().contains("programme board"), "{refused:?}");
    let still = w
        .lead("RGT")
        .get_change_request(pb::GetChangeRequestRequest {
            name: costly.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(state(&still), pb::State::Draft);
    standard.standard_template = "icss/QUE/standardTemplates/unknown".into();
    let refused = w
        .lead("RGT")
        .create_change_request(pb::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(standard),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "TEMPLATE_NOT_APPROVED");
}
both_backends!(
    a_standard_change_from_an_approved_template_skips_voting_on,
    a_standard_change_from_an_approved_template_skips_voting
);

async fn my_actions_show_what_awaits_each_person(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w.draft(&["RGT", "RGM"]).await;
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds = |actions: Vec<pb::Action>| {
        actions
            .into_iter()
            .map(|a| (pb::ActionKind::try_from(a.kind).unwrap(), a.description))
            .collect::<Vec<_>>()
    };
    let mine = |c: Client| async move {
        let mut c = c;
        c.list_my_actions(pb::ListMyActionsRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .actions
    };
    assert_eq!(
        kinds(mine(w.chair()).await),
        [(pb::ActionKind::Chair, "start impact assessment".to_owned())]
    );
    w.chair()
        .start_impact_assessment(pb::StartImpactAssessmentRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        kinds(mine(w.lead("RGM")).await),
        [(pb::ActionKind::Assess, "assess for RGM".to_owned())]
    );
    assert!(mine(w.lead("RGN")).await.is_empty(), "RGN is not affected");
    for t in ["RGT", "RGM"] {
        w.lead(t)
            .submit_impact_assessment(pb::SubmitImpactAssessmentRequest {
                parent: cr.name.clone(),
                impact_assessment: Some(pb::ImpactAssessment {
                    trust: t.into(),
                    recommendation: pb::Recommendation::Support as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    assert_eq!(
        kinds(mine(w.chair()).await),
        [(pb::ActionKind::Chair, "open voting".to_owned())]
    );
    w.chair()
        .open_voting(pb::OpenVotingRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let voter = mine(w.voter("RGN")).await;
    assert_eq!(
        kinds(voter.clone()),
        [(pb::ActionKind::Vote, "vote for RGN".to_owned())],
        "members vote even when unaffected"
    );
    assert!(voter[0].due_time.is_some());
}
both_backends!(
    my_actions_show_what_awaits_each_person_on,
    my_actions_show_what_awaits_each_person
);

impl World {
    /// Three change requests: one submitted, one in impact assessment that RGT has assessed, one
    /// in DA review that RGT's voter has voted on.
    async fn one_in_each_active_state(&self) {
        let mut names = Vec::new();
        for _ in 0..3 {
            let cr = self.draft(&["RGT", "RGM"]).await;
            self.lead("RGT")
                .submit_change_request(pb::SubmitChangeRequestRequest {
                    name: cr.name.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            names.push(cr.name);
        }
        for name in &names[1..] {
            self.chair()
                .start_impact_assessment(pb::StartImpactAssessmentRequest {
                    name: name.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let assess = |name: &str, trust: &str| pb::SubmitImpactAssessmentRequest {
            parent: name.into(),
            impact_assessment: Some(pb::ImpactAssessment {
                trust: trust.into(),
                recommendation: pb::Recommendation::Support as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        };
        for (name, trusts) in [(&names[1], &["RGT"][..]), (&names[2], &["RGT", "RGM"][..])] {
            for t in trusts {
                self.lead(t)
                    .submit_impact_assessment(assess(name, t))
                    .await
                    .unwrap();
            }
        }
        self.chair()
            .open_voting(pb::OpenVotingRequest {
                name: names[2].clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        self.voter("RGT")
            .cast_vote(vote(&names[2], pb::VoteChoice::Approve))
            .await
            .unwrap();
    }

    /// The actions awaiting `who`, and the fewest SQL statements reading them took in three reads
    /// (the server's background work only adds).
    async fn actions_and_statements(&self, who: Client) -> (usize, u64) {
        let mut fewest = u64::MAX;
        let mut count = 0;
        for _ in 0..3 {
            let before = self.s.platform.db.statements();
            count = who
                .clone()
                .list_my_actions(pb::ListMyActionsRequest {
                    parent: "icss/QUE".into(),
                    page_size: 1_000,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .actions
                .len();
            fewest = fewest.min(self.s.platform.db.statements() - before);
        }
        (count, fewest)
    }
}

async fn my_actions_cost_the_same_statements_however_many_are_active(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    w.one_in_each_active_state().await;
    let few = [
        w.actions_and_statements(w.chair()).await,
        w.actions_and_statements(w.lead("RGM")).await,
        w.actions_and_statements(w.voter("RGN")).await,
    ];
    for _ in 0..7 {
        w.one_in_each_active_state().await;
    }
    let many = [
        w.actions_and_statements(w.chair()).await,
        w.actions_and_statements(w.lead("RGM")).await,
        w.actions_and_statements(w.voter("RGN")).await,
    ];
    for ((few_actions, few_statements), (many_actions, many_statements)) in few.iter().zip(&many) {
        assert_eq!(*many_actions, few_actions * 8, "{few:?} {many:?}");
        assert_eq!(few_statements, many_statements, "{few:?} {many:?}");
    }
}
both_backends!(
    my_actions_cost_the_same_statements_on,
    my_actions_cost_the_same_statements_however_many_are_active
);

async fn deadlines_are_in_the_future_and_votes_stop_at_them(backend: TestBackend) {
    let Some(w) = World::new(backend, 4, pb::Threshold::SimpleMajority).await else {
        return;
    };
    let cr = w.draft(&["RGT"]).await;
    w.lead("RGT")
        .submit_change_request(pb::SubmitChangeRequestRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let past = stamp(chrono::Utc::now() - chrono::Duration::days(1));
    let refused = w
        .chair()
        .start_impact_assessment(pb::StartImpactAssessmentRequest {
            name: cr.name.clone(),
            deadline: Some(past),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["deadline"]);
    w.chair()
        .start_impact_assessment(pb::StartImpactAssessmentRequest {
            name: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    w.lead("RGT")
        .submit_impact_assessment(pb::SubmitImpactAssessmentRequest {
            parent: cr.name.clone(),
            impact_assessment: Some(pb::ImpactAssessment {
                trust: "RGT".into(),
                recommendation: pb::Recommendation::Support as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let soon = chrono::Utc::now() + chrono::Duration::hours(1);
    w.chair()
        .open_voting(pb::OpenVotingRequest {
            name: cr.name.clone(),
            deadline: Some(stamp(soon)),
            ..Default::default()
        })
        .await
        .unwrap();
    w.s.platform.clock.advance(Duration::from_secs(2 * 3600));
    let late = w
        .voter("RGM")
        .cast_vote(vote(&cr.name, pb::VoteChoice::Approve))
        .await
        .unwrap_err();
    assert_eq!(
        (late.code(), reason(&late).as_str()),
        (Code::FailedPrecondition, "VOTING_CLOSED")
    );
}
both_backends!(
    deadlines_are_in_the_future_and_votes_stop_at_them_on,
    deadlines_are_in_the_future_and_votes_stop_at_them
);
