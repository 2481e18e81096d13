//! Change requests: raising, reading, listing and editing them.

use chrono::Datelike;
use concordat_platform::authz::RequestContext;
use concordat_platform::write::Reply;
use sea_orm::ConnectionTrait;

use super::Reason;
use super::{ChangeControl, ChangeError, Result, actor, invalid, parse_name, parse_parent};
use crate::domain::change_request::{self as cr_domain, ChangeRequest, ChangeType};
use crate::domain::charter::ChangeClass;
use crate::domain::lifecycle::State;
use crate::store::{self, ListQuery};

/// The fields of a new change request (from `CreateChangeRequest`).
pub struct NewChangeRequest {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Rationale.
    pub rationale: String,
    /// Domain.
    pub domain: String,
    /// Design authority name.
    pub design_authority: String,
    /// Affected trusts.
    pub affected_trusts: Vec<String>,
    /// Type.
    pub change_type: ChangeType,
    /// Class.
    pub change_class: Option<ChangeClass>,
    /// Template name.
    pub standard_template: String,
    /// Cost.
    pub cost_estimate_pence: i64,
    /// Effort.
    pub effort_days: i32,
    /// Release name.
    pub target_release: String,
    /// Changesets.
    pub configuration_links: Vec<String>,
    /// Items.
    pub configuration_items: Vec<String>,
    /// Benefits.
    pub benefit_links: Vec<String>,
}

/// Editable fields sent with `UpdateChangeRequest`, and which of them to replace.
pub struct ChangeRequestEdit {
    /// The change request's name.
    pub name: String,
    /// The new values (only masked fields are used).
    pub values: NewChangeRequest,
    /// Field names to replace.
    pub mask: Vec<String>,
    /// The etag the caller read.
    pub etag: String,
    /// Retry key.
    pub request_id: String,
}

/// The ICS-relative id of a design authority named `icss/{ics}/designAuthorities/{id}`.
fn design_authority_id(ics: &str, name: &str) -> Result<String> {
    let (da_ics, id) = parse_name("change_request.design_authority", name, "designAuthorities")?;
    if da_ics != ics {
        return Err(invalid(
            "change_request.design_authority",
            "must be a design authority of the same ICS",
        ));
    }
    Ok(id)
}

