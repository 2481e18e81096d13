//! Convergence plans: creating and changing them (an ICS admin any part, a trust's people only
//! their own trust's milestones), scheduling them by the critical path method, forecasting them
//! with their stored seed, and achieving milestones on the evidence of recorded assessments.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use concordat_platform::identity::Role;
use concordat_platform::write::{Reply, Write};
use serde_json::json;

use super::*;
use crate::domain::assessment::{self, Class};
use crate::domain::plan::{self, Estimate, Forecast, Schedule};
use crate::domain::plans::{self as rules, DurationSource, Plan};
use crate::store;

/// The kind of the event a plan created or changed is announced by.
pub const PLAN_UPDATED: &str = "plan.updated";

/// The kind of the event a milestone achieved is announced by (the plan after it).
pub const MILESTONE_ACHIEVED: &str = "milestone.achieved";

/// The most iterations of a forecast.
pub const MAX_ITERATIONS: i32 = 100_000;

/// What a plan is written as: everything but what the server keeps.
pub struct PlanInput {
    /// `icss/{ics}/convergencePlans/{plan}` (updates) or empty (creates).
    pub name: String,
    /// The plan's fields; `ics`, `id`, `version` and the times are the server's.
    pub plan: Plan,
    /// The etag (updates).
    pub etag: String,
}

/// A schedule of a plan, with the plan.
pub struct Scheduled {
    /// The plan.
    pub plan: Plan,
    /// Its CPM schedule on the most likely durations.
    pub schedule: Schedule,
}

/// A forecast of a plan, with the plan and where each duration came from.
pub struct Forecasted {
    /// The plan.
    pub plan: Plan,
    /// The forecast.
    pub forecast: Forecast,
    /// Per milestone, `estimates` or `history`.
    pub sources: Vec<&'static str>,
}

fn plan_name(p: &Plan) -> String {
    concordat_api::names::ConvergencePlanName::new(&p.ics, &p.id).to_string()
}

impl Convergence {
    fn trust_set(&self, ics: &str) -> std::collections::BTreeSet<String> {
        self.trusts_of(ics).into_iter().collect()
    }

