//! Reading the figures: the rollup of a period per trust and for the ICS with attribution to
//! change requests, the business-case view over several years, and a benefit's SPC chart.

use std::collections::{BTreeMap, BTreeSet};

use concordat_api::names::{BenefitName, IcsName, LayerName, RateCardName};

use super::*;
use crate::domain::attribution::Attribution;
use crate::domain::exact::{ExactError, Money, Ratio};
use crate::domain::measurement::counts;
use crate::domain::period::{FinancialYear, Month};
use crate::domain::rollup::{Category, Figure, RollupError, present_value, rollup};
use crate::domain::spc::{self, Assurance, Direction, Variation};
use crate::domain::valuation::{RateCard, ValuationError};
use crate::store;

/// A period a rollup covers: a financial year, one of its quarters, or a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// `2025/26`.
    Year(FinancialYear),
    /// `2025/26 Q1` (April–June).
    Quarter(FinancialYear, u8),
    /// `2025-04`.
    Month(Month),
}

impl Period {
    /// Reads `2025/26`, `2025/26 Q1` or `2025-04`.
    pub fn parse(text: &str) -> Option<Period> {
        if let Some(m) = Month::parse(text) {
            return Some(Period::Month(m));
        }
        match text.split_once(' ') {
            Some((fy, q)) => {
                let q: u8 = q.strip_prefix('Q')?.parse().ok()?;
                (1..=4)
                    .contains(&q)
                    .then_some(Period::Quarter(FinancialYear::parse(fy)?, q))
            }
            None => FinancialYear::parse(text).map(Period::Year),
        }
    }

    /// Its months, in order.
    pub fn months(self) -> Vec<Month> {
        match self {
            Period::Year(fy) => fy.months(),
            Period::Quarter(fy, q) => fy
                .months()
                .into_iter()
                .filter(|m| m.quarter() == q)
                .collect(),
            Period::Month(m) => vec![m],
        }
    }

    /// The financial year it falls in.
    pub fn year(self) -> FinancialYear {
        match self {
            Period::Year(fy) | Period::Quarter(fy, _) => fy,
            Period::Month(m) => m.financial_year(),
        }
    }
}

/// Quantities and value of a part of a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Amount {
    /// In the measure's unit.
    pub quantity: Ratio,
    /// In the valued unit.
    pub converted: Ratio,
    /// The value (`None`: qualitative).
    pub value: Option<Money>,
}

impl Amount {
    const ZERO: Amount = Amount {
        quantity: Ratio::ZERO,
        converted: Ratio::ZERO,
        value: None,
    };

    fn plus(self, o: Amount) -> Result<Amount, ExactError> {
        Ok(Amount {
            quantity: self.quantity.checked_add(o.quantity)?,
            converted: self.converted.checked_add(o.converted)?,
            value: match (self.value, o.value) {
                (Some(a), Some(b)) => Some(a.checked_add(b)?),
                (a, b) => a.or(b),
            },
        })
    }

    fn times(self, share: Ratio) -> Result<Amount, ExactError> {
        Ok(Amount {
            quantity: self.quantity.checked_mul(share)?,
            converted: self.converted.checked_mul(share)?,
            value: self.value.map(|v| v.times(share)).transpose()?,
        })
    }
}

/// One figure of a rollup: a trust's (or the ICS's, `trust` `None`), with attribution.
#[derive(Debug, Clone, PartialEq)]
pub struct ChrFigure {
    /// The trust.
    pub trust: Option<String>,
    /// The figure.
    pub figure: Figure,
    /// Each change request's part.
    pub by_change_request: BTreeMap<String, Amount>,
    /// The part no attribution claims.
    pub unattributed: Amount,
}

impl ChrFigure {
    /// The figure's total as an amount.
    pub fn total(&self) -> Amount {
        Amount {
            quantity: self.figure.quantity,
            converted: self.figure.converted,
            value: self.figure.value,
        }
    }
}

