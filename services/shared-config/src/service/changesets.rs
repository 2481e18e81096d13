//! Changesets: proposed changes to one layer, rendered as each trust's effective diff.

use super::*;

impl SharedConfig {
    /// What `changes` would do to every trust's effective configuration at the layer's newest
    /// revision, or `None` when they no longer apply there.
    pub(super) async fn render(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
        changes: &[Change<Entry>],
    ) -> Result<(i64, Option<BTreeMap<String, Vec<Difference>>>)> {
        let head = self.head_revision(c, ics, layer).await?;
        let keys: BTreeSet<Key> = changes.iter().map(|ch| ch.key().clone()).collect();
        let current = store::content_of_keys(c, ics, layer, head, &keys).await?;
        let Ok(after_entries) = changeset::apply(&publish::entries(&current), changes) else {
            return Ok((head, None));
        };
        let after = placed(&current, after_entries, head + 1, "");
        let (baseline, overlays) = self
            .pairs_for(c, ics, layer, &keys, &current, &after)
            .await?;
        Ok((
            head,
            Some(publish::effective_changes(
                &keys,
                (&baseline.0, &baseline.1),
                &overlays,
            )),
        ))
    }

    /// The baseline (before, after) and each affected trust's overlay (before, after), restricted
    /// to `keys`, for a change of `layer` from `current` to `after`.
    pub(super) async fn pairs_for(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
        keys: &BTreeSet<Key>,
        current: &Content,
        after: &Content,
    ) -> Result<((Content, Content), BTreeMap<String, (Content, Content)>)> {
        let mut overlays = BTreeMap::new();
        match layer {
            LayerId::Baseline => {
                for trust in self.trusts_of(ics) {
                    let id = LayerId::Trust(trust.clone());
                    let head = self.head_revision(c, ics, &id).await?;
                    let o = store::content_of_keys(c, ics, &id, head, keys).await?;
                    overlays.insert(trust, (o.clone(), o));
                }
                Ok(((current.clone(), after.clone()), overlays))
            }
            LayerId::Trust(t) => {
                let b_head = self.head_revision(c, ics, &LayerId::Baseline).await?;
                let b = store::content_of_keys(c, ics, &LayerId::Baseline, b_head, keys).await?;
                overlays.insert(t.clone(), (current.clone(), after.clone()));
                Ok(((b.clone(), b), overlays))
            }
        }
    }

    pub(super) async fn validate(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
        changes: &[Change<Entry>],
        at: i64,
    ) -> Result<(Content, BTreeMap<Key, Entry>, BTreeMap<String, ConfigKind>)> {
        let keys: BTreeSet<Key> = changes.iter().map(|ch| ch.key().clone()).collect();
        let kinds = compile_kinds(&store::kinds(c, ics).await?);
        let baseline = match layer {
            LayerId::Baseline => Content::new(),
            LayerId::Trust(_) => {
                let head = self.head_revision(c, ics, &LayerId::Baseline).await?;
                store::content_of_keys(c, ics, &LayerId::Baseline, head, &keys).await?
            }
        };
        let mut violations = publish::validate(layer, changes, &kinds, &as_baseline(&baseline));
        let current = store::content_of_keys(c, ics, layer, at, &keys).await?;
        let after = match changeset::apply(&publish::entries(&current), changes) {
            Ok(after) => after,
            Err(v) => {
                violations.extend(v.into_iter().map(|(f, r)| (format!("changeset.{f}"), r)));
                BTreeMap::new()
            }
        };
        if violations.is_empty() {
            Ok((current, after, kinds))
        } else {
            Err(ConfigError::Invalid(violations))
        }
    }

