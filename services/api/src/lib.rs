//! The primitives every Concordat API shares, for the server and for clients alike.
//!
//! Resource names ([`names`]), list paging and page tokens ([`paging`]), etags ([`etag`]),
//! timestamps ([`time`]) and the field violations their parsers return ([`violation`]) follow
//! one format across every service, so they live here once instead of in each handler. Clients
//! also get [`status`], which decodes the `google.rpc` error details the server attaches, and
//! [`credentials`], which sends a bearer token with every call.
//!
//! The crate depends on no server crate (no sea-orm, no platform, no service): a command-line
//! client or another tool can use it without building the server.

pub mod credentials;
pub mod etag;
pub mod names;
pub mod paging;
pub mod request_id;
pub mod status;
pub mod time;
pub mod violation;

pub use credentials::{BearerToken, InvalidBearerToken};
pub use etag::{etag, is_current as etag_is_current, matches as etag_matches};
pub use names::{
    AuditEntryName, ChangeRequestName, ChangesetName, ConfigKindName, DesignAuthorityName,
    EffectiveConfigName, HazardName, IcsName, ImpactAssessmentName, LayerName, ReleaseName,
    RevisionName, SnapshotName, StandardTemplateName, VoteName,
};
pub use paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageTokens, page_size};
pub use status::ErrorReport;
pub use time::{from_timestamp, required_timestamp, timestamp};
pub use violation::FieldViolation;
