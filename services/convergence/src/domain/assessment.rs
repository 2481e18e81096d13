//! Assessment: a trust's imported build (its snapshot) compared, key by key, with what its
//! governance says the build should be — the baseline, and the trust's variations in force — and
//! the scores a board reads per trust and clinical domain.
//!
//! One function classifies ([`classify`]) and one scores ([`score`]); the API, the command line
//! and the board report all call them, so a key is never counted one way in one place and another
//! way elsewhere.

use std::collections::BTreeMap;

/// What one key of an assessment is. Every key falls in exactly one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// The snapshot holds the baseline's value.
    Aligned,
    /// The snapshot holds the value of a variation in force (or lacks a key a variation in force
    /// removes).
    VariedApproved,
    /// The snapshot still holds a variation that has expired.
    VariedExpired,
    /// The snapshot differs from what was approved.
    Divergent,
    /// In the baseline (or a variation in force), not in the snapshot.
    Missing,
    /// In the snapshot, governed by nothing.
    LocalOnly,
    /// The snapshot's value fails its kind's schema (or its kind is unknown).
    Nonconforming,
}

impl Class {
    /// Every class, in the order reports list them.
    pub const ALL: [Class; 7] = [
        Class::Aligned,
        Class::VariedApproved,
        Class::VariedExpired,
        Class::Divergent,
        Class::Missing,
        Class::LocalOnly,
        Class::Nonconforming,
    ];

    /// Its name, as stored and as the proto's enum value without its prefix.
    pub fn name(self) -> &'static str {
        match self {
            Class::Aligned => "ALIGNED",
            Class::VariedApproved => "VARIED_APPROVED",
            Class::VariedExpired => "VARIED_EXPIRED",
            Class::Divergent => "DIVERGENT",
            Class::Missing => "MISSING",
            Class::LocalOnly => "LOCAL_ONLY",
            Class::Nonconforming => "NONCONFORMING",
        }
    }

    /// The class named `name` ([`Class::name`]).
    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the key counts against the trust: it is governed and the build is not what was
    /// approved.
    pub fn is_gap(self) -> bool {
        matches!(
            self,
            Class::VariedExpired | Class::Divergent | Class::Missing | Class::Nonconforming
        )
    }
}

/// How far trusts may vary a baseline key: the classes the divergence weights are set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GovernanceClass {
    /// No trust may vary it.
    Locked,
    /// Trusts may vary it within bounds.
    Bounded,
    /// Trusts may override or remove it.
    Overridable,
}

impl GovernanceClass {
    /// Every governance class.
    pub const ALL: [GovernanceClass; 3] = [
        GovernanceClass::Locked,
        GovernanceClass::Bounded,
        GovernanceClass::Overridable,
    ];

    /// Its name, as stored and as the proto's enum value without its prefix.
    pub fn name(self) -> &'static str {
        match self {
            GovernanceClass::Locked => "LOCKED",
            GovernanceClass::Bounded => "BOUNDED",
            GovernanceClass::Overridable => "OVERRIDABLE",
        }
    }

    /// The governance class named `name` ([`GovernanceClass::name`]).
    pub fn parse(name: &str) -> Option<GovernanceClass> {
        GovernanceClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What a trust's variation does with a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Varied<V> {
    /// The trust's approved value.
    Set(V),
    /// The trust does without the baseline's item.
    Remove,
}

/// A trust's variation of a key, with whether it is in force at the assessment's time (decided
/// by shared configuration's one rule, and passed in).
#[derive(Debug, Clone, PartialEq)]
pub struct Variation<V> {
    /// What it does.
    pub varied: Varied<V>,
    /// Whether it is in force at the assessment's time.
    pub in_force: bool,
}

