//! Change control: the trusts of an ICS agree every change to their shared EPR build here.
//!
//! A change request is raised by a trust, assessed by every affected trust, judged for clinical
//! safety, decided by the design authority of its domain under that authority's charter,
//! escalated to the programme board when it exceeds the authority's delegated limits, scheduled
//! into a release and tracked until every affected trust has deployed it.

pub mod domain;
