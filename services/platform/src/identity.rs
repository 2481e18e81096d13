//! Federated identity: the federation file, token verification against each issuer's published
//! keys, the principal a verified token stands for, and the embedded development issuer.

pub mod dev_issuer;
pub mod federation;
pub mod principal;
pub mod service_client;
pub mod verifier;

pub use federation::Federation;
pub use principal::{Person, Principal, PrincipalKind, Role};
pub use verifier::{AuthError, Verifier};