impl<V> Variation<V> {
    /// A trust's variation that lapses at `expires`, of a baseline key governed as `governance`
    /// (`None`: the baseline lacks the key), as it stands at `at`: in force while shared
    /// configuration's one rule ([`concordat_shared_config::domain::layer::in_force`]) says so
    /// and the baseline admits a variation at all (a locked key admits none).
    pub fn at(
        varied: Varied<V>,
        expires: Option<chrono::DateTime<chrono::Utc>>,
        governance: Option<GovernanceClass>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let admitted = governance != Some(GovernanceClass::Locked);
        Variation {
            varied,
            in_force: admitted && concordat_shared_config::domain::layer::in_force(expires, at),
        }
    }
}

/// What is known of one key: the baseline's value and governance, the trust's variation, the
/// snapshot's value and whether that value conforms to its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyFacts<V> {
    /// The baseline's value and governance, if the baseline has the key.
    pub baseline: Option<(V, GovernanceClass)>,
    /// The trust's variation of the key, if it has one.
    pub variation: Option<Variation<V>>,
    /// The snapshot's value, if the snapshot has the key, and whether it conforms to its kind.
    pub snapshot: Option<(V, bool)>,
}

impl<V> KeyFacts<V> {
    /// Whether anything governs the key: the baseline or a variation (in force or not).
    pub fn governed(&self) -> bool {
        self.baseline.is_some() || self.variation.is_some()
    }

    /// The governance class whose weight the key carries: the baseline's, or overridable for a
    /// key only a variation governs.
    pub fn governance(&self) -> GovernanceClass {
        self.baseline
            .as_ref()
            .map_or(GovernanceClass::Overridable, |(_, g)| *g)
    }
}

/// The class of one key. Total: every combination of facts gives exactly one class.
///
/// In order: a snapshot value that fails its schema is NONCONFORMING; a key nothing governs is
/// LOCAL_ONLY; the baseline's value is ALIGNED (even where an expired variation held it too); a
/// variation in force's value, or its removal honoured, is VARIED_APPROVED; an expired
/// variation's value, or its removal still in place, is VARIED_EXPIRED; a governed key the
/// snapshot lacks is MISSING; anything else is DIVERGENT.
pub fn classify<V: PartialEq>(facts: &KeyFacts<V>) -> Class {
    let Some((value, conforms)) = &facts.snapshot else {
        return match &facts.variation {
            Some(Variation {
                varied: Varied::Remove,
                in_force: true,
            }) => Class::VariedApproved,
            Some(Variation {
                varied: Varied::Remove,
                in_force: false,
            }) => Class::VariedExpired,
            _ => Class::Missing,
        };
    };
    if !conforms {
        return Class::Nonconforming;
    }
    if !facts.governed() {
        return Class::LocalOnly;
    }
    if facts.baseline.as_ref().is_some_and(|(b, _)| b == value) {
        return Class::Aligned;
    }
    match &facts.variation {
        Some(Variation {
            varied: Varied::Set(v),
            in_force,
        }) if v == value => {
            if *in_force {
                Class::VariedApproved
            } else {
                Class::VariedExpired
            }
        }
        _ => Class::Divergent,
    }
}

/// How many keys of each class, and their governance-weighted total.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Counts {
    /// Keys per class.
    pub by_class: BTreeMap<Class, u64>,
    /// Governed keys (every class but LOCAL_ONLY, and NONCONFORMING keys nothing governs).
    pub governed: u64,
    /// The weights of the governed keys.
    pub governed_weight: f64,
    /// The weights of the governed keys that are gaps ([`Class::is_gap`]).
    pub gap_weight: f64,
}

impl Counts {
    /// Keys of `class`.
    pub fn of(&self, class: Class) -> u64 {
        self.by_class.get(&class).copied().unwrap_or(0)
    }

    /// Adds one key.
    pub fn add(&mut self, class: Class, governed: bool, weight: f64) {
        self.add_many(class, governed, weight, 1);
    }

    /// Adds `n` keys alike.
    pub fn add_many(&mut self, class: Class, governed: bool, weight: f64, n: u64) {
        *self.by_class.entry(class).or_insert(0) += n;
        if governed {
            self.governed += n;
            self.governed_weight += weight * n as f64;
            if class.is_gap() {
                self.gap_weight += weight * n as f64;
            }
        }
    }

