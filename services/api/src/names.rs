//! Typed resource names (AIP-122) for every resource of the Concordat APIs.
//!
//! A name such as `icss/QUE/changeRequests/42` is parsed once, at the edge, into a struct whose
//! fields are its variable segments; code past the edge handles `ChangeRequestName`, never a
//! string it would have to split again. Every type here has the pattern the protos document as
//! `PATTERN`, `parse` (which names the request field on error), `Display` (which formats the
//! name back, so `parse(x.to_string()) == x`) and `new`. The server and clients share these, so
//! a client can check a name before sending it and build one from its parts.

use std::fmt;

use crate::violation::FieldViolation;

/// The variable segments of a name matched against a pattern, by variable.
struct Captures<'a> {
    values: Vec<(&'static str, &'a str)>,
}

impl Captures<'_> {
    /// The segment matched by `{variable}`.
    fn take(&self, variable: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(name, _)| *name == variable)
            .map(|(_, value)| (*value).to_owned())
    }
}

/// Matches `text` against `pattern` segment by segment: literal segments must be equal, and a
/// `{variable}` segment takes any non-empty segment without ASCII control characters (segments
/// never contain `/`, since that is what separates them).
fn capture<'a>(pattern: &'static str, text: &'a str) -> Option<Captures<'a>> {
    let mut expected = pattern.split('/');
    let mut actual = text.split('/');
    let mut values = Vec::new();
    loop {
        match (expected.next(), actual.next()) {
            (None, None) => return Some(Captures { values }),
            (Some(want), Some(got)) => {
                match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(variable) => {
                        if !valid_segment(got) {
                            return None;
                        }
                        values.push((variable, got));
                    }
                    None if want == got => {}
                    None => return None,
                }
            }
            _ => return None,
        }
    }
}

/// Whether `segment` may stand for a variable: non-empty, no ASCII control character.
fn valid_segment(segment: &str) -> bool {
    !segment.is_empty() && !segment.chars().any(|c| c.is_ascii_control())
}

/// Declares a resource name type.
///
/// ```text
/// resource_name! {
///     /// Docs.
///     ChangeRequestName { ics, change_request } = "icss/{ics}/changeRequests/{change_request}",
///     parent IcsName { ics };
/// }
/// ```
///
/// The pattern is used as the `Display` format string, so the compiler checks that its
/// variables are exactly the struct's fields.
macro_rules! resource_name {
    (
        $(#[$meta:meta])*
        $name:ident { $($var:ident),+ } = $pattern:literal
        $(, parent $parent:ident { $($parent_var:ident),+ })?;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            $(
                #[doc = concat!(
                    "The `{", stringify!($var), "}` segment of `", $pattern, "`."
                )]
                pub $var: String,
            )+
        }

        impl $name {
            /// The name's pattern, as the protos document it; parse errors quote it.
            pub const PATTERN: &'static str = $pattern;

            /// Builds the name from its segments without checking them: for names the server
            /// makes from values it holds already. Input from outside goes through `parse`.
            pub fn new($($var: impl Into<String>),+) -> Self {
                Self { $($var: $var.into()),+ }
            }

            /// Parses a name sent in request field `field`, refusing anything that does not
            /// match the pattern exactly (each variable segment non-empty, without `/` or ASCII
            /// control characters) with ``must be `PATTERN` ``.
            pub fn parse(field: &str, text: &str) -> Result<Self, FieldViolation> {
                capture(Self::PATTERN, text)
                    .and_then(|c| Some(Self { $($var: c.take(stringify!($var))?),+ }))
                    .ok_or_else(|| FieldViolation::new(field, concat!("must be `", $pattern, "`")))
            }

            $(
                #[doc = concat!(
                    "The [`", stringify!($parent), "`] this resource lives under, for ",
                    "scoping checks and for listing its siblings."
                )]
                pub fn parent(&self) -> $parent {
                    $parent { $($parent_var: self.$parent_var.clone()),+ }
                }
            )?
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $pattern, $($var = self.$var),+)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// concordat.platform.v1
// ---------------------------------------------------------------------------------------------

