//! Benefits: benefit profiles, trust-validated monthly measurements, their valuation under
//! effective-dated rate cards, attribution to the change requests that enabled them, and the ICS
//! rollup by NHS financial year.
//!
//! So far the crate holds the rules, pure and tested without a database: exact arithmetic for
//! conversion and valuation ([`domain::exact`]), months, quarters and financial years
//! ([`domain::period`]), the measurement state machine ([`domain::measurement`]), attribution
//! caps ([`domain::attribution`]), statistical process control ([`domain::spc`]), rate cards
//! and valuation ([`domain::valuation`]) and the rollup ([`domain::rollup`]). The gRPC service (`concordat.benefits.v1`, target
//! `benefits`) is built on them next.

pub mod domain;
