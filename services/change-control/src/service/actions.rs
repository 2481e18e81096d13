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
    /// What awaits the caller in an ICS, soonest due first. Five queries whatever the number of
    /// active change requests: the requests, the design authorities, and the assessments, votes
    /// and (for a clinical safety officer) hazards of those in the states that need them.
    pub async fn my_actions(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<(ChangeRequest, Action)>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let actor = actor(ctx);
        let c = self.db().conn();
        let now = self.now();
        let active = store::active_change_requests(c, &ics).await?;
        let authorities: BTreeMap<String, DesignAuthority> = store::design_authorities(c, &ics)
            .await?
            .into_iter()
            .map(|da| (da.id.clone(), da))
            .collect();
        let assessments = store::assessments_in_states(c, &ics, &[State::ImpactAssessment]).await?;
        let votes = store::votes_in_states(c, &ics, &[State::DaReview]).await?;
        let hazards = if actor.cso {
            let editable = [State::Submitted, State::ImpactAssessment, State::DaReview];
            store::hazards_in_states(c, &ics, &editable).await?
        } else {
            BTreeMap::new()
        };
        let mut out = Vec::new();
        for cr in active {
            let Some(da) = authorities.get(&cr.design_authority) else {
                continue;
            };
            let a = assessments.get(&cr.id).map_or(&[][..], Vec::as_slice);
            let v = votes.get(&cr.id).map_or(&[][..], Vec::as_slice);
            let h = hazards.get(&cr.id).map_or(&[][..], Vec::as_slice);
            for action in actions(&actor, &cr, da, a, h, v, now) {
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
