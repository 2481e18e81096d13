//! What awaits the caller, and the stream of change-request events.

use std::collections::BTreeMap;

use concordat_platform::authz::RequestContext;
use concordat_platform::events::EventStream;

use super::{ChangeControl, Result, actor, invalid, parse_parent};
use crate::domain::actions::{Action, actions};
use crate::domain::change_request::{ChangeRequest, DesignAuthority};
use crate::domain::lifecycle::State;
use crate::store;

impl ChangeControl {
    /// What awaits the caller in an ICS, soonest due first.
    pub async fn my_actions(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<(ChangeRequest, Action)>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let actor = actor(ctx);
        let c = self.db().conn();
        let mut authorities: BTreeMap<String, DesignAuthority> = BTreeMap::new();
        let now = self.now();
        let mut out = Vec::new();
        for cr in store::active_change_requests(c, &ics).await? {
            if !authorities.contains_key(&cr.design_authority) {
                let da = self.load_da(c, &ics, &cr.design_authority).await?;
                authorities.insert(cr.design_authority.clone(), da);
            }
            let Some(da) = authorities.get(&cr.design_authority) else {
                continue;
            };
            let assessments = if cr.state == State::ImpactAssessment {
                store::assessments(c, &ics, &cr.id).await?
            } else {
                Vec::new()
            };
            let votes = if cr.state == State::DaReview {
                store::votes(c, &ics, &cr.id).await?
            } else {
                Vec::new()
            };
            let hazards = if actor.cso && cr.state.editable() {
                store::hazards(c, &ics, &cr.id).await?
            } else {
                Vec::new()
            };
            for action in actions(&actor, &cr, da, &assessments, &hazards, &votes, now) {
                out.push((cr.clone(), action));
            }
        }
        out.sort_by_key(|(cr, a)| (a.due.is_none(), a.due, cr.number.clone()));
        Ok(out)
    }

    /// Streams change-request events of an ICS from `cursor`.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        parent: &str,
        cursor: i64,
    ) -> Result<EventStream> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        if cursor < 0 {
            return Err(invalid("cursor", "must not be negative"));
        }
        Ok(self.writer.outbox().watch(ics, cursor).await?)
    }
}
