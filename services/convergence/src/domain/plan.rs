//! Scheduling core of a convergence plan: milestones, dependencies, CPM and a seeded forecast.
//!
//! The trusts of an Integrated Care System converge on their shared EPR build through milestones
//! that depend on one another. This module validates such a plan, schedules it with the critical
//! path method (CPM) and forecasts its finish by Monte Carlo over three-point estimates. It is
//! pure (no I/O, no clock, no global state): the same plan and seed always give the same answer,
//! so a forecast quoted in a board paper can be reproduced later from its seed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;

mod forecast;

pub use forecast::{Forecast, Rng, estimate_from_history, forecast};

/// Total slack, in days, at or below which a milestone counts as critical.
///
/// Absolute, because dates are sums of day counts: rounding in a plan spanning years is around
/// 1e-12 days, far below it, while any slip a person could plan for (a minute is 7e-4 days) is
/// far above it.
pub const CRITICAL_TOLERANCE: f64 = 1e-9;

/// Identifier of a milestone, unique within a plan.
///
/// A plain `String` alias rather than a newtype: ids arrive as strings in protobuf messages and
/// are only compared and echoed back, so a newtype would add conversions without catching bugs.
pub type MilestoneId = String;

/// Three-point estimate of a milestone's duration, in days.
///
/// Three points because convergence work is uncertain and the spread is what the forecast
/// samples; the plan itself is scheduled on `most_likely`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Duration if everything goes well.
    pub optimistic: f64,
    /// Duration the trust expects.
    pub most_likely: f64,
    /// Duration if things go badly (not the worst imaginable).
    pub pessimistic: f64,
}

impl Estimate {
    /// An estimate from its three points, in the order people quote them.
    pub const fn new(optimistic: f64, most_likely: f64, pessimistic: f64) -> Estimate {
        Estimate {
            optimistic,
            most_likely,
            pessimistic,
        }
    }

    /// Checks `0 <= optimistic <= most_likely <= pessimistic` with all three finite.
    ///
    /// Returns only the reason, because the estimate does not know its milestone; plan
    /// validation adds the id.
    pub fn check(&self) -> Result<(), &'static str> {
        let (o, m, p) = (self.optimistic, self.most_likely, self.pessimistic);
        if !(o.is_finite() && m.is_finite() && p.is_finite()) {
            Err("durations must be finite")
        } else if o < 0.0 {
            Err("optimistic duration is negative")
        } else if o > m {
            Err("optimistic duration exceeds most likely")
        } else if m > p {
            Err("most likely duration exceeds pessimistic")
        } else {
            Ok(())
        }
    }
}

/// A milestone of the plan: what must be reached, and how long it is expected to take.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    /// Unique id within the plan, used by dependencies and in every result.
    pub id: MilestoneId,
    /// Duration estimate, in days.
    pub estimate: Estimate,
}

/// How a dependency ties the successor to the predecessor.
///
/// All four kinds exist because cross-trust work overlaps: training may start once a build
/// starts (start-to-start), and go-live must finish with cut-over (finish-to-finish).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DependencyKind {
    /// Successor starts no earlier than predecessor finish plus lag.
    FinishToStart,
    /// Successor starts no earlier than predecessor start plus lag.
    StartToStart,
    /// Successor finishes no earlier than predecessor finish plus lag.
    FinishToFinish,
    /// Successor finishes no earlier than predecessor start plus lag.
    StartToFinish,
}

impl DependencyKind {
    /// The ends tied, (predecessor's, successor's), `true` meaning finish: every kind is then the
    /// one constraint `successor end >= predecessor end + lag`.
    fn ends(self) -> (bool, bool) {
        match self {
            DependencyKind::FinishToStart => (true, false),
            DependencyKind::StartToStart => (false, false),
            DependencyKind::FinishToFinish => (true, true),
            DependencyKind::StartToFinish => (false, true),
        }
    }
}

/// The start or the finish, as selected by [`DependencyKind::ends`].
fn end(start: f64, finish: f64, finish_end: bool) -> f64 {
    if finish_end { finish } else { start }
}

/// A precedence constraint between two milestones of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    /// Milestone that constrains.
    pub predecessor: MilestoneId,
    /// Milestone that is constrained.
    pub successor: MilestoneId,
    /// Which ends of the two milestones are tied.
    pub kind: DependencyKind,
    /// Days added to the predecessor's date; negative is a lead (overlap allowed).
    pub lag: f64,
}

