//! Conversions between `google.protobuf.Timestamp` and `chrono`, refusing what cannot be a time.
//!
//! Every RPC that takes or returns a time goes through these, so an out-of-range timestamp is
//! refused with the field's name instead of being clamped, wrapped or silently dropped.

use chrono::{DateTime, Utc};

use crate::violation::FieldViolation;

/// The largest `nanos` a `Timestamp` may hold.
const MAX_NANOS: u32 = 999_999_999;

/// `t` as a protobuf timestamp, for responses.
///
/// chrono can represent a leap second (nanoseconds of 1 000 000 000 or more); protobuf
/// timestamps cannot, so a leap second is given as the last nanosecond of the second before,
/// which keeps times in order.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    let nanos = t.timestamp_subsec_nanos().min(MAX_NANOS);
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // At most 999 999 999 after `min`, below i32::MAX: the cast is exact.
        nanos: nanos as i32,
    }
}

/// An optional timestamp sent in request field `field`: `None` stays `None`; `nanos` outside
/// 0..=999 999 999 or seconds outside what chrono can represent are refused with
/// `is out of range`.
pub fn from_timestamp(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, FieldViolation> {
    t.map(|t| {
        let out_of_range = || FieldViolation::new(field, "is out of range");
        let nanos = u32::try_from(t.nanos)
            .ok()
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(out_of_range)?;
        DateTime::from_timestamp(t.seconds, nanos).ok_or_else(out_of_range)
    })
    .transpose()
}

/// A timestamp the request must carry in field `field`: like [`from_timestamp`], and an unset
/// one is refused with `is required`.
pub fn required_timestamp(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<DateTime<Utc>, FieldViolation> {
    from_timestamp(field, t)?.ok_or_else(|| FieldViolation::new(field, "is required"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone as _};

    fn ts(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos })
    }

    #[test]
    fn a_time_round_trips() {
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 23, 59, 59).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let pb = timestamp(t);
        assert_eq!(pb.seconds, t.timestamp());
        assert_eq!(pb.nanos, 123_456_789);
        assert_eq!(from_timestamp("t", Some(pb)).unwrap(), Some(t));
    }

    #[test]
    fn the_epoch_and_times_before_it_round_trip() {
        for (seconds, nanos) in [(0, 0), (-1, 999_999_999), (-62_135_596_800, 0)] {
            let t = from_timestamp("t", ts(seconds, nanos)).unwrap().unwrap();
            assert_eq!(timestamp(t), ts(seconds, nanos).unwrap());
        }
    }

    #[test]
    fn chronos_extremes_round_trip() {
        for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            assert_eq!(from_timestamp("t", Some(timestamp(t))).unwrap(), Some(t));
        }
    }

    #[test]
    fn a_leap_second_is_the_last_nanosecond_before_it() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        let pb = timestamp(leap);
        assert_eq!(pb.nanos, 999_999_999);
        assert_eq!(pb.seconds, leap.timestamp());
        assert!(from_timestamp("t", Some(pb)).unwrap().is_some());
    }

    #[test]
    fn unset_is_none_or_required() {
        assert_eq!(from_timestamp("start_time", None).unwrap(), None);
        assert_eq!(
            required_timestamp("publish_time", None).unwrap_err(),
            FieldViolation::new("publish_time", "is required")
        );
        assert_eq!(
            required_timestamp("publish_time", ts(1, 2)).unwrap(),
            DateTime::from_timestamp(1, 2).unwrap()
        );
    }

    #[test]
    fn impossible_timestamps_are_out_of_range() {
        for (seconds, nanos) in [
            (0, -1),
            (0, i32::MIN),
            (0, 1_000_000_000),
            (0, i32::MAX),
            (i64::MAX, 0),
            (i64::MIN, 0),
            (DateTime::<Utc>::MAX_UTC.timestamp() + 1, 0),
            (DateTime::<Utc>::MIN_UTC.timestamp() - 1, 0),
        ] {
            let expected = FieldViolation::new("end_time", "is out of range");
            assert_eq!(
                from_timestamp("end_time", ts(seconds, nanos)).unwrap_err(),
                expected,
                "{seconds} {nanos}"
            );
            assert_eq!(
                required_timestamp("end_time", ts(seconds, nanos)).unwrap_err(),
                expected
            );
        }
    }
}
