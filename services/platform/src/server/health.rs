//! Health as the probes see it: each gated service SERVING only while the upstreams it calls
//! answer SERVING and the database answers; the whole server only while all do.

use std::sync::Arc;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::{Gated, Platform};

/// For each gated service, the upstreams it is waiting for (not answering SERVING now).
pub(super) type Waiting =
    std::collections::BTreeMap<&'static str, std::collections::BTreeSet<&'static str>>;

/// The health of each of `names` and of the whole server: a service serves when the database
/// answers (`database`) and no upstream it needs is `waiting`; the server when all do.
pub(super) fn statuses(
    names: &[&'static str],
    waiting: &std::sync::Mutex<Waiting>,
    database: bool,
) -> (Vec<(&'static str, ServingStatus)>, ServingStatus) {
    let waiting = waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let up = |ok: bool| {
        if ok {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    };
    let each = names
        .iter()
        .map(|n| {
            (
                *n,
                up(database && waiting.get(n).is_none_or(|w| w.is_empty())),
            )
        })
        .collect();
    (each, up(database && waiting.values().all(|w| w.is_empty())))
}

/// Asks each upstream's health every second for as long as the process serves: a service that
/// calls an upstream is SERVING only while it answers SERVING (and the whole server only while
/// every upstream does), so a readiness probe keeps traffic away while an upstream is gone and
/// lets it back when the upstream returns.
pub(super) fn spawn_upstream_health(
    platform: Arc<Platform>,
    gated: Vec<Gated>,
    reporter: HealthReporter,
    (names, waiting): (Vec<&'static str>, Arc<std::sync::Mutex<Waiting>>),
) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    tokio::spawn(async move {
        let mut answering: Vec<Option<bool>> = vec![None; gated.len()];
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = platform.drain.started() => return,
            }
            let mut changed = false;
            for (g, was) in gated.iter().zip(answering.iter_mut()) {
                let mut client = HealthClient::new(g.channel.clone());
                let answer = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    client.check(HealthCheckRequest {
                        service: String::new(),
                    }),
                )
                .await;
                let serving = matches!(
                    answer,
                    Ok(Ok(ref r)) if r.get_ref().status == ServingStatus::Serving as i32
                );
                if *was == Some(serving) {
                    continue;
                }
                if serving {
                    tracing::info!(upstream = g.upstream, "upstream answers: serving");
                } else if was.is_some() {
                    tracing::warn!(
                        upstream = g.upstream,
                        "upstream does not answer: NOT_SERVING until it does"
                    );
                }
                *was = Some(serving);
                changed = true;
                let mut w = waiting
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for name in g.services {
                    let set = w.entry(*name).or_default();
                    if serving {
                        set.remove(g.upstream);
                    } else {
                        set.insert(g.upstream);
                    }
                }
            }
            if !changed || platform.drain.is_draining() {
                continue;
            }
            let (each, whole) = statuses(&names, &waiting, platform.metrics.is_ready());
            for (name, status) in each {
                reporter.set_service_status(name, status).await;
            }
            reporter.set_service_status("", whole).await;
        }
    });
}

/// Pings the database each second: while it does not answer, health is NOT_SERVING, `/readyz`
/// answers 503 saying so, and calls are refused at once with UNAVAILABLE `NOT_READY`; when it
/// answers again, all three recover. Stops when the process drains.
pub(super) fn spawn_database_watch(
    platform: Arc<Platform>,
    reporter: HealthReporter,
    names: Vec<&'static str>,
    waiting: Arc<std::sync::Mutex<Waiting>>,
) {
    tokio::spawn(async move {
        let mut answering = platform.metrics.is_ready();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = platform.drain.started() => return,
            }
            let ping = tokio::time::timeout(std::time::Duration::from_secs(2), platform.db.ping());
            let now = matches!(ping.await, Ok(Ok(())));
            if now == answering || platform.drain.is_draining() {
                continue;
            }
            answering = now;
            if now {
                tracing::info!("the database answers again: serving");
                platform.metrics.set_ready(true);
            } else {
                tracing::warn!("the database does not answer: NOT_SERVING until it does");
                platform.metrics.set_unready("the database does not answer");
            }
            let (each, whole) = statuses(&names, &waiting, now);
            for (name, status) in each {
                reporter.set_service_status(name, status).await;
            }
            reporter.set_service_status("", whole).await;
        }
    });
}
