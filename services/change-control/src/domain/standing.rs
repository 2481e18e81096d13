//! Who may do what to a change request: the chair of its design authority, a voting member, the
//! requesting trust, an affected trust, the board. Each rule is written once here and every use
//! case asks it; a refusal says why in words and with its reason.

use concordat_platform::identity::Person;

use super::change_request::{ChangeRequest, DesignAuthority};

/// The caller, as the rules see them (built from the verified principal by the use cases).
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    /// The person (issuer and subject).
    pub person: Person,
    /// Trust, if any.
    pub trust: Option<&'a str>,
    /// Holds an assessing role (digital lead, engineer, CSO).
    pub assessor: bool,
    /// Holds da-member.
    pub da_member: bool,
    /// Holds da-chair.
    pub da_chair: bool,
    /// Holds clinical-safety-officer.
    pub cso: bool,
    /// Holds board-chair or board-member.
    pub board: bool,
    /// Holds a deploying role (engineer, digital lead, automation).
    pub deployer: bool,
    /// Holds trust-digital-lead.
    pub digital_lead: bool,
    /// Holds ics-admin.
    pub ics_admin: bool,
}

/// Why a caller may not do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not the chair of the design authority.
    NotTheChair,
    /// Not acting for the trust the rule needs.
    TrustScope,
    /// The caller's trust takes no part.
    TrustNotInvolved,
    /// Not a voting member for the trust.
    NotAVotingMember,
}

/// A refusal and what to tell the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Why.
    pub reason: Refusal,
    /// For people.
    pub message: String,
}

fn refuse(reason: Refusal, message: String) -> Result<(), Refused> {
    Err(Refused { reason, message })
}