/// Why a plan cannot be scheduled or forecast.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanError {
    /// Dependencies form a cycle, so no order satisfies them: the members in order (a, b, c
    /// meaning a → b → c → a), from the smallest id so the report is stable.
    Cycle(Vec<MilestoneId>),
    /// A dependency names a milestone that is not in the plan.
    UnknownMilestone {
        /// The unknown id.
        id: MilestoneId,
    },
    /// Two milestones share an id, so dependencies on it would be ambiguous.
    DuplicateMilestone {
        /// The repeated id.
        id: MilestoneId,
    },
    /// A dependency links a milestone to itself, which is meaningless.
    SelfDependency {
        /// The milestone.
        id: MilestoneId,
    },
    /// A milestone's estimate is malformed, or the duration given for it is negative or not
    /// finite.
    BadEstimate {
        /// The milestone.
        id: MilestoneId,
        /// What is wrong.
        reason: String,
    },
    /// A dependency's lag is not finite.
    BadLag {
        /// What is wrong, naming the dependency.
        reason: String,
    },
    /// A forecast was asked for with zero iterations, which has no percentiles.
    BadIterations,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Cycle(ids) => {
                write!(f, "dependency cycle")?;
                for (k, id) in ids.iter().chain(ids.first()).enumerate() {
                    write!(f, "{}{id:?}", if k == 0 { " " } else { " -> " })?;
                }
                Ok(())
            }
            PlanError::UnknownMilestone { id } => write!(f, "unknown milestone {id:?}"),
            PlanError::DuplicateMilestone { id } => write!(f, "milestone {id:?} appears twice"),
            PlanError::SelfDependency { id } => write!(f, "milestone {id:?} depends on itself"),
            PlanError::BadEstimate { id, reason } => write!(f, "milestone {id:?}: {reason}"),
            PlanError::BadLag { reason } => write!(f, "bad lag: {reason}"),
            PlanError::BadIterations => write!(f, "a forecast needs at least one iteration"),
        }
    }
}

impl std::error::Error for PlanError {}

/// CPM dates of one milestone, in days from the project start.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// The milestone.
    pub id: MilestoneId,
    /// Duration used for this schedule.
    pub duration: f64,
    /// Earliest start its predecessors allow (never before 0).
    pub early_start: f64,
    /// `early_start + duration`.
    pub early_finish: f64,
    /// Latest start that does not delay the project finish.
    pub late_start: f64,
    /// Latest finish that does not delay the project finish.
    pub late_finish: f64,
    /// `late_start - early_start`: how far it can slip before the project finish moves.
    pub total_slack: f64,
    /// How far it can slip before a successor's early dates (or the project finish) move.
    pub free_slack: f64,
    /// Total slack at most [`CRITICAL_TOLERANCE`]: any slip delays the whole plan.
    pub critical: bool,
}

/// A CPM schedule of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Project finish in days: the latest early finish (0 for an empty plan).
    pub finish: f64,
    /// One entry per milestone, in input order so callers can zip it with their own list.
    pub entries: Vec<Scheduled>,
}

impl Schedule {
    /// The critical milestones by early start (ties in input order): the chain to watch.
    ///
    /// The last of them need not end the project: leads, finish-to-finish or start-to-finish
    /// links, and ties in early start can put last a critical milestone that finishes earlier.
    pub fn critical_path(&self) -> Vec<MilestoneId> {
        let mut critical: Vec<&Scheduled> = self.entries.iter().filter(|e| e.critical).collect();
        critical.sort_by(|a, b| a.early_start.total_cmp(&b.early_start)); // stable: input order
        critical.into_iter().map(|e| e.id.clone()).collect()
    }
}

#[derive(Clone, Copy)]
struct Edge {
    from: usize,
    to: usize,
    kind: DependencyKind,
    lag: f64,
}

/// A validated plan: edges by milestone index (in dependency input order) and a topological
/// order.
struct Network {
    incoming: Vec<Vec<Edge>>,
    outgoing: Vec<Vec<Edge>>,
    order: Vec<usize>,
}

