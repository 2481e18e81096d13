//! Start-up that waits for the database: when it cannot be reached, the listeners are open all the
//! same — gRPC health answers NOT_SERVING and `/readyz` 503 with the reason — and the start is
//! retried with backoff (1 s, doubling, at most 30 s) until the database answers. A wrong
//! configuration (a bad URL or password, a missing database, a failed migration) still fails at
//! once.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::migrations::MigrateFn;
use crate::server::{Platform, StartError};
use crate::telemetry::Metrics;

/// True when `err` is the database not answering, worth waiting for.
pub fn is_unreachable(err: &StartError) -> bool {
    match err {
        StartError::Database { source, .. } | StartError::Migrate(source) => {
            crate::db::is_unavailable(source)
        }
        _ => false,
    }
}

/// Starts the platform, waiting for the database while it does not answer and answering health
/// and readiness on `grpc` and `metrics` meanwhile. `None`: `stopping` was signalled first.
pub async fn start_when_the_database_answers(
    config: Config,
    migrations: &[MigrateFn],
    targets: Vec<String>,
    (grpc, metrics): (&TcpListener, &TcpListener),
    mut stopping: watch::Receiver<bool>,
) -> Result<Option<Arc<Platform>>, StartError> {
    let mut delay = Duration::from_secs(1);
    let mut waiting: Option<Waiting> = None;
    loop {
        let err = match Platform::start(config.clone(), migrations, targets.clone()).await {
            Ok(platform) => {
                if let Some(w) = waiting {
                    w.stop().await;
                }
                return Ok(Some(platform));
            }
            Err(err) if is_unreachable(&err) => err,
            Err(err) => return Err(err),
        };
        let reason = format!("the database does not answer: {err}");
        tracing::warn!(error = %err, retry_in = ?delay, "the database does not answer; health is NOT_SERVING until it does");
        match &waiting {
            Some(w) => w.metrics.set_unready(&reason),
            None => waiting = Some(Waiting::start(grpc, metrics, &reason)?),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopping.wait_for(|stop| *stop) => {
                if let Some(w) = waiting {
                    w.stop().await;
                }
                return Ok(None);
            }
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// The responders while waiting: health NOT_SERVING on the gRPC listener, `/readyz` 503 on the
/// metrics listener, each on a duplicate of the listening socket so the real server takes over
/// the same sockets afterwards.
struct Waiting {
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    grpc: tokio::task::JoinHandle<()>,
}

impl Waiting {
    fn start(grpc: &TcpListener, metrics: &TcpListener, reason: &str) -> Result<Self, StartError> {
        let (stop, stopped) = watch::channel(false);
        let grpc_clone = duplicate(grpc)?;
        let metrics_clone = duplicate(metrics)?;
        let m = Metrics::new();
        m.set_unready(reason);
        let mut rx = stopped.clone();
        crate::telemetry::serve_http(m.clone(), metrics_clone, async move {
            let _ = rx.wait_for(|stop| *stop).await;
        });
        let mut rx = stopped;
        let grpc = tokio::spawn(async move {
            let (reporter, health) = tonic_health::server::health_reporter();
            reporter
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            let incoming = tonic::transport::server::TcpIncoming::from(grpc_clone);
            let result = tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(err) = result {
                tracing::warn!(error = %err, "the start-up health responder stopped");
            }
        });
        Ok(Self {
            metrics: m,
            stop,
            grpc,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.grpc.await;
    }
}

/// A second handle on a listening socket.
fn duplicate(listener: &TcpListener) -> Result<TcpListener, StartError> {
    use std::os::fd::AsFd;
    let bind = |source: std::io::Error| StartError::Bind {
        addr: listener
            .local_addr()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        source,
    };
    let fd = listener.as_fd().try_clone_to_owned().map_err(bind)?;
    let std = std::net::TcpListener::from(fd);
    std.set_nonblocking(true).map_err(bind)?;
    TcpListener::from_std(std).map_err(bind)
}
