//! The design authority's decision: a pure function of the charter and the votes.
//!
//! It never looks at time or storage: the caller says whether voting is closing (deadline
//! reached, so silent trusts count under the charter's silence policy) and passes the votes that
//! count (stale votes are left out until recast).

use std::collections::{BTreeMap, BTreeSet};

use super::charter::{SilencePolicy, Threshold};

/// A member trust's vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Choice {
    /// Approve.
    Approve,
    /// Reject.
    Reject,
    /// Abstain.
    Abstain,
}

/// What the rule needs to know.
#[derive(Debug, Clone)]
pub struct Ballot<'a> {
    /// Member trusts of the design authority.
    pub members: &'a BTreeSet<String>,
    /// Votes that count, by trust (non-members are ignored).
    pub votes: &'a BTreeMap<String, Choice>,
    /// The class's threshold.
    pub threshold: Threshold,
    /// Share of member trusts (percent) that must vote.
    pub quorum_percent: u32,
    /// What silence counts as at the deadline.
    pub silence: SilencePolicy,
    /// True at or after the voting deadline (or when the chair closes voting).
    pub closing: bool,
}

/// The result of counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not every member has voted and voting is not closing.
    Pending,
    /// Voting closed short of quorum: nothing is decided.
    NoQuorum {
        /// Why, for people.
        rule: String,
    },
    /// Decided.
    Decided {
        /// Approved or rejected.
        approved: bool,
        /// The counts.
        tally: Tally,
        /// The rule that decided it, for people.
        rule: String,
    },
}

/// Counted votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Approvals.
    pub approvals: u32,
    /// Rejections (with silent trusts when silence blocks).
    pub rejections: u32,
    /// Abstentions (with silent trusts when silence abstains).
    pub abstentions: u32,
}

