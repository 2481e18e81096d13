//! Proposing from evidence: a change request drafted in change control, as the caller, from
//! selected divergences of an assessment.

use super::*;
use crate::domain::proposal::{self, Intent};
use crate::store;
use crate::upstream::{Caller, Draft};

/// What `ProposeChangeRequest` asks.
pub struct Proposal {
    /// The assessment.
    pub assessment: String,
    /// The divergences, as `kind/key`.
    pub keys: Vec<String>,
    /// What the change request would do.
    pub intent: Intent,
    /// The design authority deciding the domain.
    pub design_authority: String,
    /// Change control's change class value.
    pub change_class: i32,
    /// The title (empty: one is made).
    pub title: String,
}

impl Convergence {
    /// Drafts the change request, as `caller`: its name, number and description.
    pub async fn propose(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        p: Proposal,
        request_id: &str,
    ) -> Result<(String, String, String)> {
        let name = concordat_api::names::AssessmentName::parse("assessment", &p.assessment)?;
        self.require_ics(ctx, &name.ics, &p.assessment).await?;
        let c = self.db().conn();
        let a = store::assessment(c, &name.ics, &name.trust, &name.assessment)
            .await?
            .ok_or_else(|| ConvergenceError::NotFound(p.assessment.clone()))?;
        if p.keys.is_empty() {
            return Err(invalid(
                "keys",
                "name at least one divergence, as `kind/key`",
            ));
        }
        let mut violations = Vec::new();
        let mut divergences = Vec::new();
        for (i, text) in p.keys.iter().enumerate() {
            let field = format!("keys[{i}]");
            let Some((kind, key)) = text
                .split_once('/')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            else {
                violations.push((field, "must be `kind/key`".to_owned()));
                continue;
            };
            match store::divergence(c, &a.ics, &a.id, kind, key).await? {
                Some(d) => divergences.push(d),
                None => violations.push((
                    field,
                    format!(
                        "{text} is not a divergence of the assessment (it is aligned, or not in it)"
                    ),
                )),
            }
        }
        let domains: std::collections::BTreeSet<&str> =
            divergences.iter().map(|d| d.domain.as_str()).collect();
        if domains.len() > 1 {
            violations.push((
                "keys".to_owned(),
                format!(
                    "span the domains {}: propose one change request per domain",
                    domains.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if !violations.is_empty() {
            return Err(ConvergenceError::Invalid(violations));
        }
        let domain = divergences
            .first()
            .map(|d| d.domain.clone())
            .unwrap_or_default();
        let assessment = assessment_name(&a);
        let (title, description) = proposal::draft(
            p.intent,
            (&a.trust, &domain, &assessment),
            &divergences,
            &p.title,
        );
        let draft = Draft {
            parent: format!("icss/{}", a.ics),
            title,
            description: description.clone(),
            domain,
            design_authority: p.design_authority,
            affected_trusts: vec![a.trust.clone()],
            change_class: p.change_class,
            configuration_items: p.keys,
        };
        let drafted = self
            .change_control
            .draft(draft, request_id, caller)
            .await
            .map_err(ConvergenceError::ChangeControl)?;
        Ok((drafted.name, drafted.number, description))
    }
}
