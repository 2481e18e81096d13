//! The time a use case acts at.
//!
//! Rules that depend on time (voting and assessment deadlines, retrospective reviews, expiry,
//! financial years) take "now" from a [`Clock`] handed down from the platform, never from the wall
//! clock directly, so a test moves time forward with [`Clock::advance`] instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time, cheap to clone. The system clock in production; in tests the
/// system clock shifted by an offset the test advances.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds added to the system time; shared by every clone.
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::microseconds(self.offset_micros.load(Ordering::SeqCst))
    }

    /// Moves this clock (and every clone of it) forward by `by`: what would happen after waiting
    /// that long happens at the next call. For tests; the system clock of a server is never moved.
    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = other.now();
        clock.advance(std::time::Duration::from_secs(3600));
        let after = other.now();
        assert!(after - before >= Duration::seconds(3600));
        assert!(after - before < Duration::seconds(3660));
    }
}
