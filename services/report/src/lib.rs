//! The board report.

pub mod pdf;
