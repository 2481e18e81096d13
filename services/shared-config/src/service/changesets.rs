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
        validated: Option<Validated>,
    ) -> Result<(i64, Option<BTreeMap<String, Changes>>)> {
        let head = self.head_revision(c, ics, layer).await?;
        let now = self.writer.clock().now();
        let keys: BTreeSet<Key> = changes.iter().map(|ch| ch.key().clone()).collect();
        let (current, after_entries) = match validated {
            // Validated against the head it is rendered against: not read and applied again.
            Some(v) if v.at == head => (v.current, v.after),
            _ => {
                let current = store::content_of_keys(c, ics, layer, head, &keys).await?;
                let Ok(after) = changeset::apply(&publish::entries(&current), changes) else {
                    return Ok((head, None));
                };
                (current, after)
            }
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
                (now, now),
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

    /// Refuses variation terms naming a hazard that change control does not have: each hazard's
    /// change request is asked once for its hazard log, with the caller's credentials.
    async fn check_hazards(&self, changes: &[Change<Entry>], caller: &Caller) -> Result<()> {
        let named: Vec<(usize, &str)> = changes
            .iter()
            .enumerate()
            .filter_map(|(i, ch)| match ch {
                Change::Add(_, e) | Change::Modify(_, e) if !e.variation.hazard.is_empty() => {
                    Some((i, e.variation.hazard.as_str()))
                }
                _ => None,
            })
            .collect();
        let mut logs: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut violations = Vec::new();
        for (i, hazard) in named {
            let cr = hazard.rsplitn(3, '/').nth(2).unwrap_or_default();
            if !logs.contains_key(cr) {
                let log = match self.change_requests.hazards(cr, caller).await {
                    Ok(log) => log,
                    Err(UpstreamError::Unknown { .. }) => BTreeSet::new(),
                    Err(other) => return Err(other.into()),
                };
                logs.insert(cr, log);
            }
            if !logs.get(cr).is_some_and(|log| log.contains(hazard)) {
                violations.push((
                    format!("changeset.changes[{i}].item.variation.hazard"),
                    format!("{hazard} is not in change control's hazard log"),
                ));
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(violations))
        }
    }

    /// Checks `changes` to `layer` at revision `at`, proposed under `change_request` at `now`:
    /// every violation at once. Returns the layer's entries of the keys at `at`, the entries
    /// after the changes, and the ICS's kinds.
    pub(super) async fn validate(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
        changes: &[Change<Entry>],
        at: i64,
        (change_request, now): (&str, DateTime<Utc>),
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
        violations.extend(crate::domain::variation::validate_variations(
            ics, layer, changes, now,
        ));
        let current = store::content_of_keys(c, ics, layer, at, &keys).await?;
        violations.extend(crate::domain::variation::check_renewals(
            &current,
            changes,
            change_request,
            now,
        ));
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
        caller: &Caller,
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
        let (current, after, _) = self
            .validate(
                self.db().conn(),
                &ics,
                &layer,
                &new.changes,
                base,
                (&new.change_request, self.writer.clock().now()),
            )
            .await?;
        self.check_hazards(&new.changes, caller).await?;
        let validated = Validated {
            at: base,
            current,
            after,
        };
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
                let (head_revision, diffs) = self
                    .render(w.txn(), &ics, &layer, &cs.changes, Some(validated))
                    .await?;
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
            .render(self.db().conn(), &ics, &cs.layer, &cs.changes, None)
            .await?;
        Ok(Rendered {
            changeset: cs,
            head_revision,
            trust_diffs: diffs.unwrap_or_default(),
        })
    }

    /// A page of a changeset's changes: at most `page_size` (default 1,000) and [`PAGE_BYTES`] as
    /// `size` measures them, with the next page's token.
    pub async fn changeset_changes(
        &self,
        ctx: &RequestContext,
        name: &str,
        page_size: i32,
        page_token: &str,
        size: fn(&Change<Entry>) -> usize,
    ) -> Result<(Vec<Change<Entry>>, String)> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        let limit = page_limit(page_size, 1_000, 10_000)?;
        let start = match self.decode_token(page_token)? {
            Some(t) if t["name"] == json!(name) => t["index"].as_u64().unwrap_or_default(),
            Some(_) => return Err(invalid("page_token", "belongs to another query")),
            None => 0,
        };
        let cs = store::changeset(self.db().conn(), &ics, &id, false)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        let (page, next) = bounded_page(cs.changes.into_iter().skip(start), limit, size);
        let next = next.map_or(String::new(), |n| {
            self.encode_token(&json!({"name": name, "index": start + n}))
        });
        Ok((page, next))
    }

    /// A page of what an open changeset would do to one trust's effective configuration, at the
    /// layer's newest revision: `(head revision, differences, next page token)`.
    pub async fn changeset_diff(
        &self,
        ctx: &RequestContext,
        name: &str,
        trust: &str,
        page_size: i32,
        page_token: &str,
        size: DiffSize,
    ) -> Result<(i64, Vec<Difference>, String)> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        if trust.is_empty() {
            return Err(invalid("trust", "is required"));
        }
        self.require_known_trust("trust", &ics, trust)?;
        let limit = page_limit(page_size, 1_000, 10_000)?;
        let token = self.decode_token(page_token)?;
        if token
            .as_ref()
            .is_some_and(|t| t["name"] != json!(name) || t["trust"] != json!(trust))
        {
            return Err(invalid("page_token", "belongs to another query"));
        }
        let cs = store::changeset(self.db().conn(), &ics, &id, false)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
        closed_check(&cs)?;
        let (head, diffs) = self
            .render(self.db().conn(), &ics, &cs.layer, &cs.changes, None)
            .await?;
        if let Some(t) = &token
            && t["head"].as_i64() != Some(head)
        {
            return Err(invalid(
                "page_token",
                "the layer has moved on since the first page; start again",
            ));
        }
        let after = token.map(|t| {
            Key::new(
                t["kind"].as_str().unwrap_or_default(),
                t["key"].as_str().unwrap_or_default(),
            )
        });
        let mine = diffs.unwrap_or_default().remove(trust).unwrap_or_default();
        let mine = mine
            .iter()
            .filter(|d| after.as_ref().is_none_or(|a| &d.key > a))
            .cloned();
        let (page, next) = bounded_page(mine, limit, |d: &Difference| {
            size(&d.key, d.before.as_ref(), d.after.as_ref())
        });
        let next = match (next, page.last()) {
            (Some(_), Some(last)) => self.encode_token(&json!({
                "name": name, "trust": trust, "head": head,
                "kind": last.key.kind, "key": last.key.key,
            })),
            _ => String::new(),
        };
        Ok((head, page, next))
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

/// The first of `items`: at most `limit`, and no more than [`PAGE_BYTES`] as `size` measures them
/// (at least one); with how many were taken when more are left.
pub(super) fn bounded_page<T>(
    items: impl IntoIterator<Item = T>,
    limit: u64,
    size: impl Fn(&T) -> usize,
) -> (Vec<T>, Option<usize>) {
    let mut page = Vec::new();
    let mut bytes = 0;
    for item in items {
        let n = size(&item);
        if page.len() as u64 == limit || (!page.is_empty() && bytes + n > PAGE_BYTES) {
            let taken = page.len();
            return (page, Some(taken));
        }
        bytes += n;
        page.push(item);
    }
    (page, None)
}

/// A changeset's changes as validated: the layer's entries of its keys at revision `at` and the
/// entries after the changes.
pub(super) struct Validated {
    at: i64,
    current: Content,
    after: BTreeMap<Key, Entry>,
}
