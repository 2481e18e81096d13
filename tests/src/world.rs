//! The world of the configuration scenarios: a server with the test federation's four trusts, a
//! medicines design authority with a standard template, the `alert-rule` and `theatre-list`
//! kinds, and helpers to propose, publish and read configuration through gRPC.
#![allow(missing_docs)]

use std::time::Duration;

use concordat_platform::testkit::TestBackend;
use concordat_proto::changecontrol::v1 as cc;
use concordat_proto::sharedconfig::v1 as pb;
use concordat_shared_config::grpc::{json_of, value_of};
use futures::StreamExt;
use pb::shared_config_service_client::SharedConfigServiceClient;
use serde_json::{Value, json};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{Bearer, Options, TestServer, fields};

pub const TRUSTS: [&str; 4] = ["RGT", "RGM", "RGN", "RT1"];

pub type Config = SharedConfigServiceClient<InterceptedService<Channel, Bearer>>;
pub type Changes = cc::change_control_service_client::ChangeControlServiceClient<
    InterceptedService<Channel, Bearer>,
>;

pub struct World {
    pub s: TestServer,
    pub da: String,
    pub template: String,
}

impl World {
    pub async fn new(backend: TestBackend) -> Option<Self> {
        Self::with_options(Options {
            backend,
            ..Default::default()
        })
        .await
    }

    /// The world on a server whose message limit is `max_message_bytes`.
    pub async fn with_limit(backend: TestBackend, max_message_bytes: usize) -> Option<Self> {
        Self::with_options(Options {
            backend,
            max_message_bytes,
            ..Default::default()
        })
        .await
    }