/// Validates in a fixed order (milestones in input order, then dependencies in input order, then
/// cycles) so the problem reported is stable.
fn prepare(milestones: &[Milestone], deps: &[Dependency]) -> Result<Network, PlanError> {
    let n = milestones.len();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, m) in milestones.iter().enumerate() {
        let id = || m.id.clone();
        if index.insert(&m.id, i).is_some() {
            return Err(PlanError::DuplicateMilestone { id: id() });
        }
        let bad = |r: &str| PlanError::BadEstimate {
            id: id(),
            reason: r.to_string(),
        };
        m.estimate.check().map_err(bad)?;
    }
    let lookup = |id: &MilestoneId| {
        let unknown = || PlanError::UnknownMilestone { id: id.clone() };
        index.get(id.as_str()).copied().ok_or_else(unknown)
    };
    let (mut incoming, mut outgoing) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    for dep in deps {
        let (pred, succ) = (&dep.predecessor, &dep.successor);
        if !dep.lag.is_finite() {
            let reason = format!("lag from {pred:?} to {succ:?} is not finite");
            return Err(PlanError::BadLag { reason });
        }
        if pred == succ {
            return Err(PlanError::SelfDependency { id: pred.clone() });
        }
        let (from, to, kind, lag) = (lookup(pred)?, lookup(succ)?, dep.kind, dep.lag);
        let edge = Edge {
            from,
            to,
            kind,
            lag,
        };
        outgoing[from].push(edge);
        incoming[to].push(edge);
    }
    // Kahn's algorithm; the ready milestone earliest in input order goes first (deterministic).
    let mut indegree: Vec<usize> = incoming.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for e in &outgoing[i] {
            indegree[e.to] = indegree[e.to].saturating_sub(1);
            if indegree[e.to] == 0 {
                ready.push(Reverse(e.to));
            }
        }
    }
    if order.len() < n {
        return Err(PlanError::Cycle(find_cycle(milestones, &outgoing, &order)));
    }
    Ok(Network {
        incoming,
        outgoing,
        order,
    })
}

/// Names one cycle among the milestones Kahn's algorithm could not order: the shortest cycle
/// through the smallest id lying on any cycle, starting from that id.
fn find_cycle(milestones: &[Milestone], outgoing: &[Vec<Edge>], order: &[usize]) -> Vec<String> {
    let n = milestones.len();
    let mut ordered = vec![false; n];
    order.iter().for_each(|&i| ordered[i] = true);
    let mut stuck: Vec<usize> = (0..n).filter(|&i| !ordered[i]).collect();
    stuck.sort_by(|&a, &b| milestones[a].id.cmp(&milestones[b].id));
    let name = |i: usize| milestones[i].id.clone();
    // A breadth-first search from each stuck milestone for a way back to it; those merely
    // downstream of a cycle find none.
    for &start in &stuck {
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut seen = vec![false; n];
        seen[start] = true;
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for e in &outgoing[u] {
                if e.to == start {
                    let mut cycle = vec![u];
                    while let Some(p) = cycle.last().and_then(|&c| parent[c]) {
                        cycle.push(p);
                    }
                    return cycle.into_iter().rev().map(name).collect();
                }
                if !seen[e.to] {
                    seen[e.to] = true;
                    parent[e.to] = Some(u);
                    queue.push_back(e.to);
                }
            }
        }
    }
    stuck.into_iter().map(name).collect() // not reached: a cycle exists
}

/// Early and late dates by milestone index, and the project finish.
struct Dates {
    finish: f64,
    es: Vec<f64>,
    ef: Vec<f64>,
    ls: Vec<f64>,
    lf: Vec<f64>,
}

/// Forward and backward CPM passes over a validated network.
fn cpm(net: &Network, d: &[f64]) -> Dates {
    let n = d.len();
    let (mut es, mut ef) = (vec![0.0; n], vec![0.0; n]);
    for &j in &net.order {
        let mut start = 0.0_f64;
        for e in &net.incoming[j] {
            let (from_finish, to_finish) = e.kind.ends();
            let own = if to_finish { d[j] } else { 0.0 };
            start = start.max(end(es[e.from], ef[e.from], from_finish) + e.lag - own);
        }
        es[j] = start;
        ef[j] = start + d[j];
    }
    let finish = ef.iter().fold(0.0, |a: f64, &b| a.max(b));
    let (mut ls, mut lf) = (vec![0.0; n], vec![finish; n]);
    for &i in net.order.iter().rev() {
        // Each constraint read from the predecessor's side at the successor's late dates, e.g.
        // start-to-start S_s >= S_i + lag gives F_i <= LS_s - lag + d_i.
        for e in &net.outgoing[i] {
            let (from_finish, to_finish) = e.kind.ends();
            let own = if from_finish { 0.0 } else { d[i] };
            lf[i] = lf[i].min(end(ls[e.to], lf[e.to], to_finish) - e.lag + own);
        }
        ls[i] = lf[i] - d[i];
    }
    Dates {
        finish,
        es,
        ef,
        ls,
        lf,
    }
}

