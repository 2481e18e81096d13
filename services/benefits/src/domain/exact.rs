//! Exact arithmetic for conversion and valuation: rationals of 128-bit integers, and money in
//! pence. Factors such as 2,450/850 bed days per adverse drug reaction stay exact, so 850 × 2,450/850
//! is exactly 2,450 and 2,450 × £400 exactly £980,000 (the rounded factor 2.882 would give
//! £979,880). Rounding happens once, at presentation, half to even, to the penny.

use std::cmp::Ordering;
use std::fmt;

/// Why a figure cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExactError {
    /// A denominator of zero, or a division by zero.
    DivisionByZero,
    /// The figure does not fit in 128 bits.
    Overflow,
    /// The text is not a number in a form this reads.
    Unreadable(String),
}

impl fmt::Display for ExactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExactError::DivisionByZero => write!(f, "division by zero"),
            ExactError::Overflow => write!(f, "the figure is too large"),
            ExactError::Unreadable(text) => write!(
                f,
                "`{text}` is not a number: write an integer, a decimal (`2.5`) or a fraction (`2450/850`)"
            ),
        }
    }
}

impl std::error::Error for ExactError {}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// An exact rational number, always in lowest terms with a positive denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: i128,
    den: i128,
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };
    /// One.
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// `num / den`, reduced.
    pub fn new(num: i128, den: i128) -> Result<Ratio, ExactError> {
        if den == 0 {
            return Err(ExactError::DivisionByZero);
        }
        let g = gcd(num, den).max(1);
        let (mut num, mut den) = (num / g, den / g);
        if den < 0 {
            num = num.checked_neg().ok_or(ExactError::Overflow)?;
            den = den.checked_neg().ok_or(ExactError::Overflow)?;
        }
        Ok(Ratio { num, den })
    }

    /// The integer `n`.
    pub const fn int(n: i128) -> Ratio {
        Ratio { num: n, den: 1 }
    }

    /// The numerator (in lowest terms).
    pub fn numerator(self) -> i128 {
        self.num
    }

    /// The denominator (in lowest terms, positive).
    pub fn denominator(self) -> i128 {
        self.den
    }

    /// Reads `12`, `-3.25` or `2450/850`.
    pub fn parse(text: &str) -> Result<Ratio, ExactError> {
        let unreadable = || ExactError::Unreadable(text.to_owned());
        let t = text.trim();
        if let Some((n, d)) = t.split_once('/') {
            let n: i128 = n.trim().parse().map_err(|_| unreadable())?;
            let d: i128 = d.trim().parse().map_err(|_| unreadable())?;
            return Ratio::new(n, d);
        }
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (whole, fraction, pointed) = match digits.split_once('.') {
            Some((w, f)) => (w, f, true),
            None => (digits, "", false),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || (pointed && fraction.is_empty())
            || !all_digits(whole)
            || !all_digits(fraction)
            || fraction.len() > 30
        {
            return Err(unreadable());
        }
        let scale = 10i128.checked_pow(u32::try_from(fraction.len()).map_err(|_| unreadable())?);
        let scale = scale.ok_or(ExactError::Overflow)?;
        let num: i128 = format!("{whole}{fraction}")
            .parse()
            .map_err(|_| ExactError::Overflow)?;
        Ratio::new(if negative { -num } else { num }, scale)
    }

    /// `self + other`.
    pub fn checked_add(self, other: Ratio) -> Result<Ratio, ExactError> {
        let num = self
            .num
            .checked_mul(other.den)
            .zip(other.num.checked_mul(self.den))
            .and_then(|(a, b)| a.checked_add(b))
            .ok_or(ExactError::Overflow)?;
        let den = self
            .den
            .checked_mul(other.den)
            .ok_or(ExactError::Overflow)?;
        Ratio::new(num, den)
    }

    /// `self - other`.
    pub fn checked_sub(self, other: Ratio) -> Result<Ratio, ExactError> {
        self.checked_add(Ratio {
            num: other.num.checked_neg().ok_or(ExactError::Overflow)?,
            den: other.den,
        })
    }

    /// `self × other`, cross-reduced first so that exact products stay small.
    pub fn checked_mul(self, other: Ratio) -> Result<Ratio, ExactError> {
        let g1 = gcd(self.num, other.den).max(1);
        let g2 = gcd(other.num, self.den).max(1);
        let num = (self.num / g1)
            .checked_mul(other.num / g2)
            .ok_or(ExactError::Overflow)?;
        let den = (self.den / g2)
            .checked_mul(other.den / g1)
            .ok_or(ExactError::Overflow)?;
        Ratio::new(num, den)
    }

    /// `self ÷ other`.
    pub fn checked_div(self, other: Ratio) -> Result<Ratio, ExactError> {
        if other.num == 0 {
            return Err(ExactError::DivisionByZero);
        }
        self.checked_mul(Ratio::new(other.den, other.num)?)
    }

    /// Whether it is a whole number.
    pub fn is_integer(self) -> bool {
        self.den == 1
    }

    /// Rounded to the nearest integer, halves to even: the one rounding, at presentation.
    pub fn round_half_even(self) -> i128 {
        let q = self.num.div_euclid(self.den);
        let r = self.num.rem_euclid(self.den);
        match (2 * r).cmp(&self.den) {
            Ordering::Less => q,
            Ordering::Greater => q + 1,
            Ordering::Equal => q + (q & 1),
        }
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Ratio) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Ratio) -> Ordering {
        // Denominators are positive, so cross-multiplication keeps the order; compare wide on
        // overflow.
        match (
            self.num.checked_mul(other.den),
            other.num.checked_mul(self.den),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => (self.num as f64 / self.den as f64)
                .total_cmp(&(other.num as f64 / other.den as f64)),
        }
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// An amount of money, exact: a rational number of pence (a valuation may hold fractions of a
/// penny until it is presented).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub Ratio);

impl Money {
    /// `pence` pence.
    pub const fn pence(pence: i128) -> Money {
        Money(Ratio::int(pence))
    }

    /// `pounds` pounds.
    pub fn pounds(pounds: i128) -> Result<Money, ExactError> {
        Ok(Money(Ratio::int(pounds).checked_mul(Ratio::int(100))?))
    }

    /// Reads pounds written `980000`, `400.00` or `0.5`.
    pub fn parse_pounds(text: &str) -> Result<Money, ExactError> {
        Ok(Money(Ratio::parse(text)?.checked_mul(Ratio::int(100))?))
    }

    /// `quantity` units at `self` each.
    pub fn times(self, quantity: Ratio) -> Result<Money, ExactError> {
        Ok(Money(self.0.checked_mul(quantity)?))
    }

    /// `self + other`.
    pub fn checked_add(self, other: Money) -> Result<Money, ExactError> {
        Ok(Money(self.0.checked_add(other.0)?))
    }

    /// Rounded to the penny, halves to even.
    pub fn rounded_pence(self) -> i128 {
        self.0.round_half_even()
    }
}

impl fmt::Display for Money {
    /// `£980,000.00`, rounded to the penny at this one point.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pence = self.rounded_pence();
        let sign = if pence < 0 { "-" } else { "" };
        let pence = pence.unsigned_abs();
        let pounds = (pence / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in pounds.chars().enumerate() {
            if i > 0 && (pounds.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}£{grouped}.{:02}", pence % 100)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_golden_chain_is_exact() {
        let reactions = Ratio::int(850);
        let bed_days_per_reaction = Ratio::parse("2450/850").unwrap();
        let bed_days = reactions.checked_mul(bed_days_per_reaction).unwrap();
        assert_eq!(bed_days, Ratio::int(2450));
        let bed_day = Money::parse_pounds("400").unwrap();
        let value = bed_day.times(bed_days).unwrap();
        assert_eq!(value, Money::pounds(980_000).unwrap());
        assert_eq!(value.to_string(), "£980,000.00");
        // The rounded factor would lose £120.
        let rounded = bed_day
            .times(
                reactions
                    .checked_mul(Ratio::parse("2.882").unwrap())
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(rounded.to_string(), "£979,880.00");
    }

    #[test]
    fn text_is_read_exactly_or_refused() {
        assert_eq!(Ratio::parse("2.5").unwrap(), Ratio::new(5, 2).unwrap());
        assert_eq!(Ratio::parse("-0.125").unwrap(), Ratio::new(-1, 8).unwrap());
        assert_eq!(Ratio::parse(" 49/17 ").unwrap().to_string(), "49/17");
        for bad in ["", "1e3", "1.", ".5", "a/2", "1/0", "1.2.3", "--1"] {
            assert!(Ratio::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Ratio::parse("1/0"), Err(ExactError::DivisionByZero));
    }

    #[test]
    fn rounding_is_half_to_even_and_only_at_presentation() {
        let r = |n, d| Ratio::new(n, d).unwrap().round_half_even();
        assert_eq!(
            [r(5, 2), r(7, 2), r(-5, 2), r(1, 3), r(2, 3)],
            [2, 4, -2, 0, 1]
        );
        assert_eq!(Money(Ratio::new(1, 2).unwrap()).to_string(), "£0.00");
        assert_eq!(Money(Ratio::new(3, 2).unwrap()).to_string(), "£0.02");
        assert_eq!(Money::pence(-123_456_789).to_string(), "-£1,234,567.89");
    }

    fn ratio() -> impl Strategy<Value = Ratio> {
        (-10_000i128..10_000, 1i128..10_000).prop_map(|(n, d)| Ratio::new(n, d).unwrap())
    }

    proptest! {
        #[test]
        fn conversion_there_and_back_is_the_identity(q in ratio(), f in ratio()) {
            prop_assume!(f != Ratio::ZERO);
            prop_assert_eq!(q.checked_mul(f).unwrap().checked_div(f).unwrap(), q);
        }

        #[test]
        fn sums_do_not_depend_on_order(a in ratio(), b in ratio(), c in ratio()) {
            prop_assert_eq!(a.checked_add(b).unwrap().checked_add(c).unwrap(), c.checked_add(a).unwrap().checked_add(b).unwrap());
        }

        #[test]
        fn values_in_lowest_terms_compare_as_their_quotients(a in ratio(), b in ratio()) {
            let as_f = |r: Ratio| r.numerator() as f64 / r.denominator() as f64;
            if as_f(a) < as_f(b) - 1e-9 {
                prop_assert!(a < b);
            }
            prop_assert!(a.denominator() > 0);
            prop_assert_eq!(gcd(a.numerator(), a.denominator()).max(1), 1);
        }
    }
}