/// One benefit's rollup.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    /// The profile.
    pub profile: Profile,
    /// The unit of `converted`.
    pub converted_unit: String,
    /// The card valued under (`None`: qualitative).
    pub card: Option<(String, i64)>,
    /// Per trust, then the ICS.
    pub figures: Vec<ChrFigure>,
}

/// Money totals by category, with the cards behind each.
pub type Totals = BTreeMap<Category, (Money, BTreeSet<String>)>;

/// A rollup of a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// The period's months.
    pub months: Vec<Month>,
    /// Whether validated cells counted.
    pub count_validated: bool,
    /// One row per benefit.
    pub rows: Vec<RollupRow>,
    /// The ICS's totals by category.
    pub totals: Totals,
    /// Each change request's totals by category.
    pub by_change_request: BTreeMap<String, Totals>,
    /// The ICS's unattributed totals by category.
    pub unattributed: Totals,
}

/// The business-case view.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCase {
    /// Each year's totals.
    pub years: Vec<(FinancialYear, Totals)>,
    /// Their sum.
    pub undiscounted: Totals,
    /// Their present value at 3.5%.
    pub present_value: Totals,
}

/// One month of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    /// The month.
    pub month: Month,
    /// Its counted value.
    pub value: Ratio,
    /// The point as SPC sees it.
    pub point: spc::Point,
}

/// Where a chart is rebased.
#[derive(Debug, Clone, PartialEq)]
pub struct RebaseAt {
    /// The first month of the new segment.
    pub month: Month,
    /// The publish behind it.
    pub publish: crate::upstream::Publish,
}

/// An SPC chart of a benefit's series.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The points.
    pub points: Vec<ChartPoint>,
    /// The rebases.
    pub rebases: Vec<RebaseAt>,
    /// The variation icon.
    pub variation: Variation,
    /// The assurance icon, against the target.
    pub assurance: Option<Assurance>,
    /// The target.
    pub target: Option<Ratio>,
}

fn add(
    totals: &mut Totals,
    category: Category,
    value: Money,
    card: &str,
) -> Result<(), ExactError> {
    let entry = totals
        .entry(category)
        .or_insert_with(|| (Money::pence(0), BTreeSet::new()));
    entry.0 = entry.0.checked_add(value)?;
    entry.1.insert(card.to_owned());
    Ok(())
}

/// Figures past exact arithmetic's range, for `subject` (a benefit, or the ICS's totals).
fn exact(subject: &str) -> impl Fn(ExactError) -> BenefitsError + '_ {
    move |e| BenefitsError::NotValued {
        subject: subject.to_owned(),
        message: format!("{subject}: the figures cannot be computed exactly: {e}"),
    }
}

fn not_valued(benefit: &str, e: RollupError) -> BenefitsError {
    let message = match e {
        RollupError::Valuation(ValuationError::NoFactor { from, to }) => format!(
            "{benefit}: the rate card has no factor from {from:?} to {to:?} in force for a month of the period"
        ),
        RollupError::Valuation(ValuationError::NoValue(unit)) => format!(
            "{benefit}: the rate card has no value of {unit:?} in force for a month of the period"
        ),
        RollupError::Valuation(ValuationError::Exact(e)) | RollupError::Exact(e) => {
            return exact(benefit)(e);
        }
    };
    BenefitsError::NotValued {
        subject: benefit.to_owned(),
        message,
    }
}

fn ratio_f64(r: Ratio) -> f64 {
    r.numerator() as f64 / r.denominator() as f64
}

