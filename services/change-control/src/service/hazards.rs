//! The hazard log (DCB0129/DCB0160): hazards with their initial and residual risk, and the
//! clinical safety officer's sign-off.

use concordat_platform::authz::RequestContext;
use concordat_platform::write::Reply;

use super::{ChangeControl, ChangeError, Reason, Result, actor, parse_child, parse_name};
use crate::domain::change_request::Hazard;
use crate::domain::lifecycle::{InvalidTransition, State, Step};
use crate::store;

impl ChangeControl {
    /// Adds a hazard; the CR's residual risk follows the highest. During voting this is a change
    /// of substance: votes go stale.
    pub async fn create_hazard<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        hazard: Hazard,
        request_id: &str,
        reply: impl FnOnce(&Hazard) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        let mut hazard = hazard.assess().map_err(ChangeError::Invalid)?;
        hazard.signed_off_by = None;
        hazard.signed_off_trust.clear();
        hazard.sign_off_time = None;
        self.writer
            .write(ctx, request_id, |w| async move {
                let cr = self.load_cr(w.txn(), &ics, &id, true).await?;
                actor(ctx)
                    .may_log_hazard(&cr)
                    .map_err(|r| self.refuse(&w, parent, r))?;
                if !cr.state.editable() {
                    return Err(ChangeError::Transition(InvalidTransition::new(
                        cr.state,
                        Step::LogHazard,
                    )));
                }
                hazard.id = uuid::Uuid::now_v7().simple().to_string();
                store::insert_hazard(w.txn(), &ics, &id, &hazard, w.now()).await?;
                let mut next = cr.clone();
                next.residual_risk = next.residual_risk.max(hazard.residual_risk);
                if cr.state == State::DaReview {
                    store::mark_votes_stale(w.txn(), &ics, &id).await?;
                }
                self.save(&w, &mut next, cr.version, "changeRequest.hazardLogged")
                    .await?;
                w.audit(
                    "hazard.create",
                    &format!("{parent}/hazards/{}", hazard.id),
                    format!(
                        "hazard logged on {}: {} (risk {} → {})",
                        cr.number, hazard.description, hazard.initial_risk, hazard.residual_risk
                    ),
                );
                Ok(reply(&hazard))
            })
            .await
    }

    /// Revises a hazard of an editable change request: its fields replaced, its risks computed
    /// again, its sign-off cleared; the CR's residual risk follows the highest of the log as it
    /// now stands. During voting this is a change of substance: votes go stale.
    pub async fn update_hazard<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        hazard: Hazard,
        request_id: &str,
        reply: impl FnOnce(&Hazard) -> R,
    ) -> Result<R> {
        let (ics, id, hazard_id) = parse_child("hazard.name", name, "hazards")?;
        self.require_ics(ctx, &ics, name).await?;
        let mut revised = hazard.assess().map_err(ChangeError::Invalid)?;
        revised.id = hazard_id;
        revised.signed_off_by = None;
        revised.signed_off_trust.clear();
        revised.sign_off_time = None;
        self.writer
            .write(ctx, request_id, |w| async move {
                let cr = self.load_cr(w.txn(), &ics, &id, true).await?;
                actor(ctx)
                    .may_log_hazard(&cr)
                    .map_err(|r| self.refuse(&w, name, r))?;
                if !cr.state.editable() {
                    return Err(ChangeError::Transition(InvalidTransition::new(
                        cr.state,
                        Step::LogHazard,
                    )));
                }
                let mut log = store::hazards(w.txn(), &ics, &id).await?;
                let Some(held) = log.iter_mut().find(|h| h.id == revised.id) else {
                    return Err(ChangeError::NotFound(name.to_owned()));
                };
                let was = held.residual_risk;
                *held = revised.clone();
                store::replace_hazard(w.txn(), &ics, &id, &revised).await?;
                let mut next = cr.clone();
                next.residual_risk = log.iter().map(|h| h.residual_risk).max().unwrap_or(0);
                if cr.state == State::DaReview {
                    store::mark_votes_stale(w.txn(), &ics, &id).await?;
                }
                self.save(&w, &mut next, cr.version, "changeRequest.hazardRevised")
                    .await?;
                w.audit(
                    "hazard.update",
                    name,
                    format!(
                        "hazard on {} revised: {} (residual risk {was} → {}; {} now {})",
                        cr.number,
                        revised.description,
                        revised.residual_risk,
                        cr.number,
                        next.residual_risk
                    ),
                );
                Ok(reply(&revised))
            })
            .await
    }

    /// The hazard log.
    pub async fn list_hazards(&self, ctx: &RequestContext, parent: &str) -> Result<Vec<Hazard>> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        self.load_cr(self.db().conn(), &ics, &id, false).await?;
        Ok(store::hazards(self.db().conn(), &ics, &id).await?)
    }

    /// A CSO of an affected trust signs a hazard off.
    pub async fn sign_off_hazard<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        reply: impl FnOnce(&Hazard) -> R,
    ) -> Result<R> {
        let (ics, id, hazard_id) = parse_child("name", name, "hazards")?;
        self.require_ics(ctx, &ics, name).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let cr = self.load_cr(w.txn(), &ics, &id, true).await?;
                let trust = actor(ctx)
                    .must_be_affected(&cr, "sign its hazards off")
                    .map_err(|r| self.refuse(&w, name, r))?
                    .to_owned();
                let mut hazard = store::hazards(w.txn(), &ics, &id)
                    .await?
                    .into_iter()
                    .find(|h| h.id == hazard_id)
                    .ok_or_else(|| ChangeError::NotFound(name.to_owned()))?;
                if let Some(signer) = &hazard.signed_off_by {
                    return Err(ChangeError::Precondition {
                        reason: Reason::AlreadySignedOff,
                        subject: name.to_owned(),
                        message: format!("signed off by {signer} already"),
                    });
                }
                let signer = ctx.principal.person();
                hazard.signed_off_by = Some(signer.clone());
                hazard.signed_off_trust = trust.clone();
                hazard.sign_off_time = Some(w.now());
                store::sign_off_hazard(w.txn(), &ics, &id, &hazard).await?;
                let mut touched = cr.clone();
                self.save(
                    &w,
                    &mut touched,
                    cr.version,
                    "changeRequest.hazardSignedOff",
                )
                .await?;
                w.audit(
                    "hazard.signOff",
                    name,
                    format!("hazard on {} signed off by {signer} of {trust}", cr.number),
                );
                Ok(reply(&hazard))
            })
            .await
    }
}
