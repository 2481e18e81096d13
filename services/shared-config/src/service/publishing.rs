//! Publishing: a changeset or a rollback becomes a layer's next revision, under a change
//! request change control approved, with every affected trust's next effective revision.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::domain::lthash::LtHash;
use crate::domain::publish::entry_element;
use crate::domain::resolve::{lthash_of, update_hash};

/// Items a publish writes from which the planner's statistics are refreshed after it.
const LARGE_WRITE: usize = 5_000;

impl SharedConfig {
    /// Publishes a changeset as its layer's next revision.
    pub async fn publish<R: Reply>(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        name: &str,
        rebase: bool,
        request_id: &str,
        reply: impl FnOnce(&Revision, &Changeset) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        if let Some(first) = self.writer.replayed(ctx, request_id).await? {
            return Ok(first);
        }
        let cs = store::changeset_head(self.db().conn(), &ics, &id)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
        self.require_writer(ctx, &cs.layer, &layer_name(&ics, &cs.layer))
            .await?;
        closed_check(&cs)?;
        // Asked before the write transaction opens: no lock is held while change control answers.
        let cr = self.change_requests.get(&cs.change_request, caller).await?;
        let written = AtomicUsize::new(0);
        let written_ref = &written;
        let reply = self
            .writer
            .write(ctx, request_id, |w| async move {
                w.lock(&publishing_scope(&ics)).await?;
                let mut cs = store::changeset(w.txn(), &ics, &id, true)
                    .await?
                    .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
                closed_check(&cs)?;
                written_ref.store(cs.changes.len(), Ordering::Relaxed);
                let head = self.head_revision(w.txn(), &ics, &cs.layer).await?;
                if head != cs.base_revision {
                    if !rebase {
                        return Err(ConfigError::StaleBase {
                            layer: layer_name(&ics, &cs.layer),
                            base: cs.base_revision,
                            head,
                        });
                    }
                    let changed = store::keys_changed_between(
                        w.txn(),
                        &ics,
                        &cs.layer,
                        cs.base_revision,
                        head,
                    )
                    .await?;
                    let overlap: Vec<Key> = cs
                        .changes
                        .iter()
                        .map(|c| c.key().clone())
                        .filter(|k| changed.contains(k))
                        .collect();
                    if !overlap.is_empty() {
                        return Err(ConfigError::RebaseConflict(overlap));
                    }
                }
                let (revision, effective) = self
                    .publish_changes(&w, ctx, &ics, &cs.layer, head, &cs.changes, &cr, &cs.id, 0)
                    .await?;
                cs.state = ChangesetState::Published;
                cs.published_revision = revision.revision;
                cs.update_time = revision.publish_time;
                store::update_changeset_state(w.txn(), &cs).await?;
                let summary =
                    publish_summary(&revision, &cr, &effective, &format!("changeset {}", cs.id));
                let resource = format!(
                    "{}/revisions/{}",
                    layer_name(&ics, &cs.layer),
                    revision.revision
                );
                w.audit("config.publish", &resource, summary);
                Ok(reply(&revision, &cs))
            })
            .await?;
        self.after_write_of(written.into_inner()).await;
        Ok(reply)
    }

