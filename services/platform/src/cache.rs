//! A cache of read results that never change once made (a page of a configuration at a published
//! revision, say), bounded by their size and evicting the least recently used.
//!
//! Entries are shared (`Arc`), so a hit costs a map lookup and a reference count, whatever the
//! size of the result. Only results that cannot go stale belong here: the key must name
//! everything the result depends on (an immutable revision, its content hash), because nothing
//! is ever invalidated.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A least-recently-used cache of at most `capacity` bytes, as the caller measures its entries.
pub struct Cache<K, V> {
    capacity: usize,
    state: Mutex<State<K, V>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

struct State<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Keys by when they were last used, oldest first.
    by_use: BTreeMap<u64, K>,
    bytes: usize,
    tick: u64,
}

struct Entry<V> {
    value: Arc<V>,
    bytes: usize,
    used: u64,
}

/// What a cache holds and how it has been used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries held.
    pub entries: usize,
    /// Bytes held, as measured at insertion.
    pub bytes: usize,
    /// Lookups that found their entry.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
}

impl<K: Hash + Eq + Clone, V> Cache<K, V> {
    /// An empty cache of at most `capacity` bytes; 0 holds nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(State {
                entries: HashMap::new(),
                by_use: BTreeMap::new(),
                bytes: 0,
                tick: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The entry of `key`, if held; it becomes the most recently used.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        if self.capacity == 0 {
            return None;
        }
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        state.tick += 1;
        let tick = state.tick;
        let Some(entry) = state.entries.get_mut(key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if let Some(k) = state.by_use.remove(&entry.used) {
            state.by_use.insert(tick, k);
        }
        entry.used = tick;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(entry.value.clone())
    }

    /// Holds `value` under `key`, measured as `bytes`, evicting the least recently used entries
    /// to make room; a value larger than the whole cache is not held. Returns the value, shared.
    pub fn insert(&self, key: K, value: V, bytes: usize) -> Arc<V> {
        let value = Arc::new(value);
        if self.capacity == 0 || bytes > self.capacity {
            return value;
        }
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        if let Some(old) = state.entries.remove(&key) {
            state.by_use.remove(&old.used);
            state.bytes -= old.bytes;
        }
        while state.bytes + bytes > self.capacity {
            let Some((_, oldest)) = state.by_use.pop_first() else {
                break;
            };
            if let Some(old) = state.entries.remove(&oldest) {
                state.bytes -= old.bytes;
            }
        }
        state.tick += 1;
        let tick = state.tick;
        state.by_use.insert(tick, key.clone());
        state.entries.insert(
            key,
            Entry {
                value: value.clone(),
                bytes,
                used: tick,
            },
        );
        state.bytes += bytes;
        value
    }

