//! Rate cards and valuation: per ICS, effective-dated conversion factors between units (an
//! adverse drug reaction prevented saves 2,450/850 bed days) and unit values in money (a bed day is
//! £400 from a date). A measured quantity is converted along a benefit's chain of units and then
//! valued, exactly; every valued figure names the card and version it used, and re-valuing
//! history under another card is a separate, explicit valuation.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::exact::{ExactError, Money, Ratio};

/// A conversion factor from one unit to another, in force from a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// The unit converted from, e.g. `adverse drug reaction prevented`.
    pub from_unit: String,
    /// The unit converted to, e.g. `bed day`.
    pub to_unit: String,
    /// How many `to_unit` one `from_unit` is: exact.
    pub factor: Ratio,
    /// In force from this date (until a later factor of the same units).
    pub effective_from: NaiveDate,
}

/// The money value of one unit, in force from a date.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitValue {
    /// The unit, e.g. `bed day`.
    pub unit: String,
    /// Its value.
    pub value: Money,
    /// In force from this date (until a later value of the same unit).
    pub effective_from: NaiveDate,
}

/// A version of an ICS's rate card.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCard {
    /// The card's id.
    pub id: String,
    /// Its version.
    pub version: i64,
    /// Its conversion factors.
    pub factors: Vec<Factor>,
    /// Its unit values.
    pub values: Vec<UnitValue>,
}

/// Why a quantity cannot be valued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuationError {
    /// No factor from one unit to the next is in force on the date.
    NoFactor {
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// No value of the unit is in force on the date.
    NoValue(String),
    /// The arithmetic failed.
    Exact(ExactError),
}

/// A valued quantity: the converted quantity, its money value, and what it was valued with.
#[derive(Debug, Clone, PartialEq)]
pub struct Valued {
    /// The quantity in the last unit of the chain.
    pub quantity: Ratio,
    /// That unit.
    pub unit: String,
    /// Its value (`None` when the chain ends in a unit the card does not value).
    pub value: Option<Money>,
    /// The card's id and version.
    pub card: CardVersion,
}

impl RateCard {
    fn latest<'a, T>(
        items: impl Iterator<Item = &'a T>,
        on: NaiveDate,
        from: impl Fn(&T) -> NaiveDate,
    ) -> Option<&'a T>
    where
        T: 'a,
    {
        items.filter(|i| from(i) <= on).max_by_key(|i| from(i))
    }

    /// The factor from `from` to `to` in force `on`.
    pub fn factor(&self, from: &str, to: &str, on: NaiveDate) -> Option<Ratio> {
        Self::latest(
            self.factors
                .iter()
                .filter(|f| f.from_unit == from && f.to_unit == to),
            on,
            |f| f.effective_from,
        )
        .map(|f| f.factor)
    }

    /// The value of one `unit` in force `on`.
    pub fn value(&self, unit: &str, on: NaiveDate) -> Option<Money> {
        Self::latest(self.values.iter().filter(|v| v.unit == unit), on, |v| {
            v.effective_from
        })
        .map(|v| v.value)
    }

    /// `quantity` of `chain[0]`, converted along `chain` as in force `on`, and valued in its
    /// last unit if the card values that unit.
    pub fn valuate(
        &self,
        quantity: Ratio,
        chain: &[&str],
        on: NaiveDate,
    ) -> Result<Valued, ValuationError> {
        let mut q = quantity;
        for pair in chain.windows(2) {
            let factor =
                self.factor(pair[0], pair[1], on)
                    .ok_or_else(|| ValuationError::NoFactor {
                        from: pair[0].to_owned(),
                        to: pair[1].to_owned(),
                    })?;
            q = q.checked_mul(factor).map_err(ValuationError::Exact)?;
        }
        let unit = chain.last().copied().unwrap_or_default().to_owned();
        let value = match self.value(&unit, on) {
            Some(v) => Some(v.times(q).map_err(ValuationError::Exact)?),
            None => None,
        };
        Ok(Valued {
            quantity: q,
            unit,
            value,
            card: (self.id.clone(), self.version),
        })
    }
}

