//! Bearer-token verification against each federated issuer's published keys.
//!
//! Keys come from the issuer's OIDC discovery document and JWKS (fetched with `openidconnect`),
//! are cached, fetched again periodically and when a token names an unknown `kid` (at most once per
//! `jwks_min_refresh_interval`, so forged tokens cannot flood an issuer). Only asymmetric
//! algorithms are accepted; `none` and HMAC are refused before any key is looked at. A verified
//! token is remembered until it expires, so steady traffic is not verified on every call. An
//! issuer that is down does not stop the server: its tokens fail until it answers, and keys
//! fetched earlier keep working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};
use openidconnect::{IssuerUrl, JsonWebKeySetUrl};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::federation::{Federation, PrincipalError};
use super::principal::Principal;
use crate::config::IdentityConfig;

/// Why a token was not accepted. Each maps to a documented `ErrorReason`.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No bearer token.
    #[error("no bearer token: send `authorization: Bearer <token>`")]
    Missing,
    /// Not a JWT, bad signature, unknown key, wrong claims.
    #[error("token is invalid: {0}")]
    Invalid(String),
    /// Expired or not yet valid.
    #[error("token is {0}")]
    Expired(&'static str),
    /// The issuer is not federated.
    #[error("issuer `{0}` is not in the federation")]
    UnknownIssuer(String),
    /// The issuer's keys could not be fetched.
    #[error("issuer {0} could not be reached for its signing keys; retry later")]
    IssuerUnavailable(String),
    /// Wrong audience.
    #[error("token audience is not accepted by issuer {0}")]
    Audience(String),
    /// Refused algorithm.
    #[error("token algorithm `{0}` is refused: only RS256, PS256, ES256 and EdDSA are accepted")]
    Algorithm(String),
    /// Verified, but not a principal of the federation.
    #[error("{0}")]
    Principal(PrincipalError),
}

impl AuthError {
    /// The `ErrorReason` name.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "TOKEN_MISSING",
            AuthError::Invalid(_) => "TOKEN_INVALID",
            AuthError::Expired(_) => "TOKEN_EXPIRED",
            AuthError::UnknownIssuer(_) => "ISSUER_UNKNOWN",
            AuthError::IssuerUnavailable(_) => "ISSUER_UNAVAILABLE",
            AuthError::Audience(_) => "AUDIENCE_MISMATCH",
            AuthError::Algorithm(_) => "ALGORITHM_REFUSED",
            AuthError::Principal(PrincipalError::UnknownIssuer(_)) => "ISSUER_UNKNOWN",
            AuthError::Principal(_) => "ORGANISATION_UNKNOWN",
        }
    }

    /// True when the token itself is fine but does not make a principal (PERMISSION_DENIED
    /// rather than UNAUTHENTICATED).
    pub fn is_authorization(&self) -> bool {
        matches!(self, AuthError::Principal(p) if !matches!(p, PrincipalError::UnknownIssuer(_)))
    }
}

/// Keys of one issuer, by `kid`.
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: bool,
}

struct IssuerState {
    url: String,
    audiences: Vec<String>,
    max_lifetime: u64,
    keys: std::sync::RwLock<KeySet>,
    jwks_uri: Mutex<Option<JsonWebKeySetUrl>>,
    /// Serialises fetches and remembers when the last one started.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

struct CachedToken {
    principal: Arc<Principal>,
    expires: u64,
}

/// Verifies bearer tokens and turns them into principals.
pub struct Verifier {
    federation: Arc<Federation>,
    issuers: HashMap<String, Arc<IssuerState>>,
    http: openidconnect::reqwest::Client,
    config: IdentityConfig,
    cache: Mutex<HashMap<[u8; 32], CachedToken>>,
}

const ACCEPTED: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

impl Verifier {
    /// A verifier for the federation's issuers. Fetches nothing yet: call [`Verifier::start`].
    pub fn new(federation: Arc<Federation>, config: IdentityConfig) -> Result<Self, AuthError> {
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(config.http_timeout)
            .build()
            .map_err(|e| AuthError::Invalid(format!("http client: {e}")))?;
        let issuers = federation
            .issuers
            .iter()
            .map(|i| {
                let state = IssuerState {
                    url: i.url.clone(),
                    audiences: i.audiences.clone(),
                    max_lifetime: i.max_token_lifetime_seconds,
                    keys: Default::default(),
                    jwks_uri: Mutex::new(None),
                    last_fetch: tokio::sync::Mutex::new(None),
                };
                (i.url.clone(), Arc::new(state))
            })
            .collect();
        Ok(Self {
            federation,
            issuers,
            http,
            config,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The federation the verifier applies.
    pub fn federation(&self) -> &Arc<Federation> {
        &self.federation
    }

    /// Fetches every issuer's keys in the background, at once and then every
    /// `jwks_refresh_interval`. Start-up does not wait: an issuer that is slow or down delays
    /// nothing, and a token arriving before its issuer's first fetch waits for that fetch.
    pub fn start(self: &Arc<Self>) {
        let this = Arc::downgrade(self);
        let interval = self.config.jwks_refresh_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                let Some(this) = this.upgrade() else { return };
                let fetches = this.issuers.values().map(|issuer| this.fetch(issuer, true));
                futures::future::join_all(fetches).await;
            }
        });
    }