    /// Drops the entry of `key`, if held (those still using it keep their share).
    pub fn remove(&self, key: &K) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        if let Some(old) = state.entries.remove(key) {
            state.by_use.remove(&old.used);
            state.bytes -= old.bytes;
        }
    }

    /// What the cache holds and how it has been used.
    pub fn stats(&self) -> CacheStats {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        CacheStats {
            entries: state.entries.len(),
            bytes: state.bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// A cache's [`CacheStats`] as Prometheus metrics, read when scraped:
/// `concordat_read_cache_bytes`, `_entries`, `_hits_total` and `_misses_total`, labelled with the
/// cache's name.
pub struct CacheMetrics {
    stats: Box<dyn Fn() -> CacheStats + Send + Sync>,
    name: String,
    descs: Vec<prometheus::core::Desc>,
}

impl CacheMetrics {
    /// The metrics of the cache whose stats `stats` reads, named `name`.
    pub fn new(name: &str, stats: impl Fn() -> CacheStats + Send + Sync + 'static) -> Self {
        let mut metrics = Self {
            stats: Box::new(stats),
            name: name.to_owned(),
            descs: Vec::new(),
        };
        metrics.descs = metrics
            .measured(CacheStats {
                entries: 0,
                bytes: 0,
                hits: 0,
                misses: 0,
            })
            .iter()
            .flat_map(|c| c.desc().into_iter().cloned())
            .collect();
        metrics
    }

    fn measured(&self, stats: CacheStats) -> Vec<Box<dyn prometheus::core::Collector>> {
        use prometheus::{IntCounter, IntGauge, Opts};
        let opts = |name: &str, help: &str| Opts::new(name, help).const_label("cache", &self.name);
        let gauge = |name: &str, help: &str, value: usize| {
            let g = IntGauge::with_opts(opts(name, help)).ok()?;
            g.set(i64::try_from(value).unwrap_or(i64::MAX));
            Some(Box::new(g) as Box<dyn prometheus::core::Collector>)
        };
        let counter = |name: &str, help: &str, value: u64| {
            let c = IntCounter::with_opts(opts(name, help)).ok()?;
            c.inc_by(value);
            Some(Box::new(c) as Box<dyn prometheus::core::Collector>)
        };
        [
            gauge(
                "concordat_read_cache_bytes",
                "Bytes held, as the cache measures its entries",
                stats.bytes,
            ),
            gauge(
                "concordat_read_cache_entries",
                "Entries held",
                stats.entries,
            ),
            counter(
                "concordat_read_cache_hits_total",
                "Lookups that found their entry",
                stats.hits,
            ),
            counter(
                "concordat_read_cache_misses_total",
                "Lookups that did not",
                stats.misses,
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl prometheus::core::Collector for CacheMetrics {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.measured((self.stats)())
            .iter()
            .flat_map(|c| c.collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_to_stay_within_its_bytes() {
        let cache = Cache::new(100);
        cache.insert("a", 1, 40);
        cache.insert("b", 2, 40);
        assert_eq!(cache.get(&"a").as_deref(), Some(&1)); // "b" is now the oldest
        cache.insert("c", 3, 40);
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"a").as_deref(), Some(&1));
        assert_eq!(cache.get(&"c").as_deref(), Some(&3));
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes), (2, 80));
        assert_eq!((stats.hits, stats.misses), (3, 1));
    }

    #[test]
    fn a_value_larger_than_the_cache_or_a_zero_cache_holds_nothing() {
        let cache = Cache::new(10);
        assert_eq!(*cache.insert("big", 7, 11), 7);
        assert_eq!(cache.get(&"big"), None);
        let off = Cache::new(0);
        off.insert("a", 1, 0);
        assert_eq!(off.get(&"a"), None);
        assert_eq!(off.stats().entries, 0);
    }

    #[test]
    fn a_removed_entry_frees_its_bytes_and_is_shared_until_dropped() {
        let cache = Cache::new(100);
        cache.insert("a", 1, 60);
        let held = cache.get(&"a");
        cache.remove(&"a");
        cache.remove(&"absent");
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(held.as_deref(), Some(&1));
        assert_eq!((cache.stats().entries, cache.stats().bytes), (0, 0));
        cache.insert("b", 2, 100);
        assert_eq!(cache.get(&"b").as_deref(), Some(&2));
    }

    #[test]
    fn its_metrics_are_read_when_scraped() {
        use prometheus::core::Collector;
        let cache = Arc::new(Cache::new(100));
        let registry = prometheus::Registry::new();
        let seen = cache.clone();
        registry
            .register(Box::new(CacheMetrics::new("pages", move || seen.stats())))
            .unwrap();
        cache.insert("a", 1, 40);
        cache.get(&"a");
        cache.get(&"b");
        let mut text = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut text,
        )
        .unwrap();
        let text = String::from_utf8(text).unwrap();
        for line in [
            "concordat_read_cache_bytes{cache=\"pages\"} 40",
            "concordat_read_cache_entries{cache=\"pages\"} 1",
            "concordat_read_cache_hits_total{cache=\"pages\"} 1",
            "concordat_read_cache_misses_total{cache=\"pages\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
        assert_eq!(
            CacheMetrics::new("x", move || cache.stats()).desc().len(),
            4
        );
    }

    #[test]
    fn replacing_a_key_counts_its_bytes_once() {
        let cache = Cache::new(100);
        cache.insert("a", 1, 60);
        cache.insert("a", 2, 70);
        assert_eq!(cache.get(&"a").as_deref(), Some(&2));
        assert_eq!(cache.stats().bytes, 70);
        cache.insert("b", 3, 30);
        assert_eq!(cache.stats().bytes, 100);
        cache.insert("c", 4, 1);
        assert_eq!(cache.get(&"a"), None, "the least recently used goes first");
        assert_eq!(cache.stats().bytes, 31);
    }
}
