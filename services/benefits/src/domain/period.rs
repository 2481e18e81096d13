//! Months, quarters and NHS financial years: a financial year runs 1 April – 31 March and is
//! written `2025/26`; its quarters start in April, July, October and January.

use std::fmt;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// The year.
    pub year: i32,
    /// The month, 1–12.
    pub month: u8,
}

impl Month {
    /// The month, if `month` is 1–12.
    pub fn new(year: i32, month: u8) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// Reads `2025-04`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// The financial year it falls in.
    pub fn financial_year(self) -> FinancialYear {
        FinancialYear {
            start: if self.month >= 4 {
                self.year
            } else {
                self.year - 1
            },
        }
    }

    /// Its quarter of the financial year, 1–4 (April–June is 1).
    pub fn quarter(self) -> u8 {
        match self.month {
            4..=6 => 1,
            7..=9 => 2,
            10..=12 => 3,
            _ => 4,
        }
    }

    /// Its first day.
    pub fn first_day(self) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(self.year, u32::from(self.month), 1)
            .unwrap_or(chrono::NaiveDate::MIN)
    }

    /// Its last day.
    pub fn last_day(self) -> chrono::NaiveDate {
        self.next()
            .first_day()
            .pred_opt()
            .unwrap_or(chrono::NaiveDate::MIN)
    }

    /// The month `day` falls in.
    pub fn of(day: chrono::NaiveDate) -> Month {
        use chrono::Datelike;
        Month {
            year: day.year(),
            month: u8::try_from(day.month()).unwrap_or(1),
        }
    }

    /// The first whole month after a process changed on `day`: that month if it changed on its
    /// first day, else the month after. An SPC chart's new segment starts there.
    pub fn first_whole_after(day: chrono::NaiveDate) -> Month {
        let month = Month::of(day);
        if month.first_day() == day {
            month
        } else {
            month.next()
        }
    }

    /// The month after.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// An NHS financial year: 1 April of `start` to 31 March of the year after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FinancialYear {
    /// The calendar year it starts in.
    pub start: i32,
}

impl FinancialYear {
    /// Reads `2025/26` (the second part must be the year after's last two digits).
    pub fn parse(text: &str) -> Option<FinancialYear> {
        let (a, b) = text.split_once('/')?;
        if a.len() != 4 || b.len() != 2 {
            return None;
        }
        let start: i32 = a.parse().ok()?;
        let end: i32 = b.parse().ok()?;
        ((start + 1) % 100 == end).then_some(FinancialYear { start })
    }

    /// Its twelve months, April to March.
    pub fn months(self) -> Vec<Month> {
        let mut m = Month {
            year: self.start,
            month: 4,
        };
        (0..12)
            .map(|_| {
                let this = m;
                m = m.next();
                this
            })
            .collect()
    }

    /// Whether `month` falls in it.
    pub fn contains(self, month: Month) -> bool {
        month.financial_year() == self
    }
}

impl FinancialYear {
    /// The year as a resource name segment writes it: `2025-26`.
    pub fn segment(self) -> String {
        self.to_string().replace('/', "-")
    }

    /// Reads the segment form, `2025-26`.
    pub fn parse_segment(text: &str) -> Option<FinancialYear> {
        FinancialYear::parse(&text.replacen('-', "/", 1))
    }
}

impl fmt::Display for FinancialYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:02}", self.start, (self.start + 1).rem_euclid(100))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_process_change_shows_from_the_first_whole_month_after_it() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let month = |y, m| Month::new(y, m).unwrap();
        assert_eq!(Month::first_whole_after(day(2025, 9, 1)), month(2025, 9));
        assert_eq!(Month::first_whole_after(day(2025, 9, 2)), month(2025, 10));
        assert_eq!(Month::first_whole_after(day(2025, 12, 31)), month(2026, 1));
        assert_eq!(Month::of(day(2026, 3, 31)), month(2026, 3));
    }

    #[test]
    fn the_financial_year_turns_on_the_first_of_april() {
        let m = |y, mo| Month::new(y, mo).unwrap();
        assert_eq!(m(2026, 3).financial_year().to_string(), "2025/26");
        assert_eq!(m(2026, 4).financial_year().to_string(), "2026/27");
        assert_eq!(m(2025, 4).financial_year().to_string(), "2025/26");
        assert_eq!(
            [m(2025, 4), m(2025, 9), m(2025, 12), m(2026, 1)].map(Month::quarter),
            [1, 2, 3, 4]
        );
        let fy = FinancialYear::parse("2025/26").unwrap();
        let months = fy.months();
        assert_eq!(months.len(), 12);
        assert_eq!(
            (months[0].to_string(), months[11].to_string()),
            ("2025-04".into(), "2026-03".into())
        );
        assert!(months.iter().all(|m| fy.contains(*m)));
        assert!(!fy.contains(m(2026, 4)));
        assert_eq!(
            FinancialYear::parse("1999/00").unwrap().to_string(),
            "1999/00"
        );
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in ["2025/27", "25/26", "2025-26", "2025/2026", ""] {
            assert!(FinancialYear::parse(bad).is_none(), "{bad}");
        }
        for bad in ["2025-13", "2025-00", "2025-4", "202504"] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Month::parse("2025-04").unwrap().to_string(), "2025-04");
    }
}