    /// The world on a server started with `options` and the test federation.
    pub async fn with_options(options: Options) -> Option<Self> {
        let s = TestServer::start(Options {
            federation: Some(crate::federation("Test ICS", &TRUSTS, true)),
            ..options
        })
        .await?;
        let mut w = Self {
            s,
            da: String::new(),
            template: String::new(),
        };
        w.da = w
            .changes("RGT", "ics-admin", "admin")
            .create_design_authority(cc::CreateDesignAuthorityRequest {
                parent: "icss/QUE".into(),
                design_authority_id: "medicines".into(),
                design_authority: Some(cc::DesignAuthority {
                    display_name: "Medicines".into(),
                    domains: vec!["medicines".into(), "theatres".into()],
                    members: TRUSTS
                        .iter()
                        .map(|t| cc::Membership {
                            trust: t.to_string(),
                            voting_members: vec![w.s.person(&format!("voter-{t}"))],
                        })
                        .collect(),
                    chair: Some(w.s.person("chair")),
                    charter: Some(cc::Charter {
                        quorum_percent: 75,
                        rules: [
                            (cc::ChangeClass::Routine, false),
                            (cc::ChangeClass::Significant, false),
                            (cc::ChangeClass::SafetyCritical, true),
                        ]
                        .into_iter()
                        .map(|(class, cso)| cc::ClassRule {
                            change_class: class as i32,
                            threshold: cc::Threshold::SimpleMajority as i32,
                            cso_sign_off_required: cso,
                        })
                        .collect(),
                        silence: cc::SilencePolicy::Abstain as i32,
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
        w.template = w
            .changes("RGT", "da-chair", "chair")
            .create_standard_template(cc::CreateStandardTemplateRequest {
                parent: "icss/QUE".into(),
                standard_template_id: "alert-tuning".into(),
                standard_template: Some(cc::StandardTemplate {
                    display_name: "Alert tuning".into(),
                    description: "Tune alert thresholds within agreed bounds".into(),
                    design_authority: w.da.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .standard_template
            .unwrap()
            .name;
        let admin = w.config("RGT", "ics-admin", "admin");
        for (kind, domain) in [("alert-rule", "medicines"), ("theatre-list", "theatres")] {
            admin
                .clone()
                .create_config_kind(pb::CreateConfigKindRequest {
                    parent: "icss/QUE".into(),
                    config_kind_id: kind.into(),
                    config_kind: Some(pb::ConfigKind {
                        domain: domain.into(),
                        schema: schema(),
                        description: format!("{kind} items"),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .unwrap();
        }
        // A kind of a domain no design authority decides could never be published: refused at
        // once, naming the field and the domains that are decided.
        let typo = admin
            .clone()
            .create_config_kind(pb::CreateConfigKindRequest {
                parent: "icss/QUE".into(),
                config_kind_id: "order-set".into(),
                config_kind: Some(pb::ConfigKind {
                    domain: "medicine".into(),
                    schema: schema(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(typo.code(), Code::InvalidArgument, "{typo:?}");
        assert_eq!(fields(&typo), ["config_kind.domain"]);
        assert!(
            typo.message().contains("decided: medicines, theatres"),
            "{}",
            typo.message()
        );
        Some(w)
    }

    pub fn token(&self, trust: &str, role: &str, subject: &str) -> String {
        self.s.token(trust, &[role], subject)
    }

    pub fn changes(&self, trust: &str, role: &str, subject: &str) -> Changes {
        self.s.change_control(&self.token(trust, role, subject))
    }

    pub fn config(&self, trust: &str, role: &str, subject: &str) -> Config {
        self.s.shared_config(&self.token(trust, role, subject))
    }

    pub fn engineer(&self, trust: &str) -> Config {
        self.config(trust, "trust-engineer", &format!("engineer-{trust}"))
    }

    /// A medicines change request affecting `affected`, APPROVED (a standard change) unless
    /// `approved` is false (then DRAFT).
    pub async fn change_request(&self, affected: &[&str], approved: bool) -> String {
        self.change_request_of("medicines", affected, approved)
            .await
    }

    /// A change request of `domain` affecting `affected`, APPROVED (a standard change) unless
    /// `approved` is false (then DRAFT).
    pub async fn change_request_of(
        &self,
        domain: &str,
        affected: &[&str],
        approved: bool,
    ) -> String {
        let mut lead = self.changes("RGT", "trust-digital-lead", "lead-RGT");
        let cr = lead
            .create_change_request(cc::CreateChangeRequestRequest {
                parent: "icss/QUE".into(),
                change_request: Some(cc::ChangeRequest {
                    title: "Electronic allergy-related prescribing alerts".into(),
                    description: "Interruptive allergy alerts; NEWS2 sepsis threshold".into(),
                    domain: domain.into(),
                    design_authority: self.da.clone(),
                    affected_trusts: affected.iter().map(|t| t.to_string()).collect(),
                    change_type: cc::ChangeType::Standard as i32,
                    change_class: cc::ChangeClass::Routine as i32,
                    standard_template: self.template.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap();
        if approved {
            let submitted = lead
                .submit_change_request(cc::SubmitChangeRequestRequest {
                    name: cr.name.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .change_request
                .unwrap();
            assert_eq!(submitted.state, cc::State::Approved as i32);
        }
        cr.name
    }
}

pub fn schema() -> Option<prost_types::Struct> {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "enabled": {"type": "boolean"},
            "interrupt": {"type": "boolean"},
            "threshold": {"type": "integer", "minimum": 0, "maximum": 20}
        },
        "additionalProperties": false
    });
    match value_of(&schema).into_decoded().kind {
        Some(prost_types::value::Kind::StructValue(s)) => Some(s),
        _ => None,
    }
}

pub fn item(
    kind: &str,
    key: &str,
    value: Value,
    governance: Option<pb::Governance>,
) -> pb::ConfigItem {
    pb::ConfigItem {
        kind: kind.into(),
        key: key.into(),
        value: Some(value_of(&value)),
        governance,
        ..Default::default()
    }
}

pub fn change(op: pb::Operation, item: pb::ConfigItem) -> pb::ItemChange {
    pb::ItemChange {
        operation: op as i32,
        item: Some(item),
    }
}

pub fn locked() -> Option<pb::Governance> {
    Some(pb::Governance {
        mode: pb::GovernanceMode::Locked as i32,
        bounds: vec![],
    })
}

pub fn bounded(min: f64, max: f64) -> Option<pb::Governance> {
    Some(pb::Governance {
        mode: pb::GovernanceMode::Bounded as i32,
        bounds: vec![pb::Bound {
            bound: Some(pb::bound::Bound::Range(pb::RangeBound {
                pointer: "/threshold".into(),
                min: Some(min),
                max: Some(max),
            })),
        }],
    })
}

pub async fn propose(
    client: &Config,
    layer: &str,
    cr: &str,
    base: i64,
    changes: Vec<pb::ItemChange>,
) -> Result<pb::Changeset, tonic::Status> {
    client
        .clone()
        .create_changeset(pb::CreateChangesetRequest {
            parent: "icss/QUE".into(),
            changeset: Some(pb::Changeset {
                layer: format!("icss/QUE/layers/{layer}"),
                base_revision: base,
                change_request: cr.into(),
                description: "test".into(),
                changes,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner().changeset.unwrap())
}

pub async fn publish(
    client: &Config,
    changeset: &str,
    rebase: bool,
) -> Result<pb::Revision, tonic::Status> {
    client
        .clone()
        .publish_changeset(pb::PublishChangesetRequest {
            name: changeset.into(),
            rebase,
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner().revision.unwrap())
}

/// Proposes `changes` to `layer` on its newest revision and publishes them.
pub async fn propose_and_publish(
    client: &Config,
    layer: &str,
    cr: &str,
    changes: Vec<pb::ItemChange>,
) {
    let cs = propose(client, layer, cr, 0, changes).await.unwrap();
    publish(client, &cs.name, false).await.unwrap();
}

/// A trust's whole effective configuration, its pages read in turn.
pub async fn effective(client: &Config, trust: &str, revision: i64) -> pb::EffectiveConfig {
    effective_paged(client, trust, revision, 0).await.0
}

/// A trust's effective configuration read `page_size` items at a time (0: the default): all its
/// items, and how many pages it took. Every page is of the first page's revision and hash.
pub async fn effective_paged(
    client: &Config,
    trust: &str,
    revision: i64,
    page_size: i32,
) -> (pb::EffectiveConfig, usize) {
    let mut whole: Option<pb::EffectiveConfig> = None;
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .clone()
            .get_effective_config(pb::GetEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: trust.into(),
                revision,
                page_size,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        let config = page.effective_config.unwrap();
        match &mut whole {
            None => whole = Some(config),
            Some(w) => {
                assert_eq!(
                    (w.revision, &w.content_hash, &w.etag),
                    (config.revision, &config.content_hash, &config.etag),
                    "every page is of one revision"
                );
                w.items.extend(config.items);
            }
        }
        if page.next_page_token.is_empty() {
            return (whole.unwrap(), pages);
        }
        page_token = page.next_page_token;
    }
}

pub fn values(e: &pb::EffectiveConfig) -> std::collections::BTreeMap<String, Value> {
    e.items
        .iter()
        .map(|i| {
            (
                format!("{}/{}", i.kind, i.key),
                json_of(i.value.clone().unwrap()),
            )
        })
        .collect()
}

pub async fn next_revision(
    stream: &mut tonic::Streaming<pb::WatchEffectiveConfigResponse>,
) -> pb::EffectiveRevision {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a revision within 10 s")
        .unwrap()
        .unwrap()
        .effective_revision
        .unwrap()
}