    /// Fetches discovery (once it succeeded, only the JWKS) and replaces the issuer's keys.
    /// Unless `force`, does nothing when the last fetch started less than
    /// `jwks_min_refresh_interval` ago. Returns whether keys were fetched.
    async fn fetch(&self, issuer: &IssuerState, force: bool) -> bool {
        let mut last = issuer.last_fetch.lock().await;
        if !force && last.is_some_and(|t| t.elapsed() < self.config.jwks_min_refresh_interval) {
            return false;
        }
        *last = Some(Instant::now());
        let result = self.fetch_keys(issuer).await;
        match result {
            Ok(jwks) => {
                let mut keys = HashMap::new();
                for key in jwks.keys() {
                    let Ok(json) = serde_json::to_value(key) else {
                        continue;
                    };
                    let Ok(jwk) = serde_json::from_value::<Jwk>(json) else {
                        tracing::debug!(issuer = %issuer.url, "skipping a key of unsupported type");
                        continue;
                    };
                    let alg = jwk
                        .common
                        .key_algorithm
                        .and_then(|a| a.to_string().parse().ok());
                    if let Ok(decoding) = DecodingKey::from_jwk(&jwk) {
                        let kid = jwk.common.key_id.clone().unwrap_or_default();
                        keys.insert(kid, (decoding, alg));
                    }
                }
                tracing::debug!(issuer = %issuer.url, keys = keys.len(), "issuer keys fetched");
                if let Ok(mut set) = issuer.keys.write() {
                    *set = KeySet {
                        keys,
                        fetched: true,
                    };
                }
                true
            }
            Err(err) => {
                tracing::warn!(issuer = %issuer.url, error = %err, "issuer keys could not be fetched");
                false
            }
        }
    }

    async fn fetch_keys(&self, issuer: &IssuerState) -> Result<CoreJsonWebKeySet, String> {
        let known = issuer.jwks_uri.lock().map_err(|e| e.to_string())?.clone();
        if let Some(uri) = known {
            return CoreJsonWebKeySet::fetch_async(&uri, &self.http)
                .await
                .map_err(|e| format!("jwks: {e}"));
        }
        let url = IssuerUrl::new(issuer.url.clone()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| format!("discovery: {e}"))?;
        *issuer.jwks_uri.lock().map_err(|e| e.to_string())? = Some(metadata.jwks_uri().clone());
        Ok(metadata.jwks().clone())
    }

    /// Verifies a bearer token and returns its principal.
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = unix_now();
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.get(&digest)
            && hit.expires + self.config.leeway.as_secs() > now
        {
            return Ok(hit.principal.clone());
        }

        let (header, payload) = peek(token)?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("none");
        let alg = ACCEPTED
            .into_iter()
            .find(|a| format!("{a:?}") == alg_name)
            .ok_or_else(|| AuthError::Algorithm(alg_name.to_owned()))?;
        if let Some(typ) = header.get("typ").and_then(Value::as_str) {
            let typ = typ.to_ascii_lowercase();
            if !matches!(typ.as_str(), "at+jwt" | "application/at+jwt" | "jwt") {
                return Err(AuthError::Invalid(format!(
                    "token type `{typ}` is not accepted"
                )));
            }
        }
        if let Some(crit) = header.get("crit") {
            // RFC 7515 §4.1.11: this server understands no extension header parameters.
            return Err(AuthError::Invalid(format!(
                "the token's header marks extensions critical ({}) that this server does not understand",
                bounded(&crit.to_string())
            )));
        }
        let iss = payload
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let issuer = self
            .issuers
            .get(iss)
            .ok_or_else(|| AuthError::UnknownIssuer(iss.to_owned()))?;
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default();

        let (key, key_alg) = match self.key(issuer, kid, alg) {
            Some(found) => found,
            None => {
                self.fetch(issuer, false).await;
                match self.key(issuer, kid, alg) {
                    Some(found) => found,
                    None if !self.fetched(issuer) => {
                        return Err(AuthError::IssuerUnavailable(issuer.url.clone()));
                    }
                    None => {
                        return Err(AuthError::Invalid(format!(
                            "signing key `{}` is not published by {}",
                            bounded(kid),
                            issuer.url
                        )));
                    }
                }
            }
        };
        if key_alg.is_some_and(|k| k != alg) {
            return Err(AuthError::Invalid(
                "token algorithm does not match its key".into(),
            ));
        }

