//! Impact assessments: each affected trust records what the change means for it.

use std::collections::BTreeSet;

use concordat_platform::authz::RequestContext;
use concordat_platform::write::Reply;

use super::{ChangeControl, ChangeError, Reason, Result, invalid, parse_name};
use crate::domain::change_request::ImpactAssessment;
use crate::domain::lifecycle::{InvalidTransition, State, Step};
use crate::store;

impl ChangeControl {
    /// Records the caller's trust's impact assessment.
    pub async fn submit_assessment<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        mut assessment: ImpactAssessment,
        request_id: &str,
        reply: impl FnOnce(&ImpactAssessment) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        if assessment.trust.is_empty() {
            return Err(invalid("impact_assessment.trust", "must name your trust"));
        }
        assessment.validate().map_err(ChangeError::Invalid)?;
        let resource = format!("{parent}/impactAssessments/{}", assessment.trust);
        ctx.require_trust(self.db(), &assessment.trust, &resource)
            .await
            .map_err(ChangeError::Denied)?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let cr = self.load_cr(w.txn(), &ics, &id, true).await?;
                if !cr.affected_trusts.contains(&assessment.trust) {
                    return Err(ChangeError::Precondition {
                        reason: Reason::TrustNotInvolved,
                        subject: assessment.trust.clone(),
                        message: format!("{} is not affected by {}", assessment.trust, cr.number),
                    });
                }
                if cr.state != State::ImpactAssessment {
                    return Err(ChangeError::Transition(InvalidTransition::new(
                        cr.state,
                        Step::Assess,
                    )));
                }
                assessment.assessor = ctx.principal.person();
                assessment.update_time = w.now();
                store::upsert_assessment(w.txn(), &ics, &id, &assessment).await?;
                let mut touched = cr.clone();
                self.save(&w, &mut touched, cr.version, "changeRequest.assessed")
                    .await?;
                w.audit(
                    "impactAssessment.submit",
                    &resource,
                    format!(
                        "{} assessed {}: {:?}",
                        assessment.trust, cr.number, assessment.recommendation
                    ),
                );
                Ok(reply(&assessment))
            })
            .await
    }

    /// The assessments received and the affected trusts still missing.
    pub async fn list_assessments(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<(Vec<ImpactAssessment>, Vec<String>)> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        let cr = self.load_cr(self.db().conn(), &ics, &id, false).await?;
        let assessments = store::assessments(self.db().conn(), &ics, &id).await?;
        let done: BTreeSet<&str> = assessments.iter().map(|a| a.trust.as_str()).collect();
        let missing = cr
            .affected_trusts
            .iter()
            .filter(|t| !done.contains(t.as_str()))
            .cloned()
            .collect();
        Ok((assessments, missing))
    }
}