impl ChangeControl {
    /// Raises a change request in DRAFT for the caller's trust.
    pub async fn create_change_request<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        new: NewChangeRequest,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let Some(trust) = ctx.principal.trust.clone() else {
            return Err(ChangeError::Precondition {
                reason: Reason::TrustNotInvolved,
                subject: ctx.principal.subject.clone(),
                message: "a change request is raised by a trust: your token names none".into(),
            });
        };
        // Every problem of the request is reported at once: the design authority's name, the
        // fields, the class, and whether the design authority exists and decides the domain.
        let mut violations = Vec::new();
        let da_id = match design_authority_id(&ics, &new.design_authority) {
            Ok(id) => Some(id),
            Err(ChangeError::Invalid(v)) => {
                violations.extend(v);
                None
            }
            Err(other) => return Err(other),
        };
        let now = self.now();
        let mut cr = ChangeRequest {
            ics: ics.clone(),
            id: uuid::Uuid::now_v7().simple().to_string(),
            number: String::new(),
            title: new.title,
            description: new.description,
            rationale: new.rationale,
            requesting_trust: trust,
            requester: ctx.principal.person(),
            domain: new.domain,
            design_authority: da_id.clone().unwrap_or_default(),
            affected_trusts: new.affected_trusts.into_iter().collect(),
            change_type: new.change_type,
            change_class: new.change_class.unwrap_or(ChangeClass::Significant),
            standard_template: new.standard_template,
            cost_estimate_pence: new.cost_estimate_pence,
            effort_days: new.effort_days,
            target_release: new.target_release,
            configuration_links: new.configuration_links,
            configuration_items: new.configuration_items,
            benefit_links: new.benefit_links,
            state: State::Draft,
            charter_version: 0,
            assessment_deadline: None,
            voting_deadline: None,
            residual_risk: 0,
            decision: None,
            board_decision: None,
            missing_assessment_trusts: Vec::new(),
            deployments: Vec::new(),
            retrospective_review_deadline: None,
            retrospective_review_time: None,
            version: 1,
            create_time: now,
            update_time: now,
        };
        violations.extend(
            cr.validate(self.known_trust(&ics))
                .err()
                .unwrap_or_default(),
        );
        if new.change_class.is_none() {
            violations.push(("change_request.change_class".into(), "must be set".into()));
        }
        let da = match &da_id {
            Some(id) => store::design_authority(self.db().conn(), &ics, id).await?,
            None => None,
        };
        match &da {
            None if da_id.is_some() => violations.push((
                "change_request.design_authority".into(),
                format!("{} does not exist", new.design_authority),
            )),
            Some(da) if !cr.domain.is_empty() && !da.domains.iter().any(|d| d == &cr.domain) => {
                violations.push((
                    "change_request.domain".into(),
                    format!(
                        "{} decides {}, not {}",
                        da.display_name,
                        da.domains.join(", "),
                        cr.domain
                    ),
                ))
            }
            _ => {}
        }
        if !violations.is_empty() {
            return Err(ChangeError::Invalid(violations));
        }
        let da_id = da_id.unwrap_or_default();
        if cr.change_type == ChangeType::Standard {
            let (t_ics, t_id) = parse_name(
                "change_request.standard_template",
                &cr.standard_template,
                "standardTemplates",
            )?;
            match store::template(self.db().conn(), &t_ics, &t_id).await? {
                Some(t) if t.ics == ics && t.design_authority == da_id => {
                    cr.standard_template = t_id
                }
                _ => {
                    return Err(ChangeError::Precondition {
                        reason: Reason::TemplateNotApproved,
                        subject: cr.standard_template.clone(),
                        message: format!(
                            "{} is not a standard template approved by {}",
                            cr.standard_template, new.design_authority
                        ),
                    });
                }
            }
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let seq = store::next_sequence(w.txn(), &ics, now.year()).await?;
                cr.number = cr_domain::number(now.year(), seq);
                store::insert_change_request(w.txn(), &cr).await?;
                w.audit(
                    "changeRequest.create",
                    &cr.name(),
                    format!(
                        "{} raised by {}: {}",
                        cr.number, cr.requesting_trust, cr.title
                    ),
                );
                w.event(
                    &cr.ics,
                    &cr.name(),
                    "changeRequest.created",
                    (self.encode)(&cr),
                );
                Ok(reply(&cr))
            })
            .await
    }

    /// Reads a change request and the trusts whose votes went stale.
    pub async fn get_change_request(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<(ChangeRequest, Vec<String>)> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        let c = self.db().conn();
        let cr = self.load_cr(c, &ics, &id, false).await?;
        let stale = stale_vote_trusts(c, &cr).await?;
        Ok((cr, stale))
    }

    /// Lists change requests.
    pub async fn list_change_requests(
        &self,
        ctx: &RequestContext,
        parent: &str,
        query: ListQuery,
    ) -> Result<(Vec<ChangeRequest>, u64)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        Ok(store::list_change_requests(self.db().conn(), &ics, &query).await?)
    }

    /// Edits a change request; a change of substance after voting opened makes the votes stale.
    /// `reply` gets the edited request and the trusts whose votes are stale.
    pub async fn update_change_request<R: Reply>(
        &self,
        ctx: &RequestContext,
        edit: ChangeRequestEdit,
        reply: impl FnOnce(&ChangeRequest, Vec<String>) -> R,
    ) -> Result<R> {
        let (name, request_id) = (edit.name.clone(), edit.request_id.clone());
        let (name, request_id) = (name.as_str(), request_id.as_str());
        let (ics, id) = parse_name("change_request.name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if edit.mask.is_empty() {
            return Err(invalid("update_mask", "name the fields to replace"));
        }
        if edit.etag.is_empty() {
            return Err(invalid(
                "change_request.etag",
                "an edit needs the etag of the version it changes",
            ));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let current = self.load_cr(w.txn(), &ics, &id, true).await?;
                actor(ctx)
                    .must_request(&current, "edits")
                    .map_err(|r| self.refuse(&w, name, r))?;
                if !concordat_api::etag_is_current(&edit.etag, current.version) {
                    return Err(ChangeError::EtagMismatch(name.to_owned()));
                }
                if !current.state.editable() {
                    return Err(ChangeError::Precondition {
                        reason: Reason::InvalidTransition,
                        subject: current.state.as_str().into(),
                        message: format!(
                            "a change request in {} can no longer be edited",
                            current.state
                        ),
                    });
                }
                let mut next = edited(&current, &edit)?;
                next.validate(self.known_trust(&ics))
                    .map_err(ChangeError::Invalid)?;
                let stale = current.state == State::DaReview && current.substance_changed(&next);
                if stale {
                    store::mark_votes_stale(w.txn(), &ics, &id).await?;
                }
                self.save(&w, &mut next, current.version, "changeRequest.updated")
                    .await?;
                let note = if stale {
                    "; the substance changed, so earlier votes are stale"
                } else {
                    ""
                };
                w.audit(
                    "changeRequest.update",
                    name,
                    format!("{} edited ({}){note}", next.number, edit.mask.join(", ")),
                );
                let stale_trusts = stale_vote_trusts(w.txn(), &next).await?;
                Ok(reply(&next, stale_trusts))
            })
            .await
    }
}

