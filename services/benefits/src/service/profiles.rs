//! Benefit profiles: created and replaced with their rules checked, their enabling change
//! requests checked against change control and their valuation against the rate card.

use concordat_api::names::{BenefitName, ChangeRequestName, IcsName, RateCardName};
use concordat_platform::write::Reply;

use super::*;
use crate::domain::profile::{self, Profile};
use crate::store;

/// The kind of the event a created profile is announced by.
pub const BENEFIT_CREATED: &str = "benefit.created";
/// The kind of the event a replaced profile is announced by.
pub const BENEFIT_UPDATED: &str = "benefit.updated";

/// A profile as a request gives it: `ics`, `id`, version and times are the server's.
pub type ProfileInput = Profile;

impl Benefits {
    /// Everything about `p` that can be checked before the write: its rules, that its change
    /// requests and rate card are of the ICS, that change control knows the change requests and
    /// that the card's version converts and values its units.
    async fn check_profile(&self, p: &Profile, prefix: &str) -> Result<()> {
        let ics = p.ics.clone();
        let mut violations = profile::check(p, prefix, |t| self.is_trust(&ics, t));
        for (i, cr) in p.enabling.iter().enumerate() {
            let field = format!("{prefix}.enabling_change_requests[{i}]");
            match ChangeRequestName::parse(&field, cr) {
                Ok(n) if n.ics == ics => {}
                Ok(_) => violations.push((field, format!("is not a change request of ICS {ics}"))),
                Err(v) => violations.push((v.field, v.description)),
            }
        }
        if let Some(v) = &p.valuation {
            let field = format!("{prefix}.valuation.rate_card");
            match RateCardName::parse(&field, &v.rate_card) {
                Ok(n) if n.ics == ics => {
                    match store::card(self.db().conn(), &ics, &n.rate_card, Some(v.version)).await?
                    {
                        None => violations.push((
                            format!("{prefix}.valuation.rate_card_version"),
                            format!("{} has no version {}", v.rate_card, v.version),
                        )),
                        Some(card) => {
                            let chain = p.benefit().chain;
                            if let Some(reason) = unvalued(&card.card, &chain) {
                                violations.push((format!("{prefix}.valuation.units"), reason));
                            }
                        }
                    }
                }
                Ok(_) => violations.push((field, format!("is not a rate card of ICS {ics}"))),
                Err(e) => violations.push((e.field, e.description)),
            }
        }
        if !violations.is_empty() {
            return Err(BenefitsError::Invalid(violations));
        }
        Ok(())
    }

