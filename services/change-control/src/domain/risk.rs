//! The clinical risk matrix of DCB0129/DCB0160: likelihood × severity, each 1–5, gives a risk
//! rating 1–5.

/// The standard NHS clinical risk matrix, indexed `[likelihood - 1][severity - 1]`.
///
/// Likelihood: very low, low, medium, high, very high. Severity: minor, significant,
/// considerable, major, catastrophic.
const MATRIX: [[u8; 5]; 5] = [
    [1, 1, 2, 2, 3], // very low
    [1, 2, 2, 3, 4], // low
    [2, 2, 3, 3, 4], // medium
    [2, 3, 3, 4, 5], // high
    [3, 4, 4, 5, 5], // very high
];

/// A likelihood or severity outside 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1 and 5, got {0}")]
pub struct OutOfScale(pub i32);

/// The risk rating (1–5) of a likelihood and a severity (each 1–5).
pub fn risk(likelihood: i32, severity: i32) -> Result<u8, OutOfScale> {
    let index = |v: i32| {
        usize::try_from(v - 1)
            .ok()
            .filter(|i| *i < 5)
            .ok_or(OutOfScale(v))
    };
    Ok(MATRIX[index(likelihood)?][index(severity)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_and_centre_of_the_matrix() {
        assert_eq!(risk(1, 1), Ok(1));
        assert_eq!(risk(5, 5), Ok(5));
        assert_eq!(risk(1, 5), Ok(3));
        assert_eq!(risk(5, 1), Ok(3));
        assert_eq!(risk(3, 3), Ok(3));
        assert_eq!(risk(4, 5), Ok(5));
        assert_eq!(risk(2, 4), Ok(3));
    }

    #[test]
    fn values_outside_the_scale_are_refused() {
        assert_eq!(risk(0, 3), Err(OutOfScale(0)));
        assert_eq!(risk(3, 6), Err(OutOfScale(6)));
        assert_eq!(risk(-1, 1), Err(OutOfScale(-1)));
    }

    #[test]
    fn risk_never_falls_as_likelihood_or_severity_rises() {
        for l in 1..=5 {
            for s in 1..=5 {
                let r = risk(l, s).unwrap();
                assert!((1..=5).contains(&r));
                if l < 5 {
                    assert!(risk(l + 1, s).unwrap() >= r);
                }
                if s < 5 {
                    assert!(risk(l, s + 1).unwrap() >= r);
                }
            }
        }
    }
}
