//! The change-control service through gRPC with development-issuer tokens, on SQLite and
//! PostgreSQL: authorization, bad input, concurrency, stale votes, objections, quorum, watching
//! and safe retries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use concordat_e2e::{Bearer, Options, TestServer, reason};
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

fn federation() -> String {
    let trusts: Vec<String> = TRUSTS
        .iter()
        .map(|t| format!("{{ ods = \"{t}\", name = \"Trust {t}\" }}"))
        .collect();
    format!(
        "[[ics]]\ncode = \"QUE\"\nname = \"Test ICS\"\ntrusts = [{}]\n\n[[ics]]\ncode = \"QKK\"\nname = \"Other ICS\"\ntrusts = [{{ ods = \"RJ1\", name = \"Other\" }}]\n",
        trusts.join(", ")
    )
}

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
            federation: Some(federation()),
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
                            voting_members: vec![voter(t)],
                        })
                        .collect(),
                    chair: "chair".into(),
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
    ChangeControlServiceClient::with_interceptor(s.channel.clone(), Bearer::new(token))
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

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(TestBackend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(TestBackend::Postgres).await;
            }
        }
    };
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
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(300);
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
    tokio::time::sleep(Duration::from_millis(400)).await;
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
    assert!(closed.decision.is_none(), "short of quorum never decides");

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
    assert_eq!(numbers.len(), 6);
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

fn token_for_other_query() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("4|icss/QUE|state = DRAFT|number")
}
