//! The rules of shared configuration, pure: no tonic, prost, sea-orm or I/O.

pub mod changeset;
pub mod kind;
pub mod layer;
pub mod lthash;
pub mod publish;
pub mod records;
pub mod resolve;
pub mod variation;