    /// Proposes changes to a layer.
    pub async fn create_changeset<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        new: NewChangeset,
        request_id: &str,
        reply: impl FnOnce(&Rendered) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let (layer_ics, layer) = parse_layer("changeset.layer", &new.layer)?;
        if layer_ics != ics {
            return Err(invalid(
                "changeset.layer",
                "must be a layer of the same ICS",
            ));
        }
        if let LayerId::Trust(t) = &layer {
            self.require_known_trust("changeset.layer", &ics, t)?;
        }
        self.require_writer(ctx, &layer, &new.layer).await?;
        let (cr_ics, _) = parse_name(
            "changeset.change_request",
            &new.change_request,
            "changeRequests",
        )?;
        if cr_ics != ics {
            return Err(invalid(
                "changeset.change_request",
                "must be a change request of the same ICS",
            ));
        }
        let head = self.head_revision(self.db().conn(), &ics, &layer).await?;
        let base = match new.base_revision {
            0 => head,
            b if b < 0 || b > head => {
                return Err(invalid(
                    "changeset.base_revision",
                    format!("must be a published revision (0–{head})"),
                ));
            }
            b => b,
        };
        self.validate(self.db().conn(), &ics, &layer, &new.changes, base)
            .await?;
        let now = self.writer.clock().now();
        let cs = Changeset {
            ics: ics.clone(),
            id: uuid::Uuid::now_v7().simple().to_string(),
            layer: layer.clone(),
            base_revision: base,
            change_request: new.change_request,
            description: new.description,
            changes: new.changes,
            state: ChangesetState::Open,
            author: ctx.principal.person(),
            create_time: now,
            update_time: now,
            published_revision: 0,
        };
        self.writer
            .write(ctx, request_id, |w| async move {
                store::insert_changeset(w.txn(), &cs).await?;
                let (head_revision, diffs) = self.render(w.txn(), &ics, &layer, &cs.changes).await?;
                let rendered = Rendered {
                    changeset: cs,
                    head_revision,
                    trust_diffs: diffs.unwrap_or_default(),
                };
                let trusts = if rendered.trust_diffs.is_empty() {
                    "no trust".to_owned()
                } else {
                    let keys: Vec<&str> = rendered.trust_diffs.keys().map(String::as_str).collect();
                    keys.join(", ")
                };
                w.audit(
                    "changeset.create",
                    &rendered.changeset.name(),
                    format!(
                        "changeset of {} changes to {} proposed under {} (changes the configuration of {trusts})",
                        rendered.changeset.changes.len(),
                        layer.as_str(),
                        rendered.changeset.change_request,
                    ),
                );
                Ok(reply(&rendered))
            })
            .await
    }

    /// Reads a changeset; an open one is rendered against the layer's newest revision.
    pub async fn get_changeset(&self, ctx: &RequestContext, name: &str) -> Result<Rendered> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        let cs = store::changeset(self.db().conn(), &ics, &id, false)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
        if cs.state != ChangesetState::Open {
            return Ok(Rendered {
                head_revision: 0,
                trust_diffs: BTreeMap::new(),
                changeset: cs,
            });
        }
        let (head_revision, diffs) = self
            .render(self.db().conn(), &ics, &cs.layer, &cs.changes)
            .await?;
        Ok(Rendered {
            changeset: cs,
            head_revision,
            trust_diffs: diffs.unwrap_or_default(),
        })
    }

    /// Lists changesets, newest first.
    pub async fn list_changesets(
        &self,
        ctx: &RequestContext,
        parent: &str,
        layer: &str,
        state: Option<ChangesetState>,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Changeset>, String)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let layer = if layer.is_empty() {
            None
        } else {
            let (l_ics, l) = parse_layer("layer", layer)?;
            if l_ics != ics {
                return Err(invalid("layer", "must be a layer of the same ICS"));
            }
            Some(l)
        };
        let limit = page_limit(page_size, 50, 500)?;
        let query = json!({"parent": parent, "layer": layer.as_ref().map(LayerId::as_str), "state": state.map(ChangesetState::as_str)});
        let after = self.decode_time_cursor(page_token, &query)?;
        let mut list = store::changesets(
            self.db().conn(),
            &ics,
            layer.as_ref(),
            state,
            after,
            limit + 1,
        )
        .await?;
        let next = self.time_cursor_page(&mut list, limit, &query, |c| (c.create_time, &c.id));
        Ok((list, next))
    }

    /// Discards an open changeset (its author or ics-admin).
    pub async fn discard_changeset<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        reply: impl FnOnce(&Changeset) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let mut cs = store::changeset(w.txn(), &ics, &id, true)
                    .await?
                    .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
                if !ctx.principal.is(&cs.author) && !ctx.principal.has(Role::IcsAdmin) {
                    let message = format!(
                        "only {} (the author) or ics-admin may discard it",
                        cs.author
                    );
                    let reason = (self.name_reason)(RefusalReason::NotAuthor);
                    let refusal = w.refuse(reason.0, reason.1, name, message);
                    return Err(ConfigError::NotAuthor(refusal));
                }
                closed_check(&cs)?;
                cs.state = ChangesetState::Discarded;
                cs.update_time = w.now();
                store::update_changeset_state(w.txn(), &cs).await?;
                w.audit(
                    "changeset.discard",
                    name,
                    format!("changeset of {} discarded", cs.layer.as_str()),
                );
                Ok(reply(&cs))
            })
            .await
    }
}
