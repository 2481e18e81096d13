//! The audit chain and the event outbox, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use concordat_platform::audit::{self, Actor, NewEntry};
use concordat_platform::both_backends;
use concordat_platform::config::EventsConfig;
use concordat_platform::db::Database;
use concordat_platform::events::{Outbox, create_outbox_table};
use futures::StreamExt;
use sea_orm::ConnectionTrait;

fn actor(subject: &str) -> Actor {
    Actor {
        issuer: "https://idp.example".into(),
        subject: subject.into(),
        trust: "RGT".into(),
    }
}

async fn append(db: &Database, ics: &str, n: usize) {
    let txn = db.begin_write().await.unwrap();
    audit::append(
        &*txn,
        NewEntry {
            ics,
            actor: actor("alice"),
            action: "test.append",
            resource: &format!("icss/{ics}/things/{n}"),
            request_id: "req-1",
            summary: format!("entry {n}"),
            time: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
}

both_backends!(audit_chain_links_each_entry_to_the_one_before, |db| {
    for n in 0..5 {
        append(&db, "QUE", n).await;
    }
    append(&db, "QKK", 0).await;
    let entries = audit::list(db.conn(), "QUE", &Default::default(), 100)
        .await
        .unwrap();
    assert_eq!(
        entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(entries[4].previous_hash, audit::GENESIS_HASH);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].hash, pair[0].previous_hash);
    }
    let verified = audit::verify(db.conn(), "QUE").await.unwrap();
    assert_eq!((verified.checked, verified.broken), (5, None));
    assert_eq!(verified.head_hash, entries[0].hash);
    // The other ICS has its own chain from 1.
    let other = audit::list(db.conn(), "QKK", &Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(other[0].sequence, 1);
});

both_backends!(any_text_a_request_held_can_be_recorded, |db| {
    // A NUL does not store in PostgreSQL text, and a megabyte has no place in the chain: the
    // entry is recorded with control characters escaped and long text cut.
    let txn = db.begin_write().await.unwrap();
    let resource = format!("icss/QUE/things/a\0b{}", "x".repeat(1 << 20));
    let entry = audit::append(
        &*txn,
        NewEntry {
            ics: "QUE",
            actor: actor("mallory"),
            action: "authorization.denied",
            resource: &resource,
            request_id: "r\0",
            summary: "ICS_SCOPE: \u{1b}[31m".into(),
            time: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert!(
        entry.resource.starts_with("icss/QUE/things/a\\u{0}b"),
        "{}",
        &entry.resource[..40]
    );
    assert!(entry.resource.chars().count() <= 1001);
    assert_eq!(entry.request_id, "r\\u{0}");
    assert_eq!(entry.summary, "ICS_SCOPE: \\u{1b}[31m");
    let verified = audit::verify(db.conn(), "QUE").await.unwrap();
    assert_eq!((verified.checked, verified.broken), (1, None));
});

both_backends!(a_changed_entry_is_found_by_verification, |db| {
    for n in 0..5 {
        append(&db, "QUE", n).await;
    }
    db.conn()
        .execute_unprepared(
            "UPDATE audit_entries SET summary = 'nothing to see' WHERE ics = 'QUE' AND sequence = 3",
        )
        .await
        .unwrap();
    let verified = audit::verify(db.conn(), "QUE").await.unwrap();
    let (sequence, problem) = verified.broken.unwrap();
    assert_eq!(sequence, 3);
    assert!(problem.contains("hash"), "{problem}");
});

both_backends!(a_removed_entry_is_found_by_verification, |db| {
    for n in 0..4 {
        append(&db, "QUE", n).await;
    }
    db.conn()
        .execute_unprepared("DELETE FROM audit_entries WHERE ics = 'QUE' AND sequence = 2")
        .await
        .unwrap();
    let verified = audit::verify(db.conn(), "QUE").await.unwrap();
    assert_eq!(verified.broken.unwrap().0, 2);
    // Removing the newest entries is found through the head.
    db.conn()
        .execute_unprepared("DELETE FROM audit_entries WHERE ics = 'QUE' AND sequence >= 2")
        .await
        .unwrap();
    let verified = audit::verify(db.conn(), "QUE").await.unwrap();
    assert_eq!(verified.broken.unwrap().0, 2);
});

both_backends!(concurrent_writers_never_fork_the_chain, |db| {
    let writers: Vec<_> = (0..40)
        .map(|n| {
            let db = db.clone();
            tokio::spawn(async move { append(&db, "QUE", n).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let verified = audit::verify(db.conn(), "QUE").await.unwrap();
    assert_eq!((verified.checked, verified.broken), (40, None));
    let entries = audit::list(db.conn(), "QUE", &Default::default(), 100)
        .await
        .unwrap();
    let resources: BTreeSet<_> = entries.iter().map(|e| e.resource.clone()).collect();
    assert_eq!(
        resources.len(),
        40,
        "every writer's entry is in the chain once"
    );
});

both_backends!(a_rolled_back_change_leaves_no_audit_entry, |db| {
    append(&db, "QUE", 0).await;
    let txn = db.begin_write().await.unwrap();
    audit::append(
        &*txn,
        NewEntry {
            ics: "QUE",
            actor: actor("bob"),
            action: "test.append",
            resource: "icss/QUE/things/x",
            request_id: "req-2",
            summary: "rolled back".into(),
            time: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    drop(txn);
    append(&db, "QUE", 1).await;
    let verified = audit::verify(db.conn(), "QUE").await.unwrap();
    assert_eq!((verified.checked, verified.broken), (2, None));
});

fn events_config() -> EventsConfig {
    EventsConfig {
        poll_interval: Duration::from_millis(50),
        retention: Duration::from_secs(3600),
    }
}

async fn outbox(db: &Database) -> Outbox {
    let manager = sea_orm_migration::SchemaManager::new(db.conn());
    create_outbox_table(&manager, "test_outbox").await.unwrap();
    Outbox::new("test_outbox", db.clone(), &events_config())
}

async fn publish(outbox: &Outbox, db: &Database, ics: &str, kind: &str) -> i64 {
    let txn = db.begin_write().await.unwrap();
    let seq = outbox
        .append(
            &txn,
            ics,
            "icss/QUE/things/1",
            kind,
            kind.as_bytes().to_vec(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    outbox.commit(txn).await.unwrap();
    seq
}

async fn next(
    stream: &mut concordat_platform::events::EventStream,
) -> concordat_platform::events::Event {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10s")
        .expect("stream open")
        .expect("no error")
}

both_backends!(a_watcher_replays_from_its_cursor_then_follows_live, |db| {
    let outbox = outbox(&db).await;
    for kind in ["a", "b", "c"] {
        publish(&outbox, &db, "QUE", kind).await;
    }
    publish(&outbox, &db, "QKK", "elsewhere").await;
    let mut stream = outbox.watch("QUE".into(), 1).await.unwrap();
    assert_eq!(next(&mut stream).await.kind, "b");
    assert_eq!(next(&mut stream).await.kind, "c");
    publish(&outbox, &db, "QUE", "d").await;
    let live = next(&mut stream).await;
    assert_eq!((live.kind.as_str(), live.seq), ("d", 5));
    assert_eq!(live.payload, b"d");
});

both_backends!(
    a_watcher_on_another_replica_sees_every_event_in_order,
    |db| {
        let writer = outbox(&db).await;
        // Another replica: same database, but not woken by this process's commits.
        let replica = Outbox::new("test_outbox", db.clone(), &events_config());
        let mut stream = replica.watch("QUE".into(), 0).await.unwrap();
        let writers: Vec<_> = (0..20)
            .map(|n| {
                let (writer, db) = (writer.clone(), db.clone());
                tokio::spawn(async move { publish(&writer, &db, "QUE", &format!("e{n}")).await })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(next(&mut stream).await.seq);
        }
        assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    }
);

both_backends!(a_cursor_older_than_retention_must_resync, |db| {
    let outbox = outbox(&db).await;
    for kind in ["a", "b", "c"] {
        publish(&outbox, &db, "QUE", kind).await;
    }
    let pruned = outbox
        .prune_before(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(pruned, 3);
    let err = outbox
        .watch("QUE".into(), 1)
        .await
        .err()
        .expect("expired cursor");
    let status = err.into_status();
    assert_eq!(status.code(), tonic::Code::OutOfRange);
    assert!(status.message().contains("read the current state again"));
    // Numbering continues after the pruned events; a cursor at the watermark is fine.
    assert_eq!(publish(&outbox, &db, "QUE", "d").await, 4);
    let mut stream = outbox.watch("QUE".into(), 3).await.unwrap();
    assert_eq!(next(&mut stream).await.kind, "d");
});

both_backends!(
    a_resource_filter_includes_what_is_under_the_resource,
    |db| {
        for resource in [
            "icss/QUE/changeRequests/1",
            "icss/QUE/changeRequests/1/votes/RGT",
            "icss/QUE/changeRequests/10",
        ] {
            let txn = db.begin_write().await.unwrap();
            audit::append(
                &*txn,
                NewEntry {
                    ics: "QUE",
                    actor: actor("a"),
                    action: "t",
                    resource,
                    request_id: "r",
                    summary: String::new(),
                    time: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
            txn.commit().await.unwrap();
        }
        let list = |resource: &str| {
            let filter = audit::Filter {
                resource: Some(resource.into()),
                ..Default::default()
            };
            let db = db.clone();
            async move {
                audit::list(db.conn(), "QUE", &filter, 10)
                    .await
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(
            list("icss/QUE/changeRequests/1").await,
            2,
            "itself and its vote, not CR 10"
        );
        assert_eq!(
            list("icss/QUE/changeRequests/1/").await,
            1,
            "only what is under it"
        );
    }
);

both_backends!(old_request_ids_are_forgotten, |db| {
    use concordat_platform::idempotency::{self, Key};
    let key = Key {
        service: "s",
        subject: "a",
        request_id: "r1",
        method: "M",
    };
    idempotency::record(db.conn(), key, b"first".to_vec())
        .await
        .unwrap();
    assert_eq!(
        idempotency::lookup(db.conn(), key)
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
        b"first"
    );
    let pruned = idempotency::prune(db.conn(), chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert!(idempotency::lookup(db.conn(), key).await.unwrap().is_none());
});
