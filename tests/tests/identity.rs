//! Federated identity against real OIDC providers: two `oidc-provider` instances stand for two
//! identity providers — RGT's own (RS256, every token acts for RGT) and an ICS-wide one (ES256,
//! the trust read from the `org` claim, issuer roles mapped to Concordat roles).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use concordat_e2e::{OidcProvider, Options, TestServer, combine_jwks, generate_jwks, now, reason};
use concordat_proto::platform::v1 as pb;
use serde_json::json;
use tonic::Code;

fn federation(rgt_idp: &str, ics_idp: &str) -> String {
    format!(
        r#"
[[ics]]
code = "QUE"
name = "Cambridgeshire and Peterborough ICS"
trusts = [{{ ods = "RGT", name = "CUH" }}, {{ ods = "RGM", name = "Royal Papworth" }},
          {{ ods = "RGN", name = "North West Anglia" }}, {{ ods = "RT1", name = "CPFT" }}]

[[ics]]
code = "QKK"
name = "South East London ICS"
trusts = [{{ ods = "RJ1", name = "Guy's and St Thomas'" }}]

[[issuer]]
url = "{rgt_idp}"
audiences = ["concordat"]
trust = {{ fixed = "RGT" }}
[[issuer.service_client]]
client_id = "engine"
trust = "RGT"
roles = ["automation"]

[[issuer]]
url = "{ics_idp}"
audiences = ["concordat"]
icss = ["QUE"]
trust = {{ claim = "org" }}
role_map = {{ "EPR-Engineer" = ["trust-engineer", "trust-digital-lead"] }}
"#
    )
}

async fn who(server: &TestServer, token: &str) -> Result<pb::Principal, tonic::Status> {
    server
        .platform(token)
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .map(|r| r.into_inner().principal.unwrap())
}

/// Claims of `mallory` from `issuer`, valid for five minutes, with `extra` set over them.
fn mallory(issuer: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"iss": issuer, "sub": "mallory", "aud": "concordat",
        "iat": now(), "exp": now() + 300, "roles": ["ics-admin"]});
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c
}

