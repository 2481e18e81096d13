//! People are named by issuer and subject. Two `oidc-provider` instances — RGT's own IdP and an
//! ICS-wide one — both issue the subject `alice` (and `carol`): the second is not the first, and
//! every rule that compares people, and the audit chain, tells them apart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use concordat_e2e::{OidcProvider, Options, TestServer, now, reason};
use concordat_platform::both_backends;
use concordat_platform::testkit::TestBackend;
use concordat_proto::changecontrol::v1 as cc;
use concordat_proto::platform::v1 as pf;
use concordat_proto::sharedconfig::v1 as sc;
use serde_json::json;
use tonic::Code;

/// The two providers and a server federating them.
struct People {
    rgt: OidcProvider,
    ics: OidcProvider,
    server: TestServer,
}

impl People {
    async fn start(backend: TestBackend) -> Option<Self> {
        let rgt = OidcProvider::start("RS256", "rgt-1", 0).await;
        let ics = OidcProvider::start("ES256", "ics-1", 0).await;
        let server = TestServer::start(Options {
            backend,
            federation: Some(concordat_e2e::two_issuers(
                &rgt.issuer,
                &ics.issuer,
                &["RGT", "RGM"],
            )),
            dev_issuer: false,
            ..Default::default()
        })
        .await?;
        Some(Self { rgt, ics, server })
    }

    /// A token of `subject` from `idp`, acting for `org` with `roles`.
    async fn token(idp: &OidcProvider, subject: &str, org: &str, roles: &[&str]) -> String {
        idp.sign(
            json!({"iss": idp.issuer, "sub": subject, "aud": "concordat", "iat": now(),
                "exp": now() + 600, "org": org, "roles": roles, "name": format!("{subject} of {org}")}),
            "key",
        )
        .await
    }

    fn person(idp: &OidcProvider, subject: &str) -> pf::Person {
        pf::Person {
            issuer: idp.issuer.clone(),
            subject: subject.into(),
            display_name: String::new(),
        }
    }
}

fn charter() -> cc::Charter {
    let rule = |c: cc::ChangeClass| cc::ClassRule {
        change_class: c as i32,
        threshold: cc::Threshold::SimpleMajority as i32,
        cso_sign_off_required: false,
    };
    cc::Charter {
        quorum_percent: 50,
        rules: vec![
            rule(cc::ChangeClass::Routine),
            rule(cc::ChangeClass::Significant),
            rule(cc::ChangeClass::SafetyCritical),
        ],
        silence: cc::SilencePolicy::Abstain as i32,
        max_residual_risk: 5,
        assessment_days: 14,
        voting_days: 7,
        emergency_review_days: 10,
        ..Default::default()
    }
}

/// The change-control steps both tests take, as one caller or another.
struct Steps<'a> {
    s: &'a TestServer,
}

