//! The cache of baselines: an ICS's baseline at a published revision, each item rendered as the
//! adapter sends it, shared by every trust's effective configuration. With the baseline held, a
//! page of a trust's effective configuration reads only that trust's overlay rows; and a newer
//! baseline revision is made from the one held by reading only the keys changed between them, so
//! after a publish the first read costs what the publish changed, not the configuration.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use concordat_platform::cache::CacheStats;

use super::*;
use crate::domain::layer::{Governance, Local, Variation};
use crate::domain::resolve::{Merged, Resolved, Source};

/// How an adapter renders an effective item: as the cache of baselines keeps it and as a page
/// sends it.
pub trait RenderItem: Clone + Send + Sync + 'static {
    /// The item as sent.
    fn render(key: &Key, item: &Resolved) -> Self;
    /// The bytes [`RenderItem::render`] of the item takes on the wire, without rendering it.
    fn resolved_len(key: &Key, item: &Resolved) -> usize;
    /// This rendering of a baseline item with why the trust's overlay entry for its key was not
    /// applied.
    fn with_ignored(&self, why: String) -> Self;
    /// The bytes it takes on the wire.
    fn wire_len(&self) -> usize;
}

/// A baseline item as held: its key, the governance a trust's overlay entry is checked against,
/// and the item as the baseline puts it in force, rendered.
struct HeldItem<R> {
    key: Key,
    governance: Governance,
    rendered: R,
    wire: usize,
}

impl<R: RenderItem> HeldItem<R> {
    fn of(key: Key, placed: Placed) -> Self {
        let resolved = Resolved {
            value: placed.entry.value,
            source: Source::Baseline,
            provenance: placed.provenance,
            ignored: None,
            variation: Variation::default(),
        };
        let rendered = R::render(&key, &resolved);
        Self {
            wire: rendered.wire_len(),
            key,
            governance: placed.entry.governance,
            rendered,
        }
    }

    /// What holding it costs, roughly: its wire form, its key and the bookkeeping around them.
    fn bytes(&self) -> usize {
        self.wire + self.key.kind.len() + self.key.key.len() + std::mem::size_of::<Self>() + 24
    }
}

/// A baseline at one revision, in key order. Items are shared with the revisions made from it.
pub struct HeldBaseline<R> {
    items: Vec<Arc<HeldItem<R>>>,
}

impl<R: RenderItem> HeldBaseline<R> {
    fn bytes(&self) -> usize {
        self.items.iter().map(|i| i.bytes()).sum()
    }
}

/// A baseline revision as published: the number and its content hash, so a revision stored again
/// differently is never answered from what was held of the old one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct HeldKey {
    ics: String,
    revision: i64,
    content_hash: String,
}

/// Baselines recently read. Of each ICS, the two newest revisions held are kept (the newest, to
/// make the next from, and the one before, which readers paging an older revision may still be
/// reading); an older one is dropped when a newer is held.
pub struct BaselineCache<R> {
    held: Cache<HeldKey, HeldBaseline<R>>,
    /// The revisions held of each ICS's baseline, newest last, and the revisions too large to
    /// hold (read page by page instead).
    revisions: Mutex<Revisions>,
    /// One load at a time: readers arriving together wait for one read of the baseline.
    loading: tokio::sync::Mutex<()>,
    capacity: usize,
}

impl<R: RenderItem> BaselineCache<R> {
    /// An empty cache of at most `capacity` bytes (`server.read_cache_bytes`); 0 holds nothing,
    /// and every read then resolves the baseline's rows as it goes.
    pub fn new(capacity: usize) -> Self {
        Self {
            held: Cache::new(capacity),
            revisions: Mutex::new(Revisions::default()),
            loading: tokio::sync::Mutex::new(()),
            capacity,
        }
    }

    /// What the cache holds and how it has been used.
    pub fn stats(&self) -> CacheStats {
        self.held.stats()
    }