resource_name! {
    /// An Integrated Care System, `icss/{ics}`: the tenant every other resource lives under,
    /// and the `parent` of most list and create requests.
    IcsName { ics } = "icss/{ics}";
}

resource_name! {
    /// One entry of an ICS's audit chain, `icss/{ics}/auditEntries/{sequence}`; the sequence
    /// is the entry's position in the chain.
    AuditEntryName { ics, sequence } = "icss/{ics}/auditEntries/{sequence}",
    parent IcsName { ics };
}

// ---------------------------------------------------------------------------------------------
// concordat.changecontrol.v1
// ---------------------------------------------------------------------------------------------

resource_name! {
    /// A design authority, `icss/{ics}/designAuthorities/{design_authority}`: the clinical
    /// group that decides change requests in its domains.
    DesignAuthorityName { ics, design_authority } =
        "icss/{ics}/designAuthorities/{design_authority}",
    parent IcsName { ics };
}

resource_name! {
    /// A standard template, `icss/{ics}/standardTemplates/{standard_template}`: a pre-approved
    /// kind of change whose change requests skip voting.
    StandardTemplateName { ics, standard_template } =
        "icss/{ics}/standardTemplates/{standard_template}",
    parent IcsName { ics };
}

resource_name! {
    /// A change request, `icss/{ics}/changeRequests/{change_request}`: the unit of governance
    /// that assessments, hazards and votes hang off, and that configuration is published under.
    ChangeRequestName { ics, change_request } = "icss/{ics}/changeRequests/{change_request}",
    parent IcsName { ics };
}

resource_name! {
    /// An affected trust's impact assessment of a change request,
    /// `icss/{ics}/changeRequests/{change_request}/impactAssessments/{trust}` (one per trust,
    /// so the trust's ODS code is the id).
    ImpactAssessmentName { ics, change_request, trust } =
        "icss/{ics}/changeRequests/{change_request}/impactAssessments/{trust}",
    parent ChangeRequestName { ics, change_request };
}

resource_name! {
    /// A hazard log entry of a change request,
    /// `icss/{ics}/changeRequests/{change_request}/hazards/{hazard}`.
    HazardName { ics, change_request, hazard } =
        "icss/{ics}/changeRequests/{change_request}/hazards/{hazard}",
    parent ChangeRequestName { ics, change_request };
}

resource_name! {
    /// A member trust's vote on a change request,
    /// `icss/{ics}/changeRequests/{change_request}/votes/{trust}` (one vote per trust).
    VoteName { ics, change_request, trust } =
        "icss/{ics}/changeRequests/{change_request}/votes/{trust}",
    parent ChangeRequestName { ics, change_request };
}

resource_name! {
    /// A release, `icss/{ics}/releases/{release}`: a named deployment window change requests
    /// are planned for and scheduled into.
    ReleaseName { ics, release } = "icss/{ics}/releases/{release}",
    parent IcsName { ics };
}

// ---------------------------------------------------------------------------------------------
// concordat.sharedconfig.v1
// ---------------------------------------------------------------------------------------------

resource_name! {
    /// A registered kind of configuration item, `icss/{ics}/configKinds/{kind}`. Which kinds
    /// are well formed (1–63 lowercase letters, digits or hyphens) is the service's rule, not
    /// the name's.
    ConfigKindName { ics, kind } = "icss/{ics}/configKinds/{kind}",
    parent IcsName { ics };
}

resource_name! {
    /// A layer, `icss/{ics}/layers/{layer}`: the baseline ([`LayerName::BASELINE`]) or one
    /// trust's overlay, named by the trust's ODS code.
    LayerName { ics, layer } = "icss/{ics}/layers/{layer}",
    parent IcsName { ics };
}

impl LayerName {
    /// The layer id of the baseline every trust's overlay applies to.
    pub const BASELINE: &'static str = "baseline";

    /// The baseline layer of `ics`, the one layer whose id is not a trust.
    pub fn baseline(ics: impl Into<String>) -> Self {
        Self::new(ics, Self::BASELINE)
    }