    /// Adds another count.
    pub fn merge(&mut self, other: &Counts) {
        for (class, n) in &other.by_class {
            *self.by_class.entry(*class).or_insert(0) += n;
        }
        self.governed += other.governed;
        self.governed_weight += other.governed_weight;
        self.gap_weight += other.gap_weight;
    }
}

/// The divergence weight of each governance class, set per ICS: a locked key out of line
/// matters more than an overridable one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Weight of a locked key.
    pub locked: f64,
    /// Weight of a bounded key.
    pub bounded: f64,
    /// Weight of an overridable key.
    pub overridable: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            locked: 3.0,
            bounded: 2.0,
            overridable: 1.0,
        }
    }
}

impl Weights {
    /// The weight of `class`.
    pub fn of(&self, class: GovernanceClass) -> f64 {
        match class {
            GovernanceClass::Locked => self.locked,
            GovernanceClass::Bounded => self.bounded,
            GovernanceClass::Overridable => self.overridable,
        }
    }

    /// Why the weights cannot be used, if they cannot: each finite and positive.
    pub fn check(&self) -> Result<(), String> {
        for (name, w) in [
            ("locked", self.locked),
            ("bounded", self.bounded),
            ("overridable", self.overridable),
        ] {
            if !w.is_finite() || w <= 0.0 {
                return Err(format!("the {name} weight must be a positive number"));
            }
        }
        Ok(())
    }
}

/// A band of the grid: the lowest convergence it takes, and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// The lowest convergence (0–1) in the band.
    pub from: f64,
    /// What a board calls it, e.g. `converged`.
    pub label: String,
}

/// The bands a cell's convergence falls in, highest first, set per ICS.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid(Vec<Band>);

impl Default for Grid {
    fn default() -> Self {
        Grid(vec![
            Band {
                from: 0.95,
                label: "converged".into(),
            },
            Band {
                from: 0.80,
                label: "close".into(),
            },
            Band {
                from: 0.50,
                label: "apart".into(),
            },
            Band {
                from: 0.0,
                label: "far".into(),
            },
        ])
    }
}

impl Grid {
    /// A grid from its bands: at least one, thresholds in [0, 1], strictly decreasing, the last
    /// at 0 so every convergence has a band, labels non-empty and distinct.
    pub fn new(bands: Vec<Band>) -> Result<Self, String> {
        let Some(last) = bands.last() else {
            return Err("a grid needs at least one band".into());
        };
        if last.from != 0.0 {
            return Err("the last band must start at 0 so every score has a band".into());
        }
        for (i, band) in bands.iter().enumerate() {
            if !(0.0..=1.0).contains(&band.from) {
                return Err(format!("band {i} must start between 0 and 1"));
            }
            if band.label.trim().is_empty() {
                return Err(format!("band {i} needs a label"));
            }
            if i > 0 && bands[i - 1].from <= band.from {
                return Err(format!("band {i} must start below band {}", i - 1));
            }
            if bands[..i].iter().any(|b| b.label == band.label) {
                return Err(format!("band {i} repeats the label `{}`", band.label));
            }
        }
        Ok(Grid(bands))
    }

    /// The bands, highest first.
    pub fn bands(&self) -> &[Band] {
        &self.0
    }

    /// The label of the band `convergence` falls in.
    pub fn band(&self, convergence: f64) -> &str {
        self.0
            .iter()
            .find(|b| convergence >= b.from)
            .or(self.0.last())
            .map_or("", |b| b.label.as_str())
    }
}

/// The scores of one trust × domain cell (or a whole trust).
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Aligned keys ÷ governed keys (1 when nothing is governed).
    pub convergence: f64,
    /// (Aligned + approved variations) ÷ governed keys (1 when nothing is governed).
    pub conformance: f64,
    /// Weight of the gaps ÷ weight of the governed keys (0 when nothing is governed).
    pub weighted_divergence: f64,
    /// The grid's band for `convergence`.
    pub band: String,
}

