//! Shared configuration: the ICS baseline of the EPR build, each trust's approved overlay, and the
//! effective configuration integration engines follow.
//!
//! Today this crate holds the domain: config kinds with their JSON Schemas, per-key governance,
//! overlay resolution that explains itself, content hashes, diffs and changesets. The store, the
//! use cases and the gRPC API (`concordat.sharedconfig.v1`) build on it.

pub mod domain;