        let mut validation = Validation::new(alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&issuer.url]);
        validation.set_audience(&issuer.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => AuthError::Expired("expired"),
                    ErrorKind::ImmatureSignature => AuthError::Expired("not yet valid"),
                    ErrorKind::InvalidAudience => AuthError::Audience(issuer.url.clone()),
                    ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                    other => AuthError::Invalid(explain(other)),
                }
            })?
            .claims;
        self.check_times(issuer, &claims, now)?;
        let principal = Arc::new(
            self.federation
                .principal(&claims)
                .map_err(AuthError::Principal)?,
        );
        let expires = claims.get("exp").and_then(Value::as_u64).unwrap_or(now);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= self.config.token_cache_size {
                cache.retain(|_, c| c.expires > now);
                if cache.len() >= self.config.token_cache_size {
                    cache.clear();
                }
            }
            cache.insert(
                digest,
                CachedToken {
                    principal: principal.clone(),
                    expires,
                },
            );
        }
        Ok(principal)
    }

    fn key(
        &self,
        issuer: &IssuerState,
        kid: &str,
        alg: Algorithm,
    ) -> Option<(DecodingKey, Option<Algorithm>)> {
        let set = issuer.keys.read().ok()?;
        if let Some(found) = set.keys.get(kid) {
            return Some(found.clone());
        }
        // A token without `kid` is accepted only when exactly one published key can verify it.
        if kid.is_empty() {
            let mut candidates = set
                .keys
                .values()
                .filter(|(_, a)| a.is_none_or(|a| a == alg));
            if let (Some(only), None) = (candidates.next(), candidates.next()) {
                return Some(only.clone());
            }
        }
        None
    }

    fn fetched(&self, issuer: &IssuerState) -> bool {
        issuer.keys.read().map(|k| k.fetched).unwrap_or(false)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Decodes the header and payload without verifying anything, to choose the issuer and key.
/// At most 64 characters of `text` a client sent, for echoing it in an error.
fn bounded(text: &str) -> String {
    crate::error::bounded(text, 64)
}

/// A token failure in the client's terms, not the library's.
fn explain(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::MissingRequiredClaim(claim) => {
            format!("the token has no `{}` claim", bounded(claim))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            format!("the token's `{}` claim is not of its standard type", bounded(claim))
        }
        ErrorKind::InvalidIssuer => "the token's `iss` is not its issuer's URL".into(),
        ErrorKind::InvalidSubject => "the token's `sub` is not valid".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the token's algorithm is not accepted for its key".into()
        }
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            "not a signed JWT".into()
        }
        ErrorKind::Json(_) => {
            "the token's claims are not a JSON object of the standard claim types (`exp`, `nbf` and `iat` are numbers, `aud` a string or an array of strings)".into()
        }
        _ => "the token could not be verified".into(),
    }
}

impl Verifier {
    /// `iat` no later than now (with the leeway), and the issuer's maximum lifetime.
    fn check_times(&self, issuer: &IssuerState, claims: &Value, now: u64) -> Result<(), AuthError> {
        let leeway = self.config.leeway.as_secs();
        let iat = claims.get("iat");
        let iat = match iat {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                AuthError::Invalid("the token's `iat` is not a number of seconds".into())
            })?),
        };
        if let Some(iat) = iat
            && iat > now + leeway
        {
            return Err(AuthError::Invalid(format!(
                "the token was issued {}s in the future (`iat`); check the issuer's clock",
                iat - now
            )));
        }
        if issuer.max_lifetime > 0 {
            let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
            let Some(iat) = iat else {
                return Err(AuthError::Invalid(format!(
                    "{} limits token lifetimes, so a token needs an `iat` claim",
                    issuer.url
                )));
            };
            if exp.saturating_sub(iat) > issuer.max_lifetime {
                return Err(AuthError::Invalid(format!(
                    "the token lives {}s; {} accepts at most {}s",
                    exp.saturating_sub(iat),
                    issuer.url,
                    issuer.max_lifetime
                )));
            }
        }
        Ok(())
    }
}

fn peek(token: &str) -> Result<(Value, Value), AuthError> {
    let malformed = || AuthError::Invalid("not a signed JWT".into());
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let decode = |s: &str| -> Result<Value, AuthError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| malformed())?;
        serde_json::from_slice(&bytes).map_err(|_| malformed())
    };
    Ok((decode(h)?, decode(p)?))
}