    fn revisions(&self) -> std::sync::MutexGuard<'_, Revisions> {
        self.revisions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds `baseline` as the revision `key` names, unless it is larger than the whole cache;
    /// drops what it supersedes.
    fn hold(&self, key: HeldKey, baseline: HeldBaseline<R>) -> Arc<HeldBaseline<R>> {
        let bytes = baseline.bytes();
        if bytes > self.capacity {
            remember(&mut self.revisions().not_held, key);
            return Arc::new(baseline);
        }
        let held = self.held.insert(key.clone(), baseline, bytes);
        let dropped = {
            let mut revisions = self.revisions();
            let of_ics = revisions.held.entry(key.ics.clone()).or_default();
            of_ics.retain(|k| k != &key);
            of_ics.push(key);
            of_ics.sort_by_key(|k| k.revision);
            let excess = of_ics.len().saturating_sub(2);
            of_ics.drain(..excess).collect::<Vec<_>>()
        };
        for old in dropped {
            self.held.remove(&old);
        }
        held
    }

    /// Whether `key` may be read whole now: the first time, yes. A revision read whole before
    /// and since evicted (baselines together larger than the cache, evicting each other) is read
    /// page by page from then on, as with the cache off, rather than whole again for each page.
    fn may_read_whole(&self, key: &HeldKey) -> bool {
        let mut revisions = self.revisions();
        if remember(&mut revisions.read_whole, key.clone()) {
            return true;
        }
        remember(&mut revisions.not_held, key.clone());
        false
    }
}

/// Adds `key` to `set`, which starts again when it reaches [`REMEMBERED`]; false if it was
/// there.
fn remember(set: &mut HashSet<HeldKey>, key: HeldKey) -> bool {
    if set.len() >= REMEMBERED {
        set.clear();
    }
    set.insert(key)
}

/// What [`BaselineCache`] knows of the revisions it has read.
#[derive(Default)]
struct Revisions {
    /// Of each ICS, the revisions held (the cache may have evicted them since), oldest first.
    held: HashMap<String, Vec<HeldKey>>,
    /// Revisions read whole.
    read_whole: HashSet<HeldKey>,
    /// Revisions read page by page instead: too large to hold, or evicted after a read whole.
    not_held: HashSet<HeldKey>,
}

/// How many revisions each set of [`Revisions`] remembers before it starts again.
const REMEMBERED: usize = 1_024;

/// Rows read at a time when a baseline is loaded whole.
const LOAD_ROWS: u64 = 10_000;

impl SharedConfig {
    /// The baseline of `ics` at `revision` (published, so it never changes), from the cache, made
    /// from the newest revision held when few keys changed since, or read whole; `None` when the
    /// cache is off.
    pub(super) async fn held_baseline<R: RenderItem>(
        &self,
        cache: &BaselineCache<R>,
        ics: &str,
        revision: i64,
    ) -> Result<Option<Arc<HeldBaseline<R>>>> {
        if cache.capacity == 0 {
            return Ok(None);
        }
        let c = self.db().conn();
        let layer = LayerId::Baseline;
        let content_hash = match store::revision(c, ics, &layer, revision).await? {
            Some(r) => r.content_hash,
            None if revision == 0 => String::new(),
            None => {
                return Err(ConfigError::NotFound(format!(
                    "icss/{ics}/layers/baseline/revisions/{revision}"
                )));
            }
        };
        let key = HeldKey {
            ics: ics.to_owned(),
            revision,
            content_hash,
        };
        if let Some(held) = cache.held.get(&key) {
            return Ok(Some(held));
        }
        if cache.revisions().not_held.contains(&key) {
            return Ok(None);
        }
        let _loading = cache.loading.lock().await;
        if let Some(held) = cache.held.get(&key) {
            return Ok(Some(held));
        }
        let newest = cache
            .revisions()
            .held
            .get(ics)
            .and_then(|of_ics| of_ics.last().cloned());
        let older = newest
            .filter(|k| k.revision < revision)
            .and_then(|k| cache.held.get(&k).map(|held| (k.revision, held)));
        if let Some((from, older)) = older {
            let changed = store::keys_changed_between(c, ics, &layer, from, revision).await?;
            if changed.len() <= older.items.len() / 4 {
                let now = store::content_of_keys(c, ics, &layer, revision, &changed).await?;
                return Ok(Some(cache.hold(key, patched(&older, &changed, now))));
            }
        }
        if !cache.may_read_whole(&key) {
            return Ok(None);
        }
        let mut items = Vec::new();
        loop {
            let after = items.last().map(|i: &Arc<HeldItem<R>>| &i.key);
            let rows =
                store::resolving_rows(c, ics, &layer, revision, None, after, Some(LOAD_ROWS))
                    .await?;
            let full = rows.len() as u64 == LOAD_ROWS;
            items.extend(rows.into_iter().map(|(k, p)| Arc::new(HeldItem::of(k, p))));
            if !full {
                break;
            }
        }
        Ok(Some(cache.hold(key, HeldBaseline { items })))
    }

