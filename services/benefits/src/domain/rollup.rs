//! The rollup: a benefit's measurements of a period added up per trust and for the ICS, valued
//! under a rate card, each figure with the evidence behind it (cells expected, submitted, on time,
//! validated, accepted). Only accepted cells count (or validated ones too, where the ICS says
//! so); dis-benefits count against; cash-releasing and non-cash-releasing values are kept apart;
//! a business case over several years discounts at the Green Book's 3.5% a year, exactly.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::exact::{ExactError, Money, Ratio};
use super::measurement::{State, counts};
use super::period::Month;
use super::valuation::{CardVersion, RateCard, ValuationError, Valued};

/// Whether a benefit releases cash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Money that can be taken out of a budget.
    CashReleasing,
    /// Value that cannot (bed days freed, time saved).
    NonCashReleasing,
    /// Not valued in money.
    Qualitative,
}

/// How a benefit's months add up over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// The months' sum (counts of events).
    Sum,
    /// Their mean (rates).
    Mean,
    /// The latest month's (levels).
    Last,
}

/// What the rollup needs to know of a benefit.
#[derive(Debug, Clone, PartialEq)]
pub struct Benefit {
    /// Its category.
    pub category: Category,
    /// Whether it is a dis-benefit: counted against.
    pub dis_benefit: bool,
    /// How months add up.
    pub aggregation: Aggregation,
    /// The units its measure converts through, its own unit first.
    pub chain: Vec<String>,
}

/// One measurement cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The trust.
    pub trust: String,
    /// The month.
    pub month: Month,
    /// The value measured.
    pub value: Ratio,
    /// Its state.
    pub state: State,
    /// Whether it was submitted by its deadline.
    pub on_time: bool,
}

/// How many cells a figure rests on, by how far they got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Evidence {
    /// Cells the period expects (trusts × months).
    pub expected: u64,
    /// Submitted (or further).
    pub submitted: u64,
    /// Submitted by their deadline.
    pub on_time: u64,
    /// Validated by the trust (or further).
    pub validated: u64,
    /// Accepted by the ICS.
    pub accepted: u64,
}

/// A figure of the rollup.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The counted cells added up per the benefit's aggregation, in its own unit, netted (negative
    /// for a dis-benefit).
    pub quantity: Ratio,
    /// That quantity converted along the chain.
    pub converted: Ratio,
    /// Its value, where the card values the chain's last unit (and the benefit is valued).
    pub value: Option<Money>,
    /// The card and version used.
    pub card: CardVersion,
    /// The cells behind it.
    pub evidence: Evidence,
}

/// Why a rollup cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollupError {
    /// The rate card cannot convert or value the chain.
    Valuation(ValuationError),
    /// The arithmetic failed.
    Exact(ExactError),
}

impl From<ExactError> for RollupError {
    fn from(e: ExactError) -> Self {
        RollupError::Exact(e)
    }
}

fn evidence(cells: &[&Cell], expected: u64) -> Evidence {
    let n = |f: &dyn Fn(&Cell) -> bool| cells.iter().filter(|c| f(c)).count() as u64;
    Evidence {
        expected,
        submitted: n(&|c| !matches!(c.state, State::Draft)),
        on_time: n(&|c| !matches!(c.state, State::Draft) && c.on_time),
        validated: n(&|c| matches!(c.state, State::TrustValidated | State::IcsAccepted)),
        accepted: n(&|c| c.state == State::IcsAccepted),
    }
}

fn aggregate(cells: &[&Cell], how: Aggregation) -> Result<Ratio, ExactError> {
    let sum = cells
        .iter()
        .try_fold(Ratio::ZERO, |t, c| t.checked_add(c.value))?;
    Ok(match how {
        Aggregation::Sum => sum,
        Aggregation::Mean if cells.is_empty() => Ratio::ZERO,
        Aggregation::Mean => sum.checked_div(Ratio::int(cells.len() as i128))?,
        Aggregation::Last => cells
            .iter()
            .max_by_key(|c| c.month)
            .map_or(Ratio::ZERO, |c| c.value),
    })
}