    /// Creates profile `id` under `parent`, as `caller` asks change control.
    pub async fn create_benefit<R: Reply>(
        &self,
        ctx: &RequestContext,
        (parent, id, caller): (&str, &str, &Caller),
        mut p: ProfileInput,
        request_id: &str,
        reply: impl FnOnce(&Profile) -> R,
    ) -> Result<R> {
        let ics = IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        if !profile::is_id(id) {
            return Err(invalid(
                "benefit_id",
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter",
            ));
        }
        p.ics = ics.clone();
        p.id = id.to_owned();
        self.check_profile(&p, "benefit").await?;
        self.check_change_requests(&p.enabling, "benefit.enabling_change_requests", caller)
            .await?;
        let name = BenefitName::new(&ics, id).to_string();
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                if store::profile(c, &ics, &p.id).await?.is_some() {
                    return Err(BenefitsError::AlreadyExists(name));
                }
                p.version = 1;
                p.create_time = w.now();
                p.update_time = p.create_time;
                store::put_profile(c, &p).await?;
                w.audit(
                    "benefits.benefit.create",
                    &name,
                    format!(
                        "benefit profile {:?} enabled by {}",
                        p.title,
                        p.enabling.join(", ")
                    ),
                );
                w.event(&ics, &name, BENEFIT_CREATED, (self.encode.benefit)(&p));
                Ok(reply(&p))
            })
            .await
    }

    /// Reads a profile.
    pub async fn get_benefit(&self, ctx: &RequestContext, name: &str) -> Result<Profile> {
        let n = BenefitName::parse("name", name)?;
        self.require_ics(ctx, &n.ics, name).await?;
        self.profile(&n.ics, &n.benefit, name).await
    }

    /// Lists an ICS's profiles by id.
    pub async fn list_benefits(
        &self,
        ctx: &RequestContext,
        parent: &str,
        (page_size, page_token): (i32, &str),
    ) -> Result<(Vec<Profile>, String)> {
        let ics = IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        let limit = Self::page_limit(page_size, 50, 500)?;
        let query = format!("benefits:{ics}");
        let after = self.decode_token(page_token, &query)?;
        let after = after.as_ref().and_then(|v| v.as_str());
        let mut rows = store::profiles(self.db().conn(), &ics, after, limit + 1).await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|p| self.next_token(&query, serde_json::json!(p.id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows, next))
    }

    /// Replaces a profile, if `etag` is current.
    pub async fn update_benefit<R: Reply>(
        &self,
        ctx: &RequestContext,
        (name, etag, caller): (&str, &str, &Caller),
        mut p: ProfileInput,
        request_id: &str,
        reply: impl FnOnce(&Profile) -> R,
    ) -> Result<R> {
        let n = BenefitName::parse("benefit.name", name)?;
        self.require_ics(ctx, &n.ics, name).await?;
        p.ics = n.ics.clone();
        p.id = n.benefit.clone();
        self.check_profile(&p, "benefit").await?;
        self.check_change_requests(&p.enabling, "benefit.enabling_change_requests", caller)
            .await?;
        let name = name.to_owned();
        let etag = etag.to_owned();
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                w.lock(&format!("benefits.benefit:{}:{}", n.ics, n.benefit))
                    .await?;
                let current = store::profile(c, &n.ics, &n.benefit)
                    .await?
                    .ok_or_else(|| BenefitsError::NotFound(name.clone()))?;
                if !concordat_api::etag::matches(&etag, current.version) {
                    return Err(BenefitsError::EtagMismatch(name));
                }
                p.version = current.version + 1;
                p.create_time = current.create_time;
                p.update_time = w.now();
                store::put_profile(c, &p).await?;
                let revalued = match (&current.valuation, &p.valuation) {
                    (Some(a), Some(b))
                        if (a.rate_card.as_str(), a.version)
                            != (b.rate_card.as_str(), b.version) =>
                    {
                        format!(
                            "; re-valued from {}@{} to {}@{}",
                            a.rate_card, a.version, b.rate_card, b.version
                        )
                    }
                    _ => String::new(),
                };
                w.audit(
                    "benefits.benefit.update",
                    &name,
                    format!(
                        "benefit profile {:?} version {}{revalued}",
                        p.title, p.version
                    ),
                );
                w.event(&n.ics, &name, BENEFIT_UPDATED, (self.encode.benefit)(&p));
                Ok(reply(&p))
            })
            .await
    }
}

/// Why `card` cannot convert and value `chain` on any date, if it cannot: a factor between two
/// consecutive units, or a value of the last, missing from every date.
fn unvalued(card: &crate::domain::valuation::RateCard, chain: &[String]) -> Option<String> {
    for pair in chain.windows(2) {
        if !card
            .factors
            .iter()
            .any(|f| f.from_unit == pair[0] && f.to_unit == pair[1])
        {
            return Some(format!(
                "rate card {} version {} has no factor from {:?} to {:?}",
                card.id, card.version, pair[0], pair[1]
            ));
        }
    }
    let last = chain.last()?;
    (!card.values.iter().any(|v| &v.unit == last)).then(|| {
        format!(
            "rate card {} version {} has no value of {:?}",
            card.id, card.version, last
        )
    })
}