    /// Publishes a new revision of a layer restoring an earlier revision's content.
    #[allow(clippy::too_many_arguments)]
    pub async fn rollback<R: Reply>(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        layer_name_: &str,
        to: i64,
        change_request: &str,
        expected_head: Option<i64>,
        request_id: &str,
        reply: impl FnOnce(&Revision) -> R,
    ) -> Result<R> {
        let (ics, layer) = self.layer_in_scope(ctx, "layer", layer_name_).await?;
        self.require_writer(ctx, &layer, layer_name_).await?;
        let (cr_ics, _) = parse_name("change_request", change_request, "changeRequests")?;
        if cr_ics != ics {
            return Err(invalid(
                "change_request",
                "must be a change request of the same ICS",
            ));
        }
        if let Some(first) = self.writer.replayed(ctx, request_id).await? {
            return Ok(first);
        }
        let cr = self.change_requests.get(change_request, caller).await?;
        let written = AtomicUsize::new(0);
        let written_ref = &written;
        let reply = self
            .writer
            .write(ctx, request_id, |w| async move {
                w.lock(&publishing_scope(&ics)).await?;
                let head = self.head_revision(w.txn(), &ics, &layer).await?;
                if to < 0 || to >= head {
                    return Err(invalid(
                        "revision",
                        format!("must be an earlier revision than the newest ({head})"),
                    ));
                }
                if let Some(expected_head) = expected_head
                    && expected_head != head
                {
                    return Err(ConfigError::StaleHead {
                        layer: layer_name_.to_owned(),
                        expected: expected_head,
                        head,
                    });
                }
                let now = publish::entries(
                    &store::content(w.txn(), &ics, &layer, head, None, None, None).await?,
                );
                let then = publish::entries(
                    &store::content(w.txn(), &ics, &layer, to, None, None, None).await?,
                );
                let changes = changeset::inverse(&then, &now);
                if changes.is_empty() {
                    return Err(invalid(
                        "revision",
                        format!("revision {to} has the same content as the newest ({head})"),
                    ));
                }
                written_ref.store(changes.len(), Ordering::Relaxed);
                let (revision, effective) = self
                    .publish_changes(&w, ctx, &ics, &layer, head, &changes, &cr, "", to)
                    .await?;
                let summary = publish_summary(
                    &revision,
                    &cr,
                    &effective,
                    &format!("rollback to revision {to}"),
                );
                let resource = format!(
                    "{}/revisions/{}",
                    layer_name(&ics, &layer),
                    revision.revision
                );
                w.audit("config.rollback", &resource, summary);
                Ok(reply(&revision))
            })
            .await?;
        self.after_write_of(written.into_inner()).await;
        Ok(reply)
    }

    /// After a publish of `changes` items: a large one refreshes the planner's statistics of the
    /// items, so that the next reads by key use the key index (see
    /// [`concordat_platform::db::Database::refresh_statistics`]).
    async fn after_write_of(&self, changes: usize) {
        if changes >= LARGE_WRITE {
            self.db().refresh_statistics("sc_items").await;
        }
    }

