//! Service identity for background work.
//!
//! A call made on behalf of a user forwards that user's token. Work no user asked for at that
//! moment (following another service's events, a scheduled rollup) authenticates as a registered
//! service client instead: an OAuth 2.0 client-credentials grant against its issuer's token
//! endpoint (found by discovery), or, in the embedded default, a token minted by the development
//! issuer. Either way the token is cached and renewed before it expires — at the time of the
//! platform's [`Clock`], so a test moves past the renewal point instead of waiting for it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::dev_issuer::{DevIssuer, TokenRequest};
use crate::clock::Clock;

/// Why a service token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ServiceTokenError {
    /// The issuer or its token endpoint did not answer as OAuth 2.0 says.
    #[error("service token from {issuer}: {reason}")]
    Issuer {
        /// The issuer.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// The development issuer could not mint.
    #[error("development issuer: {0}")]
    DevIssuer(String),
}

/// Where a service's own bearer token comes from.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// A token valid for a while yet: the cached one, or a new one when it is due for renewal.
    async fn token(&self) -> Result<String, ServiceTokenError>;
}

/// A token and when it expires.
#[derive(Clone)]
struct Cached {
    token: String,
    renew_at: DateTime<Utc>,
}

/// When to renew a token issued at `now` that lives `lifetime`: after four fifths of its life,
/// so a call made with it never carries a token about to expire.
fn renew_at(now: DateTime<Utc>, lifetime: Duration) -> DateTime<Utc> {
    let early = chrono::Duration::from_std(lifetime / 5).unwrap_or(chrono::Duration::zero());
    let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::zero());
    now + lifetime - early
}

/// The cache both sources share: one fetch at a time, the others wait for its token.
struct Cache {
    clock: Clock,
    cached: Mutex<Option<Cached>>,
}

impl Cache {
    fn new(clock: Clock) -> Self {
        Self {
            clock,
            cached: Mutex::new(None),
        }
    }

    async fn get<F, Fut>(&self, fetch: F) -> Result<String, ServiceTokenError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(String, Duration), ServiceTokenError>>,
    {
        let mut cached = self.cached.lock().await;
        let now = self.clock.now();
        if let Some(c) = cached.as_ref().filter(|c| now < c.renew_at) {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = fetch().await?;
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: renew_at(now, lifetime),
        });
        Ok(token)
    }
}

/// A registered service client of an OIDC issuer, using the client-credentials grant.
pub struct ClientCredentials {
    issuer: String,
    client_id: String,
    client_secret: String,
    resource: Option<String>,
    http: openidconnect::reqwest::Client,
    token_endpoint: Mutex<Option<String>>,
    cache: Cache,
}

impl ClientCredentials {
    /// The client `client_id` of `issuer` (its token endpoint is discovered on first use), asking
    /// for tokens for `resource` when set (RFC 8707), renewed at the time of `clock`.
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        resource: Option<&str>,
        clock: Clock,
    ) -> Result<Self, ServiceTokenError> {
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ServiceTokenError::Issuer {
                issuer: issuer.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            resource: resource.map(str::to_owned),
            http,
            token_endpoint: Mutex::new(None),
            cache: Cache::new(clock),
        })
    }

    fn failed(&self, reason: impl std::fmt::Display) -> ServiceTokenError {
        ServiceTokenError::Issuer {
            issuer: self.issuer.clone(),
            reason: reason.to_string(),
        }
    }

    async fn json(
        &self,
        request: openidconnect::reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, ServiceTokenError> {
        let response = request.send().await.map_err(|e| self.failed(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.failed(e))?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| self.failed(format!("not JSON ({e})")))?;
        if !status.is_success() {
            let error = json["error"].as_str().unwrap_or("unknown error");
            return Err(self.failed(format!("{status}: {error}")));
        }
        Ok(json)
    }

    async fn endpoint(&self) -> Result<String, ServiceTokenError> {
        let mut endpoint = self.token_endpoint.lock().await;
        if let Some(url) = endpoint.as_ref() {
            return Ok(url.clone());
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let json = self.json(self.http.get(discovery)).await?;
        let url = json["token_endpoint"]
            .as_str()
            .ok_or_else(|| self.failed("discovery names no token_endpoint"))?
            .to_owned();
        *endpoint = Some(url.clone());
        Ok(url)
    }

    async fn fetch(&self) -> Result<(String, Duration), ServiceTokenError> {
        let endpoint = self.endpoint().await?;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(resource) = &self.resource {
            form.push(("resource", resource));
        }
        let request = self
            .http
            .post(endpoint)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&form);
        let json = self.json(request).await?;
        let token = json["access_token"]
            .as_str()
            .ok_or_else(|| self.failed("the token response has no access_token"))?
            .to_owned();
        // Without `expires_in` the token's lifetime is unknown: renew after a minute.
        let lifetime = Duration::from_secs(json["expires_in"].as_u64().unwrap_or(60));
        tracing::debug!(client = %self.client_id, issuer = %self.issuer, ?lifetime, "service token issued");
        Ok((token, lifetime))
    }
}

#[async_trait::async_trait]
impl TokenSource for ClientCredentials {
    async fn token(&self) -> Result<String, ServiceTokenError> {
        self.cache.get(|| self.fetch()).await
    }
}

/// The embedded default: tokens minted in-process by the development issuer for a service
/// principal.
pub struct DevIssuerTokens {
    issuer: Arc<DevIssuer>,
    request: TokenRequest,
    cache: Cache,
}

impl DevIssuerTokens {
    /// Tokens of `issuer` for `request` (its `ttl` is the lifetime), renewed at `clock`'s time.
    pub fn new(issuer: Arc<DevIssuer>, request: TokenRequest, clock: Clock) -> Self {
        Self {
            issuer,
            request,
            cache: Cache::new(clock),
        }
    }
}

#[async_trait::async_trait]
impl TokenSource for DevIssuerTokens {
    async fn token(&self) -> Result<String, ServiceTokenError> {
        self.cache
            .get(|| async {
                let token = self
                    .issuer
                    .mint(&self.request)
                    .map_err(|e| ServiceTokenError::DevIssuer(e.to_string()))?;
                Ok((token, self.request.ttl))
            })
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_token_is_reused_until_four_fifths_of_its_life_then_renewed() {
        let clock = Clock::system();
        let cache = Cache::new(clock.clone());
        let fetched = AtomicUsize::new(0);
        let fetch = || async {
            let n = fetched.fetch_add(1, Ordering::SeqCst);
            Ok((format!("token-{n}"), Duration::from_secs(100)))
        };
        assert_eq!(cache.get(fetch).await.unwrap(), "token-0");
        clock.advance(Duration::from_secs(70));
        assert_eq!(
            cache.get(fetch).await.unwrap(),
            "token-0",
            "still fresh at 70 s"
        );
        clock.advance(Duration::from_secs(11));
        assert_eq!(
            cache.get(fetch).await.unwrap(),
            "token-1",
            "renewed after 80 s"
        );
        assert_eq!(fetched.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_cached() {
        let cache = Cache::new(Clock::system());
        let failing =
            || async { Err::<(String, Duration), _>(ServiceTokenError::DevIssuer("down".into())) };
        assert!(cache.get(failing).await.is_err());
        let ok = || async { Ok(("t".to_owned(), Duration::from_secs(10))) };
        assert_eq!(cache.get(ok).await.unwrap(), "t");
    }
}