/// The rollup of `benefit` over `months` for `trusts`: a figure per trust and, under the key
/// `None`, for the ICS (the trusts' figures added). Cells count when accepted, or validated too
/// where `validated_counts`. Values use `card`: a summed benefit month by month as the card
/// stands on each month's first day, a mean or latest one as it stands on the last month's.
pub fn rollup(
    benefit: &Benefit,
    cells: &[Cell],
    (trusts, months): (&[String], &[Month]),
    validated_counts: bool,
    card: &RateCard,
) -> Result<BTreeMap<Option<String>, Figure>, RollupError> {
    let chain: Vec<&str> = benefit.chain.iter().map(String::as_str).collect();
    let sign = if benefit.dis_benefit {
        Ratio::int(-1)
    } else {
        Ratio::ONE
    };
    let last = months.iter().max().copied();
    // What one unit of the measure comes to on each day valued: the chain's factors multiplied
    // and the last unit's value, worked out once per day. Valuation is linear and exact, so
    // quantities valued at the same rate are added first and multiplied once.
    // (A day without a rate is an error only where a quantity is valued on it.)
    let rates: BTreeMap<NaiveDate, Result<Valued, ValuationError>> = months
        .iter()
        .map(|m| {
            (
                m.first_day(),
                card.valuate(Ratio::ONE, &chain, m.first_day()),
            )
        })
        .collect();
    let rate = |on: NaiveDate| -> Result<&Valued, RollupError> {
        match rates.get(&on) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(RollupError::Valuation(e.clone())),
            None => Err(RollupError::Valuation(ValuationError::Exact(
                ExactError::Unreadable(format!("no month of the period starts {on}")),
            ))),
        }
    };
    // What one trust's counted cells come to: the quantity, converted, valued.
    let figure = |counted: &[&Cell], evidence: Evidence| -> Result<Figure, RollupError> {
        let quantity = aggregate(counted, benefit.aggregation)?.checked_mul(sign)?;
        let mut parts: Vec<(Ratio, NaiveDate)> = Vec::new();
        match (benefit.aggregation, last) {
            (Aggregation::Sum, _) => {
                let mut by_month: BTreeMap<Month, Ratio> = BTreeMap::new();
                for c in counted {
                    let q = by_month.entry(c.month).or_insert(Ratio::ZERO);
                    *q = q.checked_add(c.value.checked_mul(sign)?)?;
                }
                parts.extend(by_month.into_iter().map(|(m, q)| (q, m.first_day())));
            }
            (_, Some(last)) => parts.push((quantity, last.first_day())),
            (_, None) => {}
        }
        // Quantities added per rate, in the order first met.
        let mut at_rate: Vec<(&Valued, Ratio)> = Vec::new();
        for (q, on) in parts {
            let r = rate(on)?;
            match at_rate.iter_mut().find(|(seen, _)| *seen == r) {
                Some((_, sum)) => *sum = sum.checked_add(q)?,
                None => at_rate.push((r, q)),
            }
        }
        let mut converted = Ratio::ZERO;
        let mut value: Option<Money> = None;
        let mut valued_any = false;
        for (r, q) in at_rate {
            let c = q.checked_mul(r.quantity)?;
            converted = converted.checked_add(c)?;
            if let Some(per_unit) = r.value {
                // The value of one unit of the measure, times the quantity.
                let m = per_unit.times(q)?;
                value = Some(value.unwrap_or(Money::pence(0)).checked_add(m)?);
                valued_any = true;
            }
        }
        if !valued_any && benefit.category != Category::Qualitative {
            // Nothing counted yet: a valued benefit's value is zero, not absent.
            let unit = chain.last().copied().unwrap_or_default();
            if card.values.iter().any(|v| v.unit == unit) {
                value = Some(Money::pence(0));
            }
        }
        Ok(Figure {
            quantity,
            converted,
            value: value.filter(|_| benefit.category != Category::Qualitative),
            card: (card.id.clone(), card.version),
            evidence,
        })
    };
    let mut out = BTreeMap::new();
    let mut ics_evidence = Evidence::default();
    for trust in trusts {
        let of_trust: Vec<&Cell> = cells
            .iter()
            .filter(|c| &c.trust == trust && months.contains(&c.month))
            .collect();
        let counted: Vec<&Cell> = of_trust
            .iter()
            .copied()
            .filter(|c| counts(c.state, validated_counts))
            .collect();
        let e = evidence(&of_trust, months.len() as u64);
        ics_evidence = Evidence {
            expected: ics_evidence.expected + e.expected,
            submitted: ics_evidence.submitted + e.submitted,
            on_time: ics_evidence.on_time + e.on_time,
            validated: ics_evidence.validated + e.validated,
            accepted: ics_evidence.accepted + e.accepted,
        };
        out.insert(Some(trust.clone()), figure(&counted, e)?);
    }
    // The ICS's figure: the trusts' figures added (a mean or latest figure per trust, summed).
    let mut ics = figure(&[], ics_evidence)?;
    for f in out.values() {
        ics.quantity = ics.quantity.checked_add(f.quantity)?;
        ics.converted = ics.converted.checked_add(f.converted)?;
        ics.value = match (ics.value, f.value) {
            (Some(a), Some(b)) => Some(a.checked_add(b)?),
            (a, b) => a.or(b),
        };
    }
    out.insert(None, ics);
    Ok(out)
}

