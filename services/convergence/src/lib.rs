//! Convergence planning: how far each trust's actual EPR build (its imported snapshot) is from
//! the ICS baseline and its approved variations, per clinical domain, and the plans — milestones
//! across trusts with dependencies, a critical path and a seeded forecast — that close the gap.
//!
//! So far the crate holds the rules, pure and tested without a database: classifying and scoring
//! an assessment ([`domain::assessment`]) and scheduling and forecasting a plan
//! ([`domain::plan`]). The gRPC service (`concordat.convergence.v1`, target `convergence`) is
//! built on them next.

pub mod domain;
