//! The rules of convergence planning, pure: no tonic, prost, sea-orm, I/O or wall clock.

pub mod assessment;
pub mod plan;
pub mod plans;
pub mod proposal;
pub mod records;
