//! Rate cards: every version kept, each written whole; a benefit names the version it is valued
//! under, so a new version re-values nothing until a benefit is moved to it.

use concordat_api::names::{IcsName, RateCardName};
use concordat_platform::write::Reply;

use super::*;
use crate::domain::profile;
use crate::domain::valuation::RateCard;
use crate::store;

/// The kind of the event each rate card version is announced by.
pub const RATE_CARD_WRITTEN: &str = "rate_card.written";

/// A rate card version as a request gives it.
pub struct CardInput {
    /// Its title.
    pub title: String,
    /// Where its figures come from.
    pub description: String,
    /// The factors and values (id and version are the server's).
    pub card: RateCard,
}

fn check(input: &CardInput) -> Vec<Violation> {
    let mut v = Vec::new();
    if input.title.trim().is_empty() {
        v.push(("rate_card.title".to_owned(), "must not be blank".to_owned()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, f) in input.card.factors.iter().enumerate() {
        let at = |field: &str| format!("rate_card.factors[{i}].{field}");
        if f.from_unit.trim().is_empty() {
            v.push((at("from_unit"), "must not be blank".to_owned()));
        }
        if f.to_unit.trim().is_empty() {
            v.push((at("to_unit"), "must not be blank".to_owned()));
        }
        if f.factor <= crate::domain::exact::Ratio::ZERO {
            v.push((at("factor"), "must be above 0".to_owned()));
        }
        if !seen.insert((&f.from_unit, &f.to_unit, f.effective_from)) {
            v.push((
                at("effective_from"),
                "another factor of these units takes effect that day".to_owned(),
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, u) in input.card.values.iter().enumerate() {
        let at = |field: &str| format!("rate_card.unit_values[{i}].{field}");
        if u.unit.trim().is_empty() {
            v.push((at("unit"), "must not be blank".to_owned()));
        }
        if u.value.0 < crate::domain::exact::Ratio::ZERO {
            v.push((at("pounds"), "must not be negative".to_owned()));
        }
        if !seen.insert((&u.unit, u.effective_from)) {
            v.push((
                at("effective_from"),
                "another value of this unit takes effect that day".to_owned(),
            ));
        }
    }
    v
}

impl Benefits {
    /// Creates card `id` under `parent` at version 1.
    pub async fn create_card<R: Reply>(
        &self,
        ctx: &RequestContext,
        (parent, id): (&str, &str),
        input: CardInput,
        request_id: &str,
        reply: impl FnOnce(&CardRecord) -> R,
    ) -> Result<R> {
        let ics = IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        let mut violations = check(&input);
        if !profile::is_id(id) {
            violations.push((
                "rate_card_id".to_owned(),
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter"
                    .to_owned(),
            ));
        }
        if !violations.is_empty() {
            return Err(BenefitsError::Invalid(violations));
        }
        let name = RateCardName::new(&ics, id).to_string();
        let id = id.to_owned();
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                if store::card(c, &ics, &id, None).await?.is_some() {
                    return Err(BenefitsError::AlreadyExists(name));
                }
                let record = self.card_record(&w, ctx, (&ics, &id, 1), input);
                store::insert_card(c, &record).await?;
                w.audit("benefits.rate_card.create", &name, card_summary(&record));
                w.event(&ics, &name, RATE_CARD_WRITTEN, (self.encode.card)(&record));
                Ok(reply(&record))
            })
            .await
    }

    fn card_record(
        &self,
        w: &Write,
        ctx: &RequestContext,
        (ics, id, version): (&str, &str, i64),
        input: CardInput,
    ) -> CardRecord {
        CardRecord {
            ics: ics.to_owned(),
            card: RateCard {
                id: id.to_owned(),
                version,
                ..input.card
            },
            title: input.title,
            description: input.description,
            author: ctx.principal.person(),
            update_time: w.now(),
        }
    }

    /// Reads card `name` at `version` (0: the newest).
    pub async fn get_card(
        &self,
        ctx: &RequestContext,
        name: &str,
        version: i64,
    ) -> Result<CardRecord> {
        let n = RateCardName::parse("name", name)?;
        self.require_ics(ctx, &n.ics, name).await?;
        if version < 0 {
            return Err(invalid(
                "version",
                "must not be negative (0: the current one)",
            ));
        }
        store::card(
            self.db().conn(),
            &n.ics,
            &n.rate_card,
            (version > 0).then_some(version),
        )
        .await?
        .ok_or_else(|| {
            BenefitsError::NotFound(if version > 0 {
                format!("{name} version {version}")
            } else {
                name.to_owned()
            })
        })
    }

    /// Lists an ICS's cards (newest versions) by id.
    pub async fn list_cards(
        &self,
        ctx: &RequestContext,
        parent: &str,
        (page_size, page_token): (i32, &str),
    ) -> Result<(Vec<CardRecord>, String)> {
        let ics = IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        let limit = Self::page_limit(page_size, 50, 500)?;
        let query = format!("rateCards:{ics}");
        let after = self.decode_token(page_token, &query)?;
        let after = after.as_ref().and_then(|v| v.as_str());
        let mut rows = store::cards(self.db().conn(), &ics, after, limit + 1).await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| self.next_token(&query, serde_json::json!(r.card.id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows, next))
    }

    /// Writes card `name`'s next version, if `etag` is the current version's.
    pub async fn update_card<R: Reply>(
        &self,
        ctx: &RequestContext,
        (name, etag): (&str, &str),
        input: CardInput,
        request_id: &str,
        reply: impl FnOnce(&CardRecord) -> R,
    ) -> Result<R> {
        let n = RateCardName::parse("rate_card.name", name)?;
        self.require_ics(ctx, &n.ics, name).await?;
        let violations = check(&input);
        if !violations.is_empty() {
            return Err(BenefitsError::Invalid(violations));
        }
        let name = name.to_owned();
        let etag = etag.to_owned();
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                w.lock(&format!("benefits.rate_card:{}:{}", n.ics, n.rate_card))
                    .await?;
                let current = store::card(c, &n.ics, &n.rate_card, None)
                    .await?
                    .ok_or_else(|| BenefitsError::NotFound(name.clone()))?;
                if !concordat_api::etag::matches(&etag, current.card.version) {
                    return Err(BenefitsError::EtagMismatch(name));
                }
                let record = self.card_record(
                    &w,
                    ctx,
                    (&n.ics, &n.rate_card, current.card.version + 1),
                    input,
                );
                store::insert_card(c, &record).await?;
                w.audit("benefits.rate_card.update", &name, card_summary(&record));
                w.event(
                    &n.ics,
                    &name,
                    RATE_CARD_WRITTEN,
                    (self.encode.card)(&record),
                );
                Ok(reply(&record))
            })
            .await
    }
}

fn card_summary(r: &CardRecord) -> String {
    let factors: Vec<String> = r
        .card
        .factors
        .iter()
        .map(|f| {
            format!(
                "1 {} = {} {} from {}",
                f.from_unit, f.factor, f.to_unit, f.effective_from
            )
        })
        .collect();
    let values: Vec<String> = r
        .card
        .values
        .iter()
        .map(|v| format!("1 {} = {} from {}", v.unit, v.value, v.effective_from))
        .collect();
    format!(
        "rate card version {}: {}",
        r.card.version,
        factors
            .into_iter()
            .chain(values)
            .collect::<Vec<_>>()
            .join("; ")
    )
}