/// Values of the years of a business case, the first undiscounted, each later year discounted
/// at the Green Book's 3.5% a year: exactly Σ vₜ × (200/207)ᵗ.
pub fn present_value(yearly: &[Money]) -> Result<Money, ExactError> {
    let per_year = Ratio::new(200, 207)?;
    let mut factor = Ratio::ONE;
    let mut total = Money::pence(0);
    for v in yearly {
        total = total.checked_add(v.times(factor)?)?;
        factor = factor.checked_mul(per_year)?;
    }
    Ok(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::period::FinancialYear;
    use crate::domain::valuation::{Factor, UnitValue};

    fn card() -> RateCard {
        let from = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        RateCard {
            id: "que".into(),
            version: 1,
            factors: vec![Factor {
                from_unit: "adverse drug reaction prevented".into(),
                to_unit: "bed day".into(),
                factor: Ratio::parse("2450/850").unwrap(),
                effective_from: from,
            }],
            values: vec![UnitValue {
                unit: "bed day".into(),
                value: Money::pounds(400).unwrap(),
                effective_from: from,
            }],
        }
    }

    fn alerts() -> Benefit {
        Benefit {
            category: Category::NonCashReleasing,
            dis_benefit: false,
            aggregation: Aggregation::Sum,
            chain: vec!["adverse drug reaction prevented".into(), "bed day".into()],
        }
    }

    /// RGT's twelve monthly counts for 2025/26, summing to 850.
    fn rgt(state: State) -> Vec<Cell> {
        let counts = [70, 71, 72, 70, 69, 71, 72, 70, 71, 70, 72, 72];
        FinancialYear::parse("2025/26")
            .unwrap()
            .months()
            .into_iter()
            .zip(counts)
            .map(|(month, n)| Cell {
                trust: "RGT".into(),
                month,
                value: Ratio::int(n),
                state,
                on_time: true,
            })
            .collect()
    }

    fn trusts() -> Vec<String> {
        ["RGT", "RGM", "RGN", "RT1"].map(String::from).to_vec()
    }

    #[test]
    fn the_golden_rollup_for_2025_26() {
        let months = FinancialYear::parse("2025/26").unwrap().months();
        let r = rollup(
            &alerts(),
            &rgt(State::IcsAccepted),
            (&trusts(), &months),
            false,
            &card(),
        )
        .unwrap();
        let ics = &r[&None];
        assert_eq!(ics.quantity, Ratio::int(850));
        assert_eq!(ics.converted, Ratio::int(2450));
        assert_eq!(ics.value.unwrap().to_string(), "£980,000.00");
        assert_eq!(ics.card, ("que".to_owned(), 1));
        let rgt_evidence = r[&Some("RGT".to_owned())].evidence;
        assert_eq!(
            (
                rgt_evidence.expected,
                rgt_evidence.submitted,
                rgt_evidence.accepted
            ),
            (12, 12, 12)
        );
        assert_eq!((ics.evidence.expected, ics.evidence.accepted), (48, 12));
    }

    #[test]
    fn only_accepted_cells_count_unless_the_ics_counts_validated_ones() {
        let months = FinancialYear::parse("2025/26").unwrap().months();
        let mut cells = rgt(State::IcsAccepted);
        cells[0].state = State::Returned;
        cells[1].state = State::TrustValidated;
        let args = (&trusts()[..], &months[..]);
        let strict = rollup(&alerts(), &cells, args, false, &card()).unwrap();
        assert_eq!(strict[&None].quantity, Ratio::int(850 - 70 - 71));
        let lenient = rollup(&alerts(), &cells, args, true, &card()).unwrap();
        assert_eq!(lenient[&None].quantity, Ratio::int(850 - 70));
        let e = strict[&None].evidence;
        assert_eq!((e.submitted, e.validated, e.accepted), (12, 11, 10));
    }

    #[test]
    fn dis_benefits_count_against_and_qualitative_ones_have_no_value() {
        let months = FinancialYear::parse("2025/26").unwrap().months();
        let args = (&trusts()[..], &months[..]);
        let dis = Benefit {
            dis_benefit: true,
            ..alerts()
        };
        let r = rollup(&dis, &rgt(State::IcsAccepted), args, false, &card()).unwrap();
        assert_eq!(r[&None].value.unwrap().to_string(), "-£980,000.00");
        let qualitative = Benefit {
            category: Category::Qualitative,
            ..alerts()
        };
        let r = rollup(&qualitative, &rgt(State::IcsAccepted), args, false, &card()).unwrap();
        assert_eq!(r[&None].value, None);
        let mean = Benefit {
            aggregation: Aggregation::Mean,
            ..alerts()
        };
        let r = rollup(&mean, &rgt(State::IcsAccepted), args, false, &card()).unwrap();
        assert_eq!(
            r[&Some("RGT".to_owned())].quantity,
            Ratio::new(850, 12).unwrap()
        );
    }

    #[test]
    fn a_summed_benefit_is_valued_month_by_month_as_the_card_stood() {
        let months = FinancialYear::parse("2025/26").unwrap().months();
        let mut card = card();
        // From October a bed day is £500: the six months from April at £400, the rest at £500.
        card.values.push(UnitValue {
            unit: "bed day".into(),
            value: Money::pounds(500).unwrap(),
            effective_from: NaiveDate::from_ymd_opt(2025, 10, 1).unwrap(),
        });
        let r = rollup(
            &alerts(),
            &rgt(State::IcsAccepted),
            (&trusts(), &months),
            false,
            &card,
        )
        .unwrap();
        let first_half = Ratio::int(70 + 71 + 72 + 70 + 69 + 71);
        let second_half = Ratio::int(72 + 70 + 71 + 70 + 72 + 72);
        let factor = Ratio::parse("2450/850").unwrap();
        let expected = Money::pounds(400)
            .unwrap()
            .times(first_half.checked_mul(factor).unwrap())
            .unwrap()
            .checked_add(
                Money::pounds(500)
                    .unwrap()
                    .times(second_half.checked_mul(factor).unwrap())
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(r[&None].value, Some(expected));
        assert_eq!(r[&None].converted, Ratio::int(2450));
    }

    #[test]
    fn the_green_book_discounts_later_years_at_3_5_percent() {
        let year = Money::pounds(980_000).unwrap();
        assert_eq!(present_value(&[year]).unwrap(), year);
        // £980,000 + £980,000 × 200/207 = £1,926,859.90 (to the penny).
        assert_eq!(
            present_value(&[year, year]).unwrap().to_string(),
            "£1,926,859.90"
        );
    }
}
