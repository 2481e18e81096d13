//! The principal: who is calling, for which trust and ICS, with which Concordat roles.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A Concordat role. What each may do is documented in the README and enforced by the
/// authorization table of each service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Administers the ICS's Concordat: federation, design authorities, registries.
    IcsAdmin,
    /// Sits on the programme board: reads everything in the ICS, records board decisions.
    BoardMember,
    /// Chairs the programme board.
    BoardChair,
    /// Votes for their trust in a design authority.
    DaMember,
    /// Chairs a design authority: opens votes, disposes of objections, approves emergencies.
    DaChair,
    /// Clinical Safety Officer (DCB0129/DCB0160): signs off hazard logs for their trust.
    ClinicalSafetyOfficer,
    /// Leads a trust's digital team: raises and assesses change requests for the trust.
    TrustDigitalLead,
    /// Builds and publishes configuration, reports deployments, for their trust.
    TrustEngineer,
    /// Submits and reviews benefit measurements.
    BenefitsAnalyst,
    /// Reads what their ICS may see; changes nothing.
    Viewer,
    /// A machine client: integration engines and pipelines following configuration.
    Automation,
}

impl Role {
    /// Every role, in documentation order.
    pub const ALL: [Role; 11] = [
        Role::IcsAdmin,
        Role::BoardMember,
        Role::BoardChair,
        Role::DaMember,
        Role::DaChair,
        Role::ClinicalSafetyOfficer,
        Role::TrustDigitalLead,
        Role::TrustEngineer,
        Role::BenefitsAnalyst,
        Role::Viewer,
        Role::Automation,
    ];

    /// The role's name in tokens, the federation file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::IcsAdmin => "ics-admin",
            Role::BoardMember => "board-member",
            Role::BoardChair => "board-chair",
            Role::DaMember => "da-member",
            Role::DaChair => "da-chair",
            Role::ClinicalSafetyOfficer => "clinical-safety-officer",
            Role::TrustDigitalLead => "trust-digital-lead",
            Role::TrustEngineer => "trust-engineer",
            Role::BenefitsAnalyst => "benefits-analyst",
            Role::Viewer => "viewer",
            Role::Automation => "automation",
        }
    }

    /// True for roles whose holders act for the whole ICS rather than only their own trust.
    pub fn is_ics_wide(self) -> bool {
        matches!(
            self,
            Role::IcsAdmin | Role::BoardMember | Role::BoardChair | Role::Viewer
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not a Concordat role.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown role `{0}` (known: ics-admin, board-member, board-chair, da-member, da-chair, clinical-safety-officer, trust-digital-lead, trust-engineer, benefits-analyst, viewer, automation)"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A person (or a service client) as Concordat names them: the subject at its issuer. Subjects
/// are unique only within their issuer, so two trusts' IdPs may both issue `alice`: every stored
/// reference to a person and every rule that compares people uses the pair.
///
/// `name` is the display name the person's token gave when they acted (empty when someone else
/// named them); it is for people to read and takes no part in comparisons.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// The issuer URL, exactly as in the person's tokens.
    pub issuer: String,
    /// The subject at that issuer.
    pub subject: String,
    /// The display name, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl Person {
    /// The person `subject` at `issuer`, without a display name.
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            subject: subject.into(),
            name: String::new(),
        }
    }

    /// The pair that names the person.
    pub fn key(&self) -> (&str, &str) {
        (&self.issuer, &self.subject)
    }
}

impl PartialEq for Person {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Person {}

impl std::hash::Hash for Person {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for Person {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Person {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Person {
    /// `alice at https://login.rgt.nhs.uk`, with the display name when known:
    /// `Alice Smith (alice at https://login.rgt.nhs.uk)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "{} at {}", self.subject, self.issuer)
        } else {
            write!(f, "{} ({} at {})", self.name, self.subject, self.issuer)
        }
    }
}

impl From<&Person> for concordat_proto::platform::v1::Person {
    fn from(p: &Person) -> Self {
        Self {
            issuer: p.issuer.clone(),
            subject: p.subject.clone(),
            display_name: p.name.clone(),
        }
    }
}

impl From<concordat_proto::platform::v1::Person> for Person {
    /// A person named in a request: its display name is output only and not taken.
    fn from(p: concordat_proto::platform::v1::Person) -> Self {
        Person::new(p.issuer, p.subject)
    }
}

/// Person or machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person signed in at their organisation's identity provider.
    Person,
    /// A registered service client using client credentials.
    Service,
}

/// A verified caller. Put into each request's extensions by the authentication layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The issuer, exactly as in the token.
    pub issuer: String,
    /// The subject at that issuer.
    pub subject: String,
    /// Display name, when the token has one.
    pub name: Option<String>,
    /// Person or service.
    pub kind: PrincipalKind,
    /// The ICS the principal acts in.
    pub ics: String,
    /// The trust the principal acts for; `None` for ICS-level staff.
    pub trust: Option<String>,
    /// Concordat roles.
    pub roles: BTreeSet<Role>,
}

impl Principal {
    /// The principal as a person reference: issuer and subject, with the token's display name.
    pub fn person(&self) -> Person {
        Person {
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            name: self.name.clone().unwrap_or_default(),
        }
    }

    /// True when the principal is `person` (same issuer and subject).
    pub fn is(&self, person: &Person) -> bool {
        (self.issuer.as_str(), self.subject.as_str()) == person.key()
    }

    /// True when the principal holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True when the principal holds any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
    }

    /// True when the principal may act for `trust`: it is their own trust.
    pub fn acts_for(&self, trust: &str) -> bool {
        self.trust.as_deref() == Some(trust)
    }

    /// True when the principal holds a role that sees the whole ICS.
    pub fn sees_whole_ics(&self) -> bool {
        self.roles.iter().any(|r| r.is_ics_wide())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_the_same_only_at_the_same_issuer() {
        let rgt = Person::new("https://login.rgt.nhs.uk", "alice");
        let rgm = Person::new("https://login.rgm.nhs.uk", "alice");
        assert_ne!(rgt, rgm);
        let named = Person {
            name: "Alice Smith".into(),
            ..rgt.clone()
        };
        assert_eq!(rgt, named, "the display name takes no part");
        assert_eq!(rgt.to_string(), "alice at https://login.rgt.nhs.uk");
        assert_eq!(
            named.to_string(),
            "Alice Smith (alice at https://login.rgt.nhs.uk)"
        );
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("superuser".parse::<Role>().is_err());
    }
}
