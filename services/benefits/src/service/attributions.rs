//! Attribution: how a benefit at one trust in one financial year is shared among the change
//! requests that enabled it. Shares above 100% in all are refused at write time; the rest is
//! kept as unattributed.

use concordat_api::names::AttributionName;
use concordat_platform::identity::Role;
use concordat_platform::write::Reply;

use super::*;
use crate::domain::attribution::{Attribution, AttributionError};
use crate::domain::exact::Ratio;
use crate::domain::period::FinancialYear;
use crate::store;

/// The kind of the event each attribution set is announced by.
pub const ATTRIBUTION_SET: &str = "attribution.set";

/// A parsed attribution name: ICS, benefit, trust and year.
struct Target {
    ics: String,
    benefit: String,
    trust: String,
    year: FinancialYear,
}

impl Benefits {
    async fn attribution_target(
        &self,
        ctx: &RequestContext,
        field: &str,
        name: &str,
    ) -> Result<(Target, Profile)> {
        let n = AttributionName::parse(field, name)?;
        self.require_ics(ctx, &n.ics, name).await?;
        if !self.is_trust(&n.ics, &n.trust) {
            return Err(invalid(
                field,
                format!("{} is not a trust of ICS {}", n.trust, n.ics),
            ));
        }
        let year = FinancialYear::parse_segment(&n.year)
            .ok_or_else(|| invalid(field, "its year must be a financial year written `2025-26`"))?;
        let benefit = concordat_api::names::BenefitName::new(&n.ics, &n.benefit).to_string();
        let profile = self.profile(&n.ics, &n.benefit, &benefit).await?;
        Ok((
            Target {
                ics: n.ics,
                benefit: n.benefit,
                trust: n.trust,
                year,
            },
            profile,
        ))
    }

    /// Reads an attribution (empty, version 0, if never set).
    pub async fn get_attribution(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<AttributionRecord> {
        let (t, _) = self.attribution_target(ctx, "name", name).await?;
        Ok(store::attribution(self.db().conn(), (&t.ics, &t.benefit, &t.trust), t.year).await?)
    }

    /// Sets an attribution: `shares` (change request, percent) with `rationale`, if `etag` is
    /// current. The trust's validator or an ICS admin.
    pub async fn set_attribution<R: Reply>(
        &self,
        ctx: &RequestContext,
        (name, etag): (&str, &str),
        (shares, rationale): (Vec<(String, Ratio)>, String),
        request_id: &str,
        reply: impl FnOnce(&AttributionRecord) -> R,
    ) -> Result<R> {
        let (t, profile) = self
            .attribution_target(ctx, "attribution.name", name)
            .await?;
        let mut violations = Vec::new();
        let hundred = Ratio::int(100);
        let mut fractions = Vec::with_capacity(shares.len());
        for (i, (cr, percent)) in shares.iter().enumerate() {
            if !profile.enabling.contains(cr) {
                violations.push((
                    format!("attribution.shares[{i}].change_request"),
                    "is not one of the benefit's enabling change requests".to_owned(),
                ));
            }
            if *percent <= Ratio::ZERO || *percent > hundred {
                violations.push((
                    format!("attribution.shares[{i}].percent"),
                    "must be above 0 and at most 100".to_owned(),
                ));
            }
            match percent.checked_div(hundred) {
                Ok(f) => fractions.push((cr.clone(), f)),
                Err(_) => violations.push((
                    format!("attribution.shares[{i}].percent"),
                    "is out of range".to_owned(),
                )),
            }
        }
        if !violations.is_empty() {
            return Err(BenefitsError::Invalid(violations));
        }
        let attribution = Attribution::new(fractions).map_err(|e| match e {
            AttributionError::OverAttributed(total) => invalid(
                "attribution.shares",
                format!(
                    "add up to {}%, more than 100%: lower a share (the rest is shown unattributed)",
                    total.checked_mul(hundred).unwrap_or(total)
                ),
            ),
            AttributionError::Repeated(cr) => {
                invalid("attribution.shares", format!("name {cr} more than once"))
            }
            AttributionError::OutOfRange(cr) => invalid(
                "attribution.shares",
                format!("the share of {cr} must be above 0 and at most 100"),
            ),
            AttributionError::Exact(e) => invalid("attribution.shares", e.to_string()),
        })?;
        let p = &ctx.principal;
        let may = p.has(Role::IcsAdmin) && p.trust.is_none()
            || (p.acts_for(&t.trust)
                && p.has_any(&[Role::BenefitsAnalyst, Role::TrustDigitalLead]));
        let name = name.to_owned();
        let etag = etag.to_owned();
        self.writer
            .write(ctx, request_id, |w| async move {
                if !may {
                    return Err(self.refuse(
                        &w,
                        &name,
                        Reason::NotAValidator,
                        format!(
                            "only {}'s benefits analyst or digital lead, or an ICS admin, attributes its benefits",
                            t.trust
                        ),
                    ));
                }
                let c = w.txn();
                w.lock(&format!(
                    "benefits.attribution:{}:{}:{}:{}",
                    t.ics, t.benefit, t.trust, t.year
                ))
                .await?;
                let current =
                    store::attribution(c, (&t.ics, &t.benefit, &t.trust), t.year).await?;
                if !concordat_api::etag::matches(&etag, current.version) {
                    return Err(BenefitsError::EtagMismatch(name));
                }
                let record = AttributionRecord {
                    shares: attribution,
                    rationale,
                    version: current.version + 1,
                    update_time: Some(w.now()),
                    ..current
                };
                store::put_attribution(c, &record).await?;
                let shares: Vec<String> = record
                    .shares
                    .shares()
                    .iter()
                    .map(|(cr, s)| format!("{cr} {}%", s.checked_mul(hundred).unwrap_or(*s)))
                    .collect();
                w.audit(
                    "benefits.attribution.set",
                    &name,
                    format!(
                        "{} in {}: {}; unattributed {}%",
                        t.trust,
                        t.year,
                        if shares.is_empty() { "none".to_owned() } else { shares.join(", ") },
                        record
                            .shares
                            .unattributed()
                            .checked_mul(hundred)
                            .unwrap_or(Ratio::ZERO)
                    ),
                );
                w.event(&t.ics, &name, ATTRIBUTION_SET, (self.encode.attribution)(&record));
                Ok(reply(&record))
            })
            .await
    }
}
