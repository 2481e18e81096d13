//! The rules of change control, pure: no tonic, prost, sea-orm or I/O.

pub mod actions;
pub mod change_request;
pub mod charter;
pub mod decision;
pub mod lifecycle;
pub mod release;
pub mod risk;
pub mod safety;
pub mod standing;
