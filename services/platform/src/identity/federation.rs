//! The federation: which ICSs and trusts exist, which OIDC issuers are trusted for them, and how
//! an issuer's claims become a [`Principal`].
//!
//! It is read from a TOML file (see `deploy/k8s/config/federation.toml` for a commented example) or,
//! for development, built in: ICS `QUE` with four trusts and the embedded development issuer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::principal::{Principal, PrincipalKind, Role};

/// The parsed and validated federation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Federation {
    /// The ICSs (tenants).
    #[serde(rename = "ics", default)]
    pub icss: Vec<IcsEntry>,
    /// The trusted issuers.
    #[serde(rename = "issuer", default)]
    pub issuers: Vec<IssuerEntry>,
}

/// One ICS and its trusts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcsEntry {
    /// The ICS code, e.g. `QUE`.
    pub code: String,
    /// The display name.
    pub name: String,
    /// Member trusts.
    #[serde(default)]
    pub trusts: Vec<TrustEntry>,
}

/// One trust.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustEntry {
    /// ODS code, e.g. `RGT`.
    pub ods: String,
    /// Organisation name.
    pub name: String,
}

/// How an issuer's tokens are tied to a trust.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TrustSource {
    /// A trust's own IdP: every token acts for this trust (ODS code).
    Fixed(String),
    /// An ICS-wide or national issuer (NHS CIS2): the trust's ODS code (or an ICS code, for
    /// ICS-level staff) is read from this claim path, dotted for nested claims.
    Claim(String),
    /// A national issuer whose tokens list the person's role profiles — each an organisation, a
    /// role and activities — and name the one selected for this session (NHS CIS2's
    /// `nhsid_nrbac_roles` and `selected_roleid`): the principal acts for the selected profile
    /// only, and the other profiles grant nothing.
    RoleProfiles(RoleProfileClaims),
}

/// Where a role-profile issuer's tokens hold the profiles, and what each profile holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RoleProfileClaims {
    /// Claim path of the array of profiles. Default `nhsid_nrbac_roles`.
    #[serde(default = "default_profiles_claim")]
    pub profiles_claim: String,
    /// Claim path of the selected profile's id. Default `selected_roleid`.
    #[serde(default = "default_selected_claim")]
    pub selected_claim: String,
    /// Field of a profile holding its id. Default `person_roleid`.
    #[serde(default = "default_id_field")]
    pub id_field: String,
    /// Field of a profile holding its organisation (an ODS code). Default `org_code`.
    #[serde(default = "default_organisation_field")]
    pub organisation_field: String,
    /// Fields of a profile holding its role and activity codes (each a string, a
    /// space-separated string or an array of strings), mapped through the issuer's `role_map`.
    /// Default `role_code` and `activity_codes`.
    #[serde(default = "default_role_fields")]
    pub role_fields: Vec<String>,
}

impl Default for RoleProfileClaims {
    fn default() -> Self {
        Self {
            profiles_claim: default_profiles_claim(),
            selected_claim: default_selected_claim(),
            id_field: default_id_field(),
            organisation_field: default_organisation_field(),
            role_fields: default_role_fields(),
        }
    }
}

fn default_profiles_claim() -> String {
    "nhsid_nrbac_roles".into()
}
fn default_selected_claim() -> String {
    "selected_roleid".into()
}
fn default_id_field() -> String {
    "person_roleid".into()
}
fn default_organisation_field() -> String {
    "org_code".into()
}
fn default_role_fields() -> Vec<String> {
    vec!["role_code".into(), "activity_codes".into()]
}

/// A trusted OIDC issuer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerEntry {
    /// Issuer URL, exactly as in the tokens' `iss` (trailing slash included, if any).
    pub url: String,
    /// Accepted `aud` values; a token must name at least one.
    pub audiences: Vec<String>,
    /// The ICSs this issuer may speak for; empty means any ICS of the federation.
    #[serde(default)]
    pub icss: Vec<String>,
    /// How the trust is found.
    pub trust: TrustSource,
    /// Claim path (dotted) holding the issuer's roles: an array of strings or a space-separated
    /// string. Default `roles`.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Claim holding a display name. Default `name`.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// Issuer role → Concordat roles. When empty, issuer roles that are Concordat role names are
    /// taken as they are; when set, only mapped roles count.
    #[serde(default)]
    pub role_map: BTreeMap<String, Vec<String>>,
    /// The longest lifetime (`exp` − `iat`, in seconds) accepted from this issuer; 0 (the
    /// default) sets none.
    #[serde(default)]
    pub max_token_lifetime_seconds: u64,
    /// Machine clients of this issuer (client credentials).
    #[serde(default, rename = "service_client")]
    pub service_clients: Vec<ServiceClientEntry>,
    /// Set for the embedded development issuer only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub development: bool,
}

