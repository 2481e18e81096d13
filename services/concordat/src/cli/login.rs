//! Where a client command's token comes from, and `concordat login`/`logout`.
//!
//! `--token-file` first, then `CONCORDAT_TOKEN`, then the token `concordat login` kept for the
//! server in the per-user credentials file (`CONCORDAT_CREDENTIALS`, else
//! `$XDG_CONFIG_HOME/concordat/credentials.json`, else `~/.config/concordat/credentials.json`),
//! which is written readable by its owner only and refused when anyone else can read it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use concordat_api::credentials::BearerToken;
use serde::{Deserialize, Serialize};

/// What `concordat login` keeps for one server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// The bearer token.
    pub token: String,
    /// Who the server took it for (issuer and subject), when it was kept.
    pub issuer: String,
    /// The subject.
    pub subject: String,
}

/// The credentials file: one token per server URL.
#[derive(Serialize, Deserialize, Default, Debug)]
pub struct Credentials {
    /// By server URL.
    pub servers: BTreeMap<String, Kept>,
}

/// The credentials file's path.
pub fn path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CONCORDAT_CREDENTIALS") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .ok_or("neither CONCORDAT_CREDENTIALS, XDG_CONFIG_HOME nor HOME is set")?,
        )
        .join(".config"),
    };
    Ok(base.join("concordat").join("credentials.json"))
}

/// Reads the credentials file (empty when there is none), refusing one others can read.
pub fn read(path: &Path) -> Result<Credentials, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} can be read by others (mode {:o}): its tokens are not used; run `chmod 600 {}` or `concordat login` again",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a credentials file: {e}", path.display()))
}

/// Writes the credentials file, readable and writable by its owner only (its folder too).
pub fn write(path: &Path, credentials: &Credentials) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(credentials).map_err(|e| e.to_string())?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        if dir != Path::new(".")
            && std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        {
            let owned_by_us = dir.ends_with("concordat");
            if owned_by_us {
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
        }
    }
    let mut file = options
        .open(&temporary)
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The `exp` of a JWT, if it is one and has it.
fn expiry(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["exp"].as_i64()
}

/// The token a client command sends to `server`.
pub fn token(token_file: Option<&PathBuf>, server: &str) -> Result<BearerToken, String> {
    let text = if let Some(path) = token_file {
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --token-file {}: {e}", path.display()))?
    } else if let Ok(token) = std::env::var("CONCORDAT_TOKEN") {
        token
    } else {
        let path = path()?;
        let credentials = read(&path)?;
        let kept = credentials.servers.get(server).ok_or_else(|| {
            format!("no token: run `concordat login --server {server}`, set CONCORDAT_TOKEN or give --token-file FILE")
        })?;
        if let Some(exp) = expiry(&kept.token)
            && exp <= chrono::Utc::now().timestamp()
        {
            let when = chrono::DateTime::from_timestamp(exp, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            return Err(format!(
                "the token `concordat login` kept for {server} ({}) expired at {when}: run `concordat login` again",
                kept.subject
            ));
        }
        kept.token.clone()
    };
    BearerToken::new(text.trim()).map_err(|e| format!("the token cannot be sent: {e}"))
}

/// Keeps `token` for `server` after the server has said whom it takes it for.
pub async fn keep(
    server: &str,
    token: &str,
    ca_file: Option<&PathBuf>,
) -> Result<Kept, (String, Option<tonic::Status>)> {
    let bearer = BearerToken::new(token.trim())
        .map_err(|e| (format!("the token cannot be sent: {e}"), None))?;
    let mut connection = super::call::Connection::open(server, bearer, ca_file)
        .await
        .map_err(|e| (e, None))?;
    let method =
        super::call::method("WhoAmI").ok_or(("WhoAmI is not in the API".to_owned(), None))?;
    let who = connection
        .unary(&method, prost_reflect::DynamicMessage::new(method.input()))
        .await
        .map_err(|status| ("the server refused the token".to_owned(), Some(status)))?;
    let kept = Kept {
        token: token.trim().to_owned(),
        issuer: super::render::cell(&who, "principal.issuer"),
        subject: super::render::cell(&who, "principal.subject"),
    };
    let path = path().map_err(|e| (e, None))?;
    let mut credentials = match read(&path) {
        Ok(c) => c,
        // A file others could read is replaced by one they cannot.
        Err(_) if path.exists() => Credentials::default(),
        Err(e) => return Err((e, None)),
    };
    credentials.servers.insert(server.to_owned(), kept.clone());
    let _ = std::fs::remove_file(&path);
    write(&path, &credentials).map_err(|e| (e, None))?;
    Ok(kept)
}

/// Forgets the token kept for `server`; whether there was one.
pub fn forget(server: &str) -> Result<bool, String> {
    let path = path()?;
    let mut credentials = read(&path)?;
    let had = credentials.servers.remove(server).is_some();
    if had {
        let _ = std::fs::remove_file(&path);
        write(&path, &credentials)?;
    }
    Ok(had)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_expiry_is_read_and_other_tokens_have_none() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"a","exp":1700000000}"#);
        assert_eq!(expiry(&format!("h.{payload}.s")), Some(1_700_000_000));
        assert_eq!(expiry("opaque-token"), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_owner_only_and_a_readable_one_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir =
            std::env::temp_dir().join(format!("concordat-credentials-{}", uuid::Uuid::new_v4()));
        let path = dir.join("concordat").join("credentials.json");
        let mut credentials = Credentials::default();
        credentials.servers.insert(
            "http://127.0.0.1:50051".into(),
            Kept {
                token: "t".into(),
                issuer: "i".into(),
                subject: "s".into(),
            },
        );
        write(&path, &credentials).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read(&path).unwrap().servers.len(), 1);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read(&path).unwrap_err().contains("can be read by others"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