    /// The items of an effective revision after `after`, as [`SharedConfig::effective_page`]
    /// pages them, with the baseline held: only the overlay's rows are read.
    pub(super) async fn held_page<R: RenderItem>(
        &self,
        ics: &str,
        record: &EffectiveRevision,
        baseline: &HeldBaseline<R>,
        kind_filter: Option<&str>,
        after: Option<&Key>,
        limit: u64,
    ) -> Result<(Vec<R>, Option<Key>)> {
        let fetch = limit + 1;
        let overlay = self
            .overlay_rows(ics, record, kind_filter, after, fetch)
            .await?;
        // Keys up to the overlay's last, when it filled its page, are complete; beyond it, the
        // next page reads on. The baseline, held whole, never bounds a page.
        let bound = (overlay.len() as u64 == fetch)
            .then(|| overlay.last().map(|(k, _)| k.clone()))
            .flatten();
        let start = baseline.items.partition_point(|i| {
            after.is_some_and(|a| i.key <= *a)
                || kind_filter.is_some_and(|k| i.key.kind.as_str() < k)
        });
        let held = baseline.items[start..]
            .iter()
            .take_while(|i| kind_filter.is_none_or(|k| i.key.kind == k));
        let overlay = overlay
            .into_iter()
            .map(|(k, p)| (k, publish::overlay_item(p)));
        let mut page = Vec::new();
        let mut last: Option<Cow<'_, Key>> = None;
        let mut bytes = 0;
        for merged in resolve::merge_sorted(held, overlay, |i| &i.key, |(k, _)| k) {
            let (key, item) = match merged {
                Merged::Baseline(i) => (Cow::Borrowed(&i.key), i.rendered.clone()),
                Merged::Both(i, (_, local)) => {
                    match resolve::not_applied(&i.governance, &local, record.publish_time) {
                        Some(why) => (Cow::Borrowed(&i.key), i.rendered.with_ignored(why)),
                        None => match local.local {
                            Local::Remove => continue,
                            Local::Set(value) => {
                                let resolved = Resolved {
                                    value,
                                    source: Source::Override,
                                    provenance: local.provenance,
                                    ignored: None,
                                    variation: local.variation,
                                };
                                (Cow::Borrowed(&i.key), R::render(&i.key, &resolved))
                            }
                        },
                    }
                }
                Merged::Overlay((key, local)) => {
                    match resolve::local_only(key, local, record.publish_time) {
                        Some((key, resolved)) => {
                            let item = R::render(&key, &resolved);
                            (Cow::Owned(key), item)
                        }
                        None => continue,
                    }
                }
            };
            if bound.as_ref().is_some_and(|b| key.as_ref() > b) {
                break;
            }
            let n = item.wire_len();
            if page.len() as u64 == limit || (!page.is_empty() && bytes + n > PAGE_BYTES) {
                return Ok((page, last.map(Cow::into_owned)));
            }
            bytes += n;
            page.push(item);
            last = Some(key);
        }
        Ok((page, bound))
    }
}