fn default_roles_claim() -> String {
    "roles".into()
}
fn default_name_claim() -> String {
    "name".into()
}

/// A registered machine client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceClientEntry {
    /// OAuth `client_id`.
    pub client_id: String,
    /// The trust it acts for (ODS code).
    pub trust: String,
    /// Its Concordat roles.
    pub roles: Vec<String>,
}

/// A federation file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The file could not be read.
    #[error("federation file {path} could not be read")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("federation file {path} is malformed: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// The content is inconsistent.
    #[error("federation is invalid: {0}")]
    Invalid(String),
}

/// Why verified claims do not make a principal.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PrincipalError {
    /// No issuer of that URL.
    #[error("issuer {0} is not in the federation")]
    UnknownIssuer(String),
    /// The organisation in the token is not a trust or ICS of the federation.
    #[error("organisation `{0}` is not a trust or ICS of the federation")]
    UnknownOrganisation(String),
    /// The token lacks the organisation claim.
    #[error("the token has no `{0}` claim naming the organisation")]
    MissingOrganisation(String),
    /// The issuer may not speak for this ICS.
    #[error("issuer {issuer} may not act for ICS {ics}")]
    IcsNotAllowed {
        /// The issuer.
        issuer: String,
        /// The ICS.
        ics: String,
    },
    /// The token names an ICS other than its trust's.
    #[error("the token's ics claim `{claimed}` disagrees with its trust's ICS `{actual}`")]
    IcsMismatch {
        /// From the token.
        claimed: String,
        /// From the federation.
        actual: String,
    },
    /// No subject.
    #[error("the token has no subject")]
    MissingSubject,
    /// A role-profile token that names no selected profile.
    #[error(
        "the token has no `{0}` claim naming the role profile selected for this session: select a role profile when signing in"
    )]
    NoSelectedProfile(String),
    /// The selected profile is not among the token's profiles.
    #[error("the selected role profile `{selected}` is not among the token's `{claim}`")]
    SelectedProfileMissing {
        /// The selected profile's id (at most 64 characters).
        selected: String,
        /// The profiles claim.
        claim: String,
    },
    /// The selected profile's organisation is not a trust or ICS of the federation.
    #[error(
        "the selected role profile `{profile}` is for organisation `{organisation}`, which is not a trust or ICS of the federation"
    )]
    ProfileOrganisationUnknown {
        /// The profile's id.
        profile: String,
        /// Its organisation.
        organisation: String,
    },
}

