//! Shared configuration through gRPC with development-issuer tokens, on SQLite and PostgreSQL: the
//! configuration part of the golden scenario, governed publishing (checked with change control),
//! stale bases and rebases, watching with resume, rollback, snapshots and export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use concordat_e2e::{CONFIG_TARGETS, Options, TestServer, fields, reason};
use concordat_platform::both_backends;
use concordat_platform::testkit::TestBackend;
use concordat_proto::platform::v1 as platform_pb;
use concordat_proto::sharedconfig::v1 as pb;
use concordat_shared_config::grpc::{json_of, value_of};
use concordat_shared_config::upstream::{
    Caller, ChangeRequests, GrpcChangeRequests, UpstreamError,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;

use concordat_e2e::world::*;

async fn the_configuration_part_of_the_golden_scenario(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let viewer = w.config("RGM", "automation", "engine-RGM");
    let mut watcher = viewer
        .clone()
        .watch_effective_config(pb::WatchEffectiveConfigRequest {
            parent: "icss/QUE".into(),
            trust: "RGM".into(),
            from_revision: 0,
        })
        .await
        .unwrap()
        .into_inner();

    // The approved allergy-alert change request publishes to the baseline.
    let allergy_cr = w.change_request(&TRUSTS, true).await;
    let rgt = w.engineer("RGT");
    let proposed = propose(
        &rgt,
        "baseline",
        &allergy_cr,
        0,
        vec![
            change(
                pb::Operation::Add,
                item(
                    "alert-rule",
                    "allergy-interruptive",
                    json!({"enabled": true, "interrupt": true}),
                    locked(),
                ),
            ),
            change(
                pb::Operation::Add,
                item(
                    "alert-rule",
                    "sepsis-news2",
                    json!({"enabled": true, "threshold": 5}),
                    bounded(3.0, 7.0),
                ),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(proposed.base_revision, 0);
    let diff_trusts: Vec<&str> = proposed
        .trust_diffs
        .iter()
        .map(|d| d.trust.as_str())
        .collect();
    assert_eq!(
        diff_trusts,
        ["RGM", "RGN", "RGT", "RT1"],
        "every trust sees what it will get, in order"
    );
    assert!(proposed.trust_diffs.iter().all(|d| d.changes.len() == 2));
    let r1 = publish(&rgt, &proposed.name, false).await.unwrap();
    let publisher = r1.publisher.clone().unwrap();
    assert_eq!(
        (
            r1.revision,
            r1.change_request.as_str(),
            publisher.subject.as_str(),
            publisher.issuer.as_str()
        ),
        (
            1,
            allergy_cr.as_str(),
            "engineer-RGT",
            w.s.person("x").issuer.as_str()
        )
    );
    assert_eq!(r1.item_count, 2);
    assert_eq!(r1.content_hash.len(), 64);

    // One trust's approved variation.
    let variation_cr = w.change_request(&["RGM"], true).await;
    let rgm = w.engineer("RGM");
    let variation = propose(
        &rgm,
        "RGM",
        &variation_cr,
        0,
        vec![change(
            pb::Operation::Add,
            item(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": true, "threshold": 6}),
                None,
            ),
        )],
    )
    .await
    .unwrap();
    assert_eq!(variation.trust_diffs.len(), 1);
    assert_eq!(variation.trust_diffs[0].trust, "RGM");
    publish(&rgm, &variation.name, false).await.unwrap();

    // Effective configurations differ exactly there, and explain themselves.
    let (e_rgt, e_rgm) = (
        effective(&viewer, "RGT", 0).await,
        effective(&viewer, "RGM", 0).await,
    );
    let (v_rgt, v_rgm) = (values(&e_rgt), values(&e_rgm));
    let differing: Vec<&String> = v_rgt
        .keys()
        .filter(|k| v_rgt.get(*k) != v_rgm.get(*k))
        .collect();
    assert_eq!(differing, ["alert-rule/sepsis-news2"]);
    assert_eq!(v_rgm["alert-rule/sepsis-news2"]["threshold"], json!(6));
    let sepsis = e_rgm
        .items
        .iter()
        .find(|i| i.key == "sepsis-news2")
        .unwrap();
    assert_eq!(
        (sepsis.source, sepsis.change_request.as_str()),
        (pb::Source::Override as i32, variation_cr.as_str())
    );
    let allergy = e_rgm
        .items
        .iter()
        .find(|i| i.key == "allergy-interruptive")
        .unwrap();
    assert_eq!(
        (allergy.source, allergy.change_request.as_str()),
        (pb::Source::Baseline as i32, allergy_cr.as_str())
    );
    assert_ne!(e_rgt.content_hash, e_rgm.content_hash);
    // The hashes kept up to date publish by publish equal the hash of the content read back.
    for e in [&e_rgt, &e_rgm] {
        let values = e
            .items
            .iter()
            .map(|i| {
                (
                    concordat_shared_config::domain::layer::Key::new(&i.kind, &i.key),
                    concordat_shared_config::grpc::json_of(i.value.clone().unwrap()),
                )
            })
            .collect();
        assert_eq!(
            e.content_hash,
            concordat_shared_config::domain::resolve::content_hash(&values),
            "{}",
            e.trust
        );
    }
    assert_eq!(
        (
            e_rgm.revision,
            e_rgm.baseline_revision,
            e_rgm.overlay_revision
        ),
        (2, 1, 1)
    );
    let again = viewer
        .clone()
        .get_effective_config(pb::GetEffectiveConfigRequest {
            parent: "icss/QUE".into(),
            trust: "RGM".into(),
            if_none_match: e_rgm.etag.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.not_modified && again.effective_config.is_none());

    // The watcher saw both revisions, in order.
    let first = next_revision(&mut watcher).await;
    let second = next_revision(&mut watcher).await;
    assert_eq!(
        (
            first.revision,
            first.baseline_revision,
            first.overlay_revision
        ),
        (1, 1, 0)
    );
    assert_eq!((second.revision, second.overlay_revision), (2, 1));
    assert_eq!(second.changes.len(), 1);
    assert_eq!(second.changes[0].key, "sepsis-news2");
    drop(watcher);

    // Governance and schemas are enforced field by field.
    let over = propose(
        &rgm,
        "RGM",
        &variation_cr,
        0,
        vec![change(
            pb::Operation::Modify,
            item(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": true, "threshold": 9}),
                None,
            ),
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(over.code(), Code::InvalidArgument);
    assert_eq!(fields(&over), ["changeset.changes[0].item"]);
    let locked_override = propose(
        &rgm,
        "RGM",
        &variation_cr,
        0,
        vec![change(
            pb::Operation::Add,
            item(
                "alert-rule",
                "allergy-interruptive",
                json!({"enabled": false, "interrupt": false}),
                None,
            ),
        )],
    )
    .await
    .unwrap_err();
    assert!(
        locked_override.message().contains("locked")
            || format!("{:?}", locked_override.get_error_details().bad_request())
                .contains("locked")
    );
    let bad_schema = propose(
        &rgt,
        "baseline",
        &allergy_cr,
        0,
        vec![change(
            pb::Operation::Add,
            item(
                "alert-rule",
                "vte",
                json!({"enabled": "yes", "threshold": 50}),
                None,
            ),
        )],
    )
    .await
    .unwrap_err();
    let mut bad_fields = fields(&bad_schema);
    bad_fields.sort();
    assert_eq!(
        bad_fields,
        [
            "changeset.changes[0].item.value/enabled",
            "changeset.changes[0].item.value/threshold"
        ]
    );

    // Publishing under an unapproved change request, or another trust's, or another domain's, fails.
    let draft_cr = w.change_request(&TRUSTS, false).await;
    let unapproved = propose(
        &rgt,
        "baseline",
        &draft_cr,
        0,
        vec![change(
            pb::Operation::Add,
            item("alert-rule", "vte", json!({"enabled": true}), None),
        )],
    )
    .await
    .unwrap();
    let refused = publish(&rgt, &unapproved.name, false).await.unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::FailedPrecondition, "CHANGE_REQUEST_NOT_APPROVED")
    );
    // The refused publish is in the audit chain, with its reason and the change request.
    let refusals =
        w.s.platform(&w.token("RGT", "ics-admin", "admin"))
            .list_audit_entries(platform_pb::ListAuditEntriesRequest {
                parent: "icss/QUE".into(),
                action: "governance.refused".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
    assert!(
        refusals.iter().any(|e| e.resource == draft_cr
            && e.actor_subject == "engineer-RGT"
            && e.summary.starts_with("CHANGE_REQUEST_NOT_APPROVED: ")),
        "{refusals:?}"
    );
    let rgn = w.engineer("RGN");
    let borrowed = propose(
        &rgn,
        "RGN",
        &variation_cr,
        0,
        vec![change(
            pb::Operation::Add,
            item(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": true, "threshold": 4}),
                None,
            ),
        )],
    )
    .await
    .unwrap();
    let refused = publish(&rgn, &borrowed.name, false).await.unwrap_err();
    assert_eq!(reason(&refused), "CHANGE_REQUEST_DOES_NOT_COVER");
    assert_eq!(
        refused
            .get_error_details()
            .precondition_failure()
            .unwrap()
            .violations[0]
            .subject,
        "RGN"
    );
    let theatres = propose(
        &rgt,
        "baseline",
        &allergy_cr,
        0,
        vec![change(
            pb::Operation::Add,
            item("theatre-list", "main", json!({"enabled": true}), None),
        )],
    )
    .await
    .unwrap();
    assert_eq!(
        reason(&publish(&rgt, &theatres.name, false).await.unwrap_err()),
        "CHANGE_REQUEST_DOMAIN"
    );
    let scope = propose(
        &rgn,
        "RGM",
        &variation_cr,
        0,
        vec![change(
            pb::Operation::Remove,
            item("alert-rule", "sepsis-news2", json!(null), None),
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(
        (scope.code(), reason(&scope).as_str()),
        (Code::PermissionDenied, "TRUST_SCOPE")
    );
    let layer = viewer
        .clone()
        .get_layer(pb::GetLayerRequest {
            name: "icss/QUE/layers/baseline".into(),
            revision: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .layer
        .unwrap();
    assert_eq!(layer.revision, 1, "nothing refused was published");

    // A stale base is ABORTED; a rebase without overlap publishes; with overlap it is ABORTED.
    let lower = propose(
        &rgt,
        "baseline",
        &allergy_cr,
        1,
        vec![change(
            pb::Operation::Modify,
            item(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": true, "threshold": 4}),
                bounded(3.0, 7.0),
            ),
        )],
    )
    .await
    .unwrap();
    let vte = propose(
        &rgt,
        "baseline",
        &allergy_cr,
        1,
        vec![change(
            pb::Operation::Add,
            item("alert-rule", "vte", json!({"enabled": true}), None),
        )],
    )
    .await
    .unwrap();
    let clash = propose(
        &rgt,
        "baseline",
        &allergy_cr,
        1,
        vec![change(
            pb::Operation::Modify,
            item(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": false, "threshold": 5}),
                bounded(3.0, 7.0),
            ),
        )],
    )
    .await
    .unwrap();
    let lowered = publish(&rgt, &lower.name, false).await.unwrap();
    assert_eq!(lowered.revision, 2);
    let stale = publish(&rgt, &vte.name, false).await.unwrap_err();
    assert_eq!(
        (stale.code(), reason(&stale).as_str()),
        (Code::Aborted, "STALE_BASE")
    );
    assert_eq!(publish(&rgt, &vte.name, true).await.unwrap().revision, 3);
    let conflict = publish(&rgt, &clash.name, true).await.unwrap_err();
    assert_eq!(
        (conflict.code(), reason(&conflict).as_str()),
        (Code::Aborted, "REBASE_CONFLICT")
    );

    // A watcher resuming after revision 2 gets exactly 3 and 4, then live ones.
    let mut resumed = viewer
        .clone()
        .watch_effective_config(pb::WatchEffectiveConfigRequest {
            parent: "icss/QUE".into(),
            trust: "RGM".into(),
            from_revision: 2,
        })
        .await
        .unwrap()
        .into_inner();
    let (third, fourth) = (
        next_revision(&mut resumed).await,
        next_revision(&mut resumed).await,
    );
    assert_eq!((third.revision, third.baseline_revision), (3, 2));
    assert!(
        third.changes.is_empty(),
        "RGM overrides the lowered threshold"
    );
    assert_eq!(
        (
            fourth.revision,
            fourth.baseline_revision,
            fourth.changes.len()
        ),
        (4, 3, 1)
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), resumed.next())
            .await
            .is_err(),
        "nothing more yet"
    );

    // Rollback restores revision 1's content as a new revision, and the watcher sees it live.
    let rollback = rgt
        .clone()
        .rollback_layer(pb::RollbackLayerRequest {
            layer: "icss/QUE/layers/baseline".into(),
            revision: 1,
            change_request: allergy_cr.clone(),
            expected_head_revision: Some(3),
            request_id: "rollback-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .revision
        .unwrap();
    assert_eq!((rollback.revision, rollback.restores_revision), (4, 1));
    assert_eq!(rollback.content_hash, r1.content_hash);
    let fifth = next_revision(&mut resumed).await;
    assert_eq!((fifth.revision, fifth.baseline_revision), (5, 4));
    assert_eq!(fifth.changes[0].key, "vte");
    // Live, the watcher got revision 5 from its event's payload; replayed, from the table: the same.
    let mut replay = viewer
        .clone()
        .watch_effective_config(pb::WatchEffectiveConfigRequest {
            parent: "icss/QUE".into(),
            trust: "RGM".into(),
            from_revision: 4,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_revision(&mut replay).await, fifth);
    let retried = rgt
        .clone()
        .rollback_layer(pb::RollbackLayerRequest {
            layer: "icss/QUE/layers/baseline".into(),
            revision: 1,
            change_request: allergy_cr.clone(),
            expected_head_revision: Some(3),
            request_id: "rollback-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .revision
        .unwrap();
    assert_eq!(retried, rollback, "a retry returns the first result");
    // A rollback that expected another head is explained in rollback's terms.
    let stale = rgt
        .clone()
        .rollback_layer(pb::RollbackLayerRequest {
            layer: "icss/QUE/layers/baseline".into(),
            revision: 1,
            change_request: allergy_cr.clone(),
            expected_head_revision: Some(3),
            request_id: "rollback-2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (stale.code(), reason(&stale).as_str()),
        (Code::Aborted, "STALE_BASE")
    );
    assert!(
        stale.message().contains("the rollback expected"),
        "{}",
        stale.message()
    );
    assert!(
        !stale.message().contains("changeset"),
        "{}",
        stale.message()
    );
    // 0 asserts a layer with no revision yet; unset does not check.
    let expected_empty = rgt
        .clone()
        .rollback_layer(pb::RollbackLayerRequest {
            layer: "icss/QUE/layers/baseline".into(),
            revision: 1,
            change_request: allergy_cr.clone(),
            expected_head_revision: Some(0),
            request_id: "rollback-3".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (expected_empty.code(), reason(&expected_empty).as_str()),
        (Code::Aborted, "STALE_BASE")
    );
    assert!(
        expected_empty.message().contains("at revision 0"),
        "{}",
        expected_empty.message()
    );

    // Any revision can be read and diffed.
    let at_one = effective(&viewer, "RGT", 1).await;
    assert_eq!(
        values(&at_one)["alert-rule/sepsis-news2"]["threshold"],
        json!(5)
    );
    let diff = viewer
        .clone()
        .diff_revisions(pb::DiffRevisionsRequest {
            layer: "icss/QUE/layers/baseline".into(),
            from_revision: 1,
            to_revision: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<&str> = diff.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["sepsis-news2", "vte"]);

    // Every revision traces to its change request and publisher in the audit chain.
    let audit =
        w.s.platform(&w.token("RGT", "ics-admin", "admin"))
            .list_audit_entries(platform_pb::ListAuditEntriesRequest {
                parent: "icss/QUE".into(),
                resource: "icss/QUE/layers/baseline/".into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
    let publishes: Vec<_> = audit
        .iter()
        .filter(|e| e.action.starts_with("config."))
        .collect();
    assert_eq!(publishes.len(), 4, "revisions 1–4");
    for e in &publishes {
        assert_eq!(e.actor_subject, "engineer-RGT");
        assert!(e.summary.contains(&allergy_cr), "{}", e.summary);
    }
    let verified =
        w.s.platform(&w.token("RGT", "ics-admin", "admin"))
            .verify_audit_chain(platform_pb::VerifyAuditChainRequest {
                parent: "icss/QUE".into(),
            })
            .await
            .unwrap()
            .into_inner();
    assert!(verified.valid);
}

async fn snapshots_import_and_export_round_trip(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let cr = w.change_request(&TRUSTS, true).await;
    let rgt = w.engineer("RGT");
    let cs = propose(
        &rgt,
        "baseline",
        &cr,
        0,
        vec![change(
            pb::Operation::Add,
            item("alert-rule", "sepsis-news2", json!({"threshold": 5}), None),
        )],
    )
    .await
    .unwrap();
    publish(&rgt, &cs.name, false).await.unwrap();
    let rgn = w.engineer("RGN");
    let bundle = json!({"items": [
        {"kind": "alert-rule", "key": "sepsis-news2", "value": {"threshold": 8}},
        {"kind": "alert-rule", "key": "local-fluids", "value": {"threshold": "high"}},
        {"kind": "pathology-panel", "key": "u-and-e", "value": ["Na", "K"]}
    ]});
    let snapshot = rgn
        .clone()
        .import_snapshot(pb::ImportSnapshotRequest {
            parent: "icss/QUE".into(),
            snapshot: Some(pb::Snapshot {
                trust: "RGN".into(),
                display_name: "Production build".into(),
                ..Default::default()
            }),
            bundle_json: bundle.to_string(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap();
    assert_eq!((snapshot.item_count, snapshot.nonconforming_count), (3, 2));
    let exported = rgn
        .clone()
        .export_config(pb::ExportConfigRequest {
            name: snapshot.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exported.content_hash, snapshot.content_hash);
    // Items the import counted as nonconforming are marked so in the export, and only they.
    let lines: Value = serde_json::from_str(&exported.bundle_json).unwrap();
    let marked: Vec<&str> = lines["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["nonconforming"] == json!(true))
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(marked, ["local-fluids", "u-and-e"]);
    // The ICS's event stream carries the publish (one effective revision per trust) and the
    // import, in order, each with its cursor.
    let mut events = rgn
        .clone()
        .watch_config_events(pb::WatchConfigEventsRequest {
            parent: "icss/QUE".into(),
            cursor: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while seen.len() < TRUSTS.len() + 1 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        seen.push(event);
    }
    assert!(seen.windows(2).all(|w| w[0].cursor < w[1].cursor));
    use pb::watch_config_events_response::Resource;
    let mut published: Vec<String> = seen[..TRUSTS.len()]
        .iter()
        .map(|e| match &e.resource {
            Some(Resource::EffectiveRevision(r)) => {
                assert_eq!(e.kind, "effectiveConfig.published");
                r.trust.clone()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    published.sort();
    assert_eq!(published, ["RGM", "RGN", "RGT", "RT1"]);
    let last = &seen[TRUSTS.len()];
    assert_eq!(last.kind, "snapshot.imported");
    assert_eq!(last.resource, Some(Resource::Snapshot(snapshot.clone())));
    let refused = rgn
        .clone()
        .watch_config_events(pb::WatchConfigEventsRequest {
            parent: "icss/QUE".into(),
            cursor: -1,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["cursor"]);
    // An effective configuration exported, then imported as a snapshot, keeps its content hash.
    let effective_bundle = rgn
        .clone()
        .export_config(pb::ExportConfigRequest {
            name: "icss/QUE/trusts/RGN/effectiveConfig".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let parsed: Value = serde_json::from_str(&effective_bundle.bundle_json).unwrap();
    assert_eq!(parsed["format"], "concordat.config.v1");
    assert_eq!(parsed["items"][0]["source"], "baseline");
    let reimported = rgn
        .clone()
        .import_snapshot(pb::ImportSnapshotRequest {
            parent: "icss/QUE".into(),
            snapshot: Some(pb::Snapshot {
                trust: "RGN".into(),
                ..Default::default()
            }),
            bundle_json: effective_bundle.bundle_json.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap();
    assert_eq!(reimported.content_hash, effective_bundle.content_hash);
    // Bad bundles are explained by JSON pointer; other trusts' builds are not the caller's to import.
    let bad = rgn
        .clone()
        .import_snapshot(pb::ImportSnapshotRequest {
            parent: "icss/QUE".into(),
            snapshot: Some(pb::Snapshot { trust: "RGN".into(), ..Default::default() }),
            bundle_json: json!({"items": [{"kind": "alert-rule", "key": "a", "value": 1}, {"kind": "alert-rule", "key": "b"}]}).to_string(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&bad), ["bundle_json/items/1/value"]);
    let other = rgn
        .clone()
        .import_snapshot(pb::ImportSnapshotRequest {
            parent: "icss/QUE".into(),
            snapshot: Some(pb::Snapshot {
                trust: "RGT".into(),
                ..Default::default()
            }),
            bundle_json: bundle.to_string(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&other), "TRUST_SCOPE");
    let listed = rgn
        .clone()
        .list_snapshots(pb::ListSnapshotsRequest {
            parent: "icss/QUE".into(),
            trust: "RGN".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.snapshots.len(), 1);
    assert_eq!(listed.snapshots[0].name, reimported.name, "newest first");
    assert!(!listed.next_page_token.is_empty());
    // Another ICS sees nothing.
    let outsider = w.config("RJ1", "viewer", "outsider");
    let denied = outsider
        .clone()
        .get_snapshot(pb::GetSnapshotRequest {
            name: snapshot.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "ICS_SCOPE");
}

/// The same client publishing uses in-process, over the network to a change control deployed
/// apart: the caller's token is forwarded, and unknown or unreachable answers are told apart.
async fn change_control_answers_over_the_network(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let cr = w.change_request(&["RGT", "RGM"], true).await;
    let remote = GrpcChangeRequests::connect(&format!("http://{}", w.s.addr)).unwrap();
    let caller = Caller {
        authorization: format!(
            "Bearer {}",
            w.token("RGT", "trust-engineer", "engineer-RGT")
        ),
        request_id: "net-1".into(),
    };
    let facts = remote.get(&cr, &caller).await.unwrap();
    assert_eq!(facts.state, "APPROVED");
    assert_eq!(facts.domain, "medicines");
    assert_eq!(
        facts.affected_trusts.into_iter().collect::<Vec<_>>(),
        ["RGM", "RGT"]
    );
    assert!(matches!(
        remote.get("icss/QUE/changeRequests/nope", &caller).await,
        Err(UpstreamError::Unknown { subject, .. }) if subject == "icss/QUE/changeRequests/nope"
    ));
    // Through the API: publishing under a change request change control does not know is
    // refused naming it in a PreconditionFailure.
    let engineer = w.config("RGT", "trust-engineer", "engineer-RGT");
    let unknown = propose(
        &engineer,
        "RGT",
        "icss/QUE/changeRequests/nope",
        0,
        vec![change(
            pb::Operation::Add,
            item("alert-rule", "unknown-cr", json!({"enabled": true}), None),
        )],
    )
    .await
    .unwrap();
    let unknown = publish(&engineer, &unknown.name, false).await.unwrap_err();
    assert_eq!(unknown.code(), Code::FailedPrecondition);
    assert_eq!(reason(&unknown), "CHANGE_REQUEST_UNKNOWN");
    assert_eq!(
        unknown
            .get_error_details()
            .precondition_failure()
            .unwrap()
            .violations[0]
            .subject,
        "icss/QUE/changeRequests/nope"
    );
    let outsider = Caller {
        authorization: format!("Bearer {}", w.token("RJ1", "trust-engineer", "x")),
        request_id: String::new(),
    };
    assert!(
        matches!(
            remote.get(&cr, &outsider).await,
            Err(UpstreamError::Unknown { .. })
        ),
        "scoped to the caller"
    );
    let port = concordat_e2e::free_port();
    let down = GrpcChangeRequests::connect(&format!("http://127.0.0.1:{port}")).unwrap();
    assert!(matches!(
        down.get(&cr, &caller).await,
        Err(UpstreamError::Unavailable(_))
    ));
}

async fn paged_reads_hold_one_revision_and_fit_default_limits(backend: TestBackend) {
    // Statements are counted: without convergence, whose follower would add its own, and without
    // the look for lapsed variations each second.
    let Some(w) = World::with_options(Options {
        backend,
        targets: CONFIG_TARGETS,
        lapse_interval: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let cr = w.change_request(&TRUSTS, true).await;
    let admin = w.config("RGT", "ics-admin", "admin");
    let key = |i: usize| format!("a-{i:04}");
    let baseline: Vec<_> = (0..2_400)
        .map(|i| {
            let governance = (i % 100 == 0).then(locked).flatten();
            change(
                pb::Operation::Add,
                item(
                    "alert-rule",
                    &key(i),
                    json!({"threshold": i % 20}),
                    governance,
                ),
            )
        })
        .collect();
    let cs = propose(&admin, "baseline", &cr, 0, baseline).await.unwrap();
    publish(&admin, &cs.name, false).await.unwrap();
    // RGM overrides every 7th unlocked key, suppresses every 50th odd one and adds keys of its
    // own between the baseline's and after them.
    let mut overlay = Vec::new();
    let mut expected: std::collections::BTreeMap<String, Value> = (0..2_400)
        .map(|i| {
            (
                format!("alert-rule/{}", key(i)),
                json!({"threshold": i % 20}),
            )
        })
        .collect();
    for i in 0..2_400 {
        if i % 7 == 0 && i % 100 != 0 {
            overlay.push(change(
                pb::Operation::Add,
                item("alert-rule", &key(i), json!({"threshold": 1}), None),
            ));
            expected.insert(format!("alert-rule/{}", key(i)), json!({"threshold": 1}));
        } else if i % 50 == 25 {
            let mut gone = item("alert-rule", &key(i), Value::Null, None);
            gone.value = None;
            gone.suppress = true;
            overlay.push(change(pb::Operation::Add, gone));
            expected.remove(&format!("alert-rule/{}", key(i)));
        }
        if i % 300 == 0 {
            let own = format!("{}-local", key(i));
            overlay.push(change(
                pb::Operation::Add,
                item("alert-rule", &own, json!({"threshold": 2}), None),
            ));
            expected.insert(format!("alert-rule/{own}"), json!({"threshold": 2}));
        }
    }
    overlay.push(change(
        pb::Operation::Add,
        item("alert-rule", "zz-local", json!({"enabled": true}), None),
    ));
    expected.insert("alert-rule/zz-local".into(), json!({"enabled": true}));
    let cs = propose(&admin, "RGM", &cr, 0, overlay).await.unwrap();
    publish(&admin, &cs.name, false).await.unwrap();

    // The default page is 1,000 items; a read in pages of 333 sees exactly the resolved whole.
    let statements = || w.s.platform.db.statements();
    let before = statements();
    let (whole, pages) = effective_paged(&admin, "RGM", 0, 0).await;
    let first_read = statements() - before;
    assert_eq!(values(&whole), expected);
    assert_eq!(pages, expected.len().div_ceil(1_000));
    // The first read held the baseline (2,400 items: one read of rows); reading again, and
    // reading another trust, reads only overlay rows: the same items, one statement fewer.
    let before = statements();
    let (again, _) = effective_paged(&admin, "RGM", 0, 0).await;
    assert_eq!(again, whole);
    assert_eq!(statements() - before, first_read - 1);
    // A replica of the same database without the cache resolves both layers' rows page by page,
    // and answers the same, refusals and provenance included, for a trust with an overlay and
    // one without.
    let uncached = TestServer::start(Options {
        backend,
        federation: Some(concordat_e2e::federation("Test ICS", &TRUSTS, true)),
        read_cache_bytes: 0,
        replica_of: Some(w.s.database_url().to_owned()),
        targets: CONFIG_TARGETS,
        ..Default::default()
    })
    .await
    .unwrap();
    let plain = uncached.shared_config(&uncached.token("RGT", &["ics-admin"], "admin"));
    for trust in ["RGM", "RGN"] {
        for page_size in [0, 333] {
            let (held, _) = effective_paged(&admin, trust, 0, page_size).await;
            let (read, _) = effective_paged(&plain, trust, 0, page_size).await;
            assert_eq!(held, read, "{trust}, pages of {page_size}");
        }
    }

    // A baseline change of every key: RGM's overlay, far smaller than the change, is read whole
    // for the change's keys. The keys RGM overrides or suppresses do not change for RGM; every
    // other key does, and for a trust without an overlay every key.
    let every_key: Vec<_> = (0..2_400)
        .map(|i| {
            let governance = (i % 100 == 0).then(locked).flatten();
            let changed = item("alert-rule", &key(i), json!({"threshold": 20}), governance);
            change(pb::Operation::Modify, changed)
        })
        .collect();
    let cs = propose(&admin, "baseline", &cr, 0, every_key)
        .await
        .unwrap();
    let masked = (0..2_400)
        .filter(|i| (i % 7 == 0 && i % 100 != 0) || i % 50 == 25)
        .count() as i64;
    let counts = |trust: &str| {
        let d = cs.trust_diffs.iter().find(|d| d.trust == trust).unwrap();
        (d.added_count, d.modified_count, d.removed_count)
    };
    assert_eq!(counts("RGM"), (0, 2_400 - masked, 0));
    assert_eq!(counts("RGN"), (0, 2_400, 0));
    let (small, pages) = effective_paged(&admin, "RGM", 0, 333).await;
    assert_eq!(values(&small), expected);
    assert!(pages >= expected.len().div_ceil(333), "{pages} pages");
    assert_eq!(small.content_hash, whole.content_hash);

    // A publish between two pages does not move the pages still to read.
    let first = admin
        .clone()
        .get_effective_config(pb::GetEffectiveConfigRequest {
            parent: "icss/QUE".into(),
            trust: "RGM".into(),
            page_size: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let cs = propose(
        &admin,
        "baseline",
        &cr,
        0,
        vec![change(
            pb::Operation::Modify,
            item("alert-rule", &key(2_399), json!({"threshold": 0}), None),
        )],
    )
    .await
    .unwrap();
    publish(&admin, &cs.name, false).await.unwrap();
    let mut items = first.effective_config.clone().unwrap().items;
    let mut token = first.next_page_token.clone();
    while !token.is_empty() {
        let page = admin
            .clone()
            .get_effective_config(pb::GetEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: "RGM".into(),
                page_size: 1_000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let config = page.effective_config.unwrap();
        assert_eq!(config.revision, whole.revision);
        items.extend(config.items);
        token = page.next_page_token;
    }
    let old = pb::EffectiveConfig {
        items,
        ..Default::default()
    };
    assert_eq!(
        values(&old),
        expected,
        "the pages after a publish are of the first's revision"
    );
    // The new revision is made from the baseline held and the one key it changed.
    let newest = effective(&admin, "RGM", 0).await;
    assert_eq!(newest.revision, whole.revision + 1);
    let mut now = expected.clone();
    now.insert(
        format!("alert-rule/{}", key(2_399)),
        json!({"threshold": 0}),
    );
    assert_eq!(values(&newest), now);
    assert_eq!(newest, effective_paged(&plain, "RGM", 0, 0).await.0);

    // Tokens are bound to their query.
    for (trust, revision, page_token, field) in [
        ("RGM", 0, "not-a-token", "page_token"),
        ("RGT", 0, first.next_page_token.as_str(), "page_token"),
        (
            "RGM",
            whole.revision + 1,
            first.next_page_token.as_str(),
            "revision",
        ),
    ] {
        let err = admin
            .clone()
            .get_effective_config(pb::GetEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: trust.into(),
                revision,
                page_token: page_token.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(fields(&err), [field], "{err:?}");
    }
    // DiffEffectiveConfig pages the net change between two revisions, composed from what each
    // revision changed; from 0 it is the whole configuration, added.
    let before = effective(&admin, "RGM", 1).await;
    let mut want: Vec<(String, Option<Value>, Option<Value>)> = Vec::new();
    let (b, a) = (values(&before), values(&newest));
    for k in b
        .keys()
        .chain(a.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if b.get(k) != a.get(k) {
            want.push((k.clone(), b.get(k).cloned(), a.get(k).cloned()));
        }
    }
    assert!(want.len() > 300, "{}", want.len());
    for (from, expect) in [
        (1, want),
        (
            0,
            a.iter()
                .map(|(k, v)| (k.clone(), None, Some(v.clone())))
                .collect(),
        ),
    ] {
        let mut got = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = admin
                .clone()
                .diff_effective_config(pb::DiffEffectiveConfigRequest {
                    parent: "icss/QUE".into(),
                    trust: "RGM".into(),
                    from_revision: from,
                    page_size: 100,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                (page.from_revision, page.to_revision),
                (from, newest.revision)
            );
            assert!(page.changes.len() <= 100);
            got.extend(page.changes.into_iter().map(|d| {
                (
                    format!("{}/{}", d.kind, d.key),
                    d.before.map(json_of),
                    d.after.map(json_of),
                )
            }));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(got, expect, "diff from revision {from}");
    }

    // Values too big for one message are read in pages a default client (4 MiB) accepts.
    admin
        .clone()
        .create_config_kind(pb::CreateConfigKindRequest {
            parent: "icss/QUE".into(),
            config_kind_id: "document".into(),
            config_kind: Some(pb::ConfigKind {
                domain: "medicines".into(),
                schema: match value_of(&json!({"type": "object"})).into_decoded().kind {
                    Some(prost_types::value::Kind::StructValue(s)) => Some(s),
                    _ => None,
                },
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let big = "x".repeat(400_000);
    for part in 0..3 {
        let docs = (0..4)
            .map(|i| {
                let n = part * 4 + i;
                change(
                    pb::Operation::Add,
                    item(
                        "document",
                        &format!("doc-{n:02}"),
                        json!({"text": big}),
                        None,
                    ),
                )
            })
            .collect();
        let cs = propose(&admin, "baseline", &cr, 0, docs).await.unwrap();
        if part == 0 {
            bounded_changeset_responses(&admin, &cs).await;
        }
        publish(&admin, &cs.name, false).await.unwrap();
    }
    let mut page_token = String::new();
    let mut docs = 0;
    let mut pages = 0;
    loop {
        let page = admin
            .clone()
            .get_effective_config(pb::GetEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: "RGT".into(),
                kind: "document".into(),
                page_size: 10_000,
                page_token,
                ..Default::default()
            })
            .await
            .expect("each page within the default 4 MiB")
            .into_inner();
        pages += 1;
        docs += page.effective_config.unwrap().items.len();
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(docs, 12);
    assert!(pages >= 3, "{pages} pages of at most 2 MiB");
    // So are a layer's items, its diffs and its export, each page under gRPC's default 4 MiB.
    use prost::Message as _;
    const DEFAULT_LIMIT: usize = 4 << 20;
    let items = read_pages(|page_token| {
        let admin = admin.clone();
        async move {
            let page = admin
                .clone()
                .list_layer_items(pb::ListLayerItemsRequest {
                    parent: "icss/QUE/layers/baseline".into(),
                    kind: "document".into(),
                    page_size: 5_000,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.encoded_len() < DEFAULT_LIMIT, "{}", page.encoded_len());
            (page.items.len(), page.next_page_token)
        }
    })
    .await;
    assert_eq!(items.iter().sum::<usize>(), 12);
    assert!(items.len() >= 3, "{} layer pages", items.len());
    let head = admin
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
    let changes = read_pages(|page_token| {
        let admin = admin.clone();
        async move {
            let page = admin
                .clone()
                .diff_revisions(pb::DiffRevisionsRequest {
                    layer: "icss/QUE/layers/baseline".into(),
                    from_revision: head - 3,
                    page_size: 10_000,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.encoded_len() < DEFAULT_LIMIT, "{}", page.encoded_len());
            (page.changes.len(), page.next_page_token)
        }
    })
    .await;
    assert_eq!(changes.iter().sum::<usize>(), 12);
    assert!(changes.len() >= 3, "{} diff pages", changes.len());
    let exported = read_pages(|page_token| {
        let admin = admin.clone();
        async move {
            let page = admin
                .clone()
                .export_config(pb::ExportConfigRequest {
                    name: "icss/QUE/layers/baseline".into(),
                    page_size: 20_000,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.encoded_len() < DEFAULT_LIMIT, "{}", page.encoded_len());
            let bundle: Value = serde_json::from_str(&page.bundle_json).unwrap();
            (
                bundle["items"].as_array().unwrap().len(),
                page.next_page_token,
            )
        }
    })
    .await;
    let total: usize = exported.iter().sum();
    assert!(
        total > 2_400 && exported.len() >= 3,
        "{total} items in {} export pages",
        exported.len()
    );
}

/// Calls `page` with each page token in turn, from the first page (an empty token) until a page
/// answers an empty next token: what each page gave.
async fn read_pages<T, F, Fut>(mut page: F) -> Vec<T>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = (T, String)>,
{
    let (mut out, mut token) = (Vec::new(), String::new());
    loop {
        let (got, next) = page(token).await;
        out.push(got);
        if next.is_empty() {
            return out;
        }
        token = next;
    }
}

/// A changeset of four 400 kB documents for every trust: its responses carry counts and the
/// first of the diffs, 1 MiB in all; the rest is paged.
async fn bounded_changeset_responses(admin: &Config, cs: &pb::Changeset) {
    use prost::Message;
    assert_eq!(cs.change_count, 4);
    assert_eq!(cs.trust_diffs.len(), TRUSTS.len());
    let shown: usize = cs.trust_diffs.iter().map(|d| d.changes.len()).sum();
    for d in &cs.trust_diffs {
        assert_eq!(
            (d.added_count, d.modified_count, d.removed_count),
            (4, 0, 0)
        );
    }
    assert!(shown < 4 * TRUSTS.len(), "{shown} diffs shown");
    let read = admin
        .clone()
        .get_changeset(pb::GetChangesetRequest {
            name: cs.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .changeset
        .unwrap();
    assert!(read.encoded_len() < 4 << 20, "{} bytes", read.encoded_len());
    assert_eq!(read.trust_diffs.len(), TRUSTS.len());
    let list = admin
        .clone()
        .list_changesets(pb::ListChangesetsRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let listed = list.changesets.iter().find(|c| c.name == cs.name).unwrap();
    assert!(listed.changes.is_empty() && listed.trust_diffs.is_empty());
    assert_eq!(listed.change_count, 4);
    // One trust's diff and the changes themselves, page by page.
    let mut keys = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = admin
            .clone()
            .diff_changeset(pb::DiffChangesetRequest {
                name: cs.name.clone(),
                trust: "RGN".into(),
                page_size: 0,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.encoded_len() < 4 << 20);
        assert_eq!(page.head_revision, cs.head_revision);
        keys.extend(page.changes.into_iter().map(|d| d.key));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(keys, ["doc-00", "doc-01", "doc-02", "doc-03"]);
    let mut keys = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = admin
            .clone()
            .list_changeset_changes(pb::ListChangesetChangesRequest {
                name: cs.name.clone(),
                page_size: 3,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        keys.extend(page.changes.into_iter().map(|c| c.item.unwrap().key));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(keys, ["doc-00", "doc-01", "doc-02", "doc-03"]);
    let err = admin
        .clone()
        .diff_changeset(pb::DiffChangesetRequest {
            name: cs.name.clone(),
            trust: "RJ1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(fields(&err), ["trust"]);
}

/// On a server with a small message limit, a write whose response would not fit is refused
/// before it commits: nothing is written, and the client is told so.
async fn a_response_too_large_is_refused_before_commit(backend: TestBackend) {
    let Some(w) = World::with_limit(backend, 32 << 10).await else {
        return;
    };
    let cr = w.change_request(&TRUSTS, true).await;
    let admin = w.config("RGT", "ics-admin", "admin");
    // About 28 kB: the request fits; its echo with the trusts' diffs does not.
    let changes: Vec<_> = (0..500)
        .map(|i| {
            change(
                pb::Operation::Add,
                item(
                    "alert-rule",
                    &format!("rule-{i:03}"),
                    json!({"threshold": 1}),
                    None,
                ),
            )
        })
        .collect();
    let err = propose(&admin, "baseline", &cr, 0, changes)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert_eq!(reason(&err), "RESPONSE_TOO_LARGE");
    assert!(
        err.message().contains("nothing was written"),
        "{}",
        err.message()
    );
    let list = admin
        .clone()
        .list_changesets(pb::ListChangesetsRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(list.changesets.is_empty(), "{:?}", list.changesets);
}

/// Two replicas on one PostgreSQL database, polling once an hour: a watcher on the second hears
/// of a publish through the first from PostgreSQL's NOTIFY, not from polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_another_replica_is_woken_by_the_commit() {
    let Some(w) = World::new(TestBackend::Postgres).await else {
        eprintln!("SKIPPED: no PostgreSQL outside CI");
        return;
    };
    let hour = Duration::from_secs(3600);
    let replica = TestServer::start(Options {
        backend: TestBackend::Postgres,
        federation: Some(concordat_e2e::federation("Test ICS", &TRUSTS, true)),
        replica_of: Some(w.s.database_url().to_owned()),
        poll_interval: hour,
        ..Default::default()
    })
    .await
    .unwrap();
    let cr = w.change_request(&TRUSTS, true).await;
    let admin = w.config("RGT", "ics-admin", "admin");
    let watcher = replica.shared_config(&replica.token("RGM", &["automation"], "engine"));
    let mut stream = watcher
        .clone()
        .watch_effective_config(pb::WatchEffectiveConfigRequest {
            parent: "icss/QUE".into(),
            trust: "RGM".into(),
            from_revision: 0,
        })
        .await
        .unwrap()
        .into_inner();
    // The watch is past its backlog (none) and waiting before the publish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cs = propose(
        &admin,
        "baseline",
        &cr,
        0,
        vec![change(
            pb::Operation::Add,
            item("alert-rule", "sepsis-news2", json!({"threshold": 5}), None),
        )],
    )
    .await
    .unwrap();
    publish(&admin, &cs.name, false).await.unwrap();
    let revision = next_revision(&mut stream).await;
    assert_eq!((revision.trust.as_str(), revision.revision), ("RGM", 1));
    assert_eq!(revision.change_count, 1);
}

/// The SQL statements from the start of a one-item baseline publish until each of `watchers`
/// watchers of RGM has received the revision it makes.
async fn publish_statements(w: &World, cr: &str, watchers: usize, key: &str) -> u64 {
    let admin = w.config("RGT", "ics-admin", "admin");
    let watcher =
        w.s.shared_config(&w.s.token("RGM", &["automation"], "engine"));
    let head = effective(&watcher, "RGM", 0).await.revision;
    let mut streams = Vec::new();
    for _ in 0..watchers {
        let stream = watcher
            .clone()
            .watch_effective_config(pb::WatchEffectiveConfigRequest {
                parent: "icss/QUE".into(),
                trust: "RGM".into(),
                from_revision: head,
            })
            .await
            .unwrap()
            .into_inner();
        streams.push(stream);
    }
    // Every watch is past its (empty) backlog and waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cs = propose(
        &admin,
        "baseline",
        cr,
        0,
        vec![change(
            pb::Operation::Add,
            item("alert-rule", key, json!({"threshold": 5}), None),
        )],
    )
    .await
    .unwrap();
    let before = w.s.platform.db.statements();
    publish(&admin, &cs.name, false).await.unwrap();
    for stream in &mut streams {
        assert_eq!(next_revision(stream).await.revision, head + 1);
    }
    w.s.platform.db.statements() - before
}

/// A publish reaches every watcher in the process from its event's payload: the statements it
/// costs do not grow with the number of watchers.
async fn watchers_cost_no_statement_each(backend: TestBackend) {
    let hour = Duration::from_secs(3600);
    let Some(w) = World::with_options(Options {
        backend,
        poll_interval: hour,
        targets: CONFIG_TARGETS,
        lapse_interval: hour,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let cr = w.change_request(&TRUSTS, true).await;
    let one = publish_statements(&w, &cr, 1, "k-1").await;
    let many = publish_statements(&w, &cr, 40, "k-40").await;
    let one_again = publish_statements(&w, &cr, 1, "k-1-again").await;
    eprintln!(
        "statements of a publish: {one} with one watcher, {many} with 40, {one_again} with one again"
    );
    assert!(
        many <= one.max(one_again) + 3,
        "{many} statements with 40 watchers, {one} and {one_again} with one"
    );
}

/// Every page of an export: `(bundles parsed, items of all pages in order)`, `page_size` items
/// at a time. Every page has the first page's header, content hash and export time.
async fn export_paged(
    client: &Config,
    name: &str,
    revision: i64,
    page_size: i32,
) -> (Vec<Value>, Vec<Value>) {
    let pages = read_pages(|page_token| {
        let client = client.clone();
        let name = name.to_owned();
        async move {
            let page = client
                .clone()
                .export_config(pb::ExportConfigRequest {
                    name,
                    revision,
                    page_size,
                    page_token,
                })
                .await
                .unwrap()
                .into_inner();
            let mut bundle: Value = serde_json::from_str(&page.bundle_json).unwrap();
            let items = bundle["items"].take();
            bundle["content_hash_field"] = json!(page.content_hash);
            bundle["export_time_field"] = json!(format!("{:?}", page.export_time));
            ((bundle, items), page.next_page_token)
        }
    })
    .await;
    let mut items = Vec::new();
    let mut headers = Vec::new();
    for (header, page_items) in pages {
        assert_eq!(&header, headers.first().unwrap_or(&header), "one header");
        items.extend(page_items.as_array().unwrap().iter().cloned());
        headers.push(header);
    }
    (headers, items)
}

fn part(
    parent: &str,
    trust: Option<&str>,
    bundle_json: String,
    request_id: &str,
) -> pb::ImportSnapshotPartsRequest {
    pb::ImportSnapshotPartsRequest {
        parent: parent.into(),
        snapshot: trust.map(|t| pb::Snapshot {
            trust: t.into(),
            display_name: "Production build, in parts".into(),
            ..Default::default()
        }),
        bundle_json,
        request_id: request_id.into(),
    }
}

async fn import_parts(
    client: &Config,
    parts: Vec<pb::ImportSnapshotPartsRequest>,
) -> Result<pb::Snapshot, tonic::Status> {
    client
        .clone()
        .import_snapshot_parts(futures::stream::iter(parts))
        .await
        .map(|r| r.into_inner().snapshot.unwrap())
}

async fn exports_page_at_one_revision_and_snapshots_import_in_parts(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let cr = w.change_request(&TRUSTS, true).await;
    let admin = w.config("RGT", "ics-admin", "admin");
    let key = |i: usize| format!("a-{i:04}");
    let baseline: Vec<_> = (0..1_200)
        .map(|i| {
            change(
                pb::Operation::Add,
                item("alert-rule", &key(i), json!({"threshold": i % 20}), None),
            )
        })
        .collect();
    propose_and_publish(&admin, "baseline", &cr, baseline).await;
    let mut overlay = Vec::new();
    for i in (0..1_200).step_by(7) {
        overlay.push(change(
            pb::Operation::Add,
            item("alert-rule", &key(i), json!({"threshold": 1}), None),
        ));
    }
    for i in (25..1_200).step_by(50).filter(|i| i % 7 != 0) {
        let mut gone = item("alert-rule", &key(i), Value::Null, None);
        gone.value = None;
        gone.suppress = true;
        overlay.push(change(pb::Operation::Add, gone));
    }
    overlay.push(change(
        pb::Operation::Add,
        item("alert-rule", "zz-local", json!({"enabled": true}), None),
    ));
    propose_and_publish(&admin, "RGM", &cr, overlay).await;
    let rgm = w.engineer("RGM");
    let whole = effective(&rgm, "RGM", 0).await;
    let name = "icss/QUE/trusts/RGM/effectiveConfig";

    // Pages of 250 hold exactly the effective configuration, in key order, under one header.
    let (pages, items) = export_paged(&rgm, name, 0, 250).await;
    assert_eq!(pages.len(), whole.items.len().div_ceil(250));
    let exported: std::collections::BTreeMap<String, Value> = items
        .iter()
        .map(|i| {
            (
                format!(
                    "{}/{}",
                    i["kind"].as_str().unwrap(),
                    i["key"].as_str().unwrap()
                ),
                i["value"].clone(),
            )
        })
        .collect();
    assert_eq!(exported.len(), items.len(), "no key twice");
    assert_eq!(exported, values(&whole));
    let keys: Vec<_> = items
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        keys.windows(2).all(|k| k[0] < k[1]),
        "key order across pages"
    );
    assert_eq!(pages[0]["revision"], json!(whole.revision));
    assert_eq!(pages[0]["content_hash"], json!(whole.content_hash));
    let one: Value = serde_json::from_str(
        &rgm.clone()
            .export_config(pb::ExportConfigRequest {
                name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .bundle_json,
    )
    .unwrap();
    assert_eq!(
        one["items"].as_array().unwrap(),
        &items,
        "the default page holds all 1,200"
    );

    // A publish between two pages does not move the pages still to read.
    let first = rgm
        .clone()
        .export_config(pb::ExportConfigRequest {
            name: name.into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    propose_and_publish(
        &admin,
        "baseline",
        &cr,
        vec![change(
            pb::Operation::Modify,
            item("alert-rule", &key(1_199), json!({"threshold": 0}), None),
        )],
    )
    .await;
    let mut pinned: Vec<Value> =
        serde_json::from_str::<Value>(&first.bundle_json).unwrap()["items"]
            .as_array()
            .unwrap()
            .clone();
    let mut token = first.next_page_token.clone();
    while !token.is_empty() {
        let page = rgm
            .clone()
            .export_config(pb::ExportConfigRequest {
                name: name.into(),
                page_size: 500,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let bundle: Value = serde_json::from_str(&page.bundle_json).unwrap();
        assert_eq!(bundle["revision"], json!(whole.revision));
        pinned.extend(bundle["items"].as_array().unwrap().iter().cloned());
        token = page.next_page_token;
    }
    assert_eq!(pinned, items);
    // A token is for its own export and revision.
    let other = rgm
        .clone()
        .export_config(pb::ExportConfigRequest {
            name: "icss/QUE/layers/baseline".into(),
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (other.code(), fields(&other)),
        (Code::InvalidArgument, vec!["page_token".to_owned()])
    );
    let moved = rgm
        .clone()
        .export_config(pb::ExportConfigRequest {
            name: name.into(),
            revision: whole.revision + 1,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&moved), ["revision"]);
    // A layer pages at an older revision as well.
    let (_, layer_items) = export_paged(&rgm, "icss/QUE/layers/baseline", 1, 400).await;
    assert_eq!(layer_items.len(), 1_200);
    assert_eq!(
        layer_items[1_199]["value"],
        json!({"threshold": 1_199 % 20})
    );

    // DiffRevisions pages too, and reads only what the revisions between changed: revision 3
    // changes 300 keys, revision 4 changes one of them back.
    let bump: Vec<_> = (0..300)
        .map(|i| {
            change(
                pb::Operation::Modify,
                item(
                    "alert-rule",
                    &key(i),
                    json!({"threshold": (i % 20 + 1) % 20}),
                    None,
                ),
            )
        })
        .collect();
    propose_and_publish(&admin, "baseline", &cr, bump).await;
    let back = vec![change(
        pb::Operation::Modify,
        item("alert-rule", &key(0), json!({"threshold": 0}), None),
    )];
    propose_and_publish(&admin, "baseline", &cr, back).await;
    let diff_pages = |from: i64, to: i64, page_size: i32| {
        let admin = admin.clone();
        async move {
            let pages = read_pages(|page_token| {
                let admin = admin.clone();
                async move {
                    let page = admin
                        .clone()
                        .diff_revisions(pb::DiffRevisionsRequest {
                            layer: "icss/QUE/layers/baseline".into(),
                            from_revision: from,
                            to_revision: to,
                            page_size,
                            page_token,
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    assert_eq!((page.from_revision, page.to_revision), (from, to));
                    (page.changes, page.next_page_token)
                }
            })
            .await;
            let count = pages.len();
            (pages.concat(), count)
        }
    };
    let (created, pages) = diff_pages(0, 1, 500).await;
    assert_eq!((created.len(), pages), (1_200, 3));
    assert!(
        created
            .iter()
            .all(|c| c.before.is_none() && c.after.is_some())
    );
    let (changed, pages) = diff_pages(1, 4, 100).await;
    let keys: Vec<&str> = changed.iter().map(|c| c.key.as_str()).collect();
    let mut expected: Vec<String> = (1..300).map(key).collect();
    expected.push(key(1_199));
    assert_eq!(
        keys, expected,
        "a key changed and changed back is no difference"
    );
    assert!(pages >= 3, "{pages} pages");
    let value = |side: &Option<concordat_proto::value::Value>| {
        json_of(side.clone().unwrap())["value"].clone()
    };
    assert_eq!(value(&changed[0].before), json!({"threshold": 1}));
    assert_eq!(value(&changed[0].after), json!({"threshold": 2}));
    let (one_page, pages) = diff_pages(1, 4, 10_000).await;
    assert_eq!((one_page, pages), (changed, 1));
    let foreign = admin
        .clone()
        .diff_revisions(pb::DiffRevisionsRequest {
            layer: "icss/QUE/layers/RGM".into(),
            page_token: {
                let first = admin
                    .clone()
                    .diff_revisions(pb::DiffRevisionsRequest {
                        layer: "icss/QUE/layers/baseline".into(),
                        from_revision: 1,
                        page_size: 10,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                first.next_page_token
            },
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&foreign), ["page_token"]);

    // The pages, streamed as parts, import as one snapshot with the effective content hash.
    let page_bundles = |items: &[Value], per: usize| -> Vec<String> {
        items
            .chunks(per)
            .map(|c| json!({"items": c}).to_string())
            .collect()
    };
    let bundles = page_bundles(&items, 250);
    let mut parts: Vec<_> = bundles
        .iter()
        .map(|b| part("", None, b.clone(), ""))
        .collect();
    parts[0] = part("icss/QUE", Some("RGM"), bundles[0].clone(), "import-rgm-1");
    let snapshot = import_parts(&rgm, parts.clone()).await.unwrap();
    assert_eq!(snapshot.item_count as usize, items.len());
    assert_eq!(snapshot.content_hash, whole.content_hash);
    let again = import_parts(&rgm, parts).await.unwrap();
    assert_eq!(
        again.name, snapshot.name,
        "a retry with the same request id"
    );
    let (_, back) = export_paged(&rgm, &snapshot.name, 0, 300).await;
    assert_eq!(back.len(), items.len());
    assert_eq!(back[0]["value"], items[0]["value"]);

    // Bad parts are refused naming the field and the message, and nothing is written.
    let count = || async {
        rgm.clone()
            .list_snapshots(pb::ListSnapshotsRequest {
                parent: "icss/QUE".into(),
                trust: "RGM".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .snapshots
            .len()
    };
    let before = count().await;
    let twice = import_parts(
        &rgm,
        vec![
            part("icss/QUE", Some("RGM"), bundles[0].clone(), ""),
            part("", None, bundles[0].clone(), ""),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(twice.code(), Code::InvalidArgument);
    assert_eq!(fields(&twice)[0], "bundle_json/items/0");
    let description = twice
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations[0]
        .description
        .clone();
    assert!(
        description.ends_with("appears twice (message 2)"),
        "{description}"
    );
    let stray = import_parts(
        &rgm,
        vec![
            part("icss/QUE", Some("RGM"), bundles[0].clone(), ""),
            part("icss/QUE", None, bundles[1].clone(), ""),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&stray), ["parent"]);
    let unnamed = import_parts(&rgm, vec![part("", None, bundles[0].clone(), "")])
        .await
        .unwrap_err();
    assert_eq!(fields(&unnamed), ["parent"]);
    let broken = import_parts(
        &rgm,
        vec![
            part("icss/QUE", Some("RGM"), bundles[0].clone(), ""),
            part(
                "",
                None,
                "{\"items\": [{\"kind\": \"alert-rule\"}]}".into(),
                "",
            ),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        fields(&broken),
        ["bundle_json/items/0/key", "bundle_json/items/0/value"]
    );
    let scope = import_parts(
        &w.engineer("RGN"),
        vec![part("icss/QUE", Some("RGM"), bundles[0].clone(), "")],
    )
    .await
    .unwrap_err();
    assert_eq!(reason(&scope), "TRUST_SCOPE");
    assert_eq!(count().await, before, "no refused import was written");
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap(),
    }
}

/// RGM's variation of the sepsis threshold, lapsing at `expire_time`.
fn sepsis_variation(
    review_date: &str,
    expire_time: chrono::DateTime<chrono::Utc>,
) -> pb::ItemChange {
    change(
        pb::Operation::Add,
        pb::ConfigItem {
            variation: Some(pb::Variation {
                rationale: "Paediatric sepsis pathway\nagreed with the DA".into(),
                hazard: String::new(),
                review_date: review_date.into(),
                expire_time: Some(timestamp(expire_time)),
            }),
            ..item(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": true, "threshold": 6}),
                None,
            )
        },
    )
}

async fn variations_lapse_at_their_expiry(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let rgt = w.engineer("RGT");
    let rgm = w.engineer("RGM");
    let viewer = w.config("RGM", "automation", "engine-RGM");
    let allergy_cr = w.change_request(&TRUSTS, true).await;
    propose_and_publish(
        &rgt,
        "baseline",
        &allergy_cr,
        vec![change(
            pb::Operation::Add,
            item(
                "alert-rule",
                "sepsis-news2",
                json!({"enabled": true, "threshold": 5}),
                bounded(3.0, 7.0),
            ),
        )],
    )
    .await;
    let variation_cr = w.change_request(&["RGM"], true).await;
    let now = chrono::Utc::now();
    let expiry = now + chrono::Duration::hours(1);

    // Terms that do not fit are refused field by field, and nothing is written.
    let refused = |status: tonic::Status| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        fields(&status)
    };
    let minute_ago = now - chrono::Duration::minutes(1);
    for (review, expire, field) in [
        ("", minute_ago, "expire_time"),
        ("2100-01-01", expiry, "review_date"),
        ("2026-13-01", expiry, "review_date"),
    ] {
        let terms = sepsis_variation(review, expire);
        let status = propose(&rgm, "RGM", &variation_cr, 0, vec![terms])
            .await
            .unwrap_err();
        assert_eq!(
            refused(status),
            [format!("changeset.changes[0].item.variation.{field}")],
            "review {review:?}"
        );
    }
    // A hazard reference must name a hazard in change control's log.
    let mut unknown_hazard = sepsis_variation("", expiry);
    if let Some(v) = unknown_hazard
        .item
        .as_mut()
        .and_then(|i| i.variation.as_mut())
    {
        v.hazard = format!("{variation_cr}/hazards/1");
    }
    let status = propose(&rgm, "RGM", &variation_cr, 0, vec![unknown_hazard])
        .await
        .unwrap_err();
    assert_eq!(
        refused(status),
        ["changeset.changes[0].item.variation.hazard"]
    );
    let mut on_baseline = sepsis_variation("", expiry);
    on_baseline.operation = pb::Operation::Modify as i32;
    let baseline_terms = propose(&rgt, "baseline", &allergy_cr, 0, vec![on_baseline])
        .await
        .unwrap_err();
    assert_eq!(
        refused(baseline_terms),
        ["changeset.changes[0].item.variation"]
    );

    // An approved variation with its terms: in force, and shown in the effective configuration.
    let mut watcher = viewer
        .clone()
        .watch_effective_config(pb::WatchEffectiveConfigRequest {
            parent: "icss/QUE".into(),
            trust: "RGM".into(),
            from_revision: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let review = expiry.date_naive().format("%Y-%m-%d").to_string();
    let cs = propose(
        &rgm,
        "RGM",
        &variation_cr,
        0,
        vec![sepsis_variation(&review, expiry)],
    )
    .await
    .unwrap();
    let proposed = cs.changes[0]
        .item
        .as_ref()
        .unwrap()
        .variation
        .clone()
        .unwrap();
    assert_eq!(proposed.review_date, review);
    publish(&rgm, &cs.name, false).await.unwrap();
    let varied = loop {
        let r = next_revision(&mut watcher).await;
        if r.change_request == variation_cr {
            break r;
        }
    };
    let in_force = effective(&viewer, "RGM", 0).await;
    assert_eq!(in_force.revision, varied.revision);
    let sepsis = |e: &pb::EffectiveConfig| {
        e.items
            .iter()
            .find(|i| i.key == "sepsis-news2")
            .cloned()
            .unwrap()
    };
    let item = sepsis(&in_force);
    assert_eq!(json_of(item.value.clone().unwrap())["threshold"], json!(6));
    assert_eq!(item.source, pb::Source::Override as i32);
    assert_eq!(item.ignored, "");
    let terms = item.variation.unwrap();
    assert_eq!(
        (
            terms.rationale.as_str(),
            terms.hazard.clone(),
            terms.review_date.as_str(),
            terms.expire_time.map(|t| t.seconds)
        ),
        (
            "Paediatric sepsis pathway\nagreed with the DA",
            String::new(),
            review.as_str(),
            Some(expiry.timestamp())
        )
    );

    // The server's clock passes the expiry: the system publishes RGM's lapse at that instant.
    w.s.platform.clock.advance(Duration::from_secs(2 * 3600));
    let lapse = next_revision(&mut watcher).await;
    assert_eq!(lapse.revision, varied.revision + 1);
    let system = lapse.publisher.clone().unwrap();
    assert_eq!(
        (system.issuer.as_str(), system.subject.as_str()),
        ("concordat", "system")
    );
    assert_eq!(lapse.change_request, "");
    assert_eq!(
        lapse.publish_time.map(|t| (t.seconds, t.nanos)),
        Some((expiry.timestamp(), timestamp(expiry).nanos / 1000 * 1000)),
        "published at the expiry, not when it was noticed"
    );
    assert!(lapse.reason.contains("sepsis-news2"), "{}", lapse.reason);
    assert!(lapse.reason.contains(&variation_cr), "{}", lapse.reason);
    assert_eq!(lapse.changes.len(), 1);
    let lapsed = effective(&viewer, "RGM", 0).await;
    assert_eq!(lapsed.revision, lapse.revision);
    let item = sepsis(&lapsed);
    assert_eq!(json_of(item.value.clone().unwrap())["threshold"], json!(5));
    assert_eq!(item.source, pb::Source::Baseline as i32);
    assert!(item.ignored.contains("lapsed"), "{}", item.ignored);
    assert_eq!(values(&lapsed), values(&effective(&viewer, "RGT", 0).await));
    assert_eq!(
        lapsed.content_hash,
        effective(&viewer, "RGT", 0).await.content_hash,
        "the same content, the same hash"
    );
    // The revision before still reads as it was published: the variation in force then.
    let then = effective(&viewer, "RGM", varied.revision).await;
    assert_eq!(json_of(sepsis(&then).value.unwrap())["threshold"], json!(6));
    // Nothing lapses twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(effective(&viewer, "RGM", 0).await.revision, lapse.revision);

    // The lapse is in the audit chain, by the system, traced to the expiry.
    let audit =
        w.s.platform(&w.token("RGT", "ics-admin", "admin"))
            .list_audit_entries(platform_pb::ListAuditEntriesRequest {
                parent: "icss/QUE".into(),
                action: "config.lapse".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].actor_subject, "system");
    assert!(
        audit[0].summary.contains(&variation_cr),
        "{}",
        audit[0].summary
    );

    // Renewal is decided again: not under the change request that approved the lapsed variation.
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let mut renewal = sepsis_variation("", later);
    renewal.operation = pb::Operation::Modify as i32;
    let same_cr = propose(&rgm, "RGM", &variation_cr, 0, vec![renewal.clone()])
        .await
        .unwrap_err();
    assert_eq!(refused(same_cr), ["changeset.change_request"]);
    let renewal_cr = w.change_request(&["RGM"], true).await;
    propose_and_publish(&rgm, "RGM", &renewal_cr, vec![renewal]).await;
    let renewed = effective(&viewer, "RGM", 0).await;
    let item = sepsis(&renewed);
    assert_eq!(json_of(item.value.clone().unwrap())["threshold"], json!(6));
    assert_eq!(item.change_request, renewal_cr);
}

both_backends!(paging, paged_reads_hold_one_revision_and_fit_default_limits);
both_backends!(variations, variations_lapse_at_their_expiry);
both_backends!(
    export_parts,
    exports_page_at_one_revision_and_snapshots_import_in_parts
);
both_backends!(too_large, a_response_too_large_is_refused_before_commit);
both_backends!(
    golden_configuration,
    the_configuration_part_of_the_golden_scenario
);
both_backends!(snapshots, snapshots_import_and_export_round_trip);
both_backends!(watcher_statements, watchers_cost_no_statement_each);
both_backends!(network, change_control_answers_over_the_network);