    /// Validates `changes` against the layer at `head`, checks the change request, writes the
    /// next revision and every affected trust's next effective revision (with outbox events).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn publish_changes(
        &self,
        w: &Write,
        ctx: &RequestContext,
        ics: &str,
        layer: &LayerId,
        head: i64,
        changes: &[Change<Entry>],
        cr: &ChangeRequestFacts,
        changeset_id: &str,
        restores: i64,
    ) -> Result<(Revision, Vec<EffectiveRevision>)> {
        let c = w.txn();
        let now = w.now();
        // Variations that lapsed since their trust's newest revision lapse first, each at its
        // own instant: the revisions below then start from configurations in force now.
        self.lapse_due(w, ics, now).await?;
        let (current, after_entries, kinds) = self
            .validate(c, ics, layer, changes, head, (&cr.name, now))
            .await?;
        let keys: BTreeSet<Key> = changes.iter().map(|ch| ch.key().clone()).collect();
        let new_rev = head + 1;
        let after = placed(&current, after_entries, new_rev, &cr.name);
        let (baseline, overlays) = self
            .pairs_for(c, ics, layer, &keys, &current, &after)
            .await?;
        let mut changed =
            publish::effective_changes(&keys, (&baseline.0, &baseline.1), &overlays, (now, now));
        let mut covered: BTreeSet<String> = changed.keys().cloned().collect();
        if let LayerId::Trust(t) = layer {
            covered.insert(t.clone());
        }
        let kind_domains: BTreeMap<String, String> = keys
            .iter()
            .filter_map(|k| {
                kinds
                    .get(&k.kind)
                    .map(|kind| (k.kind.clone(), kind.domain.clone()))
            })
            .collect();
        publish::check_change_request(cr, &kind_domains, &covered)
            .map_err(|refusal| ConfigError::Refused(cr.name.clone(), refusal))?;

        let mut revision = Revision {
            ics: ics.to_owned(),
            layer: layer.clone(),
            revision: new_rev,
            changeset: changeset_id.to_owned(),
            change_request: cr.name.clone(),
            publisher: ctx.principal.person(),
            publisher_trust: ctx.principal.trust.clone().unwrap_or_default(),
            publish_time: now,
            content_hash: String::new(),
            item_count: 0,
            restores_revision: restores,
            change_count: i64::try_from(changes.len()).unwrap_or(i64::MAX),
        };
        store::insert_revision(c, &revision).await?;
        store::write_items(c, ics, layer, new_rev, &cr.name, changes).await?;
        // The layer's hash and count follow from the previous revision's and the changed keys:
        // what the publish costs is in proportion to what it changes.
        let (mut state, count) = store::revision_state(c, ics, layer, head).await?;
        for (key, p) in &current {
            state.remove(&entry_element(key, &p.entry));
        }
        for (key, p) in &after {
            state.add(&entry_element(key, &p.entry));
        }
        revision.content_hash = state.checksum();
        revision.item_count = count - len(&current) + len(&after);
        store::finish_revision(c, ics, layer, new_rev, &state, revision.item_count).await?;

        // Every trust the layer feeds gets its next effective revision; its hash is the previous
        // one updated by what changed in the trust's effective configuration.
        let (baseline_rev, trusts) = match layer {
            LayerId::Baseline => (new_rev, self.trusts_of(ics)),
            LayerId::Trust(t) => (
                self.head_revision(c, ics, &LayerId::Baseline).await?,
                vec![t.clone()],
            ),
        };
        let mut effective = Vec::new();
        // The baseline at `baseline_rev` and the hash of its values, read once for every trust
        // that needs its hash from scratch.
        let mut from_scratch: Option<(Content, LtHash)> = None;
        // Trusts whose overlays do not vary the change share one list of changes: its hash
        // update and its stored text are computed once.
        let mut shared: Option<(Changes, Option<LtHash>, String)> = None;
        for trust in trusts {
            let id = LayerId::Trust(trust.clone());
            let overlay_rev = if *layer == id {
                new_rev
            } else {
                self.head_revision(c, ics, &id).await?
            };
            let diffs = changed.remove(&trust).unwrap_or_default();
            let (_, mut delta, changes_json) = match shared.take() {
                Some(same) if Changes::ptr_eq(&same.0, &diffs) => same,
                _ => (
                    Changes::clone(&diffs),
                    None,
                    store::effective_changes_json(&diffs)?,
                ),
            };
            let (previous, state) = match store::effective_state(c, ics, &trust).await? {
                Some((previous, Some(mut state))) => {
                    state.add_all(delta.get_or_insert_with(|| {
                        let mut delta = LtHash::new();
                        update_hash(&mut delta, &diffs);
                        delta
                    }));
                    (previous, state)
                }
                // A trust with no effective revision yet (new to the federation): from scratch,
                // at the revisions just written.
                other => {
                    let (baseline, baseline_state) = match from_scratch.take() {
                        Some(read) => read,
                        None => {
                            let content = store::resolving_content(
                                c,
                                ics,
                                &LayerId::Baseline,
                                baseline_rev,
                                None,
                                None,
                                None,
                            )
                            .await?;
                            let state = lthash_of(&publish::values(&content));
                            (content, state)
                        }
                    };
                    let overlay =
                        store::resolving_content(c, ics, &id, overlay_rev, None, None, None)
                            .await?;
                    let mut state = baseline_state.clone();
                    update_hash(
                        &mut state,
                        &publish::overlay_effect(&baseline, overlay, now),
                    );
                    from_scratch = Some((baseline, baseline_state));
                    (other.map_or(0, |(r, _)| r), state)
                }
            };
            let e = EffectiveRevision {
                ics: ics.to_owned(),
                trust: trust.clone(),
                revision: previous + 1,
                baseline_revision: baseline_rev,
                overlay_revision: overlay_rev,
                content_hash: state.checksum(),
                layer: layer.clone(),
                change_request: cr.name.clone(),
                publisher: ctx.principal.person(),
                publish_time: now,
                changes: diffs,
                reason: String::new(),
            };
            store::insert_effective(c, &e, &state, &changes_json).await?;
            shared = Some((Changes::clone(&e.changes), delta, changes_json));
            w.event(
                ics,
                &effective_name(ics, &trust),
                PUBLISHED,
                (self.encode.effective)(&e),
            );
            effective.push(e);
        }
        Ok((revision, effective))
    }
}