impl Federation {
    /// Reads and validates a federation file.
    pub fn from_file(path: &Path) -> Result<Self, FederationError> {
        let text = std::fs::read_to_string(path).map_err(|source| FederationError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|err| match err {
            FederationError::Parse { message, .. } => FederationError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates federation TOML.
    pub fn from_toml(text: &str) -> Result<Self, FederationError> {
        let federation: Federation = toml::from_str(text).map_err(|e| FederationError::Parse {
            path: String::new(),
            message: e.to_string(),
        })?;
        federation.validate()?;
        Ok(federation)
    }

    /// The demo federation: ICS `QUE` with trusts RGT, RGM, RGN and RT1, and no issuers (the
    /// development issuer is added with [`Federation::with_dev_issuer`]).
    pub fn demo() -> Self {
        let trust = |ods: &str, name: &str| TrustEntry {
            ods: ods.into(),
            name: name.into(),
        };
        Federation {
            icss: vec![IcsEntry {
                code: "QUE".into(),
                name: "Cambridgeshire and Peterborough ICS".into(),
                trusts: vec![
                    trust("RGT", "Cambridge University Hospitals NHS Foundation Trust"),
                    trust("RGM", "Royal Papworth Hospital NHS Foundation Trust"),
                    trust("RGN", "North West Anglia NHS Foundation Trust"),
                    trust(
                        "RT1",
                        "Cambridgeshire and Peterborough NHS Foundation Trust",
                    ),
                ],
            }],
            issuers: Vec::new(),
        }
    }

    /// Adds the development issuer at `url`: the organisation comes from the `org` claim and
    /// roles are Concordat role names in the `roles` claim.
    pub fn with_dev_issuer(mut self, url: &str) -> Self {
        self.issuers.retain(|i| i.url != url);
        self.issuers.push(IssuerEntry {
            url: url.into(),
            audiences: vec![super::dev_issuer::AUDIENCE.into()],
            icss: Vec::new(),
            trust: TrustSource::Claim("org".into()),
            roles_claim: default_roles_claim(),
            name_claim: default_name_claim(),
            role_map: BTreeMap::new(),
            max_token_lifetime_seconds: 0,
            service_clients: Vec::new(),
            development: true,
        });
        self
    }

    fn validate(&self) -> Result<(), FederationError> {
        let invalid = |m: String| Err(FederationError::Invalid(m));
        let mut codes = BTreeSet::new();
        let mut trusts = BTreeSet::new();
        for ics in &self.icss {
            if ics.code.trim().is_empty() {
                return invalid("an [[ics]] has an empty code".into());
            }
            if !codes.insert(ics.code.as_str()) {
                return invalid(format!("ICS {} is listed twice", ics.code));
            }
            for trust in &ics.trusts {
                if trust.ods.trim().is_empty() {
                    return invalid(format!("a trust of ICS {} has an empty ods code", ics.code));
                }
                if !trusts.insert(trust.ods.as_str()) {
                    return invalid(format!(
                        "trust {} is listed twice (a trust belongs to one ICS)",
                        trust.ods
                    ));
                }
            }
        }
        for code in &codes {
            if trusts.contains(code) {
                return invalid(format!("{code} is both an ICS code and a trust's ODS code"));
            }
        }
        let mut urls = BTreeSet::new();
        for issuer in &self.issuers {
            if !(issuer.url.starts_with("https://") || issuer.url.starts_with("http://")) {
                return invalid(format!(
                    "issuer url `{}` must be an http(s) URL",
                    issuer.url
                ));
            }
            if !urls.insert(issuer.url.as_str()) {
                return invalid(format!("issuer {} is listed twice", issuer.url));
            }
            if issuer.audiences.is_empty() {
                return invalid(format!("issuer {} accepts no audiences", issuer.url));
            }
            for ics in &issuer.icss {
                if !codes.contains(ics.as_str()) {
                    return invalid(format!("issuer {} names unknown ICS {ics}", issuer.url));
                }
            }
            if let TrustSource::Fixed(ods) = &issuer.trust
                && !trusts.contains(ods.as_str())
            {
                return invalid(format!(
                    "issuer {} is fixed to unknown trust {ods}",
                    issuer.url
                ));
            }
            for (from, to) in &issuer.role_map {
                for role in to {
                    if let Err(e) = role.parse::<Role>() {
                        return invalid(format!("issuer {} maps `{from}` to an {e}", issuer.url));
                    }
                }
            }
            for client in &issuer.service_clients {
                if !trusts.contains(client.trust.as_str()) {
                    return invalid(format!(
                        "service client {} names unknown trust {}",
                        client.client_id, client.trust
                    ));
                }
                for role in &client.roles {
                    if let Err(e) = role.parse::<Role>() {
                        return invalid(format!("service client {}: {e}", client.client_id));
                    }
                }
            }
        }
        Ok(())
    }

    /// The issuer registered at `url`.
    pub fn issuer(&self, url: &str) -> Option<&IssuerEntry> {
        self.issuers.iter().find(|i| i.url == url)
    }

    /// The ICS of a trust.
    pub fn ics_of_trust(&self, ods: &str) -> Option<&IcsEntry> {
        self.icss
            .iter()
            .find(|ics| ics.trusts.iter().any(|t| t.ods == ods))
    }

    /// The ICS of that code.
    pub fn ics(&self, code: &str) -> Option<&IcsEntry> {
        self.icss.iter().find(|ics| ics.code == code)
    }

    /// True when `ods` is a trust of ICS `ics`.
    pub fn is_trust_of(&self, ods: &str, ics: &str) -> bool {
        self.ics(ics)
            .is_some_and(|i| i.trusts.iter().any(|t| t.ods == ods))
    }

    /// Turns verified claims into a principal under this federation's rules.
    pub fn principal(&self, claims: &Value) -> Result<Principal, PrincipalError> {
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let issuer = self
            .issuer(iss)
            .ok_or_else(|| PrincipalError::UnknownIssuer(iss.to_owned()))?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(PrincipalError::MissingSubject)?
            .to_owned();
        let client_id = claims
            .get("client_id")
            .or_else(|| claims.get("azp"))
            .and_then(Value::as_str);
        let name = claim_path(claims, &issuer.name_claim)
            .and_then(Value::as_str)
            .map(str::to_owned);

        let registered =
            client_id.and_then(|id| issuer.service_clients.iter().find(|c| c.client_id == id));
        let (kind, org, roles) = if let Some(client) = registered {
            let roles = client.roles.iter().filter_map(|r| r.parse().ok()).collect();
            (PrincipalKind::Service, client.trust.clone(), roles)
        } else {
            let kind = if client_id == Some(subject.as_str()) {
                PrincipalKind::Service
            } else {
                PrincipalKind::Person
            };
            match &issuer.trust {
                TrustSource::Fixed(ods) => (
                    kind,
                    ods.clone(),
                    map_roles(issuer, claim_path(claims, &issuer.roles_claim)),
                ),
                TrustSource::Claim(path) => (
                    kind,
                    claim_path(claims, path)
                        .and_then(Value::as_str)
                        .ok_or_else(|| PrincipalError::MissingOrganisation(path.clone()))?
                        .to_owned(),
                    map_roles(issuer, claim_path(claims, &issuer.roles_claim)),
                ),
                TrustSource::RoleProfiles(layout) => {
                    let (org, roles) = self.selected_profile(issuer, layout, claims)?;
                    (kind, org, roles)
                }
            }
        };

        let (ics, trust) = if let Some(ics) = self.ics_of_trust(&org) {
            (ics.code.clone(), Some(org))
        } else if self.ics(&org).is_some() {
            (org, None)
        } else {
            return Err(PrincipalError::UnknownOrganisation(org));
        };
        if let Some(claimed) = claims.get("ics").and_then(Value::as_str)
            && claimed != ics
        {
            return Err(PrincipalError::IcsMismatch {
                claimed: claimed.into(),
                actual: ics,
            });
        }
        if !issuer.icss.is_empty() && !issuer.icss.contains(&ics) {
            return Err(PrincipalError::IcsNotAllowed {
                issuer: iss.into(),
                ics,
            });
        }
        Ok(Principal {
            issuer: iss.to_owned(),
            subject,
            name,
            kind,
            ics,
            trust,
            roles,
        })
    }
}

impl Federation {
    /// The organisation and roles of the role profile `claims` select, under `layout`. The other
    /// profiles are not read.
    fn selected_profile(
        &self,
        issuer: &IssuerEntry,
        layout: &RoleProfileClaims,
        claims: &Value,
    ) -> Result<(String, BTreeSet<Role>), PrincipalError> {
        let selected = match claim_path(claims, &layout.selected_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(PrincipalError::NoSelectedProfile(
                    layout.selected_claim.clone(),
                ));
            }
        };
        let matches = |profile: &&Value| match profile.get(&layout.id_field) {
            Some(Value::String(id)) => *id == selected,
            Some(Value::Number(id)) => id.to_string() == selected,
            _ => false,
        };
        let profile = claim_path(claims, &layout.profiles_claim)
            .and_then(Value::as_array)
            .and_then(|profiles| profiles.iter().find(matches))
            .ok_or_else(|| PrincipalError::SelectedProfileMissing {
                selected: selected.chars().take(64).collect(),
                claim: layout.profiles_claim.clone(),
            })?;
        let organisation = profile
            .get(&layout.organisation_field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if self.ics_of_trust(&organisation).is_none() && self.ics(&organisation).is_none() {
            return Err(PrincipalError::ProfileOrganisationUnknown {
                profile: selected.chars().take(64).collect(),
                organisation: organisation.chars().take(64).collect(),
            });
        }
        let roles = layout
            .role_fields
            .iter()
            .flat_map(|field| map_roles(issuer, profile.get(field)))
            .collect();
        Ok((organisation, roles))
    }
}

fn claim_path<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(claims, |value, key| value.get(key))
}

fn map_roles(issuer: &IssuerEntry, value: Option<&Value>) -> BTreeSet<Role> {
    let names: Vec<&str> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s.split_whitespace().collect(),
        _ => Vec::new(),
    };
    let mut roles = BTreeSet::new();
    for name in names {
        if issuer.role_map.is_empty() {
            roles.extend(name.parse::<Role>().ok());
        } else if let Some(mapped) = issuer.role_map.get(name) {
            roles.extend(mapped.iter().filter_map(|r| r.parse::<Role>().ok()));
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_commented_example_file_is_a_valid_federation() {
        let text = include_str!("../../../../deploy/k8s/config/federation.toml");
        let federation = Federation::from_toml(text).unwrap();
        assert!(
            federation
                .issuers
                .iter()
                .any(|i| i.max_token_lifetime_seconds == 3600)
        );
        // The CIS2 claims its comment shows make the principal it says.
        let p = federation
            .principal(&json!({
                "iss": "https://cis2.national.example/realms/Healthcare", "sub": "555000111222",
                "nhsid_nrbac_roles": [
                    {"person_roleid": "555254239107", "org_code": "RGT",
                     "role_code": "S8000:G8000:R8003", "activity_codes": ["B0401", "B0068"]},
                    {"person_roleid": "555254240100", "org_code": "RGN",
                     "role_code": "S8000:G8000:R8003", "activity_codes": []}],
                "selected_roleid": "555254239107"}))
            .unwrap();
        assert_eq!(p.trust.as_deref(), Some("RGT"));
        assert_eq!(
            p.roles.iter().copied().collect::<Vec<_>>(),
            [Role::DaMember, Role::ClinicalSafetyOfficer, Role::Viewer]
        );
    }

    const FILE: &str = r#"
        [[ics]]
        code = "QUE"
        name = "Cambridgeshire and Peterborough ICS"
        trusts = [{ ods = "RGT", name = "CUH" }, { ods = "RGM", name = "Papworth" }]

        [[ics]]
        code = "QKK"
        name = "South East London ICS"
        trusts = [{ ods = "RJ1", name = "Guy's and St Thomas'" }]

        [[issuer]]
        url = "https://idp.rgt.example"
        audiences = ["concordat"]
        trust = { fixed = "RGT" }
        role_map = { "EPR-Analyst" = ["trust-engineer"], "CSO" = ["clinical-safety-officer"] }
        [[issuer.service_client]]
        client_id = "engine"
        trust = "RGT"
        roles = ["automation"]

        [[issuer]]
        url = "https://cis2.example"
        audiences = ["concordat"]
        icss = ["QUE"]
        trust = { claim = "nhsid.org" }
        roles_claim = "roles"
    "#;

    const CIS2: &str = r#"
        [[ics]]
        code = "QUE"
        name = "Cambridgeshire and Peterborough ICS"
        trusts = [{ ods = "RGT", name = "CUH" }, { ods = "RGN", name = "NWAFT" }]

        [[issuer]]
        url = "https://cis2.example"
        audiences = ["concordat"]
        trust = { role_profiles = {} }
        role_map = { "R8003" = ["viewer"], "B0401" = ["da-member"], "B0068" = ["clinical-safety-officer"] }
    "#;

    /// A CIS2-style token of one pharmacist with a profile at RGT (a voting member, through an
    /// activity) and one at RGN (a viewer), with `selected` as the session's profile.
    fn cis2(selected: Option<&str>) -> Value {
        let mut claims = json!({"iss": "https://cis2.example", "sub": "555000111222",
        "name": "Priya Patel", "roles": ["ics-admin"],
        "nhsid_nrbac_roles": [
            {"person_roleid": "1001", "org_code": "RGT", "role_code": "S8000:G8000:R8003",
             "role_name": "Pharmacist", "activity_codes": ["B0401", "B0068"]},
            {"person_roleid": "1002", "org_code": "RGN", "role_code": "R8003",
             "activity_codes": []},
            {"person_roleid": "1003", "org_code": "RXX", "role_code": "R8003"},
        ]});
        if let Some(selected) = selected {
            claims["selected_roleid"] = json!(selected);
        }
        claims
    }

    #[test]
    fn a_role_profile_issuer_acts_for_the_selected_profile_only() {
        let f = Federation::from_toml(CIS2).unwrap();
        let rgt = f.principal(&cis2(Some("1001"))).unwrap();
        assert_eq!(
            (rgt.trust.as_deref(), rgt.ics.as_str()),
            (Some("RGT"), "QUE")
        );
        assert_eq!(
            rgt.roles.iter().copied().collect::<Vec<_>>(),
            [Role::DaMember, Role::ClinicalSafetyOfficer],
            "the selected profile's activities, mapped; the token's `roles` grant nothing"
        );
        let rgn = f.principal(&cis2(Some("1002"))).unwrap();
        assert_eq!(rgn.trust.as_deref(), Some("RGN"));
        assert_eq!(
            rgn.roles.iter().copied().collect::<Vec<_>>(),
            [Role::Viewer],
            "RGT's activities grant nothing at RGN"
        );
        assert_eq!(rgn.subject, rgt.subject);

        assert_eq!(
            f.principal(&cis2(None)).unwrap_err(),
            PrincipalError::NoSelectedProfile("selected_roleid".into())
        );
        assert_eq!(
            f.principal(&cis2(Some("9999"))).unwrap_err(),
            PrincipalError::SelectedProfileMissing {
                selected: "9999".into(),
                claim: "nhsid_nrbac_roles".into()
            }
        );
        let outside = f.principal(&cis2(Some("1003"))).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "the selected role profile `1003` is for organisation `RXX`, which is not a trust or ICS of the federation"
        );
    }

    #[test]
    fn a_fixed_issuer_maps_roles_and_ignores_unmapped_ones() {
        let f = Federation::from_toml(FILE).unwrap();
        let p = f
            .principal(&json!({"iss": "https://idp.rgt.example", "sub": "alice",
                "roles": ["EPR-Analyst", "Janitor"], "name": "Alice"}))
            .unwrap();
        assert_eq!(p.trust.as_deref(), Some("RGT"));
        assert_eq!(p.ics, "QUE");
        assert_eq!(p.kind, PrincipalKind::Person);
        assert_eq!(
            p.roles.iter().copied().collect::<Vec<_>>(),
            [Role::TrustEngineer]
        );
        assert_eq!(p.name.as_deref(), Some("Alice"));
    }

    #[test]
    fn a_registered_service_client_gets_its_registered_trust_and_roles() {
        let f = Federation::from_toml(FILE).unwrap();
        let p = f
            .principal(&json!({"iss": "https://idp.rgt.example", "sub": "engine",
                "client_id": "engine", "roles": ["CSO"]}))
            .unwrap();
        assert_eq!(p.kind, PrincipalKind::Service);
        assert_eq!(
            p.roles.iter().copied().collect::<Vec<_>>(),
            [Role::Automation]
        );
    }

    #[test]
    fn a_claim_issuer_reads_the_organisation_and_keeps_to_its_icss() {
        let f = Federation::from_toml(FILE).unwrap();
        let p = f
            .principal(&json!({"iss": "https://cis2.example", "sub": "bob",
                "nhsid": {"org": "RGM"}, "roles": "da-member viewer"}))
            .unwrap();
        assert_eq!(p.trust.as_deref(), Some("RGM"));
        assert!(p.has(Role::DaMember) && p.has(Role::Viewer));
        let err = f
            .principal(&json!({"iss": "https://cis2.example", "sub": "c", "nhsid": {"org": "RJ1"}}))
            .unwrap_err();
        assert!(matches!(err, PrincipalError::IcsNotAllowed { .. }));
        let err = f
            .principal(&json!({"iss": "https://cis2.example", "sub": "c", "nhsid": {"org": "ZZZ"}}))
            .unwrap_err();
        assert_eq!(err, PrincipalError::UnknownOrganisation("ZZZ".into()));
        let p = f
            .principal(&json!({"iss": "https://cis2.example", "sub": "d", "nhsid": {"org": "QUE"}}))
            .unwrap();
        assert_eq!((p.ics.as_str(), p.trust), ("QUE", None));
    }

    #[test]
    fn inconsistent_files_are_refused_with_the_reason() {
        let twice = "[[ics]]\ncode='A'\nname='a'\ntrusts=[{ods='T',name='t'}]\n\
                     [[ics]]\ncode='B'\nname='b'\ntrusts=[{ods='T',name='t'}]\n";
        let err = Federation::from_toml(twice).unwrap_err();
        assert!(err.to_string().contains("trust T is listed twice"), "{err}");
        let bad_role = FILE.replace("[\"automation\"]", "[\"root\"]");
        let err = Federation::from_toml(&bad_role).unwrap_err();
        assert!(err.to_string().contains("unknown role `root`"), "{err}");
        let err = Federation::from_toml("[[ics]]\ncode = 1").unwrap_err();
        assert!(matches!(err, FederationError::Parse { .. }));
    }

    #[test]
    fn the_demo_federation_is_valid() {
        let f = Federation::demo().with_dev_issuer("http://127.0.0.1:50052");
        f.validate().unwrap();
        assert_eq!(f.ics("QUE").unwrap().trusts.len(), 4);
    }
}