/// Counts the ballot under its charter.
pub fn decide(ballot: &Ballot<'_>) -> Outcome {
    let members = ballot.members.len() as u32;
    let mut tally = Tally::default();
    let mut voted = 0u32;
    for trust in ballot.members {
        match ballot.votes.get(trust) {
            Some(Choice::Approve) => tally.approvals += 1,
            Some(Choice::Reject) => tally.rejections += 1,
            Some(Choice::Abstain) => tally.abstentions += 1,
            None => continue,
        }
        voted += 1;
    }
    if voted < members && !ballot.closing {
        return Outcome::Pending;
    }
    // Quorum counts trusts that actually voted, abstentions included; silence never makes quorum.
    if members == 0 || voted * 100 < ballot.quorum_percent * members {
        return Outcome::NoQuorum {
            rule: format!(
                "quorum not met: {voted} of {members} member trusts voted, {}% required",
                ballot.quorum_percent
            ),
        };
    }
    let silent = members - voted;
    let silence = match ballot.silence {
        SilencePolicy::Abstain => {
            tally.abstentions += silent;
            String::new()
        }
        SilencePolicy::Blocks => {
            tally.rejections += silent;
            if silent > 0 {
                format!(" ({silent} silent, counted as rejecting)")
            } else {
                String::new()
            }
        }
    };
    let Tally {
        approvals,
        rejections,
        ..
    } = tally;
    let (approved, rule) = match ballot.threshold {
        Threshold::SimpleMajority => (
            approvals > rejections,
            format!("simple majority: {approvals} approve, {rejections} reject{silence}"),
        ),
        Threshold::TwoThirds => (
            approvals > 0 && approvals * 3 >= (approvals + rejections) * 2,
            format!("two thirds: {approvals} approve, {rejections} reject{silence}"),
        ),
        Threshold::Unanimous => (
            approvals == members,
            format!("unanimous: {approvals} of {members} member trusts approve{silence}"),
        ),
    };
    Outcome::Decided {
        approved,
        tally,
        rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn members(n: usize) -> BTreeSet<String> {
        (0..n).map(|i| format!("T{i}")).collect()
    }

    fn ballot<'a>(
        members: &'a BTreeSet<String>,
        votes: &'a BTreeMap<String, Choice>,
        threshold: Threshold,
        closing: bool,
    ) -> Ballot<'a> {
        Ballot {
            members,
            votes,
            threshold,
            quorum_percent: 75,
            silence: SilencePolicy::Abstain,
            closing,
        }
    }

    fn votes(choices: &[Choice]) -> BTreeMap<String, Choice> {
        choices
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("T{i}"), *c))
            .collect()
    }

    #[test]
    fn the_golden_scenario_safety_critical_change_needs_every_trust() {
        let m = members(4);
        let all = votes(&[Choice::Approve; 4]);
        let outcome = decide(&ballot(&m, &all, Threshold::Unanimous, false));
        assert_eq!(
            outcome,
            Outcome::Decided {
                approved: true,
                tally: Tally {
                    approvals: 4,
                    rejections: 0,
                    abstentions: 0
                },
                rule: "unanimous: 4 of 4 member trusts approve".into()
            }
        );
        let one_abstains = votes(&[
            Choice::Approve,
            Choice::Approve,
            Choice::Approve,
            Choice::Abstain,
        ]);
        assert!(matches!(
            decide(&ballot(&m, &one_abstains, Threshold::Unanimous, false)),
            Outcome::Decided {
                approved: false,
                ..
            }
        ));
    }

    #[test]
    fn waits_for_every_member_until_voting_closes() {
        let m = members(4);
        let three = votes(&[Choice::Approve; 3]);
        assert_eq!(
            decide(&ballot(&m, &three, Threshold::SimpleMajority, false)),
            Outcome::Pending
        );
        assert!(matches!(
            decide(&ballot(&m, &three, Threshold::SimpleMajority, true)),
            Outcome::Decided { approved: true, .. }
        ));
    }

    #[test]
    fn silence_blocks_when_the_charter_says_so() {
        let m = members(4);
        let three = votes(&[Choice::Approve; 3]);
        let mut b = ballot(&m, &three, Threshold::Unanimous, true);
        b.silence = SilencePolicy::Blocks;
        let Outcome::Decided {
            approved,
            tally,
            rule,
        } = decide(&b)
        else {
            panic!()
        };
        assert!(!approved);
        assert_eq!(tally.rejections, 1);
        assert!(rule.contains("1 silent, counted as rejecting"), "{rule}");
    }

    #[test]
    fn a_tie_is_not_a_simple_majority_and_two_thirds_is_inclusive() {
        let m = members(4);
        let tie = votes(&[
            Choice::Approve,
            Choice::Approve,
            Choice::Reject,
            Choice::Reject,
        ]);
        assert!(matches!(
            decide(&ballot(&m, &tie, Threshold::SimpleMajority, false)),
            Outcome::Decided {
                approved: false,
                ..
            }
        ));
        let m = members(3);
        let two_of_three = votes(&[Choice::Approve, Choice::Approve, Choice::Reject]);
        assert!(matches!(
            decide(&ballot(&m, &two_of_three, Threshold::TwoThirds, false)),
            Outcome::Decided { approved: true, .. }
        ));
    }

    fn choice() -> impl Strategy<Value = Choice> {
        prop_oneof![
            Just(Choice::Approve),
            Just(Choice::Reject),
            Just(Choice::Abstain)
        ]
    }

    fn threshold() -> impl Strategy<Value = Threshold> {
        prop_oneof![
            Just(Threshold::SimpleMajority),
            Just(Threshold::TwoThirds),
            Just(Threshold::Unanimous)
        ]
    }

    fn silence() -> impl Strategy<Value = SilencePolicy> {
        prop_oneof![Just(SilencePolicy::Abstain), Just(SilencePolicy::Blocks)]
    }

    proptest! {
        #[test]
        fn the_order_of_votes_never_changes_the_result(
            choices in proptest::collection::vec(proptest::option::of(choice()), 1..12),
            threshold in threshold(),
            silence in silence(),
            quorum in 1u32..=100,
            closing in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let m = members(choices.len());
            let cast: Vec<(String, Choice)> = choices
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.map(|c| (format!("T{i}"), c)))
                .collect();
            // Insert the same votes in another order.
            let mut shuffled = cast.clone();
            let len = shuffled.len();
            if len > 1 {
                let mut s = seed;
                for i in (1..len).rev() {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    shuffled.swap(i, (s >> 33) as usize % (i + 1));
                }
            }
            let a: BTreeMap<_, _> = cast.into_iter().collect();
            let mut b = BTreeMap::new();
            for (trust, c) in shuffled {
                b.insert(trust, c);
            }
            let mk = |votes| Ballot { members: &m, votes, threshold, quorum_percent: quorum, silence, closing };
            prop_assert_eq!(decide(&mk(&a)), decide(&mk(&b)));
        }

        #[test]
        fn one_reject_under_unanimity_rejects(
            choices in proptest::collection::vec(choice(), 1..12),
            reject_at in any::<prop::sample::Index>(),
            silence in silence(),
            closing in any::<bool>(),
        ) {
            let mut choices = choices;
            let i = reject_at.index(choices.len());
            choices[i] = Choice::Reject;
            let m = members(choices.len());
            let v = votes(&choices);
            let b = Ballot { members: &m, votes: &v, threshold: Threshold::Unanimous, quorum_percent: 1, silence, closing };
            let rejected = matches!(decide(&b), Outcome::Decided { approved: false, .. });
            prop_assert!(rejected);
        }

        #[test]
        fn short_of_quorum_never_decides(
            n in 1usize..12,
            voters in any::<prop::sample::Index>(),
            quorum in 1u32..=100,
            threshold in threshold(),
            silence in silence(),
            choice in choice(),
        ) {
            let m = members(n);
            let count = voters.index(n + 1);
            let v = votes(&vec![choice; count]);
            let b = Ballot { members: &m, votes: &v, threshold, quorum_percent: quorum, silence, closing: true };
            let short = (count as u32) * 100 < quorum * n as u32;
            let outcome = decide(&b);
            if short {
                prop_assert!(matches!(outcome, Outcome::NoQuorum { .. }), "{:?}", outcome);
            } else {
                prop_assert!(matches!(outcome, Outcome::Decided { .. }), "{:?}", outcome);
            }
        }

        #[test]
        fn votes_of_non_members_never_count(
            choices in proptest::collection::vec(choice(), 1..8),
            outsider in choice(),
            threshold in threshold(),
        ) {
            let m = members(choices.len());
            let v = votes(&choices);
            let mut with_outsider = v.clone();
            with_outsider.insert("OUTSIDER".into(), outsider);
            let mk = |votes| Ballot { members: &m, votes, threshold, quorum_percent: 50, silence: SilencePolicy::Abstain, closing: false };
            prop_assert_eq!(decide(&mk(&v)), decide(&mk(&with_outsider)));
        }
    }
}
