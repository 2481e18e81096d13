//! The form of a `request_id`, the retry key every mutating request carries: empty (no retry
//! protection), or 1 to [`MAX_LEN`] printable ASCII characters without spaces (`!` to `~`), such
//! as a UUID. A retry with the same id, by the same caller, to the same method, gets the first
//! response.

/// The longest request id.
pub const MAX_LEN: usize = 128;

/// Checks a request id; the error is the reason for its field violation.
pub fn check(request_id: &str) -> Result<(), &'static str> {
    if request_id.len() > MAX_LEN {
        return Err("must be at most 128 characters, e.g. a UUID");
    }
    if !request_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces (`!` to `~`), e.g. a UUID");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_short_printable_ascii() {
        for ok in [
            "",
            "a",
            "0f6c9a3e-5b1d-4c2e-9f2a-1d2b3c4d5e6f",
            &"x".repeat(128),
        ] {
            assert!(check(ok).is_ok(), "{ok:?}");
        }
        for bad in [&"x".repeat(129), "a b", "a\u{0}", "é", "tab\t", "new\nline"] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
