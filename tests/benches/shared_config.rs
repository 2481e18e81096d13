//! Benchmarks of shared configuration at ICS scale: 10 trusts over a baseline of 50,000 items
//! (`CONCORDAT_BENCH_ITEMS` for another size, seeded in changesets of at most 100,000), each trust
//! with 2,000 overrides.
//!
//! - `resolve+diff 10 trusts`: the pure domain — resolve every trust's effective configuration
//!   (baseline with overlay, explained per key) and diff it against the baseline's values.
//! - Through gRPC on SQLite (in-process server): `GetEffectiveConfig` of one trust (50,000 items
//!   resolved and sent; read again, with the baseline in the server's cache of baselines, and by
//!   a second server on the same database without that cache), `DiffEffectiveConfig` across one baseline revision, and publishing a
//!   one-item baseline change (validation, the change request checked with change control, and a
//!   full effective revision with content hash for all 10 trusts).
//!
//! Each gRPC group is run on SQLite and, when a PostgreSQL server is given
//! (`CONCORDAT_TEST_DATABASE_URL`, as the tests take it), on PostgreSQL, beside the physical
//! limit measured in the same run: a plain SQL read of the same rows (the baseline's and the
//! trust's current items) from the server's own database.
//!
//! Run with `cargo bench -p concordat-e2e --bench shared_config`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use concordat_e2e::{Bearer, Options, TestServer};
use concordat_platform::testkit::TestBackend;
use concordat_proto::sharedconfig::v1 as pb;
use concordat_shared_config::domain::layer::{
    Baseline, BaselineItem, Governance, Key, Local, Overlay, OverlayItem, Provenance,
};
use concordat_shared_config::domain::resolve::{diff, resolve, values};
use concordat_shared_config::grpc::value_of;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

/// The server's allocator, as in the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const OVERRIDES: usize = 2_000;
/// The most changes one changeset takes: a larger baseline is seeded in several.
const CHANGESET: usize = 100_000;

/// How many baseline items: `CONCORDAT_BENCH_ITEMS`, by default 50,000.
fn items() -> usize {
    static ITEMS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
        std::env::var("CONCORDAT_BENCH_ITEMS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50_000)
    });
    *ITEMS
}

/// How many revisions the baseline is seeded in.
fn seed_revisions() -> i64 {
    items().div_ceil(CHANGESET) as i64
}
const TRUSTS: [&str; 10] = [
    "RGT", "RGM", "RGN", "RT1", "RWH", "RQQ", "RC1", "RGP", "RDE", "RCX",
];

fn key(i: usize) -> (String, String) {
    let kinds = ["alert-rule", "order-set", "form-template", "code-set"];
    (kinds[i % 4].to_owned(), format!("item-{i:06}"))
}

fn baseline_value(i: usize) -> serde_json::Value {
    json!({"enabled": true, "threshold": i % 10, "label": format!("Item {i}")})
}

/// Trust `t` overrides 2,000 keys, spread over the baseline and different per trust.
fn overridden(t: usize) -> impl Iterator<Item = usize> {
    (0..OVERRIDES).map(move |j| (j * 25 + t * 7) % items())
}

fn domain(c: &mut Criterion) {
    let prov = Provenance {
        revision: 1,
        change_request: "icss/QUE/changeRequests/x".into(),
    };
    let baseline: Baseline = (0..items())
        .map(|i| {
            let (kind, k) = key(i);
            (
                Key::new(&kind, &k),
                BaselineItem {
                    value: baseline_value(i),
                    governance: Governance::Overridable,
                    provenance: prov.clone(),
                },
            )
        })
        .collect();
    let overlays: Vec<Overlay> = (0..TRUSTS.len())
        .map(|t| {
            overridden(t)
                .map(|i| {
                    let (kind, k) = key(i);
                    (
                        Key::new(&kind, &k),
                        OverlayItem {
                            local: Local::Set(
                                json!({"enabled": true, "threshold": 99, "label": "local"}),
                            ),
                            provenance: prov.clone(),
                            variation: Default::default(),
                        },
                    )
                })
                .collect()
        })
        .collect();
    let now = chrono::Utc::now();
    let base_values = values(baseline.iter().map(|(k, b)| (k, &b.value)));
    c.bench_function(
        "resolve+diff 10 trusts (50k baseline, 2k overrides each)",
        |b| {
            b.iter(|| {
                let mut differences = 0;
                for overlay in &overlays {
                    let effective = resolve(&baseline, overlay, now);
                    let mine = values(effective.iter().map(|(k, r)| (k, &r.value)));
                    differences += diff(&base_values, &mine).len();
                }
                assert_eq!(differences, TRUSTS.len() * OVERRIDES);
            })
        },
    );
}

fn token(s: &TestServer, trust: &str, role: &str, subject: &str) -> String {
    s.token(trust, &[role], subject)
}

type Config = pb::shared_config_service_client::SharedConfigServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

fn config(s: &TestServer, token: &str) -> Config {
    s.shared_config(token)
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20)
}

