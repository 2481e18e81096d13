//! Draining for shutdown: once started, the server stops taking calls (`NOT_READY`), health and
//! `/readyz` say so, and every open `Watch…` stream ends at once with UNAVAILABLE `NOT_READY`
//! and RetryInfo, so a drain does not wait out `server.shutdown_grace` for streams that would
//! never end by themselves; clients resume from the last cursor they received, on another
//! replica or after the restart.

use std::sync::Arc;

use tokio::sync::watch;
use tonic::Code;

use crate::error::{ApiError, PLATFORM_DOMAIN};

/// The process's drain signal; clones share it.
#[derive(Debug, Clone)]
pub struct Drain(Arc<watch::Sender<bool>>);

impl Default for Drain {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl Drain {
    /// Starts draining (idempotent).
    pub fn start(&self) {
        self.0.send_replace(true);
    }

    /// True once draining started.
    pub fn is_draining(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when draining starts (at once if it has).
    pub async fn started(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|draining| *draining).await;
    }

    /// What an open stream ends with when the server drains.
    pub fn error() -> ApiError {
        ApiError::new(
            Code::Unavailable,
            PLATFORM_DOMAIN,
            "NOT_READY",
            "the server is shutting down: watch again from the last cursor or revision received \
             (another replica can take the call)",
        )
        .with_retry_after(std::time::Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_wakes_every_waiter_once_started() {
        let drain = Drain::default();
        assert!(!drain.is_draining());
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.started().await }
        });
        drain.start();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        assert!(drain.is_draining());
        // A waiter that comes after the start returns at once.
        tokio::time::timeout(std::time::Duration::from_secs(5), drain.started())
            .await
            .expect("at once");
    }
}