impl Benefits {
    /// The profiles `parent` (an ICS or one benefit) names, and the ICS.
    async fn profiles_of(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<(String, Vec<Profile>)> {
        if let Ok(n) = BenefitName::parse("parent", parent) {
            self.require_ics(ctx, &n.ics, parent).await?;
            let p = self.profile(&n.ics, &n.benefit, parent).await?;
            return Ok((n.ics, vec![p]));
        }
        let ics = IcsName::parse("parent", parent)
            .map_err(|_| {
                invalid(
                    "parent",
                    "must be `icss/{ics}` or `icss/{ics}/benefits/{benefit}`",
                )
            })?
            .ics;
        self.require_ics(ctx, &ics, parent).await?;
        let mut out = Vec::new();
        loop {
            let after = out.last().map(|p: &Profile| p.id.clone());
            let page = store::profiles(self.db().conn(), &ics, after.as_deref(), 500).await?;
            let done = page.len() < 500;
            out.extend(page);
            if done {
                return Ok((ics, out));
            }
        }
    }

    /// The card `profile` is valued under (or `revalue`), from `cache`.
    async fn card_for(
        &self,
        profile: &Profile,
        revalue: Option<&(String, i64)>,
        cache: &mut BTreeMap<(String, i64), RateCard>,
    ) -> Result<Option<(String, RateCard)>> {
        let Some(v) = &profile.valuation else {
            return Ok(None);
        };
        let (name, version) = match revalue {
            Some((name, version)) => (name.clone(), *version),
            None => (v.rate_card.clone(), v.version),
        };
        if let Some(card) = cache.get(&(name.clone(), version)) {
            return Ok(Some((name, card.clone())));
        }
        let n = RateCardName::parse("revalue_with", &name)?;
        let card = store::card(self.db().conn(), &n.ics, &n.rate_card, Some(version))
            .await?
            .ok_or_else(|| invalid("revalue_with", format!("{name} has no version {version}")))?
            .card;
        cache.insert((name.clone(), version), card.clone());
        Ok(Some((name, card)))
    }

    /// The rollup of `parent`'s benefits over `period`, under each benefit's card or `revalue`.
    pub async fn rollup(
        &self,
        ctx: &RequestContext,
        parent: &str,
        period: Period,
        revalue_with: &str,
    ) -> Result<Rollup> {
        let (ics, profiles) = self.profiles_of(ctx, parent).await?;
        let revalue = match revalue_with {
            "" => None,
            text => {
                let bad = || {
                    invalid(
                        "revalue_with",
                        "must be a rate card's name, `@` and a version: icss/QUE/rateCards/standard@2",
                    )
                };
                let (name, version) = text.rsplit_once('@').ok_or_else(bad)?;
                let n = RateCardName::parse("revalue_with", name)?;
                if n.ics != ics {
                    return Err(invalid(
                        "revalue_with",
                        format!("is not a rate card of ICS {ics}"),
                    ));
                }
                let version: i64 = version.parse().map_err(|_| bad())?;
                Some((name.to_owned(), version))
            }
        };
        let settings = store::settings(self.db().conn(), &ics).await?;
        let trusts = self.trusts_of(&ics);
        let months = period.months();
        let (first, last) = (months[0], months[months.len() - 1]);
        let mut cache = BTreeMap::new();
        let mut out = Rollup {
            months: months.clone(),
            count_validated: settings.count_validated,
            rows: Vec::new(),
            totals: Totals::new(),
            by_change_request: BTreeMap::new(),
            unattributed: Totals::new(),
        };
        let mut cells = store::ics_cells(self.db().conn(), &ics, (first, last)).await?;
        let mut attributed: BTreeMap<String, BTreeMap<String, Attribution>> = BTreeMap::new();
        for a in store::attributions(self.db().conn(), (&ics, None), period.year()).await? {
            attributed
                .entry(a.benefit)
                .or_default()
                .insert(a.trust, a.shares);
        }
        for p in profiles {
            let name = BenefitName::new(&ics, &p.id).to_string();
            let card = self.card_for(&p, revalue.as_ref(), &mut cache).await?;
            let unvalued = RateCard {
                id: String::new(),
                version: 0,
                factors: Vec::new(),
                values: Vec::new(),
            };
            let benefit = if card.is_some() {
                p.benefit()
            } else {
                crate::domain::rollup::Benefit {
                    chain: vec![p.unit.clone()],
                    ..p.benefit()
                }
            };
            let figures = rollup(
                &benefit,
                &cells.remove(&p.id).unwrap_or_default(),
                (&trusts, &months),
                settings.count_validated,
                card.as_ref().map_or(&unvalued, |(_, c)| c),
            )
            .map_err(|e| not_valued(&name, e))?;
            let attributions = attributed.remove(&p.id).unwrap_or_default();
            let none = Attribution::default();
            let mut rows = Vec::new();
            let mut ics_by_cr: BTreeMap<String, Amount> = BTreeMap::new();
            let mut ics_unattributed = Amount::ZERO;
            for trust in &trusts {
                let Some(f) = figures.get(&Some(trust.clone())) else {
                    continue;
                };
                let a = attributions.get(trust).unwrap_or(&none);
                let total = Amount {
                    quantity: f.quantity,
                    converted: f.converted,
                    value: f.value,
                };
                let mut by_cr = BTreeMap::new();
                for (cr, share) in a.shares() {
                    let part = total.times(*share).map_err(exact(&name))?;
                    let sum = ics_by_cr.entry(cr.clone()).or_insert(Amount::ZERO);
                    *sum = sum.plus(part).map_err(exact(&name))?;
                    by_cr.insert(cr.clone(), part);
                }
                let rest = total.times(a.unattributed()).map_err(exact(&name))?;
                ics_unattributed = ics_unattributed.plus(rest).map_err(exact(&name))?;
                rows.push(ChrFigure {
                    trust: Some(trust.clone()),
                    figure: f.clone(),
                    by_change_request: by_cr,
                    unattributed: rest,
                });
            }
            if let Some(f) = figures.get(&None) {
                let card_label = card
                    .as_ref()
                    .map(|(n, c)| format!("{n}@{}", c.version))
                    .unwrap_or_default();
                if let (Some(v), true) = (f.value, card.is_some()) {
                    add(&mut out.totals, p.category, v, &card_label).map_err(exact(&name))?;
                    if let Some(u) = ics_unattributed.value {
                        add(&mut out.unattributed, p.category, u, &card_label)
                            .map_err(exact(&name))?;
                    }
                    for (cr, part) in &ics_by_cr {
                        if let Some(v) = part.value {
                            add(
                                out.by_change_request.entry(cr.clone()).or_default(),
                                p.category,
                                v,
                                &card_label,
                            )
                            .map_err(exact(&name))?;
                        }
                    }
                }
                rows.push(ChrFigure {
                    trust: None,
                    figure: f.clone(),
                    by_change_request: ics_by_cr,
                    unattributed: ics_unattributed,
                });
            }
            out.rows.push(RollupRow {
                converted_unit: benefit.chain.last().cloned().unwrap_or_default(),
                card: card.map(|(n, c)| (n, c.version)),
                profile: p,
                figures: rows,
            });
        }
        Ok(out)
    }

    /// The business case of `parent` from `first` over `years` years.
    pub async fn business_case(
        &self,
        ctx: &RequestContext,
        parent: &str,
        first: FinancialYear,
        years: i32,
    ) -> Result<BusinessCase> {
        if !(1..=10).contains(&years) {
            return Err(invalid("years", "must be from 1 to 10"));
        }
        let mut out = BusinessCase {
            years: Vec::new(),
            undiscounted: Totals::new(),
            present_value: Totals::new(),
        };
        let mut by_category: BTreeMap<Category, Vec<Money>> = BTreeMap::new();
        for i in 0..years {
            let fy = FinancialYear {
                start: first.start + i,
            };
            let r = self.rollup(ctx, parent, Period::Year(fy), "").await?;
            for category in [Category::CashReleasing, Category::NonCashReleasing] {
                let (v, cards) = r
                    .totals
                    .get(&category)
                    .cloned()
                    .unwrap_or((Money::pence(0), BTreeSet::new()));
                by_category.entry(category).or_default().push(v);
                let e = out
                    .undiscounted
                    .entry(category)
                    .or_insert_with(|| (Money::pence(0), BTreeSet::new()));
                e.0 = e.0.checked_add(v).map_err(exact(parent))?;
                e.1.extend(cards);
            }
            out.years.push((fy, r.totals));
        }
        for (category, values) in by_category {
            let cards = out
                .undiscounted
                .get(&category)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            out.present_value.insert(
                category,
                (present_value(&values).map_err(exact(parent))?, cards),
            );
        }
        Ok(out)
    }

    /// The SPC chart of `benefit` at `trust` (empty: the ICS) from `first` to `last`, as
    /// `caller` reads shared configuration's publishes.
    pub async fn chart(
        &self,
        ctx: &RequestContext,
        (benefit, trust): (&str, &str),
        (first, last): (Month, Month),
        caller: &Caller,
    ) -> Result<Chart> {
        let n = BenefitName::parse("benefit", benefit)?;
        self.require_ics(ctx, &n.ics, benefit).await?;
        let p = self.profile(&n.ics, &n.benefit, benefit).await?;
        if !trust.is_empty() && !self.is_trust(&n.ics, trust) {
            return Err(invalid("trust", format!("is not a trust of ICS {}", n.ics)));
        }
        if last < first {
            return Err(invalid("last_month", "must not be before first_month"));
        }
        let mut span = 0;
        let mut m = first;
        while m < last {
            m = m.next();
            span += 1;
        }
        if span > 120 {
            return Err(invalid(
                "last_month",
                "must be at most 120 months after first_month",
            ));
        }
        let settings = store::settings(self.db().conn(), &n.ics).await?;
        let cells = store::cells(self.db().conn(), (&n.ics, &n.benefit), (first, last)).await?;
        let mut series: BTreeMap<Month, Ratio> = BTreeMap::new();
        for c in cells {
            if (!trust.is_empty() && c.trust != trust) || !counts(c.state, settings.count_validated)
            {
                continue;
            }
            let v = series.entry(c.month).or_insert(Ratio::ZERO);
            *v = v.checked_add(c.value).map_err(exact(benefit))?;
        }
        let mut layers = vec![LayerName::baseline(&n.ics).to_string()];
        if trust.is_empty() {
            layers.extend(
                self.trusts_of(&n.ics)
                    .into_iter()
                    .map(|t| LayerName::new(&n.ics, t).to_string()),
            );
        } else {
            layers.push(LayerName::new(&n.ics, trust).to_string());
        }
        let enabling: BTreeSet<String> = p.enabling.iter().cloned().collect();
        let publishes = self.shared.under(&layers, &enabling, caller).await?;
        let months: Vec<Month> = series.keys().copied().collect();
        let mut rebases: Vec<RebaseAt> = Vec::new();
        let mut indexes = Vec::new();
        for publish in publishes {
            // The process changed during the month of the publish: the new segment starts with
            // the first whole month after it (or that month, published on its first day).
            let start = Month::first_whole_after(publish.publish_time.date_naive());
            if let Some(i) = months.iter().position(|m| *m >= start)
                && i > 0
                && !indexes.contains(&i)
            {
                indexes.push(i);
                rebases.push(RebaseAt {
                    month: months[i],
                    publish,
                });
            }
        }
        let values: Vec<f64> = series.values().map(|v| ratio_f64(*v)).collect();
        let points = spc::chart(&values, &indexes);
        let direction = if p.higher_is_better {
            Direction::Increase
        } else {
            Direction::Decrease
        };
        let target = p.target.as_ref().map(|t| t.value);
        Ok(Chart {
            variation: spc::variation(&points, direction),
            assurance: spc::assurance(&points, direction, target.map(ratio_f64)),
            points: series
                .into_iter()
                .zip(points)
                .map(|((month, value), point)| ChartPoint {
                    month,
                    value,
                    point,
                })
                .collect(),
            rebases,
            target,
        })
    }
}
