//! The rules of benefits, pure: no tonic, prost, sea-orm, I/O or wall clock.

pub mod attribution;
pub mod exact;
pub mod measurement;
pub mod period;
pub mod profile;
pub mod records;
pub mod rollup;
pub mod spc;
pub mod valuation;
