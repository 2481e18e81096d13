//! Statistical process control as NHS England's Making Data Count teaches boards to read it: an
//! XmR chart of a measurement series (mean, moving ranges, process limits at the mean ± 2.66 ×
//! the mean moving range), the special-cause rules — a point outside the limits, a shift of seven
//! points on one side of the mean, a trend of seven points rising or falling, two of three points
//! beyond two sigma on the same side — and the variation and assurance icons. The limits are
//! computed again only from a rebase point: a known change to the process (the publish of an
//! enabling change request's configuration).

/// Points in a run on one side of the mean that make a shift, and in a trend.
pub const RUN: usize = 7;

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Higher is better.
    Increase,
    /// Lower is better.
    Decrease,
    /// Neither.
    Neutral,
}

/// The limits of one segment (between rebase points).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The mean.
    pub mean: f64,
    /// The lower process limit.
    pub lower: f64,
    /// The upper process limit.
    pub upper: f64,
}

/// One point of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The value.
    pub value: f64,
    /// The limits of its segment.
    pub limits: Limits,
    /// Outside the process limits.
    pub outside: bool,
    /// Part of a run of seven on one side of the mean.
    pub shift: bool,
    /// Part of seven points rising or falling.
    pub trend: bool,
    /// One of two in three beyond two sigma on the same side.
    pub two_of_three: bool,
}

impl Point {
    /// Whether any rule marks it as special cause.
    pub fn special(&self) -> bool {
        self.outside || self.shift || self.trend || self.two_of_three
    }
}

/// What the latest point says of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variation {
    /// Common cause: nothing to explain.
    CommonCause,
    /// Special cause in the better direction.
    Improvement,
    /// Special cause in the worse direction.
    Concern,
    /// Special cause, high, where neither way is better.
    NeutralHigh,
    /// Special cause, low, where neither way is better.
    NeutralLow,
}

/// Whether the process will meet its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assurance {
    /// Its limits lie on the right side of the target: it will meet it.
    Pass,
    /// Its limits lie on the wrong side: it will not, unless the process changes.
    Fail,
    /// The target lies between the limits: it will sometimes meet it and sometimes not.
    Inconsistent,
}

fn limits(values: &[f64]) -> Limits {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ranges: Vec<f64> = values.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let average = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    // Moving ranges above 3.267 × their mean are screened out before the limits are set, as the
    // Making Data Count tools do, so one wild month does not widen them.
    let first = average(&ranges);
    let screened: Vec<f64> = ranges
        .iter()
        .copied()
        .filter(|r| *r <= 3.267 * first)
        .collect();
    let mr = average(&screened);
    Limits {
        mean,
        lower: mean - 2.66 * mr,
        upper: mean + 2.66 * mr,
    }
}

fn side(value: f64, mean: f64) -> i8 {
    if value > mean {
        1
    } else if value < mean {
        -1
    } else {
        0
    }
}

/// The chart of `values` in time order, its limits set afresh at each index of `rebases`.
pub fn chart(values: &[f64], rebases: &[usize]) -> Vec<Point> {
    let mut bounds: Vec<usize> = rebases
        .iter()
        .copied()
        .filter(|i| *i > 0 && *i < values.len())
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut out = Vec::with_capacity(values.len());
    let mut start = 0;
    for end in bounds.into_iter().chain(std::iter::once(values.len())) {
        out.extend(segment(&values[start..end]));
        start = end;
    }
    out
}

fn segment(values: &[f64]) -> Vec<Point> {
    let l = limits(values);
    let n = values.len();
    let sides: Vec<i8> = values.iter().map(|v| side(*v, l.mean)).collect();
    let two_sigma = (l.upper - l.mean) * 2.0 / 3.0;
    let beyond: Vec<i8> = values
        .iter()
        .map(|v| {
            if *v > l.mean + two_sigma {
                1
            } else if *v < l.mean - two_sigma {
                -1
            } else {
                0
            }
        })
        .collect();
    let mut shift = vec![false; n];
    let mut trend = vec![false; n];
    let mut two_of_three = vec![false; n];
    for end in RUN..=n {
        let run = &sides[end - RUN..end];
        if run[0] != 0 && run.iter().all(|s| *s == run[0]) {
            shift[end - RUN..end].iter_mut().for_each(|f| *f = true);
        }
        let w = &values[end - RUN..end];
        let rising = w.windows(2).all(|p| p[1] > p[0]);
        let falling = w.windows(2).all(|p| p[1] < p[0]);
        if rising || falling {
            trend[end - RUN..end].iter_mut().for_each(|f| *f = true);
        }
    }
    for end in 3..=n {
        for s in [1i8, -1] {
            let window = end - 3..end;
            let same_side = sides[window.clone()].iter().all(|x| *x == s);
            let count = beyond[window.clone()].iter().filter(|b| **b == s).count();
            if same_side && count >= 2 {
                for i in window.filter(|i| beyond[*i] == s) {
                    two_of_three[i] = true;
                }
            }
        }
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Point {
            value: *v,
            limits: l,
            outside: *v > l.upper || *v < l.lower,
            shift: shift[i],
            trend: trend[i],
            two_of_three: two_of_three[i],
        })
        .collect()
}

/// The variation icon of the chart: what its latest point says.
pub fn variation(points: &[Point], direction: Direction) -> Variation {
    let Some(last) = points.last().filter(|p| p.special()) else {
        return Variation::CommonCause;
    };
    let high = last.value > last.limits.mean
        || (last.value == last.limits.mean
            && last.trend
            && points.len() >= 2
            && points[points.len() - 2].value < last.value);
    match (direction, high) {
        (Direction::Neutral, true) => Variation::NeutralHigh,
        (Direction::Neutral, false) => Variation::NeutralLow,
        (Direction::Increase, true) | (Direction::Decrease, false) => Variation::Improvement,
        _ => Variation::Concern,
    }
}

