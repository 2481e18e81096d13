//! Design authorities, their charters, and the standard templates their chairs pre-approve.

use std::collections::{BTreeMap, BTreeSet};

use concordat_platform::authz::RequestContext;
use concordat_platform::identity::Person;
use concordat_platform::write::Reply;

use super::{ChangeControl, ChangeError, Result, actor, invalid, parse_name, parse_parent};
use crate::domain::change_request::{
    self as cr_domain, DesignAuthority, StandardTemplate, Violation,
};
use crate::domain::charter::Charter;
use crate::store;

/// A new design authority (from `CreateDesignAuthority`).
pub struct NewDesignAuthority {
    /// `icss/{ics}`.
    pub parent: String,
    /// The ICS-relative id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Clinical domains it decides.
    pub domains: Vec<String>,
    /// Voting members per trust.
    pub members: BTreeMap<String, BTreeSet<Person>>,
    /// The chair.
    pub chair: Person,
    /// The charter (becomes version 1).
    pub charter: Charter,
    /// Retry key.
    pub request_id: String,
}

/// An edit of a design authority (from `UpdateDesignAuthority`): the masked fields replaced.
pub struct DesignAuthorityEdit {
    /// `icss/{ics}/designAuthorities/{id}`.
    pub name: String,
    /// The etag the caller read.
    pub etag: String,
    /// Display name.
    pub display_name: String,
    /// Voting members per trust.
    pub members: BTreeMap<String, BTreeSet<Person>>,
    /// The chair.
    pub chair: Person,
    /// The fields to replace: `display_name`, `members`, `chair`.
    pub mask: Vec<String>,
    /// Retry key.
    pub request_id: String,
}

/// A new standard template (from `CreateStandardTemplate`).
pub struct NewStandardTemplate {
    /// `icss/{ics}`.
    pub parent: String,
    /// The ICS-relative id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// What changes it covers.
    pub description: String,
    /// The approving design authority's name.
    pub design_authority: String,
    /// Retry key.
    pub request_id: String,
}

impl ChangeControl {
    /// Creates a design authority with charter version 1.
    pub async fn create_design_authority<R: Reply>(
        &self,
        ctx: &RequestContext,
        new: NewDesignAuthority,
        reply: impl FnOnce(&DesignAuthority) -> R,
    ) -> Result<R> {
        let NewDesignAuthority {
            parent,
            id,
            display_name,
            domains,
            members,
            chair,
            mut charter,
            request_id,
        } = new;
        let ics = parse_parent("parent", &parent)?;
        self.require_ics(ctx, &ics, &parent).await?;
        charter.version = 1;
        cr_domain::validate_design_authority(
            &id,
            &display_name,
            &members,
            &chair,
            &charter,
            self.known_trust(&ics),
            |issuer: &str| self.federation.issuer(issuer).is_some(),
        )
        .map_err(ChangeError::Invalid)?;
        self.writer
            .write(ctx, &request_id, |w| async move {
                charter.effective_time = Some(w.now());
                let da = DesignAuthority {
                    ics,
                    id,
                    display_name,
                    domains,
                    members,
                    chair,
                    charter,
                    version: 1,
                    create_time: w.now(),
                    update_time: w.now(),
                };
                store::insert_design_authority(w.txn(), &da).await?;
                w.audit(
                    "designAuthority.create",
                    &da.name(),
                    format!(
                        "design authority {} created, chair {}",
                        da.display_name, da.chair
                    ),
                );
                Ok(reply(&da))
            })
            .await
    }