/// The scores of `counts`. Every score lies in [0, 1]; convergence ≤ conformance.
pub fn score(counts: &Counts, grid: &Grid) -> Scores {
    let ratio = |n: u64, of: u64| if of == 0 { 1.0 } else { n as f64 / of as f64 };
    let aligned = counts.of(Class::Aligned);
    let convergence = ratio(aligned, counts.governed).min(1.0);
    let conformance = ratio(aligned + counts.of(Class::VariedApproved), counts.governed).min(1.0);
    let weighted_divergence = if counts.governed_weight > 0.0 {
        (counts.gap_weight / counts.governed_weight).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Scores {
        convergence,
        conformance,
        weighted_divergence,
        band: grid.band(convergence).to_owned(),
    }
}

/// Keys per class and governance class (`None`: governed by nothing): what an assessment
/// records, so that its scores can be made again with whatever weights the ICS sets later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally(BTreeMap<(Class, Option<GovernanceClass>), u64>);

impl Tally {
    /// Adds one key of `class`, governed as `governance`.
    pub fn add(&mut self, class: Class, governance: Option<GovernanceClass>) {
        self.add_many(class, governance, 1);
    }

    /// Adds `n` keys alike.
    pub fn add_many(&mut self, class: Class, governance: Option<GovernanceClass>, n: u64) {
        if n > 0 {
            *self.0.entry((class, governance)).or_insert(0) += n;
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &Tally) {
        for ((class, governance), n) in &other.0 {
            self.add_many(*class, *governance, *n);
        }
    }

    /// Every (class, governance, keys), in order.
    pub fn entries(&self) -> impl Iterator<Item = (Class, Option<GovernanceClass>, u64)> + '_ {
        self.0.iter().map(|((c, g), n)| (*c, *g, *n))
    }

    /// Keys of `class`, however governed.
    pub fn of(&self, class: Class) -> u64 {
        self.entries()
            .filter(|(c, _, _)| *c == class)
            .map(|(_, _, n)| n)
            .sum()
    }

    /// The counts and weights under `weights`.
    pub fn counts(&self, weights: &Weights) -> Counts {
        let mut counts = Counts::default();
        for (class, governance, n) in self.entries() {
            let weight = weights.of(governance.unwrap_or(GovernanceClass::Overridable));
            counts.add_many(class, governance.is_some(), weight, n);
        }
        counts
    }
}

/// Classifies every key of a trust and tallies them per domain: `domain_of` names the clinical
/// domain of a key's kind. Returns each key's class, and the tally per domain.
pub fn tally<K, V: PartialEq>(
    keys: impl IntoIterator<Item = (K, KeyFacts<V>)>,
    domain_of: impl Fn(&K) -> String,
) -> (Vec<(K, Class)>, BTreeMap<String, Tally>) {
    let mut classes = Vec::new();
    let mut cells: BTreeMap<String, Tally> = BTreeMap::new();
    for (key, facts) in keys {
        let class = classify(&facts);
        let governance = facts.governed().then(|| facts.governance());
        cells
            .entry(domain_of(&key))
            .or_default()
            .add(class, governance);
        classes.push((key, class));
    }
    (classes, cells)
}

/// Classifies every key of a trust and counts them per domain: `domain_of` names the clinical
/// domain of a key's kind. Returns each key's class, and the counts per domain.
pub fn assess<K: Ord + Clone, V: PartialEq>(
    keys: impl IntoIterator<Item = (K, KeyFacts<V>)>,
    domain_of: impl Fn(&K) -> String,
    weights: &Weights,
) -> (Vec<(K, Class)>, BTreeMap<String, Counts>) {
    let (classes, tallies) = tally(keys, domain_of);
    let cells = tallies
        .into_iter()
        .map(|(domain, t)| (domain, t.counts(weights)))
        .collect();
    (classes, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        baseline: Option<i32>,
        variation: Option<(Option<i32>, bool)>,
        snapshot: Option<(i32, bool)>,
    ) -> KeyFacts<i32> {
        KeyFacts {
            baseline: baseline.map(|b| (b, GovernanceClass::Overridable)),
            variation: variation.map(|(v, in_force)| Variation {
                varied: v.map_or(Varied::Remove, Varied::Set),
                in_force,
            }),
            snapshot,
        }
    }

    #[test]
    fn each_class_from_its_facts() {
        let cases = [
            (facts(Some(1), None, Some((1, true))), Class::Aligned),
            (
                facts(Some(1), Some((Some(2), true)), Some((2, true))),
                Class::VariedApproved,
            ),
            (
                facts(Some(1), Some((None, true)), None),
                Class::VariedApproved,
            ),
            (
                facts(Some(1), Some((Some(2), false)), Some((2, true))),
                Class::VariedExpired,
            ),
            (
                facts(Some(1), Some((None, false)), None),
                Class::VariedExpired,
            ),
            (
                facts(Some(1), Some((Some(2), true)), Some((3, true))),
                Class::Divergent,
            ),
            (facts(Some(1), None, Some((3, true))), Class::Divergent),
            (facts(Some(1), None, None), Class::Missing),
            (facts(None, Some((Some(2), true)), None), Class::Missing),
            (facts(None, None, Some((3, true))), Class::LocalOnly),
            (facts(Some(1), None, Some((1, false))), Class::Nonconforming),
            (facts(None, None, Some((1, false))), Class::Nonconforming),
        ];
        for (f, want) in cases {
            assert_eq!(classify(&f), want, "{f:?}");
        }
    }

    #[test]
    fn an_expired_variation_back_at_the_baseline_is_aligned() {
        let f = facts(Some(1), Some((Some(1), false)), Some((1, true)));
        assert_eq!(classify(&f), Class::Aligned);
    }

    #[test]
    fn a_snapshot_still_at_the_baseline_after_a_variation_is_approved_is_aligned() {
        let f = facts(Some(1), Some((Some(2), true)), Some((1, true)));
        assert_eq!(classify(&f), Class::Aligned);
    }

    #[test]
    fn nothing_governed_scores_as_converged() {
        let s = score(&Counts::default(), &Grid::default());
        assert_eq!(
            (s.convergence, s.conformance, s.weighted_divergence),
            (1.0, 1.0, 0.0)
        );
        assert_eq!(s.band, "converged");
    }

    #[test]
    fn a_locked_gap_weighs_more_than_an_overridable_one() {
        let w = Weights::default();
        let one = |g| {
            let mut c = Counts::default();
            c.add(Class::Aligned, true, w.of(GovernanceClass::Overridable));
            c.add(Class::Divergent, true, w.of(g));
            score(&c, &Grid::default()).weighted_divergence
        };
        assert!(one(GovernanceClass::Locked) > one(GovernanceClass::Overridable));
        assert!(one(GovernanceClass::Bounded) > one(GovernanceClass::Overridable));
    }

    #[test]
    fn grids_are_checked() {
        let band = |from: f64, label: &str| Band {
            from,
            label: label.into(),
        };
        assert!(Grid::new(vec![]).is_err());
        assert!(Grid::new(vec![band(0.5, "a")]).is_err());
        assert!(Grid::new(vec![band(0.4, "a"), band(0.5, "b"), band(0.0, "c")]).is_err());
        assert!(Grid::new(vec![band(0.5, "a"), band(0.0, "a")]).is_err());
        assert!(Grid::new(vec![band(1.5, "a"), band(0.0, "b")]).is_err());
        let g = Grid::new(vec![band(0.9, "good"), band(0.0, "poor")]).unwrap();
        assert_eq!(
            (g.band(0.95), g.band(0.9), g.band(0.2)),
            ("good", "good", "poor")
        );
    }

    #[test]
    fn weights_are_checked() {
        assert!(Weights::default().check().is_ok());
        let bad = Weights {
            locked: 0.0,
            ..Weights::default()
        };
        assert!(bad.check().unwrap_err().contains("locked"));
        let nan = Weights {
            bounded: f64::NAN,
            ..Weights::default()
        };
        assert!(nan.check().is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn arb_facts() -> impl Strategy<Value = KeyFacts<u8>> {
            let governance = prop_oneof![
                Just(GovernanceClass::Locked),
                Just(GovernanceClass::Bounded),
                Just(GovernanceClass::Overridable)
            ];
            (
                proptest::option::of((0u8..4, governance)),
                proptest::option::of((proptest::option::of(0u8..4), any::<bool>())),
                proptest::option::of((0u8..4, any::<bool>())),
            )
                .prop_map(|(baseline, variation, snapshot)| KeyFacts {
                    baseline,
                    variation: variation.map(|(v, in_force)| Variation {
                        varied: v.map_or(Varied::Remove, Varied::Set),
                        in_force,
                    }),
                    snapshot,
                })
        }

        fn counts_of(keys: &[KeyFacts<u8>]) -> Counts {
            let (_, cells) = assess(
                keys.iter().cloned().enumerate(),
                |_| "medicines".to_owned(),
                &Weights::default(),
            );
            cells.into_values().next().unwrap_or_default()
        }

        proptest! {
            /// Every key is counted in exactly one class.
            #[test]
            fn classification_is_total(keys in proptest::collection::vec(arb_facts(), 0..64)) {
                let (classes, cells) = assess(
                    keys.iter().cloned().enumerate(),
                    |i| format!("d{}", i % 3),
                    &Weights::default(),
                );
                prop_assert_eq!(classes.len(), keys.len());
                let total: u64 = cells.values().flat_map(|c| c.by_class.values()).sum();
                prop_assert_eq!(total, keys.len() as u64);
                for (i, class) in &classes {
                    let f = &keys[*i];
                    // A LOCAL_ONLY key is governed by nothing; a governed key is never LOCAL_ONLY.
                    prop_assert_eq!(*class == Class::LocalOnly, !f.governed() && f.snapshot.as_ref().is_some_and(|(_, ok)| *ok));
                }
            }

            /// Scores stay in [0, 1] and convergence never passes conformance.
            #[test]
            fn scores_are_bounded(keys in proptest::collection::vec(arb_facts(), 0..64)) {
                let s = score(&counts_of(&keys), &Grid::default());
                for v in [s.convergence, s.conformance, s.weighted_divergence] {
                    prop_assert!((0.0..=1.0).contains(&v), "{v}");
                }
                prop_assert!(s.convergence <= s.conformance);
            }

            /// Bringing one more key in line with the baseline never lowers convergence or
            /// conformance, and never raises the weighted divergence.
            #[test]
            fn aligning_a_key_never_scores_worse(
                keys in proptest::collection::vec(arb_facts(), 1..64),
                pick in any::<prop::sample::Index>(),
            ) {
                let i = pick.index(keys.len());
                let Some((b, _)) = keys[i].baseline else { return Ok(()) };
                let mut better = keys.clone();
                better[i].snapshot = Some((b, true));
                let (before, after) = (
                    score(&counts_of(&keys), &Grid::default()),
                    score(&counts_of(&better), &Grid::default()),
                );
                prop_assert!(after.convergence >= before.convergence);
                prop_assert!(after.conformance >= before.conformance);
                prop_assert!(after.weighted_divergence <= before.weighted_divergence + 1e-12);
            }

            /// A variation lapsing never raises conformance.
            #[test]
            fn expiry_never_raises_conformance(
                keys in proptest::collection::vec(arb_facts(), 1..64),
                pick in any::<prop::sample::Index>(),
            ) {
                let i = pick.index(keys.len());
                let mut lapsed = keys.clone();
                if let Some(v) = &mut lapsed[i].variation { v.in_force = false; }
                let (before, after) = (
                    score(&counts_of(&keys), &Grid::default()),
                    score(&counts_of(&lapsed), &Grid::default()),
                );
                prop_assert!(after.conformance <= before.conformance);
                prop_assert_eq!(after.convergence, before.convergence);
            }
        }
    }
}