async fn setup() -> (OidcProvider, OidcProvider, TestServer) {
    let rgt = OidcProvider::start("RS256", "rgt-1", 0).await;
    let ics = OidcProvider::start("ES256", "ics-1", 0).await;
    let server = TestServer::start(Options {
        federation: Some(federation(&rgt.issuer, &ics.issuer)),
        dev_issuer: false,
        ..Default::default()
    })
    .await
    .unwrap();
    (rgt, ics, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_each_identity_provider_are_accepted_and_mapped() {
    let (rgt, ics, server) = setup().await;

    let p = who(&server, &rgt.token("svc-rgt", "svc-rgt-secret").await)
        .await
        .unwrap();
    assert_eq!(
        (p.issuer.as_str(), p.trust.as_str(), p.ics.as_str()),
        (rgt.issuer.as_str(), "RGT", "QUE")
    );
    assert_eq!(p.roles, ["trust-engineer"]);
    assert_eq!(p.kind, pb::PrincipalKind::Service as i32);

    // ES256 from the ICS-wide issuer: trust from the `org` claim, `EPR-Engineer` mapped.
    let p = who(&server, &ics.token("svc-rgm", "svc-rgm-secret").await)
        .await
        .unwrap();
    assert_eq!((p.trust.as_str(), p.ics.as_str()), ("RGM", "QUE"));
    assert_eq!(p.roles, ["trust-digital-lead", "trust-engineer"]);

    // With a role map, roles the map does not name count for nothing.
    let p = who(&server, &ics.token("svc-rgt", "svc-rgt-secret").await)
        .await
        .unwrap();
    assert_eq!(p.trust, "RGT");
    assert!(p.roles.is_empty(), "{:?}", p.roles);

    // A registered service client gets its registered trust and roles.
    let p = who(&server, &rgt.token("engine", "engine-secret").await)
        .await
        .unwrap();
    assert_eq!((p.subject.as_str(), p.trust.as_str()), ("engine", "RGT"));
    assert_eq!(p.roles, ["automation"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_the_reason() {
    let (rgt, _ics, server) = setup().await;
    let claims = |extra: serde_json::Value| mallory(&rgt.issuer, extra);
    let refused = |result: Result<pb::Principal, tonic::Status>| {
        let status = result.expect_err("token must be refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        reason(&status)
    };

    // Control: a token we sign with the provider's key and right claims is accepted.
    let good = rgt.sign(claims(json!({})), "key").await;
    assert_eq!(who(&server, &good).await.unwrap().roles, ["ics-admin"]);

    let unknown = rgt
        .sign(
            claims(json!({"iss": "http://127.0.0.1:9/elsewhere"})),
            "key",
        )
        .await;
    assert_eq!(refused(who(&server, &unknown).await), "ISSUER_UNKNOWN");

    let audience = rgt.sign(claims(json!({"aud": "another-api"})), "key").await;
    assert_eq!(refused(who(&server, &audience).await), "AUDIENCE_MISMATCH");

    let expired = rgt
        .sign(
            claims(json!({"iat": now() - 3600, "exp": now() - 600})),
            "key",
        )
        .await;
    assert_eq!(refused(who(&server, &expired).await), "TOKEN_EXPIRED");

    let early = rgt.sign(claims(json!({"nbf": now() + 600})), "key").await;
    let status = who(&server, &early).await.unwrap_err();
    assert_eq!(reason(&status), "TOKEN_EXPIRED");
    assert!(
        status.message().contains("not yet valid"),
        "{}",
        status.message()
    );

    // Tampered: a real token with its payload changed and its signature kept.
    let real = rgt.token("svc-rgt", "svc-rgt-secret").await;
    let parts: Vec<&str> = real.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["roles"] = json!(["ics-admin"]);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(refused(who(&server, &tampered).await), "TOKEN_INVALID");

    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    let none = format!("{none_header}.{}.", parts[1]);
    assert_eq!(refused(who(&server, &none).await), "ALGORITHM_REFUSED");

    let hmac = rgt.sign(claims(json!({})), "hs256-public").await;
    assert_eq!(refused(who(&server, &hmac).await), "ALGORITHM_REFUSED");

    assert_eq!(refused(who(&server, "not-a-jwt").await), "TOKEN_INVALID");
    let missing = pb::platform_service_client::PlatformServiceClient::new(server.channel.clone())
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::Unauthenticated, "TOKEN_MISSING")
    );

    // The real token, untouched, still works.
    assert_eq!(who(&server, &real).await.unwrap().trust, "RGT");
}

/// Each refusal in the client's terms: the message says what is wrong with the token, not what
/// the library called it, and never echoes more than a short piece of what was sent.
#[tokio::test]
async fn tokens_are_checked_to_the_letter_and_refusals_speak_plainly() {
    let (rgt, _ics, server) = setup().await;
    let claims = |extra: serde_json::Value| mallory(&rgt.issuer, extra);
    let refused = |result: Result<pb::Principal, tonic::Status>| {
        let status = result.expect_err("token must be refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        (reason(&status), status.message().to_owned())
    };

    let crit = rgt.sign(claims(json!({})), "crit").await;
    let (why, message) = refused(who(&server, &crit).await);
    assert_eq!(why, "TOKEN_INVALID");
    assert!(message.contains("critical"), "{message}");

    let future = rgt.sign(claims(json!({"iat": now() + 3600})), "key").await;
    let (why, message) = refused(who(&server, &future).await);
    assert_eq!(why, "TOKEN_INVALID");
    assert!(message.contains("in the future"), "{message}");

    let mut no_exp = claims(json!({}));
    no_exp.as_object_mut().unwrap().remove("exp");
    let no_exp = rgt.sign(no_exp, "key").await;
    let (_, message) = refused(who(&server, &no_exp).await);
    assert_eq!(message, "token is invalid: the token has no `exp` claim");

    let text_exp = rgt.sign(claims(json!({"exp": "tomorrow"})), "key").await;
    let (_, message) = refused(who(&server, &text_exp).await);
    assert!(!message.contains("Json("), "{message}");
    assert!(message.contains("`exp`"), "{message}");

    let long_kid = rgt.sign(claims(json!({})), "long-kid").await;
    let (_, message) = refused(who(&server, &long_kid).await);
    assert!(message.len() < 300, "{} bytes: {message}", message.len());

    // The scheme name is case-insensitive (RFC 7235): `BEARER` is the same as `Bearer`.
    let good = rgt.sign(claims(json!({})), "key").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let mut request = tonic::Request::new(pb::WhoAmIRequest {});
        request
            .metadata_mut()
            .insert("authorization", format!("{scheme} {good}").parse().unwrap());
        let principal =
            pb::platform_service_client::PlatformServiceClient::new(server.channel.clone())
                .who_am_i(request)
                .await
                .unwrap_or_else(|s| panic!("{scheme}: {s:?}"))
                .into_inner()
                .principal
                .unwrap();
        assert_eq!(principal.subject, "mallory");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_and_the_old_key_works_while_published() {
    let (mut rgt, _ics, server) = setup().await;
    let before = rgt.token("svc-rgt", "svc-rgt-secret").await;
    assert!(who(&server, &before).await.is_ok());

    // Rotate at the provider: a new signing key, the old one still published.
    let old = rgt.jwks.with_file_name("old.json");
    std::fs::copy(&rgt.jwks, &old).unwrap();
    let new = rgt.jwks.with_file_name("new.json");
    generate_jwks(&new, "RS256", "rgt-2").await;
    combine_jwks(&rgt.jwks, &[&new, &old]);
    rgt.launch().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let after = rgt.token("svc-rgt", "svc-rgt-secret").await;
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(after.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header["kid"], "rgt-2",
        "the provider signs with the new key"
    );
    assert_eq!(who(&server, &after).await.unwrap().trust, "RGT");

    // A token signed with the old key (not seen before, so not cached) is still accepted.
    let signer = OidcProviderKey(old);
    let old_token = signer.sign(&rgt.issuer).await;
    assert!(who(&server, &old_token).await.is_ok());
}

/// Signs with a saved key file through the provider script's signer.
struct OidcProviderKey(std::path::PathBuf);

impl OidcProviderKey {
    async fn sign(&self, issuer: &str) -> String {
        let claims = json!({"iss": issuer, "sub": "svc-rgt", "client_id": "svc-rgt", "aud": "concordat",
            "iat": now(), "exp": now() + 300, "roles": ["trust-engineer"], "jti": "old-key"});
        let output = tokio::process::Command::new("node")
            .arg(concordat_e2e::tests_dir().join("oidc/sign.mjs"))
            .arg("--jwks")
            .arg(&self.0)
            .args(["--claims", &claims.to_string()])
            .output()
            .await
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_at_start_up_is_used_once_it_answers() {
    let mut rgt = OidcProvider::not_started("RS256", "rgt-1").await;
    let ics = OidcProvider::start("ES256", "ics-1", 0).await;
    let server = TestServer::start(Options {
        federation: Some(federation(&rgt.issuer, &ics.issuer)),
        dev_issuer: false,
        ..Default::default()
    })
    .await
    .expect("the server starts although an issuer is down");

    // The other issuer works meanwhile.
    assert!(
        who(&server, &ics.token("svc-rgm", "svc-rgm-secret").await)
            .await
            .is_ok()
    );

    let early = rgt
        .sign(
            json!({"iss": rgt.issuer, "sub": "svc-rgt", "aud": "concordat", "exp": now() + 300}),
            "key",
        )
        .await;
    let status = who(&server, &early).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unauthenticated, "ISSUER_UNAVAILABLE")
    );

    rgt.launch().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let token = rgt.token("svc-rgt", "svc-rgt-secret").await;
    assert_eq!(who(&server, &token).await.unwrap().trust, "RGT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_tokens_are_held_to_their_trust_and_ics() {
    let (_rgt, ics, server) = setup().await;
    // RGM's digital lead (mapped from the ICS IdP's `EPR-Engineer`) reads RGM's audit entries only.
    let token = ics.token("svc-rgm", "svc-rgm-secret").await;
    let list = |parent: &str, trust: &str| pb::ListAuditEntriesRequest {
        parent: parent.into(),
        actor_trust: trust.into(),
        ..Default::default()
    };
    assert!(
        server
            .platform(&token)
            .list_audit_entries(list("icss/QUE", "RGM"))
            .await
            .is_ok()
    );
    let denied = server
        .platform(&token)
        .list_audit_entries(list("icss/QUE", "RGT"))
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "TRUST_SCOPE")
    );
    // Another ICS's data is refused.
    let denied = server
        .platform(&token)
        .list_audit_entries(list("icss/QKK", "RGM"))
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "ICS_SCOPE")
    );
    // The ICS IdP may speak only for QUE: a token naming a QKK trust is refused outright.
    let foreign = ics
        .sign(json!({"iss": ics.issuer, "sub": "x", "aud": "concordat", "exp": now() + 300, "org": "RJ1"}), "key")
        .await;
    let status = who(&server, &foreign).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "ORGANISATION_UNKNOWN")
    );
    assert!(
        status.message().contains("may not act for ICS QKK"),
        "{}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_client_token_is_cached_then_renewed_before_it_expires() {
    use concordat_platform::clock::Clock;
    use concordat_platform::identity::service_client::{ClientCredentials, TokenSource};
    let (rgt, _ics, server) = setup().await;
    let clock = Clock::system();
    let source =
        ClientCredentials::new(&rgt.issuer, "engine", "engine-secret", None, clock.clone())
            .unwrap();
    let first = source.token().await.unwrap();
    let p = who(&server, &first).await.unwrap();
    assert_eq!(
        (p.subject.as_str(), p.trust.as_str(), p.kind),
        ("engine", "RGT", pb::PrincipalKind::Service as i32)
    );
    assert_eq!(
        p.roles,
        ["automation"],
        "the registered service client's roles"
    );
    assert_eq!(source.token().await.unwrap(), first, "cached while fresh");
    // Past four fifths of any lifetime the provider gives: a new token, accepted too.
    clock.advance(std::time::Duration::from_secs(24 * 3600));
    let renewed = source.token().await.unwrap();
    assert_ne!(renewed, first, "renewed before expiry");
    assert_eq!(who(&server, &renewed).await.unwrap().subject, "engine");

    let wrong = ClientCredentials::new(&rgt.issuer, "engine", "not-the-secret", None, clock)
        .unwrap()
        .token()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        wrong.contains("invalid_client") && wrong.contains(&rgt.issuer),
        "{wrong}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_service_client_background_work_uses_the_development_issuer() {
    let server = TestServer::start(Options::default()).await.unwrap();
    let source = server
        .platform
        .service_tokens
        .clone()
        .expect("a token source");
    let token = source.token().await.unwrap();
    let p = who(&server, &token).await.unwrap();
    assert_eq!((p.subject.as_str(), p.ics.as_str()), ("concordat", "QUE"));
    assert_eq!(p.roles, ["automation"]);
    assert_eq!(source.token().await.unwrap(), token, "cached");
}
