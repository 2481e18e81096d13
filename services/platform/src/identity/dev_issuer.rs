//! The embedded development issuer: lets a newcomer run `concordat serve` and call the API with
//! `concordat dev token` and nothing else installed.
//!
//! It keeps an ES256 signing key in `<data-dir>/dev-issuer/signing-key.pem`, serves OIDC
//! discovery and its JWKS over HTTP on a loopback address, and records its issuer URL in
//! `<data-dir>/dev-issuer/issuer.json` so `concordat dev token` (another process) mints tokens the
//! server accepts. It is for development only: the server refuses to run it on a non-loopback
//! listen address unless forced.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The audience of development tokens.
pub const AUDIENCE: &str = "concordat";

/// Errors of the development issuer.
#[derive(Debug, thiserror::Error)]
pub enum DevIssuerError {
    /// The key or issuer file could not be read or written.
    #[error("development issuer file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file is not a P-256 PKCS#8 PEM key.
    #[error("development issuer key {0} is not a P-256 PKCS#8 key; delete it to make a new one")]
    BadKey(PathBuf),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The signing key and identity of the development issuer.
pub struct DevIssuer {
    key: SigningKey,
    pem: String,
    kid: String,
    issuer: String,
}

#[derive(Serialize, Deserialize)]
struct IssuerFile {
    issuer: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevIssuerError + '_ {
    move |source| DevIssuerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl DevIssuer {
    /// Loads the key from `data_dir`, creating it on first use. `issuer` is the URL the tokens
    /// name; `None` reads it from `issuer.json` (written by a running server), falling back to
    /// `default_issuer`.
    pub fn load(
        data_dir: &Path,
        issuer: Option<String>,
        default_issuer: &str,
    ) -> Result<Self, DevIssuerError> {
        let dir = data_dir.join("dev-issuer");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let key_path = dir.join("signing-key.pem");
        let key = if key_path.exists() {
            let pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
            SigningKey::from_pkcs8_pem(&pem)
                .map_err(|_| DevIssuerError::BadKey(key_path.clone()))?
        } else {
            let key = SigningKey::random(&mut rand::rngs::OsRng);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|_| DevIssuerError::BadKey(key_path.clone()))?;
            write_private(&key_path, pem.as_bytes())?;
            key
        };
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| DevIssuerError::BadKey(key_path.clone()))?
            .to_string();
        let public = key.verifying_key().to_encoded_point(false);
        let kid = hex::encode(&Sha256::digest(public.as_bytes())[..8]);
        let issuer = match issuer {
            Some(url) => url,
            None => {
                let path = dir.join("issuer.json");
                std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<IssuerFile>(&b).ok())
                    .map(|f| f.issuer)
                    .unwrap_or_else(|| default_issuer.to_owned())
            }
        };
        Ok(Self {
            key,
            pem,
            kid,
            issuer,
        })
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Records the issuer URL for `concordat dev token`.
    pub fn record(&self, data_dir: &Path) -> Result<(), DevIssuerError> {
        let path = data_dir.join("dev-issuer").join("issuer.json");
        let body = serde_json::to_vec_pretty(&IssuerFile {
            issuer: self.issuer.clone(),
        })
        .unwrap_or_default();
        std::fs::write(&path, body).map_err(io(&path))
    }

    /// The public JWKS.
    pub fn jwks(&self) -> Value {
        let jwk = self.key.verifying_key().to_encoded_point(false);
        let b64 = |b: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        };
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": b64(jwk.x().map(|x| &x[..]).unwrap_or_default()),
            "y": b64(jwk.y().map(|y| &y[..]).unwrap_or_default()),
        }]})
    }

    /// The OIDC discovery document.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/jwks", self.issuer),
            "authorization_endpoint": format!("{}/authorize", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// Mints an `at+jwt` access token for a person of `org` (a trust's ODS code, or an ICS code for
    /// ICS-level staff) with Concordat `roles`.
    pub fn mint(&self, request: &TokenRequest) -> Result<String, DevIssuerError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        let mut claims = json!({
            "iss": self.issuer,
            "sub": request.subject,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + request.ttl.as_secs(),
            "jti": uuid::Uuid::new_v4().to_string(),
            "org": request.org,
            "roles": request.roles,
            "name": request.name.clone().unwrap_or_else(|| request.subject.clone()),
        });
        if let Some(ics) = &request.ics {
            claims["ics"] = json!(ics);
        }
        let key = EncodingKey::from_ec_pem(self.pem.as_bytes())?;
        Ok(jsonwebtoken::encode(&header, &claims, &key)?)
    }

    /// Serves discovery and the JWKS on `listener` until the process ends.
    pub fn serve(self: std::sync::Arc<Self>, listener: tokio::net::TcpListener) {
        let discovery = self.discovery();
        let jwks = self.jwks();
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let d = discovery.clone();
                    async move { Json(d) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    let j = jwks.clone();
                    async move { Json(j) }
                }),
            );
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::warn!(error = %err, "development issuer stopped");
            }
        });
    }
}

/// What to put in a development token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Subject.
    pub subject: String,
    /// Display name.
    pub name: Option<String>,
    /// Organisation: trust ODS code or ICS code.
    pub org: String,
    /// ICS code, stated explicitly (checked against the trust's ICS).
    pub ics: Option<String>,
    /// Concordat role names.
    pub roles: Vec<String>,
    /// Lifetime.
    pub ttl: Duration,
}

/// The issuer URL for a development issuer bound at `addr`.
pub fn issuer_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DevIssuerError> {
    #[cfg(unix)]
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io(path))?;
        file.write_all(bytes).map_err(io(path))
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, bytes).map_err(io(path))
    }
}