/// A rate card's id and version.
pub type CardVersion = (String, i64);

/// Sums valued figures per card version, never across cards: a total under two cards is two
/// totals (quantity and value), each naming its card.
pub fn totals_by_card(
    figures: &[Valued],
) -> Result<BTreeMap<CardVersion, (Ratio, Money)>, ExactError> {
    let mut out: BTreeMap<CardVersion, (Ratio, Money)> = BTreeMap::new();
    for f in figures {
        let entry = out
            .entry(f.card.clone())
            .or_insert((Ratio::ZERO, Money::pence(0)));
        entry.0 = entry.0.checked_add(f.quantity)?;
        if let Some(v) = f.value {
            entry.1 = entry.1.checked_add(v)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn card(version: i64, bed_day_pounds: i128) -> RateCard {
        RateCard {
            id: "que-2025".into(),
            version,
            factors: vec![Factor {
                from_unit: "adverse drug reaction prevented".into(),
                to_unit: "bed day".into(),
                factor: Ratio::parse("2450/850").unwrap(),
                effective_from: day(2025, 4, 1),
            }],
            values: vec![
                UnitValue {
                    unit: "bed day".into(),
                    value: Money::pounds(350).unwrap(),
                    effective_from: day(2024, 4, 1),
                },
                UnitValue {
                    unit: "bed day".into(),
                    value: Money::pounds(bed_day_pounds).unwrap(),
                    effective_from: day(2025, 4, 1),
                },
            ],
        }
    }

    #[test]
    fn the_golden_chain_values_exactly_and_names_its_card() {
        let chain = ["adverse drug reaction prevented", "bed day"];
        let v = card(3, 400)
            .valuate(Ratio::int(850), &chain, day(2026, 3, 31))
            .unwrap();
        assert_eq!(v.quantity, Ratio::int(2450));
        assert_eq!(v.value.unwrap().to_string(), "£980,000.00");
        assert_eq!(v.card, ("que-2025".to_owned(), 3));
    }

    #[test]
    fn the_value_in_force_on_the_date_is_used() {
        let c = card(1, 400);
        assert_eq!(
            c.value("bed day", day(2025, 3, 31)),
            Some(Money::pounds(350).unwrap())
        );
        assert_eq!(
            c.value("bed day", day(2025, 4, 1)),
            Some(Money::pounds(400).unwrap())
        );
        assert_eq!(c.value("bed day", day(2024, 1, 1)), None);
        // Before the factor is in force the chain cannot be converted: refused, not guessed.
        assert_eq!(
            c.valuate(
                Ratio::int(1),
                &["adverse drug reaction prevented", "bed day"],
                day(2025, 3, 31)
            ),
            Err(ValuationError::NoFactor {
                from: "adverse drug reaction prevented".into(),
                to: "bed day".into()
            })
        );
    }

    #[test]
    fn totals_under_two_cards_stay_two_totals() {
        let chain = ["adverse drug reaction prevented", "bed day"];
        let on = day(2025, 6, 1);
        let figures = vec![
            card(1, 400).valuate(Ratio::int(425), &chain, on).unwrap(),
            card(1, 400).valuate(Ratio::int(425), &chain, on).unwrap(),
            card(2, 420).valuate(Ratio::int(850), &chain, on).unwrap(),
        ];
        let totals = totals_by_card(&figures).unwrap();
        assert_eq!(totals.len(), 2);
        let v1 = &totals[&("que-2025".to_owned(), 1)];
        assert_eq!(
            (v1.0, v1.1.to_string()),
            (Ratio::int(2450), "£980,000.00".to_owned())
        );
        let v2 = &totals[&("que-2025".to_owned(), 2)];
        assert_eq!(v2.1.to_string(), "£1,029,000.00");
    }
}
