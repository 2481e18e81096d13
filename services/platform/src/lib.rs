//! What every Concordat service shares.
//!
//! A service crate builds on this one for: configuration ([`config`]), storage and migrations
//! ([`db`]), federated identity ([`identity`]) and role-based authorization ([`authz`]), the one
//! error-to-status mapping ([`error`]), telemetry ([`telemetry`]), the ICS audit chain
//! ([`audit`]), the per-service event outbox and `Watch…` streams ([`events`]), and the server
//! builder ([`server`]) that stacks the layers every RPC passes through. Every mutation of every
//! service goes through one write path ([`write`]), at the time of one [`clock`]. The platform's own API
//! (`concordat.platform.v1`) lives in [`api`].

pub mod api;
pub mod audit;
pub mod authz;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod deadline;
pub mod drain;
pub mod error;
pub mod events;
pub mod framing;
pub mod idempotency;
pub mod identity;
pub mod migrations;
pub mod paging;
pub mod registry;
pub mod server;
pub mod startup;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trace_context;
pub mod upstream;
pub mod write;

/// The version of this build, reported by `GetServerInfo` and `concordat version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