/// The assurance icon against `target`, from the latest segment's limits (`None` without a
/// target or a direction).
pub fn assurance(points: &[Point], direction: Direction, target: Option<f64>) -> Option<Assurance> {
    let (target, l) = (target?, points.last()?.limits);
    match direction {
        Direction::Neutral => None,
        Direction::Increase if l.lower > target => Some(Assurance::Pass),
        Direction::Increase if l.upper < target => Some(Assurance::Fail),
        Direction::Decrease if l.upper < target => Some(Assurance::Pass),
        Direction::Decrease if l.lower > target => Some(Assurance::Fail),
        _ => Some(Assurance::Inconsistent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEADY: [f64; 12] = [
        70.0, 72.0, 71.0, 69.0, 73.0, 70.0, 71.0, 72.0, 70.0, 71.0, 69.0, 72.0,
    ];

    #[test]
    fn limits_are_the_mean_plus_or_minus_2_66_mean_moving_ranges() {
        let points = chart(&[10.0, 12.0, 11.0, 13.0, 12.0], &[]);
        // Mean 11.6; moving ranges 2, 1, 2, 1: mean 1.5; limits 11.6 ± 3.99.
        let l = points[0].limits;
        assert!((l.mean - 11.6).abs() < 1e-9);
        assert!((l.upper - 15.59).abs() < 1e-9 && (l.lower - 7.61).abs() < 1e-9);
        assert!(points.iter().all(|p| !p.special()));
    }

    #[test]
    fn a_steady_process_is_common_cause() {
        let points = chart(&STEADY, &[]);
        assert!(points.iter().all(|p| !p.special()), "{points:?}");
        assert_eq!(
            variation(&points, Direction::Increase),
            Variation::CommonCause
        );
    }

    #[test]
    fn a_point_outside_the_limits_is_special_cause() {
        let mut values = STEADY.to_vec();
        values.push(95.0);
        let points = chart(&values, &[]);
        assert!(points[12].outside);
        assert_eq!(
            variation(&points, Direction::Increase),
            Variation::Improvement
        );
        assert_eq!(variation(&points, Direction::Decrease), Variation::Concern);
        assert_eq!(
            variation(&points, Direction::Neutral),
            Variation::NeutralHigh
        );
    }

    #[test]
    fn seven_on_one_side_make_a_shift_and_six_do_not() {
        let mut values = vec![15.0, 5.0, 15.0, 5.0, 15.0, 5.0];
        values.extend([11.0, 12.0, 11.0, 12.0, 11.0, 12.0]);
        let six = chart(&values, &[]);
        assert!(
            !six.iter().any(|p| p.shift),
            "six points above are not a shift"
        );
        values.push(11.0);
        let seven = chart(&values, &[]);
        assert_eq!(
            seven.iter().map(|p| p.shift).collect::<Vec<_>>(),
            [vec![false; 6], vec![true; 7]].concat()
        );
    }

    #[test]
    fn seven_rising_make_a_trend() {
        let values = [
            50.0, 40.0, 60.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0, 30.0,
        ];
        let points = chart(&values, &[]);
        let trend: Vec<bool> = points.iter().map(|p| p.trend).collect();
        assert_eq!(
            trend,
            [
                false, false, false, true, true, true, true, true, true, true, false
            ]
        );
        let six = chart(
            &[50.0, 40.0, 60.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 30.0],
            &[],
        );
        assert!(!six.iter().any(|p| p.trend));
    }

    #[test]
    fn two_of_three_beyond_two_sigma_on_one_side() {
        let mut values = STEADY.to_vec();
        // Mean 71.6, upper limit 78.06, two sigma 75.91 (worked by hand from the moving ranges).
        values.extend([76.0, 72.0, 76.0]);
        let points = chart(&values, &[]);
        let l = points[0].limits;
        let two_sigma = l.mean + (l.upper - l.mean) * 2.0 / 3.0;
        assert!(values[12] > two_sigma && values[14] > two_sigma && values[14] < l.upper);
        assert!(points[12].two_of_three && points[14].two_of_three);
        assert!(
            !points[13].two_of_three,
            "the point between is not beyond two sigma"
        );
    }

    #[test]
    fn a_rebase_sets_the_limits_afresh_from_the_change() {
        let mut values = STEADY.to_vec();
        values.extend([90.0, 91.0, 89.0, 90.0, 92.0, 90.0, 91.0]);
        let whole = chart(&values, &[]);
        assert!(
            whole[12..].iter().all(|p| p.special()),
            "against the old limits: a shift"
        );
        let rebased = chart(&values, &[12]);
        assert!(
            rebased[12..].iter().all(|p| !p.special()),
            "a new process, in control"
        );
        assert!((rebased[12].limits.mean - 90.428_571).abs() < 1e-5);
    }

    #[test]
    fn assurance_compares_the_limits_with_the_target() {
        let points = chart(&STEADY, &[]);
        assert_eq!(
            assurance(&points, Direction::Increase, Some(60.0)),
            Some(Assurance::Pass)
        );
        assert_eq!(
            assurance(&points, Direction::Increase, Some(80.0)),
            Some(Assurance::Fail)
        );
        assert_eq!(
            assurance(&points, Direction::Increase, Some(71.0)),
            Some(Assurance::Inconsistent)
        );
        assert_eq!(
            assurance(&points, Direction::Decrease, Some(80.0)),
            Some(Assurance::Pass)
        );
        assert_eq!(assurance(&points, Direction::Neutral, Some(80.0)), None);
        assert_eq!(assurance(&points, Direction::Increase, None), None);
    }
}