impl SharedConfig {
    /// Publishes, in this write, an effective revision for each instant at which a variation of
    /// the ICS lapsed after its trust's newest effective revision and no later than `until`: from
    /// that instant the trust's configuration is the baseline's at those keys (a local-only key
    /// leaves it). Each is audited and evented as any publish is, by the system, and says which
    /// variations lapsed. Returns them.
    pub(super) async fn lapse_due(
        &self,
        w: &Write,
        ics: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<EffectiveRevision>> {
        let c = w.txn();
        let mut out = Vec::new();
        for (trust, instants) in self.lapses_due(c, ics, until).await? {
            let id = LayerId::Trust(trust.clone());
            let Some(mut previous) = store::effective_head(c, ics, &trust, 0).await? else {
                continue;
            };
            for (instant, keys) in instants {
                let baseline = store::content_of_keys(
                    c,
                    ics,
                    &LayerId::Baseline,
                    previous.baseline_revision,
                    &keys,
                )
                .await?;
                let overlay =
                    store::content_of_keys(c, ics, &id, previous.overlay_revision, &keys).await?;
                let reason = lapse_reason(instant, &overlay);
                let overlays = BTreeMap::from([(trust.clone(), (overlay.clone(), overlay))]);
                let diffs = publish::effective_changes(
                    &keys,
                    (&baseline, &baseline),
                    &overlays,
                    (previous.publish_time, instant),
                )
                .remove(&trust)
                .unwrap_or_default();
                let mut state = match store::effective_state(c, ics, &trust).await? {
                    Some((_, Some(state))) => state,
                    _ => {
                        return Err(ConfigError::Store(StoreError::Corrupt(
                            "effective revision without its hash state",
                            format!("{trust} revision {}", previous.revision),
                        )));
                    }
                };
                update_hash(&mut state, &diffs);
                let e = EffectiveRevision {
                    revision: previous.revision + 1,
                    content_hash: state.checksum(),
                    layer: id.clone(),
                    change_request: String::new(),
                    publisher: system_person(),
                    publish_time: instant,
                    changes: diffs,
                    reason,
                    ..previous
                };
                let json = store::effective_changes_json(&e.changes)?;
                store::insert_effective(c, &e, &state, &json).await?;
                let resource = format!("{}/revisions/{}", effective_name(ics, &trust), e.revision);
                w.audit(
                    "config.lapse",
                    &resource,
                    format!(
                        "{trust} effective revision {} published by the system: {} ({} changes)",
                        e.revision,
                        e.reason,
                        e.changes.len()
                    ),
                );
                w.event(
                    ics,
                    &effective_name(ics, &trust),
                    PUBLISHED,
                    (self.encode.effective)(&e),
                );
                previous = e.clone();
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The variations of the ICS that lapsed after their trust's newest effective revision and
    /// no later than `until`: per trust, the keys lapsing at each instant, in order.
    pub(super) async fn lapses_due(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        until: DateTime<Utc>,
    ) -> Result<BTreeMap<String, BTreeMap<DateTime<Utc>, BTreeSet<Key>>>> {
        let mut expired: BTreeMap<String, Vec<(Key, DateTime<Utc>)>> = BTreeMap::new();
        let since = self.lapsed_through(ics);
        for (layer, key, at) in store::expired_variations(c, ics, (since, until)).await? {
            if let Some(LayerId::Trust(trust)) = LayerId::parse(&layer) {
                expired.entry(trust).or_default().push((key, at));
            }
        }
        let mut due = BTreeMap::new();
        for (trust, keys) in expired {
            // A trust with no effective revision yet has had nothing applied to lapse.
            let Some(head) = store::effective_head(c, ics, &trust, 0).await? else {
                continue;
            };
            let mut instants: BTreeMap<DateTime<Utc>, BTreeSet<Key>> = BTreeMap::new();
            for (key, at) in keys.into_iter().filter(|(_, at)| *at > head.publish_time) {
                instants.entry(at).or_default().insert(key);
            }
            if !instants.is_empty() {
                due.insert(trust, instants);
            }
        }
        Ok(due)
    }
}

/// Who publishes what no person did: the server itself.
pub(super) fn system_person() -> Person {
    Person {
        issuer: "concordat".into(),
        subject: "system".into(),
        name: "Concordat".into(),
    }
}

/// What a lapse revision says of itself: the instant, and each variation with the change request
/// that approved it (the first 20; then how many more).
fn lapse_reason(instant: DateTime<Utc>, overlay: &Content) -> String {
    const NAMED: usize = 20;
    let mut named: Vec<String> = overlay
        .iter()
        .take(NAMED)
        .map(|(k, p)| format!("{k} (approved under {})", p.provenance.change_request))
        .collect();
    if overlay.len() > NAMED {
        named.push(format!("and {} more", overlay.len() - NAMED));
    }
    format!(
        "variations lapsed at {}: {}",
        instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        named.join(", ")
    )
}

fn len(content: &Content) -> i64 {
    i64::try_from(content.len()).unwrap_or(i64::MAX)
}
