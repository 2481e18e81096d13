//! Releases: windows with trust freezes, scheduling approved changes into them, and the trusts'
//! deployment reports.

use concordat_platform::authz::{RequestContext, deny};
use concordat_platform::write::Reply;
use sea_orm::ConnectionTrait;

use super::Reason;
use super::{ChangeControl, ChangeError, Result, actor, invalid, parse_name, parse_parent};
use crate::domain::change_request::{ChangeRequest, Deployment};
use crate::domain::lifecycle::{self, InvalidTransition, Move, State, Step};
use crate::domain::release::Release;
use crate::domain::standing::Refused;
use crate::store;

/// What scheduling found: the change request, the release, or why not.
enum Scheduling {
    Ready(Box<(ChangeRequest, Release)>),
    Refused(Refused),
}

impl ChangeControl {
    /// Creates a release window.
    pub async fn create_release<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        mut release: Release,
        request_id: &str,
        reply: impl FnOnce(&Release) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        release.ics = ics.clone();
        release
            .validate(self.known_trust(&ics))
            .map_err(ChangeError::Invalid)?;
        self.writer
            .write(ctx, request_id, |w| async move {
                release.create_time = w.now();
                store::insert_release(w.txn(), &release).await?;
                w.audit(
                    "release.create",
                    &release.name(),
                    format!(
                        "release {} from {} to {} with {} freeze(s)",
                        release.display_name,
                        release.window_start.format("%Y-%m-%d"),
                        release.window_end.format("%Y-%m-%d"),
                        release.freezes.len()
                    ),
                );
                Ok(reply(&release))
            })
            .await
    }

    /// A release and the change requests in it.
    pub async fn get_release(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<(Release, Vec<ChangeRequest>)> {
        let (ics, id) = parse_name("name", name, "releases")?;
        self.require_ics(ctx, &ics, name).await?;
        let release = store::release(self.db().conn(), &ics, &id)
            .await?
            .ok_or_else(|| ChangeError::NotFound(name.to_owned()))?;
        let members = store::release_members(self.db().conn(), &ics, &id).await?;
        Ok((release, scheduled(members)))
    }

    /// The releases of an ICS, the latest window first, each with the change requests
    /// scheduled in it.
    pub async fn list_releases(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<(Release, Vec<ChangeRequest>)>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let c = self.db().conn();
        let mut members = store::releases_members(c, &ics).await?;
        Ok(store::releases(c, &ics)
            .await?
            .into_iter()
            .map(|r| {
                let crs = members.remove(&r.id).unwrap_or_default();
                (r, scheduled(crs))
            })
            .collect())
    }

    /// Checks that `ctx` may schedule change request `id` into release `r_id`, and that nothing
    /// conflicts, reading through `c`.
    async fn scheduling(
        &self,
        c: &impl ConnectionTrait,
        ctx: &RequestContext,
        (ics, id): (&str, &str),
        (r_id, release_name): (&str, &str),
        lock: bool,
    ) -> Result<Scheduling> {
        let cr = self.load_cr(c, ics, id, lock).await?;
        let da = self.load_da(c, ics, &cr.design_authority).await?;
        if let Err(refused) = actor(ctx).may_schedule(&cr, &da) {
            return Ok(Scheduling::Refused(refused));
        }
        lifecycle::apply(cr.state, Move::Schedule)?;
        let release = store::release(c, ics, r_id)
            .await?
            .ok_or_else(|| ChangeError::NotFound(release_name.to_owned()))?;
        let members = store::release_members(c, ics, r_id).await?;
        let conflicts = crate::domain::release::conflicts(&cr, &release, &members);
        if !conflicts.is_empty() {
            return Err(ChangeError::Conflicts(
                conflicts
                    .into_iter()
                    .map(|(k, s, d)| (k.to_owned(), s, d))
                    .collect(),
            ));
        }
        Ok(Scheduling::Ready(Box::new((cr, release))))
    }

    /// Schedules an approved change into a release, refusing with every conflict. With
    /// `validate_only` it checks and changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn schedule<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        release_name: &str,
        validate_only: bool,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        let (r_ics, r_id) = parse_name("release", release_name, "releases")?;
        self.require_ics(ctx, &ics, name).await?;
        if r_ics != ics {
            return Err(invalid("release", "must be a release of the same ICS"));
        }
        let keys = ((ics.as_str(), id.as_str()), (r_id.as_str(), release_name));
        if validate_only {
            let c = self.db().conn();
            return match self.scheduling(c, ctx, keys.0, keys.1, false).await? {
                Scheduling::Ready(ready) => Ok(reply(&ready.0)),
                Scheduling::Refused(refused) => Err(deny(
                    self.db(),
                    &ctx.principal,
                    &ctx.request_id,
                    name,
                    (self.name_reason)(Reason::TrustScope).1,
                    refused.message,
                )
                .await
                .into()),
            };
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let (cr, release) =
                    match self.scheduling(w.txn(), ctx, keys.0, keys.1, true).await? {
                        Scheduling::Ready(ready) => *ready,
                        Scheduling::Refused(refused) => return Err(self.refuse(&w, name, refused)),
                    };
                let mut next = cr.clone();
                next.state = lifecycle::apply(cr.state, Move::Schedule)?;
                next.target_release = keys.1.0.to_owned();
                self.save(&w, &mut next, cr.version, "changeRequest.scheduled")
                    .await?;
                w.audit(
                    "changeRequest.schedule",
                    name,
                    format!(
                        "{} scheduled into release {}",
                        cr.number, release.display_name
                    ),
                );
                Ok(reply(&next))
            })
            .await
    }

    /// Records the caller's trust's deployment report; IMPLEMENTED when every trust deployed.
    pub async fn report_deployment<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        deployed: bool,
        note: String,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let cr = self.load_cr(w.txn(), &ics, &id, true).await?;
                let trust = actor(ctx)
                    .must_be_affected(&cr, "report its deployment")
                    .map_err(|r| self.refuse(&w, name, r))?
                    .to_owned();
                if cr.state != State::Scheduled {
                    return Err(ChangeError::Transition(InvalidTransition::new(
                        cr.state,
                        Step::ReportDeployment,
                    )));
                }
                let mut next = cr.clone();
                next.report_deployment(Deployment {
                    trust: trust.clone(),
                    deployed,
                    note,
                    reported_by: ctx.principal.person(),
                    report_time: w.now(),
                });
                let mut kind = "changeRequest.deploymentReported";
                if next.deployed_everywhere() {
                    next.state = lifecycle::apply(cr.state, Move::Implement)?;
                    kind = "changeRequest.implemented";
                }
                self.save(&w, &mut next, cr.version, kind).await?;
                let everywhere = if next.state == State::Implemented {
                    "; now deployed at every affected trust"
                } else {
                    ""
                };
                w.audit(
                    "changeRequest.reportDeployment",
                    name,
                    format!(
                        "{} {} at {trust}{everywhere}",
                        cr.number,
                        if deployed { "deployed" } else { "rolled back" },
                    ),
                );
                Ok(reply(&next))
            })
            .await
    }
}

/// Of the change requests naming a release, those scheduled in it (or since deployed, closed).
fn scheduled(crs: Vec<ChangeRequest>) -> Vec<ChangeRequest> {
    crs.into_iter()
        .filter(|c| {
            matches!(
                c.state,
                State::Scheduled | State::Implemented | State::Closed
            )
        })
        .collect()
}