impl Actor<'_> {
    /// True when the caller chairs `da` (holds da-chair and is its named chair).
    pub fn chairs(&self, da: &DesignAuthority) -> bool {
        self.da_chair && da.chair == self.person
    }

    /// True when the caller acts for the trust that raised `cr`.
    pub fn requests(&self, cr: &ChangeRequest) -> bool {
        self.trust == Some(cr.requesting_trust.as_str())
    }

    /// The caller's trust when `cr` affects it.
    pub fn affected_trust(&self, cr: &ChangeRequest) -> Option<&str> {
        self.trust.filter(|t| cr.affected_trusts.contains(*t))
    }

    /// Only the chair of `da` may `what` (e.g. "closes voting").
    pub fn must_chair(&self, da: &DesignAuthority, what: &str) -> Result<(), Refused> {
        if self.chairs(da) {
            return Ok(());
        }
        refuse(
            Refusal::NotTheChair,
            format!(
                "only the chair of {} ({}) {what}",
                da.display_name, da.chair
            ),
        )
    }

    /// Only the requesting trust may `what` (e.g. "submits").
    pub fn must_request(&self, cr: &ChangeRequest, what: &str) -> Result<(), Refused> {
        if self.requests(cr) {
            return Ok(());
        }
        refuse(
            Refusal::TrustScope,
            format!("only {} {what} its change requests", cr.requesting_trust),
        )
    }

    /// The requesting trust or the chair reopens a deferred change request.
    pub fn may_reopen(&self, cr: &ChangeRequest, da: &DesignAuthority) -> Result<(), Refused> {
        if self.requests(cr) || self.chairs(da) {
            return Ok(());
        }
        refuse(
            Refusal::NotTheChair,
            "only the requesting trust or the chair reopens".into(),
        )
    }

    /// An ICS admin or the chair changes a charter.
    pub fn may_change_charter(&self, da: &DesignAuthority) -> Result<(), Refused> {
        if self.ics_admin || self.chairs(da) {
            return Ok(());
        }
        refuse(
            Refusal::NotTheChair,
            format!(
                "only an ICS admin or the chair of {} changes its charter",
                da.display_name
            ),
        )
    }

    /// The requesting trust's digital lead, the chair or an ICS admin schedules a change.
    pub fn may_schedule(&self, cr: &ChangeRequest, da: &DesignAuthority) -> Result<(), Refused> {
        if self.ics_admin || self.chairs(da) || (self.digital_lead && self.requests(cr)) {
            return Ok(());
        }
        refuse(
            Refusal::TrustScope,
            format!(
                "the requesting trust's digital lead, the chair or an ICS admin schedules {}",
                cr.number
            ),
        )
    }

    /// Trusts involved in `cr` (affected or requesting) log its hazards.
    pub fn may_log_hazard(&self, cr: &ChangeRequest) -> Result<(), Refused> {
        let involved = self
            .trust
            .is_some_and(|t| cr.affected_trusts.contains(t) || t == cr.requesting_trust);
        if involved {
            return Ok(());
        }
        refuse(
            Refusal::TrustScope,
            format!("only trusts involved in {} log its hazards", cr.number),
        )
    }

    /// A trust affected by `cr` may `what` (e.g. "report its deployment"); returns the trust.
    pub fn must_be_affected(&self, cr: &ChangeRequest, what: &str) -> Result<&str, Refused> {
        match self.affected_trust(cr) {
            Some(trust) => Ok(trust),
            None => Err(Refused {
                reason: Refusal::TrustScope,
                message: format!("only trusts affected by {} {what}", cr.number),
            }),
        }
    }

    /// A voting member of `da` for `trust` votes.
    pub fn may_vote(&self, da: &DesignAuthority, trust: &str) -> Result<(), Refused> {
        if !da.members.contains_key(trust) {
            return refuse(
                Refusal::TrustNotInvolved,
                format!("{trust} is not a member of {}", da.display_name),
            );
        }
        if !da.may_vote(trust, &self.person) {
            return refuse(
                Refusal::NotAVotingMember,
                format!("{} is not a voting member for {trust}", self.person),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::domain::change_request::tests::who;
    use crate::domain::charter::tests::medicines;

    fn da() -> DesignAuthority {
        let mut members = BTreeMap::new();
        members.insert("RGT".to_owned(), BTreeSet::from([who("alice")]));
        members.insert("RGM".to_owned(), BTreeSet::from([who("bob")]));
        DesignAuthority {
            ics: "QUE".into(),
            id: "medicines".into(),
            display_name: "Medicines".into(),
            domains: vec!["medicines".into()],
            members,
            chair: who("carol"),
            charter: medicines(),
            version: 1,
            create_time: chrono::DateTime::UNIX_EPOCH,
            update_time: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn actor<'a>(subject: &'a str, trust: Option<&'a str>) -> Actor<'a> {
        Actor {
            person: who(subject),
            trust,
            assessor: false,
            da_member: false,
            da_chair: false,
            cso: false,
            board: false,
            deployer: false,
            digital_lead: false,
            ics_admin: false,
        }
    }

    #[test]
    fn only_the_named_chair_holding_the_role_chairs() {
        let da = da();
        let mut carol = actor("carol", None);
        assert_eq!(
            carol.must_chair(&da, "closes voting").unwrap_err().reason,
            Refusal::NotTheChair,
            "the named chair without the da-chair role does not chair"
        );
        carol.da_chair = true;
        assert!(carol.must_chair(&da, "closes voting").is_ok());
        let mut dave = actor("dave", None);
        dave.da_chair = true;
        let refused = dave.must_chair(&da, "closes voting").unwrap_err();
        assert_eq!(refused.reason, Refusal::NotTheChair);
        assert!(
            refused
                .message
                .contains("Medicines (carol at https://idp.test) closes voting"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn a_vote_needs_a_member_trust_and_a_voting_member_for_it() {
        let da = da();
        let alice = actor("alice", Some("RGT"));
        assert!(alice.may_vote(&da, "RGT").is_ok());
        assert_eq!(
            alice.may_vote(&da, "RGM").unwrap_err().reason,
            Refusal::NotAVotingMember
        );
        assert_eq!(
            alice.may_vote(&da, "RGN").unwrap_err().reason,
            Refusal::TrustNotInvolved
        );
    }

    /// The same subject at another issuer is another person: not the chair, not a voting member.
    #[test]
    fn a_subject_at_another_issuer_is_someone_else() {
        let da = da();
        let mut impostor = actor("carol", None);
        impostor.person.issuer = "https://login.other.nhs.uk".into();
        impostor.da_chair = true;
        assert_eq!(
            impostor
                .must_chair(&da, "closes voting")
                .unwrap_err()
                .reason,
            Refusal::NotTheChair
        );
        let mut alice = actor("alice", Some("RGT"));
        alice.person.issuer = "https://login.other.nhs.uk".into();
        assert_eq!(
            alice.may_vote(&da, "RGT").unwrap_err().reason,
            Refusal::NotAVotingMember
        );
    }
}
