//! Load: 200 watchers of effective configuration, 20 on each of 10 trusts, over a baseline of
//! 10,000 items. Each round publishes a one-item baseline change, which gives every trust a new
//! effective revision, and measures for every watcher the time from the start of the
//! `PublishChangeset` call to the arrival of that revision on its stream, and from the call's
//! return (the commit is before it). Printed: the publish call's own time and the delivery
//! percentiles over all rounds and watchers, both ways.
//!
//! Run on SQLite in one process, then, when a PostgreSQL server is given
//! (`CONCORDAT_TEST_DATABASE_URL`, as the tests take it), on PostgreSQL in one process and with
//! two replicas sharing the database: publishes go through the first, and half the watchers
//! watch through the second, which learns of the commits by `LISTEN`/`NOTIFY`.
//!
//! Run with `cargo bench -p concordat-e2e --bench watchers`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use concordat_e2e::{Options, TestServer};
use concordat_platform::testkit::TestBackend;
use concordat_proto::sharedconfig::v1 as pb;
use concordat_shared_config::grpc::value_of;
use futures::StreamExt;
use serde_json::json;

/// The server's allocator, as in the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TRUSTS: [&str; 10] = [
    "RGT", "RGM", "RGN", "RT1", "RWH", "RQQ", "RC1", "RGP", "RDE", "RCX",
];
const WATCHERS: usize = 200;
const ITEMS: usize = 10_000;
const ROUNDS: usize = 30;

fn options(backend: TestBackend, replica_of: Option<String>) -> Options {
    Options {
        backend,
        federation: Some(concordat_e2e::federation("Bench ICS", &TRUSTS, false)),
        max_message_bytes: 64 << 20,
        replica_of,
        ..Default::default()
    }
}

fn change(i: usize, threshold: usize) -> pb::ItemChange {
    pb::ItemChange {
        operation: if threshold == 0 {
            pb::Operation::Add
        } else {
            pb::Operation::Modify
        } as i32,
        item: Some(pb::ConfigItem {
            kind: "alert-rule".into(),
            key: format!("item-{i:05}"),
            value: Some(value_of(&json!({"enabled": true, "threshold": threshold}))),
            ..Default::default()
        }),
    }
}

async fn propose(
    admin: &concordat_e2e::SharedConfigClient,
    cr: &str,
    changes: Vec<pb::ItemChange>,
) -> String {
    admin
        .clone()
        .create_changeset(pb::CreateChangesetRequest {
            parent: "icss/QUE".into(),
            changeset: Some(pb::Changeset {
                layer: "icss/QUE/layers/baseline".into(),
                change_request: cr.into(),
                changes,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .changeset
        .unwrap()
        .name
}

async fn publish(admin: &concordat_e2e::SharedConfigClient, name: String) {
    admin
        .clone()
        .publish_changeset(pb::PublishChangesetRequest {
            name,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// One run: `replicas` servers on one database, watchers spread over them.
async fn run(backend: TestBackend, replicas: usize, label: &str) {
    let first = TestServer::start(options(backend, None)).await.unwrap();
    let mut servers = vec![first];
    for _ in 1..replicas {
        let url = servers[0].database_url().to_owned();
        servers.push(
            TestServer::start(options(backend, Some(url)))
                .await
                .unwrap(),
        );
    }
    let s = &servers[0];
    let cr = concordat_e2e::standard_change(s, &TRUSTS, &["alert-rule"]).await;
    let admin = s
        .shared_config(&s.token("RGT", &["ics-admin"], "admin"))
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    let name = propose(&admin, &cr, (0..ITEMS).map(|i| change(i, 0)).collect()).await;
    publish(&admin, name).await;

    // Every watcher reports (round, arrival) for each revision after the first.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    for w in 0..WATCHERS {
        let server = &servers[w % servers.len()];
        let trust = TRUSTS[w % TRUSTS.len()];
        let client =
            server.shared_config(&server.token(trust, &["automation"], &format!("engine-{w}")));
        let mut stream = client
            .clone()
            .watch_effective_config(pb::WatchEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: trust.into(),
                from_revision: 1,
            })
            .await
            .unwrap()
            .into_inner();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let revision = message.effective_revision.unwrap().revision;
                if tx.send((revision, Instant::now())).is_err() {
                    return;
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut delivery = Vec::new();
    let mut after_return = Vec::new();
    let mut publishes = Vec::new();
    for round in 0..ROUNDS {
        let name = propose(&admin, &cr, vec![change(round, round + 1)]).await;
        let started = Instant::now();
        publish(&admin, name).await;
        let returned = Instant::now();
        publishes.push(returned - started);
        // Effective revision 1 was the seed; round r makes revision r + 2.
        let want = i64::try_from(round).unwrap() + 2;
        let mut seen = 0;
        while seen < WATCHERS {
            let (revision, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("every watcher within 10 s")
                .unwrap();
            assert_eq!(revision, want);
            delivery.push(at - started);
            after_return.push(at.saturating_duration_since(returned));
            seen += 1;
        }
    }
    delivery.sort();
    after_return.sort();
    publishes.sort();
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "{label}: {WATCHERS} watchers, {ROUNDS} publishes: publish call p50 {:?}, max {:?}; \
         delivery after the call's start p50 {:?}, p90 {:?}, p99 {:?}, max {:?}; \
         after its return (0 if before) p50 {:?}, p99 {:?}, max {:?}",
        pct(&publishes, 0.5),
        publishes.last().unwrap(),
        pct(&delivery, 0.5),
        pct(&delivery, 0.9),
        pct(&delivery, 0.99),
        delivery.last().unwrap(),
        pct(&after_return, 0.5),
        pct(&after_return, 0.99),
        after_return.last().unwrap(),
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run(TestBackend::Sqlite, 1, "sqlite, one process").await;
        if concordat_platform::testkit::postgres_server().is_some() {
            run(TestBackend::Postgres, 1, "postgres, one process").await;
            run(TestBackend::Postgres, 2, "postgres, two replicas").await;
        }
    });
}