    /// Reads a design authority.
    pub async fn get_design_authority(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<DesignAuthority> {
        let (ics, id) = parse_name("name", name, "designAuthorities")?;
        self.require_ics(ctx, &ics, name).await?;
        self.load_da(self.db().conn(), &ics, &id).await
    }

    /// Lists the design authorities of an ICS.
    pub async fn list_design_authorities(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<DesignAuthority>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        Ok(store::design_authorities(self.db().conn(), &ics).await?)
    }

    /// Replaces a design authority's display name, members or chair (an ICS admin; the
    /// permission table says so). The charter and domains are not changed here.
    pub async fn update_design_authority<R: Reply>(
        &self,
        ctx: &RequestContext,
        edit: DesignAuthorityEdit,
        reply: impl FnOnce(&DesignAuthority) -> R,
    ) -> Result<R> {
        let name = edit.name.clone();
        let (ics, id) = parse_name("design_authority.name", &name, "designAuthorities")?;
        self.require_ics(ctx, &ics, &name).await?;
        if edit.etag.is_empty() {
            return Err(invalid(
                "design_authority.etag",
                "an update needs the design authority's etag",
            ));
        }
        if edit.mask.is_empty() {
            return Err(invalid("update_mask", "name the fields to replace"));
        }
        if let Some(other) = edit
            .mask
            .iter()
            .find(|f| !matches!(f.as_str(), "display_name" | "members" | "chair"))
        {
            return Err(invalid(
                "update_mask",
                format!(
                    "`{other}` cannot be replaced here: display_name, members and chair can \
                     (the charter through UpdateCharter)"
                ),
            ));
        }
        self.writer
            .write(ctx, &edit.request_id.clone(), |w| async move {
                let current = self.load_da(w.txn(), &ics, &id).await?;
                if !concordat_api::etag_is_current(&edit.etag, current.version) {
                    return Err(ChangeError::EtagMismatch(name.clone()));
                }
                let mut next = current.clone();
                for field in &edit.mask {
                    match field.as_str() {
                        "display_name" => next.display_name = edit.display_name.clone(),
                        "members" => next.members = edit.members.clone(),
                        _ => next.chair = edit.chair.clone(),
                    }
                }
                cr_domain::validate_design_authority(
                    &next.id,
                    &next.display_name,
                    &next.members,
                    &next.chair,
                    &next.charter,
                    self.known_trust(&ics),
                    |issuer: &str| self.federation.issuer(issuer).is_some(),
                )
                .map_err(ChangeError::Invalid)?;
                next.version += 1;
                next.update_time = w.now();
                store::update_design_authority(w.txn(), &next, current.version).await?;
                w.audit(
                    "designAuthority.update",
                    &name,
                    format!(
                        "design authority {} updated ({}); chair {}, {} member trusts",
                        next.display_name,
                        edit.mask.join(", "),
                        next.chair,
                        next.members.len()
                    ),
                );
                Ok(reply(&next))
            })
            .await
    }

    /// The standard templates of an ICS, by id.
    pub async fn list_standard_templates(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<StandardTemplate>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        Ok(store::templates(self.db().conn(), &ics).await?)
    }

    /// Replaces a design authority's charter with a new version (an ICS admin or the chair).
    pub async fn update_charter<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        mut charter: Charter,
        etag: &str,
        request_id: &str,
        reply: impl FnOnce(&DesignAuthority) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "designAuthorities")?;
        self.require_ics(ctx, &ics, name).await?;
        if etag.is_empty() {
            return Err(invalid(
                "etag",
                "a charter update needs the design authority's etag",
            ));
        }
        charter.validate().map_err(ChangeError::Invalid)?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let current = self.load_da(w.txn(), &ics, &id).await?;
                actor(ctx)
                    .may_change_charter(&current)
                    .map_err(|r| self.refuse(&w, name, r))?;
                if !concordat_api::etag_is_current(etag, current.version) {
                    return Err(ChangeError::EtagMismatch(name.to_owned()));
                }
                charter.version = current.charter.version + 1;
                charter.effective_time = Some(w.now());
                let mut next = current.clone();
                next.charter = charter;
                next.version += 1;
                next.update_time = w.now();
                store::update_charter(w.txn(), &next, current.version).await?;
                w.audit(
                    "designAuthority.updateCharter",
                    name,
                    format!(
                        "charter of {} is now version {}",
                        next.display_name, next.charter.version
                    ),
                );
                Ok(reply(&next))
            })
            .await
    }

    /// Creates a pre-approved standard template (the design authority's chair).
    pub async fn create_standard_template<R: Reply>(
        &self,
        ctx: &RequestContext,
        new: NewStandardTemplate,
        reply: impl FnOnce(&StandardTemplate) -> R,
    ) -> Result<R> {
        let NewStandardTemplate {
            parent,
            id,
            display_name,
            description,
            design_authority,
            request_id,
        } = new;
        let ics = parse_parent("parent", &parent)?;
        self.require_ics(ctx, &ics, &parent).await?;
        let mut v: Vec<Violation> = Vec::new();
        if !cr_domain::valid_id(&id) {
            v.push((
                "standard_template_id".into(),
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter".into(),
            ));
        }
        if display_name.trim().is_empty() {
            v.push((
                "standard_template.display_name".into(),
                "must not be empty".into(),
            ));
        }
        if description.trim().is_empty() {
            v.push((
                "standard_template.description".into(),
                "must say what changes it covers".into(),
            ));
        }
        if !v.is_empty() {
            return Err(ChangeError::Invalid(v));
        }
        let (_, da_id) = parse_name(
            "standard_template.design_authority",
            &design_authority,
            "designAuthorities",
        )?;
        self.writer
            .write(ctx, &request_id, |w| async move {
                let da = self.load_da(w.txn(), &ics, &da_id).await?;
                actor(ctx)
                    .must_chair(&da, "approves its standard templates")
                    .map_err(|r| self.refuse(&w, &parent, r))?;
                let template = StandardTemplate {
                    ics,
                    id,
                    display_name,
                    description,
                    design_authority: da_id,
                    creator: ctx.principal.person(),
                    create_time: w.now(),
                };
                store::insert_template(w.txn(), &template).await?;
                w.audit(
                    "standardTemplate.create",
                    &template.name(),
                    format!(
                        "standard template {} approved by the chair of {}",
                        template.display_name, da.display_name
                    ),
                );
                Ok(reply(&template))
            })
            .await
    }
}