/// `older` with `changed` keys as they are in `now` (a key of `changed` missing from `now` was
/// removed): a merge of the two in key order, sharing every unchanged item.
fn patched<R: RenderItem>(
    older: &HeldBaseline<R>,
    changed: &BTreeSet<Key>,
    mut now: Content,
) -> HeldBaseline<R> {
    let mut items = Vec::with_capacity(older.items.len() + now.len());
    for merged in resolve::merge_sorted(&older.items, changed, |i| &i.key, |k| *k) {
        match merged {
            Merged::Baseline(i) => items.push(i.clone()),
            Merged::Both(_, key) | Merged::Overlay(key) => {
                if let Some((key, placed)) = now.remove_entry(key) {
                    items.push(Arc::new(HeldItem::of(key, placed)));
                }
            }
        }
    }
    HeldBaseline { items }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rendering that shows what was rendered: the key, the value and any refusal.
    #[derive(Clone, Debug, PartialEq)]
    struct Shown(String);

    impl RenderItem for Shown {
        fn render(key: &Key, item: &Resolved) -> Self {
            Shown(format!("{key}={}", item.value))
        }
        fn resolved_len(key: &Key, item: &Resolved) -> usize {
            Self::render(key, item).0.len()
        }
        fn with_ignored(&self, why: String) -> Self {
            Shown(format!("{} ({why})", self.0))
        }
        fn wire_len(&self) -> usize {
            self.0.len()
        }
    }

    fn placed(value: i64) -> Placed {
        Placed {
            entry: Entry {
                value: json!(value),
                ..Entry::default()
            },
            provenance: Provenance::default(),
        }
    }

    fn held(keys: &[(&str, i64)]) -> HeldBaseline<Shown> {
        let items = keys
            .iter()
            .map(|(k, v)| Arc::new(HeldItem::of(Key::new("k", k), placed(*v))))
            .collect();
        HeldBaseline { items }
    }

    fn shown(b: &HeldBaseline<Shown>) -> Vec<String> {
        b.items.iter().map(|i| i.rendered.0.clone()).collect()
    }

    fn key(revision: i64) -> HeldKey {
        HeldKey {
            ics: "QUE".into(),
            revision,
            content_hash: format!("h{revision}"),
        }
    }

    #[test]
    fn of_an_ics_the_two_newest_revisions_are_held() {
        let cache = BaselineCache::new(1 << 20);
        for revision in [1, 3, 2] {
            cache.hold(key(revision), held(&[("a", revision)]));
        }
        let held_now = |revision| cache.held.get(&key(revision)).is_some();
        assert_eq!([held_now(1), held_now(2), held_now(3)], [false, true, true]);
        assert_eq!(cache.revisions().held["QUE"], [key(2), key(3)]);
        assert_eq!(cache.stats().entries, 2);
    }

    #[test]
    fn a_baseline_larger_than_the_cache_is_remembered_as_such_not_held() {
        let big = held(&[("a", 1), ("b", 2)]);
        let cache = BaselineCache::new(big.bytes() - 1);
        let answered = cache.hold(key(1), big);
        assert_eq!(shown(&answered), ["k/a=1", "k/b=2"]);
        assert_eq!(cache.stats().entries, 0);
        assert!(cache.revisions().not_held.contains(&key(1)));
    }

    #[test]
    fn a_revision_is_read_whole_once_and_page_by_page_once_evicted() {
        let cache: BaselineCache<Shown> = BaselineCache::new(1 << 20);
        assert!(cache.may_read_whole(&key(1)));
        assert!(cache.may_read_whole(&key(2)));
        assert!(
            !cache.may_read_whole(&key(1)),
            "evicted since: page by page"
        );
        assert!(cache.revisions().not_held.contains(&key(1)));
        assert!(!cache.revisions().not_held.contains(&key(2)));
    }

    #[test]
    fn a_patch_adds_modifies_and_removes_the_changed_keys_and_shares_the_rest() {
        let older = held(&[("a", 1), ("c", 3), ("e", 5), ("g", 7)]);
        let changed: BTreeSet<Key> = ["b", "c", "g", "h"]
            .iter()
            .map(|k| Key::new("k", k))
            .collect();
        // `b` and `h` added, `c` modified, `g` removed (changed, but not in force now).
        let now: Content = [("b", 2), ("c", 30), ("h", 8)]
            .iter()
            .map(|(k, v)| (Key::new("k", k), placed(*v)))
            .collect();
        let newer = patched(&older, &changed, now);
        assert_eq!(
            shown(&newer),
            ["k/a=1", "k/b=2", "k/c=30", "k/e=5", "k/h=8"]
        );
        assert!(Arc::ptr_eq(&older.items[0], &newer.items[0]));
        assert!(Arc::ptr_eq(&older.items[2], &newer.items[3]));
    }
}