/// `current` with the masked fields of `edit` replaced.
fn edited(current: &ChangeRequest, edit: &ChangeRequestEdit) -> Result<ChangeRequest> {
    let mut next = current.clone();
    let v = &edit.values;
    for field in &edit.mask {
        match field.as_str() {
            "title" => next.title = v.title.clone(),
            "description" => next.description = v.description.clone(),
            "rationale" => next.rationale = v.rationale.clone(),
            "affected_trusts" => next.affected_trusts = v.affected_trusts.iter().cloned().collect(),
            "change_class" => {
                next.change_class = v
                    .change_class
                    .ok_or_else(|| invalid("change_request.change_class", "must be set"))?
            }
            "cost_estimate_pence" => next.cost_estimate_pence = v.cost_estimate_pence,
            "effort_days" => next.effort_days = v.effort_days,
            "target_release" => next.target_release = v.target_release.clone(),
            "configuration_links" => next.configuration_links = v.configuration_links.clone(),
            "configuration_items" => next.configuration_items = v.configuration_items.clone(),
            "benefit_links" => next.benefit_links = v.benefit_links.clone(),
            other => {
                return Err(invalid(
                    "update_mask",
                    format!("`{other}` cannot be edited"),
                ));
            }
        }
    }
    Ok(next)
}

/// The trusts whose votes on `cr` went stale (only while voting is open).
async fn stale_vote_trusts(c: &impl ConnectionTrait, cr: &ChangeRequest) -> Result<Vec<String>> {
    if cr.state != State::DaReview {
        return Ok(Vec::new());
    }
    Ok(store::votes(c, &cr.ics, &cr.id)
        .await?
        .into_iter()
        .filter(|v| v.stale)
        .map(|v| v.trust)
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn values() -> NewChangeRequest {
        NewChangeRequest {
            title: "t".into(),
            description: "d".into(),
            rationale: "r".into(),
            domain: "medicines".into(),
            design_authority: "icss/QUE/designAuthorities/medicines".into(),
            affected_trusts: vec!["RGT".into()],
            change_type: ChangeType::Normal,
            change_class: Some(ChangeClass::Routine),
            standard_template: String::new(),
            cost_estimate_pence: 1,
            effort_days: 1,
            target_release: String::new(),
            configuration_links: Vec::new(),
            configuration_items: Vec::new(),
            benefit_links: Vec::new(),
        }
    }

    /// UpdateChangeRequest replaces exactly the fields the proto lets change: every field that is
    /// not OUTPUT_ONLY, IMMUTABLE or the IDENTIFIER, except `etag` (the precondition itself).
    #[test]
    fn the_mask_takes_exactly_the_fields_the_proto_lets_change() {
        let current = crate::domain::change_request::tests::sample();
        let fields =
            concordat_proto::behaviour::fields_of("concordat.changecontrol.v1.ChangeRequest");
        assert!(fields.len() > 30, "{}", fields.len());
        for (field, b) in fields {
            let edit = ChangeRequestEdit {
                name: current.name(),
                values: values(),
                mask: vec![field.clone()],
                etag: "\"1\"".into(),
                request_id: String::new(),
            };
            let changeable = !(b.output_only || b.immutable || b.identifier) && field != "etag";
            assert_eq!(
                edited(&current, &edit).is_ok(),
                changeable,
                "{field}: {b:?}"
            );
        }
    }
}