    /// The trust whose overlay this is, or `None` for the baseline.
    pub fn trust(&self) -> Option<&str> {
        (self.layer != Self::BASELINE).then_some(self.layer.as_str())
    }
}

resource_name! {
    /// An immutable, numbered revision of a layer,
    /// `icss/{ics}/layers/{layer}/revisions/{revision}`.
    RevisionName { ics, layer, revision } = "icss/{ics}/layers/{layer}/revisions/{revision}",
    parent LayerName { ics, layer };
}

resource_name! {
    /// A changeset, `icss/{ics}/changesets/{changeset}`: proposed edits to one layer, published
    /// under a change request.
    ChangesetName { ics, changeset } = "icss/{ics}/changesets/{changeset}",
    parent IcsName { ics };
}

resource_name! {
    /// An imported snapshot of a trust's actual build, `icss/{ics}/snapshots/{snapshot}`.
    SnapshotName { ics, snapshot } = "icss/{ics}/snapshots/{snapshot}",
    parent IcsName { ics };
}

resource_name! {
    /// A trust's effective configuration (the baseline with its overlay applied),
    /// `icss/{ics}/trusts/{trust}/effectiveConfig`, as ExportConfig takes it. A singleton: the
    /// trust is its only id.
    EffectiveConfigName { ics, trust } = "icss/{ics}/trusts/{trust}/effectiveConfig",
    parent IcsName { ics };
}

// ---------------------------------------------------------------------------------------------
// concordat.convergence.v1
// ---------------------------------------------------------------------------------------------

resource_name! {
    /// A trust of an ICS, `icss/{ics}/trusts/{trust}` (its ODS code): the parent of its
    /// assessments.
    TrustName { ics, trust } = "icss/{ics}/trusts/{trust}",
    parent IcsName { ics };
}

resource_name! {
    /// A recorded assessment of a trust's build, `icss/{ics}/trusts/{trust}/assessments/{assessment}`.
    AssessmentName { ics, trust, assessment } =
        "icss/{ics}/trusts/{trust}/assessments/{assessment}",
    parent TrustName { ics, trust };
}

resource_name! {
    /// A convergence plan of an ICS, `icss/{ics}/convergencePlans/{plan}`.
    ConvergencePlanName { ics, plan } = "icss/{ics}/convergencePlans/{plan}",
    parent IcsName { ics };
}

resource_name! {
    /// An ICS's convergence scoring settings, `icss/{ics}/convergenceSettings` (a singleton).
    ConvergenceSettingsName { ics } = "icss/{ics}/convergenceSettings",
    parent IcsName { ics };
}

// ---------------------------------------------------------------------------------------------
// concordat.benefits.v1
// ---------------------------------------------------------------------------------------------

resource_name! {
    /// A benefit profile, `icss/{ics}/benefits/{benefit}`.
    BenefitName { ics, benefit } = "icss/{ics}/benefits/{benefit}",
    parent IcsName { ics };
}

resource_name! {
    /// A version-kept rate card of an ICS, `icss/{ics}/rateCards/{rate_card}`.
    RateCardName { ics, rate_card } = "icss/{ics}/rateCards/{rate_card}",
    parent IcsName { ics };
}

resource_name! {
    /// One measurement cell, one benefit at one trust in one month (`2025-04`),
    /// `icss/{ics}/benefits/{benefit}/trusts/{trust}/measurements/{month}`.
    MeasurementName { ics, benefit, trust, month } =
        "icss/{ics}/benefits/{benefit}/trusts/{trust}/measurements/{month}",
    parent BenefitName { ics, benefit };
}

resource_name! {
    /// How a benefit at one trust in one financial year (`2025-26`) is shared among change
    /// requests, `icss/{ics}/benefits/{benefit}/trusts/{trust}/attributions/{year}`.
    AttributionName { ics, benefit, trust, year } =
        "icss/{ics}/benefits/{benefit}/trusts/{trust}/attributions/{year}",
    parent BenefitName { ics, benefit };
}