fn add(i: usize, value: serde_json::Value) -> pb::ItemChange {
    let (kind, key) = key(i);
    pb::ItemChange {
        operation: pb::Operation::Add as i32,
        item: Some(pb::ConfigItem {
            kind,
            key,
            value: Some(value_of(&value)),
            ..Default::default()
        }),
    }
}

async fn publish(client: &Config, layer: &str, cr: &str, changes: Vec<pb::ItemChange>) {
    let cs = client
        .clone()
        .create_changeset(pb::CreateChangesetRequest {
            parent: "icss/QUE".into(),
            changeset: Some(pb::Changeset {
                layer: format!("icss/QUE/layers/{layer}"),
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
        .unwrap();
    client
        .clone()
        .publish_changeset(pb::PublishChangesetRequest {
            name: cs.name,
            rebase: false,
            request_id: String::new(),
        })
        .await
        .unwrap();
}

async fn seeded(backend: TestBackend) -> (TestServer, String) {
    let s = TestServer::start(Options {
        backend,
        federation: Some(concordat_e2e::federation("Bench ICS", &TRUSTS, false)),
        max_message_bytes: 256 << 20,
        ..Default::default()
    })
    .await
    .unwrap();
    let cr = concordat_e2e::standard_change(
        &s,
        &TRUSTS,
        &["alert-rule", "order-set", "form-template", "code-set"],
    )
    .await;
    let admin = config(&s, &token(&s, "RGT", "ics-admin", "admin"));
    let started = Instant::now();
    let all: Vec<usize> = (0..items()).collect();
    for chunk in all.chunks(CHANGESET) {
        publish(
            &admin,
            "baseline",
            &cr,
            chunk.iter().map(|&i| add(i, baseline_value(i))).collect(),
        )
        .await;
    }
    eprintln!(
        "seed: baseline of {} items published in {:?} ({} revisions)",
        items(),
        started.elapsed(),
        seed_revisions()
    );
    eprintln!(
        "seed: the same {} rows inserted in bulk into a table of sc_items' shape in {:?}",
        items(),
        bulk_insert(&s).await
    );
    let started = Instant::now();
    for (t, trust) in TRUSTS.iter().enumerate() {
        publish(
            &admin,
            trust,
            &cr,
            overridden(t)
                .map(|i| add(i, json!({"enabled": true, "threshold": 99})))
                .collect(),
        )
        .await;
    }
    eprintln!(
        "seed: 10 overlays of {OVERRIDES} overrides published in {:?}",
        started.elapsed()
    );
    (s, cr)
}

/// The physical limit of seeding: the baseline's rows inserted in bulk (multi-row INSERTs of 500
/// rows, one transaction) into a scratch table shaped like `sc_items`, with its primary key.
async fn bulk_insert(s: &TestServer) -> std::time::Duration {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let db = s.platform.db.conn();
    db.execute_unprepared("DROP TABLE IF EXISTS bench_items")
        .await
        .unwrap();
    db.execute_unprepared(
        "CREATE TABLE bench_items (ics TEXT NOT NULL, layer TEXT NOT NULL, kind TEXT NOT NULL, \
         item_key TEXT NOT NULL, from_revision BIGINT NOT NULL, to_revision BIGINT, \
         value TEXT NOT NULL, governance TEXT NOT NULL, owner TEXT NOT NULL, \
         description TEXT NOT NULL, suppress BOOLEAN NOT NULL, change_request TEXT NOT NULL, \
         PRIMARY KEY (ics, layer, kind, item_key, from_revision))",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let txn = db.begin().await.unwrap();
    let all: Vec<usize> = (0..items()).collect();
    for chunk in all.chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&i| {
                let (kind, key) = key(i);
                format!(
                    "('QUE', 'baseline', '{kind}', '{key}', 1, NULL, '{}', '\"overridable\"', '', '', FALSE, 'icss/QUE/changeRequests/x')",
                    baseline_value(i)
                )
            })
            .collect();
        txn.execute_unprepared(&format!(
            "INSERT INTO bench_items VALUES {}",
            rows.join(", ")
        ))
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    started.elapsed()
}

/// The rows GetEffectiveConfig of `trust` stands on, read with plain SQL: the current baseline
/// and overlay items, their kind, key and value.
async fn row_read(s: &TestServer, trust: &str) -> usize {
    use sea_orm::{ConnectionTrait, Statement};
    let db = s.platform.db.conn();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT kind, item_key, value FROM sc_items WHERE ics = 'QUE' \
                 AND layer IN ('baseline', '{trust}') AND to_revision IS NULL"
            ),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "value").unwrap().len())
        .filter(|n| *n > 0)
        .count()
}

/// Every page of RGM's effective configuration: how many items.
async fn read_all(client: &Config) -> usize {
    let mut page_token = String::new();
    let mut items = 0;
    loop {
        let page = client
            .clone()
            .get_effective_config(pb::GetEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: "RGM".into(),
                page_size: 10_000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        items += page.effective_config.unwrap().items.len();
        if page.next_page_token.is_empty() {
            return items;
        }
        page_token = page.next_page_token;
    }
}

/// Every page of RGM's effective configuration exported: how many items.
async fn export_all(client: &Config) -> usize {
    let mut page_token = String::new();
    let mut items = 0;
    loop {
        let page = client
            .clone()
            .export_config(pb::ExportConfigRequest {
                name: "icss/QUE/trusts/RGM/effectiveConfig".into(),
                page_size: 20_000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        // Parsed as a client would, to count its items.
        let bundle: serde_json::Value = serde_json::from_str(&page.bundle_json).unwrap();
        items += bundle["items"].as_array().unwrap().len();
        if page.next_page_token.is_empty() {
            return items;
        }
        page_token = page.next_page_token;
    }
}

/// Every page of RGM's effective differences between two revisions: how many.
async fn diff_all(client: &Config, from_revision: i64, to_revision: i64) -> usize {
    let mut page_token = String::new();
    let mut changes = 0;
    loop {
        let page = client
            .clone()
            .diff_effective_config(pb::DiffEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: "RGM".into(),
                from_revision,
                to_revision,
                page_size: 10_000,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        changes += page.changes.len();
        if page.next_page_token.is_empty() {
            return changes;
        }
        page_token = page.next_page_token;
    }
}

fn grpc(c: &mut Criterion) {
    let mut backends = vec![TestBackend::Sqlite];
    if concordat_platform::testkit::postgres_server().is_some() {
        backends.push(TestBackend::Postgres);
    }
    for backend in backends {
        grpc_on(c, backend);
    }
}

fn grpc_on(c: &mut Criterion, backend: TestBackend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (s, cr) = rt.block_on(seeded(backend));
    let reader = config(&s, &token(&s, "RGM", "automation", "engine"));
    // The pages are read with the client's default message limit (4 MiB).
    let paged_reader = s.shared_config(&token(&s, "RGM", "automation", "engine"));
    let admin = config(&s, &token(&s, "RGT", "ics-admin", "admin"));
    let mut group = c.benchmark_group(format!("shared-config/{}", backend_name(backend)));
    group.sample_size(10);
    group.bench_function("row read: baseline + RGM overlay rows (SQL)", |b| {
        b.iter(|| {
            rt.block_on(async {
                assert_eq!(row_read(&s, "RGM").await, items() + OVERRIDES);
            })
        })
    });
    group.bench_function(
        "GetEffectiveConfig, baseline held (all items, all pages)",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    assert_eq!(read_all(&paged_reader).await, items());
                })
            })
        },
    );
    // A second server on the same database without the cache of baselines: every page reads and
    // resolves both layers' rows.
    let uncached = rt
        .block_on(TestServer::start(Options {
            backend,
            federation: Some(concordat_e2e::federation("Bench ICS", &TRUSTS, false)),
            max_message_bytes: 256 << 20,
            read_cache_bytes: 0,
            replica_of: Some(s.database_url().to_owned()),
            ..Default::default()
        }))
        .unwrap();
    let first_reader = uncached.shared_config(&token(&uncached, "RGM", "automation", "engine"));
    group.bench_function(
        "GetEffectiveConfig, not cached (all items, all pages)",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    assert_eq!(read_all(&first_reader).await, items());
                })
            })
        },
    );
    let mut n = items();
    group.bench_function("publish one baseline item (10 effective revisions)", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(publish(
                &admin,
                "baseline",
                &cr,
                vec![add(n, json!({"enabled": true}))],
            ))
        })
    });
    group.bench_function("ExportConfig (RGM effective, all pages)", |b| {
        b.iter(|| {
            rt.block_on(async {
                assert!(export_all(&paged_reader).await >= items());
            })
        })
    });
    group.bench_function(
        "DiffRevisions (baseline, adjacent revisions, 1 change)",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let head = reader
                        .clone()
                        .get_layer(pb::GetLayerRequest {
                            name: "icss/QUE/layers/baseline".into(),
                            revision: 0,
                        })
                        .await
                        .unwrap()
                        .into_inner()
                        .layer
                        .unwrap()
                        .revision;
                    let diff = reader
                        .clone()
                        .diff_revisions(pb::DiffRevisionsRequest {
                            layer: "icss/QUE/layers/baseline".into(),
                            from_revision: head - 1,
                            to_revision: head,
                            ..Default::default()
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    assert_eq!(diff.changes.len(), 1);
                })
            })
        },
    );
    group.bench_function("DiffEffectiveConfig (seeded baseline → newest)", |b| {
        b.iter(|| {
            rt.block_on(async {
                assert!(diff_all(&reader, seed_revisions(), 0).await >= OVERRIDES);
            })
        })
    });
    group.bench_function("DiffEffectiveConfig (adjacent revisions, 1 change)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let newest = reader
                    .clone()
                    .get_effective_config(pb::GetEffectiveConfigRequest {
                        parent: "icss/QUE".into(),
                        trust: "RGM".into(),
                        page_size: 1,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .effective_config
                    .unwrap()
                    .revision;
                assert_eq!(diff_all(&reader, newest - 1, newest).await, 1);
            })
        })
    });
    group.finish();
}

fn backend_name(backend: TestBackend) -> &'static str {
    match backend {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres => "postgres",
    }
}

criterion_group!(benches, domain, grpc);
criterion_main!(benches);
