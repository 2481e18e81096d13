//! Client credentials: the bearer token every call to a Concordat server carries.

use tonic::metadata::AsciiMetadataValue;

/// Why a token cannot be sent as a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBearerToken {
    /// The token is empty, which would authenticate no one.
    #[error("bearer token is empty")]
    Empty,
    /// The token holds something other than visible ASCII: control characters cannot be in a
    /// header value at all, and non-ASCII or whitespace would reach the server mangled or split
    /// (RFC 6750 tokens are visible ASCII).
    #[error("bearer token is not a valid header value (it must be visible ASCII, without spaces)")]
    NotAHeaderValue,
}

/// A tonic interceptor that adds `authorization: Bearer <token>` to every request, for a
/// client that authenticates with an OIDC access token or a service client's token.
///
/// The token is checked once, when the interceptor is made, so a bad token is an error at
/// start-up rather than a panic or a refused call later. The header value is marked sensitive,
/// and `Debug` does not print the token, so neither ends up in logs.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let token = concordat_api::BearerToken::new("eyJhbGciOi…")?;
/// let channel = tonic::transport::Channel::from_static("http://127.0.0.1:50051").connect_lazy();
/// let intercepted = tonic::service::interceptor::InterceptedService::new(channel, token);
/// # let _ = intercepted;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BearerToken(AsciiMetadataValue);

impl BearerToken {
    /// Checks `token` and prepares the header value, refusing an empty token or one that is
    /// not visible ASCII.
    pub fn new(token: &str) -> Result<Self, InvalidBearerToken> {
        if token.is_empty() {
            return Err(InvalidBearerToken::Empty);
        }
        // The header type accepts obs-text (bytes above 0x7f) and spaces; a token must not.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidBearerToken::NotAHeaderValue);
        }
        let mut value = AsciiMetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| InvalidBearerToken::NotAHeaderValue)?;
        value.set_sensitive(true);
        Ok(Self(value))
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never print it.
        f.write_str("BearerToken(..)")
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tonic::service::Interceptor as _;

    #[test]
    fn the_interceptor_sets_the_authorization_header() {
        let mut token = BearerToken::new("abc.def-ghi_jkl").unwrap();
        let request = token.call(tonic::Request::new(())).unwrap();
        let value = request.metadata().get("authorization").unwrap();
        assert_eq!(value.to_str().unwrap(), "Bearer abc.def-ghi_jkl");
        assert!(value.is_sensitive());
    }

    #[test]
    fn the_interceptor_replaces_an_existing_header() {
        let mut token = BearerToken::new("new").unwrap();
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("authorization", "Bearer old".parse().unwrap());
        let request = token.call(request).unwrap();
        let values: Vec<_> = request.metadata().get_all("authorization").iter().collect();
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].to_str().unwrap(), "Bearer new");
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused() {
        assert_eq!(BearerToken::new("").unwrap_err(), InvalidBearerToken::Empty);
        for bad in [
            "a\nb", "a\rb", "a\0b", "tökén", "a\u{7f}", "a b", " ab", "a\tb",
        ] {
            assert_eq!(
                BearerToken::new(bad).unwrap_err(),
                InvalidBearerToken::NotAHeaderValue,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_does_not_print_the_token() {
        let token = BearerToken::new("secret").unwrap();
        assert_eq!(format!("{token:?}"), "BearerToken(..)");
    }
}