impl Steps<'_> {
    /// Creates the design authority `id` deciding `id`, with `members` (trust, voting member).
    async fn design_authority(
        &self,
        token: &str,
        id: &str,
        members: Vec<(&str, pf::Person)>,
        chair: pf::Person,
    ) -> Result<cc::DesignAuthority, tonic::Status> {
        self.s
            .change_control(token)
            .create_design_authority(cc::CreateDesignAuthorityRequest {
                parent: "icss/QUE".into(),
                design_authority_id: id.into(),
                design_authority: Some(cc::DesignAuthority {
                    display_name: id.into(),
                    domains: vec![id.into()],
                    members: members
                        .into_iter()
                        .map(|(trust, voter)| cc::Membership {
                            trust: trust.into(),
                            voting_members: vec![voter],
                        })
                        .collect(),
                    chair: Some(chair),
                    charter: Some(charter()),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(|r| r.into_inner().design_authority.unwrap())
    }

    /// Raises a routine change of the `medicines` domain affecting `trusts` and submits it.
    async fn raise_and_submit(&self, token: &str, da: &str, trusts: &[&str]) -> cc::ChangeRequest {
        let cr = self
            .s
            .change_control(token)
            .create_change_request(cc::CreateChangeRequestRequest {
                parent: "icss/QUE".into(),
                change_request: Some(cc::ChangeRequest {
                    title: "Order set update".into(),
                    description: "Reorders the VTE order set".into(),
                    domain: "medicines".into(),
                    design_authority: da.into(),
                    affected_trusts: trusts.iter().map(|t| t.to_string()).collect(),
                    change_class: cc::ChangeClass::Routine as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap();
        self.s
            .change_control(token)
            .submit_change_request(cc::SubmitChangeRequestRequest {
                name: cr.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        cr
    }

    async fn start_assessment(&self, token: &str, cr: &str) -> Result<(), tonic::Status> {
        self.s
            .change_control(token)
            .start_impact_assessment(cc::StartImpactAssessmentRequest {
                name: cr.into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
    }

    async fn assess(&self, token: &str, cr: &str, trust: &str) {
        self.s
            .change_control(token)
            .submit_impact_assessment(cc::SubmitImpactAssessmentRequest {
                parent: cr.into(),
                impact_assessment: Some(cc::ImpactAssessment {
                    trust: trust.into(),
                    recommendation: cc::Recommendation::Support as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }

    async fn open_voting(&self, token: &str, cr: &str) {
        self.s
            .change_control(token)
            .open_voting(cc::OpenVotingRequest {
                name: cr.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    async fn approve(&self, token: &str, cr: &str) -> Result<cc::Vote, tonic::Status> {
        self.s
            .change_control(token)
            .cast_vote(cc::CastVoteRequest {
                parent: cr.into(),
                choice: cc::VoteChoice::Approve as i32,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().vote.unwrap())
    }
}

/// A person as (issuer, subject).
fn pair(p: Option<pf::Person>) -> (String, String) {
    let p = p.expect("a person");
    (p.issuer, p.subject)
}

/// Asserts `status` is PERMISSION_DENIED with `want` as its reason.
fn denied(status: &tonic::Status, want: &str) {
    assert_eq!(
        (status.code(), reason(status).as_str()),
        (Code::PermissionDenied, want),
        "{}",
        status.message()
    );
}

async fn the_same_subject_at_another_issuer_is_someone_else(backend: TestBackend) {
    let Some(p) = People::start(backend).await else {
        return;
    };
    let (rgt, ics, s) = (&p.rgt, &p.ics, &p.server);
    let admin = People::token(ics, "admin", "QUE", &["ics-admin"]).await;

    // The design authority names RGT's alice as RGT's voting member and RGT's carol as chair.
    let steps = Steps { s };
    let da = steps
        .design_authority(
            &admin,
            "medicines",
            vec![
                ("RGT", People::person(rgt, "alice")),
                ("RGM", People::person(ics, "bob")),
            ],
            People::person(rgt, "carol"),
        )
        .await
        .unwrap();
    assert_eq!(pair(da.chair.clone()), (rgt.issuer.clone(), "carol".into()));

    // A person named with an issuer outside the federation is refused, by field.
    let mut stranger = People::person(rgt, "eve");
    stranger.issuer = "https://login.elsewhere.example".into();
    let refused = steps
        .design_authority(
            &admin,
            "theatres",
            vec![("RGT", People::person(rgt, "alice"))],
            stranger,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        concordat_e2e::fields(&refused),
        ["design_authority.chair.issuer"],
        "{}",
        refused.message()
    );

    // A changeset's author is a person too: the ICS IdP's erin may not discard RGT's erin's.
    let schema = prost_types::Struct {
        fields: [(
            "type".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("object".into())),
            },
        )]
        .into(),
    };
    s.shared_config(&admin)
        .create_config_kind(sc::CreateConfigKindRequest {
            parent: "icss/QUE".into(),
            config_kind_id: "alert-rule".into(),
            config_kind: Some(sc::ConfigKind {
                domain: "medicines".into(),
                schema: Some(schema),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let erin = People::token(rgt, "erin", "RGT", &["trust-engineer"]).await;
    let changeset = s
        .shared_config(&erin)
        .create_changeset(sc::CreateChangesetRequest {
            parent: "icss/QUE".into(),
            changeset: Some(sc::Changeset {
                layer: "icss/QUE/layers/RGT".into(),
                change_request: "icss/QUE/changeRequests/later".into(),
                changes: vec![sc::ItemChange {
                    operation: sc::Operation::Add as i32,
                    item: Some(sc::ConfigItem {
                        kind: "alert-rule".into(),
                        key: "allergy".into(),
                        value: Some(
                            prost_types::Value {
                                kind: Some(prost_types::value::Kind::StructValue(
                                    prost_types::Struct::default(),
                                )),
                            }
                            .into(),
                        ),
                        ..Default::default()
                    }),
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .changeset
        .unwrap();
    let author = changeset.author.clone().unwrap();
    assert_eq!(
        (author.issuer.as_str(), author.subject.as_str()),
        (rgt.issuer.as_str(), "erin")
    );
    let discard = sc::DiscardChangesetRequest {
        name: changeset.name.clone(),
        request_id: String::new(),
    };
    let other_erin = People::token(ics, "erin", "RGT", &["trust-engineer"]).await;
    let refused = s
        .shared_config(&other_erin)
        .discard_changeset(discard.clone())
        .await
        .unwrap_err();
    denied(&refused, "NOT_AUTHOR");
    s.shared_config(&erin)
        .discard_changeset(discard)
        .await
        .unwrap();

    // RGT's lead raises a routine change affecting RGT only and submits it.
    let lead = People::token(rgt, "dave", "RGT", &["trust-digital-lead"]).await;
    let cr = steps.raise_and_submit(&lead, &da.name, &["RGT"]).await;
    let requester = cr.requester.clone().unwrap();
    assert_eq!(
        (
            requester.issuer.as_str(),
            requester.subject.as_str(),
            requester.display_name.as_str()
        ),
        (rgt.issuer.as_str(), "dave", "dave of RGT"),
        "the requester by issuer and subject, with the token's name"
    );

    // The ICS IdP's carol, acting for RGT as a design-authority chair, is not the chair.
    let other_carol = People::token(ics, "carol", "RGT", &["da-chair"]).await;
    let refused = steps
        .start_assessment(&other_carol, &cr.name)
        .await
        .unwrap_err();
    denied(&refused, "NOT_THE_CHAIR");
    let carol = People::token(rgt, "carol", "RGT", &["da-chair"]).await;
    steps.start_assessment(&carol, &cr.name).await.unwrap();
    steps.assess(&lead, &cr.name, "RGT").await;

    // A hazard signed off by the ICS IdP's alice (a CSO for RGT) names her, not RGT's alice.
    let cso = People::token(ics, "alice", "RGT", &["clinical-safety-officer"]).await;
    let hazard = s
        .change_control(&cso)
        .create_hazard(cc::CreateHazardRequest {
            parent: cr.name.clone(),
            hazard: Some(cc::Hazard {
                description: "the order set hides a dose".into(),
                initial_likelihood: 2,
                initial_severity: 2,
                residual_likelihood: 1,
                residual_severity: 2,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .hazard
        .unwrap();
    let signed = s
        .change_control(&cso)
        .sign_off_hazard(cc::SignOffHazardRequest {
            name: hazard.name,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .hazard
        .unwrap();
    let signer = signed.signed_off_by.unwrap();
    assert_eq!(
        (signer.issuer.as_str(), signer.subject.as_str()),
        (ics.issuer.as_str(), "alice")
    );

    steps.open_voting(&carol, &cr.name).await;

    // The ICS IdP's alice, acting for RGT as a design-authority member, may not vote for RGT.
    let other_alice = People::token(ics, "alice", "RGT", &["da-member"]).await;
    let refused = steps.approve(&other_alice, &cr.name).await.unwrap_err();
    denied(&refused, "NOT_A_VOTING_MEMBER");
    assert!(
        refused.message().contains(&ics.issuer),
        "the refusal names the issuer: {}",
        refused.message()
    );
    let alice = People::token(rgt, "alice", "RGT", &["da-member"]).await;
    let cast = steps.approve(&alice, &cr.name).await.unwrap();
    assert_eq!(pair(cast.voter), (rgt.issuer.clone(), "alice".into()));

    // The audit chain names the two alices apart: one vote, one refusal, one sign-off.
    let entries = s
        .platform(&admin)
        .list_audit_entries(pf::ListAuditEntriesRequest {
            parent: "icss/QUE".into(),
            actor_subject: "alice".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let by = |issuer: &str| -> Vec<String> {
        let mut actions: Vec<String> = entries
            .iter()
            .filter(|e| e.actor_issuer == issuer)
            .map(|e| e.action.clone())
            .collect();
        actions.sort();
        actions
    };
    assert!(
        by(&rgt.issuer).iter().any(|a| a == "vote.cast"),
        "RGT's alice cast the vote: {:?}",
        by(&rgt.issuer)
    );
    let theirs = by(&ics.issuer);
    assert!(
        theirs.iter().any(|a| a == "authorization.denied")
            && !theirs.iter().any(|a| a == "vote.cast"),
        "the ICS IdP's alice was refused and cast nothing: {theirs:?}"
    );
    let only_theirs = s
        .platform(&admin)
        .list_audit_entries(pf::ListAuditEntriesRequest {
            parent: "icss/QUE".into(),
            actor_subject: "alice".into(),
            actor_issuer: ics.issuer.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(only_theirs.len(), theirs.len());
    assert!(only_theirs.iter().all(|e| e.actor_issuer == ics.issuer));
}
both_backends!(
    the_same_subject_at_another_issuer_is_someone_else_on,
    the_same_subject_at_another_issuer_is_someone_else
);

/// A national issuer in the CIS2 style: profiles in `nhsid_nrbac_roles`, the session's in
/// `selected_roleid`, roles and activities mapped.
fn national_federation(cis2: &str) -> String {
    format!(
        r#"
[[ics]]
code = "QUE"
name = "Cambridgeshire and Peterborough ICS"
trusts = [{{ ods = "RGT", name = "CUH" }}, {{ ods = "RGN", name = "North West Anglia" }}]

[[issuer]]
url = "{cis2}"
audiences = ["concordat"]
trust = {{ role_profiles = {{}} }}
[issuer.role_map]
"R8000" = ["trust-digital-lead"]
"R8003" = ["viewer"]
"B0401" = ["da-member"]
"B0420" = ["da-chair"]
"ADMIN" = ["ics-admin"]
"#
    )
}

/// A token of `subject` from the national issuer with `profiles`, `selected` being the session's.
async fn national(
    idp: &OidcProvider,
    subject: &str,
    profiles: serde_json::Value,
    selected: Option<&str>,
) -> String {
    let mut claims = json!({"iss": idp.issuer, "sub": subject, "aud": "concordat", "iat": now(),
        "exp": now() + 600, "nhsid_nrbac_roles": profiles, "roles": ["ics-admin"]});
    if let Some(selected) = selected {
        claims["selected_roleid"] = json!(selected);
    }
    idp.sign(claims, "key").await
}

/// One profile: `id` at `org` with `role` and `activities`.
fn profile(id: &str, org: &str, role: &str, activities: &[&str]) -> serde_json::Value {
    json!({"person_roleid": id, "org_code": org, "role_code": role, "activity_codes": activities})
}

async fn a_person_acts_for_the_selected_role_profile_only(backend: TestBackend) {
    let cis2 = OidcProvider::start("RS256", "cis2-1", 0).await;
    let Some(s) = TestServer::start(Options {
        backend,
        federation: Some(national_federation(&cis2.issuer)),
        dev_issuer: false,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let admin = national(
        &cis2,
        "admin",
        json!([profile("1", "QUE", "ADMIN", &[])]),
        Some("1"),
    )
    .await;
    // The pharmacist: a voting member's activity at RGT, a viewer at RGN.
    let pharmacist_profiles = json!([
        profile("2001", "RGT", "R8000", &["B0401"]),
        profile("2002", "RGN", "R8003", &[]),
        profile("2003", "RXX", "R8003", &[]),
    ]);
    let pharmacist = |selected: Option<&'static str>| {
        national(&cis2, "555000111222", pharmacist_profiles.clone(), selected)
    };

    // Without a selected profile, or with one for an organisation outside the federation, the
    // token is refused with the reason.
    for (selected, says) in [
        (None, "no `selected_roleid` claim"),
        (
            Some("2003"),
            "organisation `RXX`, which is not a trust or ICS",
        ),
    ] {
        let refused = s
            .platform(&pharmacist(selected).await)
            .who_am_i(pf::WhoAmIRequest {})
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), reason(&refused).as_str()),
            (Code::PermissionDenied, "ORGANISATION_UNKNOWN")
        );
        assert!(refused.message().contains(says), "{}", refused.message());
    }
    let at_rgt = pharmacist(Some("2001")).await;
    let at_rgn = pharmacist(Some("2002")).await;
    let me = s
        .platform(&at_rgt)
        .who_am_i(pf::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    assert_eq!(
        (me.trust.as_str(), me.roles.clone()),
        (
            "RGT",
            vec!["da-member".to_owned(), "trust-digital-lead".to_owned()]
        )
    );
    let me = s
        .platform(&at_rgn)
        .who_am_i(pf::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    assert_eq!(
        (me.trust.as_str(), me.roles.clone()),
        ("RGN", vec!["viewer".to_owned()])
    );

    // The design authority lists the pharmacist as a voting member for both trusts.
    let person = |subject: &str| pf::Person {
        issuer: cis2.issuer.clone(),
        subject: subject.into(),
        display_name: String::new(),
    };
    let steps = Steps { s: &s };
    let da = steps
        .design_authority(
            &admin,
            "medicines",
            vec![
                ("RGT", person("555000111222")),
                ("RGN", person("555000111222")),
            ],
            person("chair"),
        )
        .await
        .unwrap();

    // A change affecting RGT and RGN, raised by the pharmacist at RGT, taken to the vote.
    let chair = national(
        &cis2,
        "chair",
        json!([profile("3001", "RGT", "R8000", &["B0420"])]),
        Some("3001"),
    )
    .await;
    let lead_rgn = national(
        &cis2,
        "lead-rgn",
        json!([profile("4001", "RGN", "R8000", &[])]),
        Some("4001"),
    )
    .await;
    let cr = steps
        .raise_and_submit(&at_rgt, &da.name, &["RGT", "RGN"])
        .await;
    steps.start_assessment(&chair, &cr.name).await.unwrap();
    steps.assess(&at_rgt, &cr.name, "RGT").await;
    steps.assess(&lead_rgn, &cr.name, "RGN").await;
    steps.open_voting(&chair, &cr.name).await;

    // With RGN's profile selected the pharmacist is a viewer there and cannot vote for RGN.
    let refused = steps.approve(&at_rgn, &cr.name).await.unwrap_err();
    denied(&refused, "ROLE_NOT_PERMITTED");
    // With RGT's selected, the vote is RGT's.
    let cast = steps.approve(&at_rgt, &cr.name).await.unwrap();
    assert_eq!(cast.trust, "RGT");
    assert_eq!(
        pair(cast.voter),
        (cis2.issuer.clone(), "555000111222".into())
    );
    let votes = s
        .change_control(&admin)
        .list_votes(cc::ListVotesRequest {
            parent: cr.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .votes;
    assert_eq!(
        votes.iter().map(|v| v.trust.as_str()).collect::<Vec<_>>(),
        ["RGT"],
        "nothing was cast for RGN"
    );
}
both_backends!(
    a_person_acts_for_the_selected_role_profile_only_on,
    a_person_acts_for_the_selected_role_profile_only
);