resource_name! {
    /// An ICS's benefits settings, `icss/{ics}/benefitsSettings` (a singleton).
    BenefitsSettingsName { ics } = "icss/{ics}/benefitsSettings",
    parent IcsName { ics };
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Parses `text` as any name of this module, returning its `Display` form.
    fn parse_any(text: &str) -> Option<String> {
        let parsers: [fn(&str) -> Option<String>; 24] = [
            |t| BenefitName::parse("n", t).ok().map(|n| n.to_string()),
            |t| RateCardName::parse("n", t).ok().map(|n| n.to_string()),
            |t| MeasurementName::parse("n", t).ok().map(|n| n.to_string()),
            |t| AttributionName::parse("n", t).ok().map(|n| n.to_string()),
            |t| {
                BenefitsSettingsName::parse("n", t)
                    .ok()
                    .map(|n| n.to_string())
            },
            |t| IcsName::parse("n", t).ok().map(|n| n.to_string()),
            |t| AuditEntryName::parse("n", t).ok().map(|n| n.to_string()),
            |t| {
                DesignAuthorityName::parse("n", t)
                    .ok()
                    .map(|n| n.to_string())
            },
            |t| {
                StandardTemplateName::parse("n", t)
                    .ok()
                    .map(|n| n.to_string())
            },
            |t| ChangeRequestName::parse("n", t).ok().map(|n| n.to_string()),
            |t| {
                ImpactAssessmentName::parse("n", t)
                    .ok()
                    .map(|n| n.to_string())
            },
            |t| HazardName::parse("n", t).ok().map(|n| n.to_string()),
            |t| VoteName::parse("n", t).ok().map(|n| n.to_string()),
            |t| ReleaseName::parse("n", t).ok().map(|n| n.to_string()),
            |t| ConfigKindName::parse("n", t).ok().map(|n| n.to_string()),
            |t| LayerName::parse("n", t).ok().map(|n| n.to_string()),
            |t| RevisionName::parse("n", t).ok().map(|n| n.to_string()),
            |t| ChangesetName::parse("n", t).ok().map(|n| n.to_string()),
            |t| SnapshotName::parse("n", t).ok().map(|n| n.to_string()),
            |t| {
                EffectiveConfigName::parse("n", t)
                    .ok()
                    .map(|n| n.to_string())
            },
            |t| TrustName::parse("n", t).ok().map(|n| n.to_string()),
            |t| AssessmentName::parse("n", t).ok().map(|n| n.to_string()),
            |t| {
                ConvergencePlanName::parse("n", t)
                    .ok()
                    .map(|n| n.to_string())
            },
            |t| {
                ConvergenceSettingsName::parse("n", t)
                    .ok()
                    .map(|n| n.to_string())
            },
        ];
        parsers.iter().find_map(|p| p(text))
    }

    #[test]
    fn every_name_the_protos_document_has_a_type() {
        let protos = [
            include_str!("../../../proto/concordat/platform/v1/resources.proto"),
            include_str!("../../../proto/concordat/platform/v1/platform_service.proto"),
            include_str!("../../../proto/concordat/changecontrol/v1/resources.proto"),
            include_str!("../../../proto/concordat/changecontrol/v1/changecontrol_service.proto"),
            include_str!("../../../proto/concordat/sharedconfig/v1/resources.proto"),
            include_str!("../../../proto/concordat/sharedconfig/v1/sharedconfig_service.proto"),
            include_str!("../../../proto/concordat/convergence/v1/resources.proto"),
            include_str!("../../../proto/concordat/convergence/v1/convergence_service.proto"),
            include_str!("../../../proto/concordat/benefits/v1/resources.proto"),
            include_str!("../../../proto/concordat/benefits/v1/benefits_service.proto"),
        ];
        let mut seen = 0;
        for proto in protos {
            // Every `icss/…` in backticks, with each `{variable}` replaced by a sample value.
            for quoted in proto.split('`').skip(1).step_by(2) {
                if !quoted.starts_with("icss/") {
                    continue;
                }
                let example: String = quoted
                    .split('/')
                    .map(|s| if s.starts_with('{') { "x1" } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                assert_eq!(
                    parse_any(&example).as_deref(),
                    Some(example.as_str()),
                    "no name type parses `{quoted}`"
                );
                seen += 1;
            }
        }
        assert!(seen > 50, "found only {seen} names in the protos");
    }

    #[test]
    fn parse_and_display_round_trip() {
        let cr = ChangeRequestName::parse("name", "icss/QUE/changeRequests/42").unwrap();
        assert_eq!(cr, ChangeRequestName::new("QUE", "42"));
        assert_eq!(cr.to_string(), "icss/QUE/changeRequests/42");

        let vote = VoteName::new("QUE", "42", "RXQ");
        assert_eq!(vote.to_string(), "icss/QUE/changeRequests/42/votes/RXQ");
        assert_eq!(VoteName::parse("name", &vote.to_string()).unwrap(), vote);

        let revision = RevisionName::new("QUE", "baseline", "3");
        assert_eq!(revision.to_string(), "icss/QUE/layers/baseline/revisions/3");
        assert_eq!(
            RevisionName::parse("name", &revision.to_string()).unwrap(),
            revision
        );

        let effective = EffectiveConfigName::new("QUE", "RXQ");
        assert_eq!(effective.to_string(), "icss/QUE/trusts/RXQ/effectiveConfig");
        assert_eq!(
            EffectiveConfigName::parse("name", &effective.to_string()).unwrap(),
            effective
        );
    }

    #[test]
    fn segments_keep_any_printable_text_and_round_trip() {
        for segment in [
            "a",
            "A-b_c.d~e",
            "with space",
            "é",
            "{ics}",
            "%2F",
            "baseline",
        ] {
            let name = HazardName::new("QUE", "7", segment);
            assert_eq!(HazardName::parse("name", &name.to_string()).unwrap(), name);
        }
    }

    #[test]
    fn a_malformed_name_is_refused_naming_the_field_and_pattern() {
        for bad in [
            "",
            "icss",
            "icss/",
            "icss/QUE",
            "icss/QUE/changeRequests",
            "icss/QUE/changeRequests/",
            "icss//changeRequests/42",
            "icss/QUE/changeRequests/42/",
            "/icss/QUE/changeRequests/42",
            "icss/QUE/changerequests/42",
            "ICSS/QUE/changeRequests/42",
            "icss/QUE/changeRequests/42/hazards/1",
            "icss/QUE/releases/42",
            "icss/QUE/changeRequests/4\n2",
            "icss/Q\tUE/changeRequests/42",
            "icss/QUE/changeRequests/\u{7f}",
        ] {
            let err = ChangeRequestName::parse("change_request", bad).unwrap_err();
            assert_eq!(err.field, "change_request", "{bad:?}");
            assert_eq!(
                err.description, "must be `icss/{ics}/changeRequests/{change_request}`",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_ics_name_is_one_segment() {
        assert_eq!(IcsName::parse("parent", "icss/QUE").unwrap().ics, "QUE");
        for bad in ["icss/QUE/", "icss/QUE/x", "icss/", "ics/QUE", "QUE"] {
            assert_eq!(
                IcsName::parse("parent", bad).unwrap_err().to_string(),
                "parent must be `icss/{ics}`"
            );
        }
    }

    #[test]
    fn a_parent_is_the_prefix_of_its_child() {
        let assessment = ImpactAssessmentName::new("QUE", "42", "RXQ");
        let cr = assessment.parent();
        assert_eq!(cr, ChangeRequestName::new("QUE", "42"));
        assert_eq!(cr.parent(), IcsName::new("QUE"));
        assert!(assessment.to_string().starts_with(&format!("{cr}/")));

        let pairs = [
            (
                AuditEntryName::new("Q", "1").to_string(),
                AuditEntryName::new("Q", "1").parent().to_string(),
            ),
            (
                HazardName::new("Q", "1", "2").to_string(),
                HazardName::new("Q", "1", "2").parent().to_string(),
            ),
            (
                VoteName::new("Q", "1", "T").to_string(),
                VoteName::new("Q", "1", "T").parent().to_string(),
            ),
            (
                RevisionName::new("Q", "T", "3").to_string(),
                RevisionName::new("Q", "T", "3").parent().to_string(),
            ),
            (
                LayerName::new("Q", "T").to_string(),
                LayerName::new("Q", "T").parent().to_string(),
            ),
            (
                EffectiveConfigName::new("Q", "T").to_string(),
                EffectiveConfigName::new("Q", "T").parent().to_string(),
            ),
        ];
        for (child, parent) in pairs {
            assert!(
                child.starts_with(&format!("{parent}/")),
                "{child} under {parent}"
            );
        }
    }

    #[test]
    fn the_baseline_layer_has_no_trust() {
        let baseline = LayerName::baseline("QUE");
        assert_eq!(baseline.to_string(), "icss/QUE/layers/baseline");
        assert_eq!(baseline.trust(), None);
        let overlay = LayerName::parse("layer", "icss/QUE/layers/RXQ").unwrap();
        assert_eq!(overlay.trust(), Some("RXQ"));
    }
}

/// The ICS and id of `icss/{ics}/{collection}/{id}`, for each collection directly under an ICS,
/// through its typed name: for servers that handle several collections alike.
pub fn ics_child(
    field: &str,
    text: &str,
    collection: &str,
) -> Result<(String, String), FieldViolation> {
    match collection {
        "auditEntries" => AuditEntryName::parse(field, text).map(|n| (n.ics, n.sequence)),
        "designAuthorities" => {
            DesignAuthorityName::parse(field, text).map(|n| (n.ics, n.design_authority))
        }
        "standardTemplates" => {
            StandardTemplateName::parse(field, text).map(|n| (n.ics, n.standard_template))
        }
        "changeRequests" => {
            ChangeRequestName::parse(field, text).map(|n| (n.ics, n.change_request))
        }
        "releases" => ReleaseName::parse(field, text).map(|n| (n.ics, n.release)),
        "configKinds" => ConfigKindName::parse(field, text).map(|n| (n.ics, n.kind)),
        "layers" => LayerName::parse(field, text).map(|n| (n.ics, n.layer)),
        "changesets" => ChangesetName::parse(field, text).map(|n| (n.ics, n.changeset)),
        "snapshots" => SnapshotName::parse(field, text).map(|n| (n.ics, n.snapshot)),
        other => Err(FieldViolation::new(
            field,
            format!("names a collection `{other}` that no resource has"),
        )),
    }
}

/// The ICS, change request and id of `icss/{ics}/changeRequests/{change_request}/{collection}/{id}`
/// (`votes`, `hazards`, `impactAssessments`).
pub fn change_request_child(
    field: &str,
    text: &str,
    collection: &str,
) -> Result<(String, String, String), FieldViolation> {
    match collection {
        "votes" => VoteName::parse(field, text).map(|n| (n.ics, n.change_request, n.trust)),
        "hazards" => HazardName::parse(field, text).map(|n| (n.ics, n.change_request, n.hazard)),
        "impactAssessments" => {
            ImpactAssessmentName::parse(field, text).map(|n| (n.ics, n.change_request, n.trust))
        }
        other => Err(FieldViolation::new(
            field,
            format!("names a collection `{other}` that no change request has"),
        )),
    }
}

#[cfg(test)]
mod collection_tests {
    use super::*;

    #[test]
    fn children_parse_through_their_typed_names() {
        assert_eq!(
            ics_child("name", "icss/QUE/changeRequests/42", "changeRequests").unwrap(),
            ("QUE".to_owned(), "42".to_owned())
        );
        let wrong = ics_child("name", "icss/QUE/releases/r1", "changeRequests").unwrap_err();
        assert_eq!(wrong.field, "name");
        assert!(
            wrong
                .description
                .contains("changeRequests/{change_request}")
        );
        assert_eq!(
            change_request_child("name", "icss/QUE/changeRequests/42/votes/RGT", "votes").unwrap(),
            ("QUE".to_owned(), "42".to_owned(), "RGT".to_owned())
        );
        assert!(ics_child("name", "icss/QUE/x/1", "x").is_err());
    }
}