    /// Creates a plan. ics-admin (by the permissions table).
    pub async fn create_plan<R: Reply>(
        &self,
        ctx: &RequestContext,
        (parent, plan_id): (&str, &str),
        input: PlanInput,
        request_id: &str,
        reply: impl FnOnce(&Plan) -> R,
    ) -> Result<R> {
        let ics = concordat_api::names::IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        if !rules::is_id(plan_id) {
            return Err(invalid(
                "plan_id",
                "must be 1–63 lowercase letters, digits or hyphens",
            ));
        }
        let mut p = input.plan;
        p.ics = ics.clone();
        p.id = plan_id.to_owned();
        for m in &mut p.milestones {
            m.achieved = None;
        }
        if p.seed == 0 {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            let mut seed = [0u8; 8];
            seed.copy_from_slice(&bytes[..8]);
            p.seed = u64::from_le_bytes(seed) >> 1;
        }
        let violations = rules::check(&p, &self.trust_set(&ics));
        if !violations.is_empty() {
            return Err(ConvergenceError::Invalid(violations));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                if store::plan(c, &ics, &p.id).await?.is_some() {
                    return Err(ConvergenceError::AlreadyExists(plan_name(&p)));
                }
                p.version = 1;
                p.create_time = w.now();
                p.update_time = w.now();
                store::insert_plan(c, &p).await?;
                self.plan_written(&w, &p, "created");
                Ok(reply(&p))
            })
            .await
    }

    /// Audits and events a plan written.
    fn plan_written(&self, w: &Write, p: &Plan, how: &str) {
        let name = plan_name(p);
        w.audit(
            "convergence.plan",
            &name,
            format!(
                "plan {} {how} (version {}): {} milestones, {} dependencies",
                p.id,
                p.version,
                p.milestones.len(),
                p.dependencies.len()
            ),
        );
        w.event(&p.ics, &name, PLAN_UPDATED, (self.encode.plan)(p));
    }

    async fn plan_in_scope(&self, ctx: &RequestContext, field: &str, name: &str) -> Result<Plan> {
        let parsed = concordat_api::names::ConvergencePlanName::parse(field, name)?;
        self.require_ics(ctx, &parsed.ics, name).await?;
        store::plan(self.db().conn(), &parsed.ics, &parsed.plan)
            .await?
            .ok_or_else(|| ConvergenceError::NotFound(name.to_owned()))
    }

    /// A plan.
    pub async fn get_plan(&self, ctx: &RequestContext, name: &str) -> Result<Plan> {
        self.plan_in_scope(ctx, "name", name).await
    }

    /// A page of an ICS's plans by id, and the next page's token.
    pub async fn list_plans(
        &self,
        ctx: &RequestContext,
        parent: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Plan>, String)> {
        let ics = concordat_api::names::IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        let limit = page_limit(page_size, 50, 200)?;
        let query = json!({"list": "plans", "parent": parent});
        let after = self
            .decode_token(page_token, &query)?
            .map(|t| t["at"].as_str().map(str::to_owned))
            .map(|id| id.ok_or_else(|| invalid("page_token", "is not a token this list returned")))
            .transpose()?;
        let mut list = store::plans(self.db().conn(), &ics, after.as_deref(), limit + 1).await?;
        let next = if list.len() as u64 > limit {
            list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            list.last()
                .map_or(String::new(), |p| self.next_token(&query, json!(p.id)))
        } else {
            String::new()
        };
        Ok((list, next))
    }

    /// Replaces a plan, if `etag` is current. An ICS admin changes any part; a trust's digital
    /// lead or engineer only their own trust's milestones (refused and audited otherwise).
    pub async fn update_plan<R: Reply>(
        &self,
        ctx: &RequestContext,
        input: PlanInput,
        request_id: &str,
        reply: impl FnOnce(&Plan) -> R,
    ) -> Result<R> {
        let current = self.plan_in_scope(ctx, "plan.name", &input.name).await?;
        let mut p = input.plan;
        p.ics = current.ics.clone();
        p.id = current.id.clone();
        // What only the server sets: achievements carry over while the milestone is the same.
        for m in &mut p.milestones {
            m.achieved = current
                .milestones
                .iter()
                .find(|c| {
                    c.id == m.id
                        && c.trust == m.trust
                        && c.domain == m.domain
                        && c.target_convergence == m.target_convergence
                })
                .and_then(|c| c.achieved.clone());
        }
        let violations = rules::check(&p, &self.trust_set(&p.ics));
        if !violations.is_empty() {
            return Err(ConvergenceError::Invalid(violations));
        }
        if !ctx.principal.has(Role::IcsAdmin) {
            let trust = ctx.principal.trust.clone().unwrap_or_default();
            let refused = rules::trust_edit(&current, &p, &trust);
            if !refused.is_empty() {
                let message = refused
                    .iter()
                    .map(|(_, r)| r.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(ConvergenceError::Denied(
                    concordat_platform::authz::deny(
                        self.db(),
                        &ctx.principal,
                        &ctx.request_id,
                        &input.name,
                        "TRUST_SCOPE",
                        message,
                    )
                    .await,
                ));
            }
        }
        let (etag, read_version) = (input.etag, current.version);
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                w.lock(&format!("convergence.plan:{}:{}", p.ics, p.id))
                    .await?;
                let stored = store::plan(c, &p.ics, &p.id)
                    .await?
                    .ok_or_else(|| ConvergenceError::NotFound(plan_name(&p)))?;
                if !concordat_api::etag::matches(&etag, stored.version)
                    || stored.version != read_version
                {
                    return Err(ConvergenceError::EtagMismatch(plan_name(&p)));
                }
                p.version = stored.version + 1;
                p.create_time = stored.create_time;
                p.update_time = w.now();
                store::replace_plan(c, &p).await?;
                self.plan_written(&w, &p, "changed");
                Ok(reply(&p))
            })
            .await
    }

    /// A plan scheduled by the critical path method on the most likely durations.
    pub async fn schedule_plan(&self, ctx: &RequestContext, name: &str) -> Result<Scheduled> {
        let p = self.plan_in_scope(ctx, "name", name).await?;
        let schedule = plan::schedule(&rules::network(&p), &p.dependencies, |m| {
            m.estimate.most_likely
        })
        .map_err(|e| invalid("name", format!("the plan cannot be scheduled: {e}")))?;
        Ok(Scheduled { plan: p, schedule })
    }

    /// A plan's Monte Carlo forecast with its stored seed, over `iterations` (default 10,000).
    pub async fn forecast_plan(
        &self,
        ctx: &RequestContext,
        name: &str,
        iterations: i32,
    ) -> Result<Forecasted> {
        let iterations = match iterations {
            0 => 10_000,
            n if (1..=MAX_ITERATIONS).contains(&n) => n,
            _ => {
                return Err(invalid(
                    "iterations",
                    format!("must be from 1 to {MAX_ITERATIONS} (0: 10,000)"),
                ));
            }
        };
        let p = self.plan_in_scope(ctx, "name", name).await?;
        let mut network = rules::network(&p);
        let mut sources = vec!["estimates"; network.len()];
        if p.duration_source == DurationSource::History {
            for (i, m) in p.milestones.iter().enumerate() {
                if let Some(estimate) = self.estimate_from_history(&p.ics, m).await? {
                    network[i].estimate = estimate;
                    sources[i] = "history";
                }
            }
        }
        let target = p
            .target_time
            .map(|t| (t - p.start_time).num_milliseconds() as f64 / 86_400_000.0);
        let forecast = plan::forecast(
            &network,
            &p.dependencies,
            p.seed,
            u32::try_from(iterations).unwrap_or(10_000),
            target,
        )
        .map_err(|e| invalid("name", format!("the plan cannot be forecast: {e}")))?;
        Ok(Forecasted {
            plan: p,
            forecast,
            sources,
        })
    }

    /// A milestone's duration from its trust's own pace in the domain: keys aligned per week in
    /// its recorded assessments (the newest 1,000). `None` without progress to go on.
    async fn estimate_from_history(
        &self,
        ics: &str,
        m: &rules::PlanMilestone,
    ) -> Result<Option<Estimate>> {
        let history = store::assessments(self.db().conn(), ics, &m.trust, None, 1000).await?;
        let mut points: Vec<(DateTime<Utc>, u64)> = history
            .iter()
            .map(|a| {
                let aligned = a.cells.get(&m.domain).map_or(0, |t| t.of(Class::Aligned));
                (a.assess_time, aligned)
            })
            .collect();
        points.reverse();
        let closures = rules::weekly_closures(&points);
        Ok(plan::estimate_from_history(
            u64::try_from(m.keys_in_scope).unwrap_or(0),
            &closures,
        ))
    }

    /// In the write that records assessment `a` (named `name`): achieves the milestones of its
    /// trust it shows reached, each audited, and events each plan changed.
    pub(super) async fn achieve_milestones(
        &self,
        w: &Write,
        a: &Assessment,
        name: &str,
        settings: &Settings,
    ) -> Result<()> {
        let c = w.txn();
        let convergence: BTreeMap<String, f64> = a
            .cells
            .iter()
            .map(|(domain, t)| {
                let scores = assessment::score(&t.counts(&settings.weights), &settings.grid);
                (domain.clone(), scores.convergence)
            })
            .collect();
        for id in store::plans_awaiting(c, &a.ics, &a.trust).await? {
            let Some(mut p) = store::plan(c, &a.ics, &id).await? else {
                continue;
            };
            let reached: Vec<String> = rules::achieved_by(&p, &a.trust, &convergence)
                .into_iter()
                .map(str::to_owned)
                .collect();
            if reached.is_empty() {
                continue;
            }
            let resource = plan_name(&p);
            for milestone in &reached {
                store::set_achieved(c, &a.ics, (&p.id, milestone), name, a.assess_time).await?;
                if let Some(m) = p.milestones.iter_mut().find(|m| &m.id == milestone) {
                    m.achieved = Some((name.to_owned(), a.assess_time));
                    w.audit(
                        "convergence.milestone",
                        &resource,
                        format!(
                            "milestone {milestone} ({} {} to {:.2}) achieved by {name}",
                            m.trust, m.domain, m.target_convergence
                        ),
                    );
                }
            }
            w.event(
                &a.ics,
                &resource,
                MILESTONE_ACHIEVED,
                (self.encode.plan)(&p),
            );
        }
        Ok(())
    }
}