fn is_critical(total_slack: f64) -> bool {
    total_slack <= CRITICAL_TOLERANCE
}

/// Schedules the plan by CPM with each milestone's duration from `duration` (the plan passes
/// `most_likely`, the forecast passes samples, a tracker could pass actuals).
///
/// The project starts at 0 and nothing starts before it. Free slack is the smallest gap to a
/// successor's constraint, capped by the project finish, which acts as a successor of every
/// milestone (without the cap a start-to-start link could show more free than total slack).
/// Cycles are refused even where leads would make them satisfiable, because CPM needs an order.
/// Estimates are validated even when `duration` ignores them, so a plan that schedules can also
/// be forecast. Errors: validation failures, or `BadEstimate` when `duration` is negative or
/// not finite.
pub fn schedule(
    milestones: &[Milestone],
    deps: &[Dependency],
    duration: impl Fn(&Milestone) -> f64,
) -> Result<Schedule, PlanError> {
    let net = prepare(milestones, deps)?;
    let mut durations = Vec::with_capacity(milestones.len());
    for m in milestones {
        match duration(m) {
            d if d.is_finite() && d >= 0.0 => durations.push(d),
            _ => {
                let reason = "duration is negative or not finite".to_string();
                return Err(PlanError::BadEstimate {
                    id: m.id.clone(),
                    reason,
                });
            }
        }
    }
    let t = cpm(&net, &durations);
    let mut entries = Vec::with_capacity(milestones.len());
    for (i, m) in milestones.iter().enumerate() {
        let mut free_slack = t.finish - t.ef[i];
        for e in &net.outgoing[i] {
            let (from_finish, to_finish) = e.kind.ends();
            let demand = end(t.es[i], t.ef[i], from_finish) + e.lag;
            free_slack = free_slack.min(end(t.es[e.to], t.ef[e.to], to_finish) - demand);
        }
        let total_slack = t.ls[i] - t.es[i];
        entries.push(Scheduled {
            id: m.id.clone(),
            duration: durations[i],
            early_start: t.es[i],
            early_finish: t.ef[i],
            late_start: t.ls[i],
            late_finish: t.lf[i],
            total_slack,
            free_slack,
            critical: is_critical(total_slack),
        });
    }
    Ok(Schedule {
        finish: t.finish,
        entries,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use DependencyKind::{FinishToFinish as FF, FinishToStart as FS};
    use DependencyKind::{StartToFinish as SF, StartToStart as SS};

    pub(super) const TOL: f64 = 1e-7;
    pub(super) const ALL: [DependencyKind; 4] = [FS, SS, FF, SF];

    pub(super) fn ms(id: &str, o: f64, m: f64, p: f64) -> Milestone {
        Milestone {
            id: id.to_string(),
            estimate: Estimate::new(o, m, p),
        }
    }
    pub(super) fn fixed(id: &str, d: f64) -> Milestone {
        ms(id, d, d, d)
    }
    pub(super) fn dep(p: &str, s: &str, kind: DependencyKind, lag: f64) -> Dependency {
        Dependency {
            predecessor: p.into(),
            successor: s.into(),
            kind,
            lag,
        }
    }
    /// One-letter milestones, durations cycling through `durations`.
    pub(super) fn plan(names: &str, durations: &[f64]) -> Vec<Milestone> {
        let named = names.chars().zip(durations.iter().cycle());
        named.map(|(id, &d)| fixed(&id.to_string(), d)).collect()
    }
    /// Dependencies from "ab cd" (a -> b, c -> d), kinds cycling through `kinds`.
    pub(super) fn links(spec: &str, kinds: &[DependencyKind], lag: f64) -> Vec<Dependency> {
        let pairs = spec.split(' ').zip(kinds.iter().cycle());
        pairs.map(|(l, &k)| dep(&l[..1], &l[1..], k, lag)).collect()
    }
    pub(super) fn likely(m: &Milestone) -> f64 {
        m.estimate.most_likely
    }
    pub(super) fn finish(
        plan: &[Milestone],
        deps: &[Dependency],
        pick: fn(&Estimate) -> f64,
    ) -> f64 {
        schedule(plan, deps, |m| pick(&m.estimate)).unwrap().finish
    }
    pub(super) fn entry<'a>(s: &'a Schedule, id: &str) -> &'a Scheduled {
        s.entries.iter().find(|e| e.id == id).unwrap()
    }
    /// [ES, EF, LS, LF, total slack, free slack].
    pub(super) fn dates(s: &Schedule, id: &str) -> [f64; 6] {
        let e = entry(s, id);
        let slack = [e.total_slack, e.free_slack];
        [
            e.early_start,
            e.early_finish,
            e.late_start,
            e.late_finish,
            slack[0],
            slack[1],
        ]
    }
    /// The refusal from `schedule`, checked to be the same from `forecast` and in house style.
    pub(super) fn refuse(plan: &[Milestone], deps: &[Dependency]) -> PlanError {
        let err = schedule(plan, deps, likely).unwrap_err();
        assert_eq!(forecast(plan, deps, 7, 10, None).unwrap_err(), err);
        let text = err.to_string();
        let house_style = text.starts_with(char::is_lowercase) && !text.ends_with('.');
        assert!(house_style, "{text}");
        err
    }

    // Textbook activity-on-node network, finish-to-start without lags, durations in days:
    //   A(3) -> C(2), D(5);  B(4), C -> E(4);  D -> F(3);  E -> G(1);  F, G -> H(3)
    //   id  ES EF  LS LF  total free
    //   A    0  3   0  3    0    0
    //   B    0  4   2  6    2    1    E waits for C until day 5
    //   C    3  5   4  6    1    0
    //   D    3  8   3  8    0    0
    //   E    5  9   6 10    1    0
    //   F    8 11   8 11    0    0
    //   G    9 10  10 11    1    1    H waits for F until day 11
    //   H   11 14  11 14    0    0    finish 14, critical path A D F H
    pub(super) fn textbook() -> (Vec<Milestone>, Vec<Dependency>) {
        let durations = [3., 4., 2., 5., 4., 3., 1., 3.];
        (
            plan("ABCDEFGH", &durations),
            links("AC AD BE CE DF EG FH GH", &[FS], 0.0),
        )
    }

    /// A random acyclic plan (edges only from lower to higher index); some estimates are flat.
    pub(super) fn random_plan(
        rng: &mut Rng,
        kinds: &[DependencyKind],
        (lag_min, lag_max): (f64, f64),
    ) -> (Vec<Milestone>, Vec<Dependency>) {
        let n = 1 + (rng.next_u64() % 12) as usize;
        let mut plan = Vec::new();
        for i in 0..n {
            let o = rng.next_f64() * 5.0;
            let spread = if rng.next_f64() < 0.2 { 0.0 } else { 1.0 };
            let m = o + spread * rng.next_f64() * 5.0;
            let p = m + spread * rng.next_f64() * 10.0;
            plan.push(ms(&format!("m{i}"), o, m, p));
        }
        let mut deps = Vec::new();
        for (j, i) in (1..n).flat_map(|j| (0..j).map(move |i| (j, i))) {
            if rng.next_f64() < 0.3 {
                let kind = kinds[(rng.next_u64() % kinds.len() as u64) as usize];
                let lag = lag_min + rng.next_f64() * (lag_max - lag_min);
                deps.push(dep(&format!("m{i}"), &format!("m{j}"), kind, lag));
            }
        }
        (plan, deps)
    }

    #[test]
    fn textbook_network_matches_hand_computed_dates_and_critical_path() {
        let (plan, deps) = textbook();
        let s = schedule(&plan, &deps, likely).unwrap();
        let expected = [
            ("A", [0., 3., 0., 3., 0., 0.]),
            ("B", [0., 4., 2., 6., 2., 1.]),
            ("C", [3., 5., 4., 6., 1., 0.]),
            ("D", [3., 8., 3., 8., 0., 0.]),
            ("E", [5., 9., 6., 10., 1., 0.]),
            ("F", [8., 11., 8., 11., 0., 0.]),
            ("G", [9., 10., 10., 11., 1., 1.]),
            ("H", [11., 14., 11., 14., 0., 0.]),
        ];
        for (id, want) in expected {
            assert_eq!(dates(&s, id), want, "{id}");
        }
        assert_eq!(s.finish, 14.0);
        assert_eq!(s.critical_path(), ["A", "D", "F", "H"]);
        let order: Vec<&str> = s.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(order.concat(), "ABCDEFGH", "entries keep input order");
    }

    #[test]
    fn each_dependency_kind_and_leads_match_hand_computed_dates() {
        // P lasts 5 days, S lasts 3. Per row: kind, lag, [ES, EF, LS, LF, total, free] of S, and
        // the finish; P is [0, 5, 0, 5, 0, 0] in every row.
        let cases = [
            (FS, 2.0, [7., 10., 7., 10., 0., 0.], 10.0), // S starts at 5 + 2
            (SS, 1.0, [1., 4., 2., 5., 1., 1.], 5.0),    // S starts at 0 + 1, may slip to 2
            (FF, 2.0, [4., 7., 4., 7., 0., 0.], 7.0),    // S finishes at 5 + 2
            (SF, 4.0, [1., 4., 2., 5., 1., 1.], 5.0),    // S finishes at 0 + 4
            (FS, -2.0, [3., 6., 3., 6., 0., 0.], 6.0),   // lead: S starts at 5 - 2
            (SF, 2.0, [0., 3., 2., 5., 2., 2.], 5.0),    // 0 + 2 - 3 < 0: starts at 0
            (FS, -10.0, [0., 3., 2., 5., 2., 2.], 5.0),  // no lead starts anything before 0
        ];
        for (kind, lag, want, finish) in cases {
            let s = schedule(&plan("PS", &[5., 3.]), &links("PS", &[kind], lag), likely).unwrap();
            assert_eq!(dates(&s, "P"), [0., 5., 0., 5., 0., 0.], "{kind:?} {lag}");
            assert_eq!((dates(&s, "S"), s.finish), (want, finish), "{kind:?} {lag}");
        }
    }

    #[test]
    fn a_cycle_is_refused_naming_its_members_in_order_from_the_smallest_id() {
        // a -> c -> b -> a, listed out of order, with a feeder d and a follower e; mixed kinds.
        let err = refuse(&plan("ecdba", &[1.]), &links("cb da ba ce ac", &ALL, -5.0));
        assert_eq!(
            err,
            PlanError::Cycle(vec!["a".into(), "c".into(), "b".into()])
        );
        assert_eq!(
            err.to_string(),
            r#"dependency cycle "a" -> "c" -> "b" -> "a""#
        );
        // "a" only follows the cycle b <-> c; the cycle x <-> y has larger ids.
        let err = refuse(&plan("yxcba", &[1.]), &links("yx xy cb bc ca", &ALL, 0.0));
        assert_eq!(err, PlanError::Cycle(vec!["b".into(), "c".into()]));
    }

    #[test]
    fn invalid_plans_are_refused_with_the_matching_error() {
        let two = plan("ab", &[1.]);
        let err = refuse(&plan("aba", &[1.]), &[]);
        assert_eq!(err, PlanError::DuplicateMilestone { id: "a".into() });
        let unknown = |id: &str| PlanError::UnknownMilestone { id: id.into() };
        assert_eq!(refuse(&two, &links("az", &[FS], 0.0)), unknown("z"));
        assert_eq!(refuse(&two, &links("yb", &[FF], 0.0)), unknown("y"));
        let err = refuse(&two, &links("ab bb", &ALL, 1.0));
        assert_eq!(err, PlanError::SelfDependency { id: "b".into() });
        for lag in [f64::NAN, f64::INFINITY] {
            let reason = r#"lag from "a" to "b" is not finite"#.to_string();
            assert_eq!(
                refuse(&two, &links("ab", &[SF], lag)),
                PlanError::BadLag { reason }
            );
        }
        let err = refuse(&[fixed("a", 1.0), ms("b", 2.0, 1.0, 3.0)], &[]);
        let reason = "optimistic duration exceeds most likely".to_string();
        assert_eq!(
            err,
            PlanError::BadEstimate {
                id: "b".into(),
                reason
            }
        );
        for d in [-1.0, f64::NAN, f64::INFINITY] {
            let err = schedule(&two, &[], |_| d).unwrap_err();
            assert!(matches!(err, PlanError::BadEstimate { ref id, .. } if id == "a"));
        }
        let err = forecast(&two, &[], 7, 0, None).unwrap_err();
        assert_eq!(err, PlanError::BadIterations);
        assert_eq!(err.to_string(), "a forecast needs at least one iteration");
    }

    #[test]
    fn estimates_are_checked_for_order_sign_and_finiteness() {
        let check = |o, m, p| Estimate::new(o, m, p).check();
        assert_eq!(
            check(2.0, 1.0, 3.0),
            Err("optimistic duration exceeds most likely")
        );
        assert_eq!(
            check(1.0, 4.0, 3.0),
            Err("most likely duration exceeds pessimistic")
        );
        assert_eq!(
            check(-1.0, 1.0, 1.0),
            Err("optimistic duration is negative")
        );
        assert_eq!(
            check(0.0, 1.0, f64::INFINITY),
            Err("durations must be finite")
        );
        assert_eq!(check(f64::NAN, 1.0, 2.0), Err("durations must be finite"));
        assert_eq!(
            (check(0.0, 0.0, 0.0), check(1.0, 1.0, 9.0)),
            (Ok(()), Ok(()))
        );
    }

    #[test]
    fn an_empty_plan_finishes_at_zero() {
        let s = schedule(&[], &[], likely).unwrap();
        assert_eq!((s.finish, s.entries.len()), (0.0, 0));
        let f = forecast(&[], &[], 1, 3, Some(0.0)).unwrap();
        assert_eq!((f.p50, f.p95, f.on_time_probability), (0.0, 0.0, Some(1.0)));
    }

    #[test]
    fn lengthening_a_milestone_can_shorten_the_plan_via_finish_to_finish_then_start_to_start() {
        // P must finish with Q (FF) and J starts with P (SS): a longer P starts earlier, and so
        // does J. This CPM anomaly is why the percentile bounds below use FS and SS only.
        let deps = links("QP PJ", &[FF, SS], 0.0);
        let short = finish(&plan("QPJ", &[10., 1., 100.]), &deps, |e| e.most_likely);
        let long = finish(&plan("QPJ", &[10., 5., 100.]), &deps, |e| e.most_likely);
        assert_eq!((short, long), (109.0, 105.0));
    }

    #[test]
    fn slack_invariants_hold_on_random_networks() {
        let mut rng = Rng::new(7);
        for case in 0..400 {
            // Odd cases mix all kinds with leads; even ones use FS and SS with lags >= 0 in
            // dependency order, where the critical path (by early start) ends at the finish.
            let fs_ss = case % 2 == 0;
            let lags = if fs_ss { (0.0, 4.0) } else { (-4.0, 6.0) };
            let (plan, deps) = random_plan(&mut rng, &ALL[..if fs_ss { 2 } else { 4 }], lags);
            let s = schedule(&plan, &deps, likely).unwrap();
            for e in &s.entries {
                assert!(e.total_slack >= e.free_slack - TOL, "{e:?}");
                assert!(e.free_slack >= -TOL && e.early_start >= 0.0, "{e:?}");
                assert!(e.late_start >= e.early_start - TOL, "{e:?}");
                assert!(e.late_finish <= s.finish && e.early_finish <= s.finish);
            }
            // Both the early and the late dates satisfy every dependency.
            for d in &deps {
                let (p, q) = (entry(&s, &d.predecessor), entry(&s, &d.successor));
                let (from_finish, to_finish) = d.kind.ends();
                let gap = |ps, pf, qs, qf| end(qs, qf, to_finish) - end(ps, pf, from_finish);
                let early = gap(p.early_start, p.early_finish, q.early_start, q.early_finish);
                let late = gap(p.late_start, p.late_finish, q.late_start, q.late_finish);
                assert!(early >= d.lag - TOL && late >= d.lag - TOL, "{d:?}");
            }
            let path = s.critical_path();
            let at_finish = |id: &MilestoneId| (entry(&s, id).early_finish - s.finish).abs() <= TOL;
            assert!(path.iter().any(at_finish), "{s:?}");
            let starts: Vec<f64> = path.iter().map(|id| entry(&s, id).early_start).collect();
            assert!(starts.is_sorted());
            assert!(!fs_ss || path.last().is_some_and(at_finish), "{s:?}");
        }
    }
}
