//! One etag format for every resource (AIP-154): the resource's version as a strong etag.
//!
//! The server writes `etag(version)` into each resource it returns and checks a client's
//! `etag` with [`matches`] before a write; a mismatch is `ABORTED`. Clients only echo etags back,
//! so the format is free to change; accepting the bare version too keeps older clients, which
//! sent the number unquoted, working.

/// The etag of a resource at `version`: the version in double quotes, e.g. `"7"`, the strong
/// etag form of HTTP and AIP-154.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether the etag a client `sent` allows a write to the resource at `version`.
///
/// An empty `sent` is no precondition (the client chose to overwrite) and matches. Otherwise it
/// must be exactly [`etag`]`(version)` or the bare version digits (`7`); anything else,
/// including a weak etag (`W/"7"`), whitespace or leading zeros, does not match.
pub fn matches(sent: &str, version: i64) -> bool {
    sent.is_empty() || sent == etag(version) || sent == version.to_string()
}

/// Whether `sent` names the resource at `version` exactly, for a write that requires an etag
/// and for `if_none_match` reads: as [`matches`], but an empty `sent` does not match.
pub fn is_current(sent: &str, version: i64) -> bool {
    !sent.is_empty() && matches(sent, version)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_is_the_quoted_version() {
        assert_eq!(etag(7), "\"7\"");
        assert_eq!(etag(0), "\"0\"");
        assert_eq!(etag(i64::MAX), format!("\"{}\"", i64::MAX));
    }

    #[test]
    fn an_empty_etag_is_no_precondition() {
        assert!(matches("", 1));
        assert!(matches("", i64::MAX));
    }

    #[test]
    fn the_current_etag_matches_quoted_or_bare() {
        for version in [0, 1, 7, 12_345, i64::MAX] {
            assert!(matches(&etag(version), version));
            assert!(matches(&version.to_string(), version));
        }
    }

    #[test]
    fn a_required_etag_must_be_sent() {
        assert!(!is_current("", 7));
        assert!(is_current(&etag(7), 7));
        assert!(is_current("7", 7));
        assert!(!is_current("\"6\"", 7));
    }

    #[test]
    fn a_stale_or_malformed_etag_does_not_match() {
        for sent in [
            "\"6\"", "6", "\"8\"", "W/\"7\"", " \"7\"", "\"7\" ", "07", "\"07\"", "+7", "\"7",
            "7\"", "'7'", "*", "\"\"", "seven",
        ] {
            assert!(!matches(sent, 7), "{sent:?}");
        }
    }
}
