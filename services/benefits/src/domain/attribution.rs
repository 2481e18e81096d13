//! Attribution: a benefit × trust × period shared among the change requests that enabled it.
//! The shares add up to at most 100%, refused at write time otherwise, and the unattributed
//! remainder is shown, never dropped.

use std::collections::BTreeMap;

use super::exact::{ExactError, Ratio};

/// Why a set of shares cannot stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributionError {
    /// A share below 0 or above 1 (the change request named).
    OutOfRange(String),
    /// The shares add up to more than 1: their total.
    OverAttributed(Ratio),
    /// A change request named twice.
    Repeated(String),
    /// The arithmetic failed.
    Exact(ExactError),
}

/// Shares of a benefit by change request, checked: each in [0, 1], together at most 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attribution(BTreeMap<String, Ratio>);

impl Attribution {
    /// The shares `(change request, share)`, checked.
    pub fn new(shares: Vec<(String, Ratio)>) -> Result<Attribution, AttributionError> {
        let mut map = BTreeMap::new();
        let mut total = Ratio::ZERO;
        for (cr, share) in shares {
            if share < Ratio::ZERO || share > Ratio::ONE {
                return Err(AttributionError::OutOfRange(cr));
            }
            total = total.checked_add(share).map_err(AttributionError::Exact)?;
            if map.insert(cr.clone(), share).is_some() {
                return Err(AttributionError::Repeated(cr));
            }
        }
        if total > Ratio::ONE {
            return Err(AttributionError::OverAttributed(total));
        }
        Ok(Attribution(map))
    }

    /// The shares by change request.
    pub fn shares(&self) -> &BTreeMap<String, Ratio> {
        &self.0
    }

    /// What is attributed to no change request: 1 − the shares.
    pub fn unattributed(&self) -> Ratio {
        self.0
            .values()
            .try_fold(Ratio::ONE, |left, s| left.checked_sub(*s))
            .unwrap_or(Ratio::ZERO)
    }

    /// `amount` split by the shares, and the unattributed part: exact, so the parts add up to
    /// `amount`.
    pub fn split(&self, amount: Ratio) -> Result<(BTreeMap<String, Ratio>, Ratio), ExactError> {
        let mut parts = BTreeMap::new();
        for (cr, share) in &self.0 {
            parts.insert(cr.clone(), amount.checked_mul(*share)?);
        }
        Ok((parts, amount.checked_mul(self.unattributed())?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pct(p: i128) -> Ratio {
        Ratio::new(p, 100).unwrap()
    }

    #[test]
    fn shares_above_one_hundred_percent_are_refused() {
        let a = Attribution::new(vec![("CR-1".into(), pct(60)), ("CR-2".into(), pct(30))]).unwrap();
        assert_eq!(a.unattributed(), pct(10));
        assert_eq!(
            Attribution::new(vec![("CR-1".into(), pct(60)), ("CR-2".into(), pct(41))]),
            Err(AttributionError::OverAttributed(pct(101)))
        );
        assert_eq!(
            Attribution::new(vec![("CR-1".into(), pct(-1))]),
            Err(AttributionError::OutOfRange("CR-1".into()))
        );
        assert_eq!(
            Attribution::new(vec![("CR-1".into(), pct(10)), ("CR-1".into(), pct(10))]),
            Err(AttributionError::Repeated("CR-1".into()))
        );
        let (parts, rest) = a.split(Ratio::int(850)).unwrap();
        assert_eq!(parts["CR-1"], Ratio::int(510));
        assert_eq!(rest, Ratio::int(85));
    }

    proptest! {
        #[test]
        fn the_parts_always_add_up_to_the_whole(shares in proptest::collection::vec(0i128..30, 0..4), amount in 0i128..100_000) {
            let shares: Vec<(String, Ratio)> = shares.into_iter().enumerate().map(|(i, p)| (format!("CR-{i}"), pct(p))).collect();
            let a = Attribution::new(shares).unwrap();
            let (parts, rest) = a.split(Ratio::int(amount)).unwrap();
            let total = parts.values().try_fold(rest, |t, p| t.checked_add(*p)).unwrap();
            prop_assert_eq!(total, Ratio::int(amount));
            prop_assert!(a.unattributed() >= Ratio::ZERO);
        }
    }
}
