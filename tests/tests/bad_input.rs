//! Bad input from a hostile or careless client, sent to every RPC of every service as raw bytes
//! (a codec of this test's own, so nothing of the server's is trusted to build the requests), on
//! both backends. Each bad input must get its precise code and `ErrorInfo` reason; none may be
//! INTERNAL, UNKNOWN or a dropped connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;

use bytes::Bytes;
use concordat_e2e::{Options, Raw, TestServer, reason};
use concordat_platform::both_backends;
use concordat_platform::identity::Role;
use concordat_platform::testkit::TestBackend;
use prost_reflect::{DescriptorPool, Kind, MethodDescriptor};
use tonic::Code;

/// Every method of Concordat's own services.
fn methods() -> Vec<MethodDescriptor> {
    let pool = DescriptorPool::decode(concordat_proto::FILE_DESCRIPTOR_SET).unwrap();
    pool.services()
        .filter(|s| s.full_name().starts_with("concordat."))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect()
}

/// The number of the request's first string or message field, for wire-type and UTF-8 attacks.
fn first_field(method: &MethodDescriptor, string_only: bool) -> Option<u32> {
    method
        .input()
        .fields()
        .find(|f| {
            !f.is_list()
                && !f.is_map()
                && match f.kind() {
                    Kind::String => true,
                    Kind::Message(_) => !string_only,
                    _ => false,
                }
        })
        .map(|f| f.number())
}

fn tag(field: u32, wire_type: u8) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint(u64::from(field << 3 | u32::from(wire_type)), &mut out);
    out
}

/// The malformed bodies to send to `method`, each with its name.
fn malformed(method: &MethodDescriptor) -> Vec<(&'static str, Vec<u8>)> {
    let mut bodies = vec![
        // Field 1, length-delimited, claiming 16 bytes and carrying one.
        ("truncated length", vec![0x0a, 0x10, b'a']),
        // A varint that never ends.
        ("unterminated varint", vec![0x08, 0xff, 0xff, 0xff]),
        // Wire types 6 and 7 do not exist.
        ("invalid wire type", vec![0x0e, 0x00]),
        // A tag of field number 0.
        ("field number 0", vec![0x00, 0x01]),
        // Arbitrary bytes (a fixed seed): a group start never closed.
        (
            "random bytes",
            vec![0x0b, 0x93, 0x27, 0xc4, 0x5e, 0x01, 0xff, 0x80],
        ),
    ];
    if let Some(field) = first_field(method, false) {
        let mut body = tag(field, 0);
        body.push(0x01);
        bodies.push(("wrong wire type (a varint for a string or message)", body));
    }
    if let Some(field) = first_field(method, true) {
        let mut body = tag(field, 2);
        body.extend([0x02, 0xff, 0xfe]);
        bodies.push(("invalid UTF-8 in a string", body));
    }
    bodies
}

/// A server on `backend` and a token with every role (`None` where the backend cannot run).
async fn server_and_token(backend: TestBackend) -> Option<(TestServer, String)> {
    let s = TestServer::start(Options {
        backend,
        ..Default::default()
    })
    .await?;
    let token = all_roles_token(&s);
    Some((s, token))
}

fn all_roles_token(s: &TestServer) -> String {
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    s.token("RGT", &roles, "hostile-client")
}

/// Sends `body` to `method` and returns the status (an OK answer is a failure of the test).
async fn send(
    s: &TestServer,
    token: &str,
    method: &MethodDescriptor,
    body: Vec<u8>,
) -> tonic::Status {
    send_as(s, token, method, body, false).await
}

/// [`send`], gzip-compressed when `gzip`.
async fn send_as(
    s: &TestServer,
    token: &str,
    method: &MethodDescriptor,
    body: Vec<u8>,
    gzip: bool,
) -> tonic::Status {
    send_or_ok(s, token, method, body, gzip)
        .await
        .unwrap_or_else(|| panic!("{} accepted a bad body", method.full_name()))
}

/// Tally per service: (tried, precise).
type Tally = BTreeMap<String, (usize, usize)>;

fn record(tally: &mut Tally, method: &MethodDescriptor, precise: bool) {
    let entry = tally
        .entry(method.parent_service().name().to_owned())
        .or_default();
    entry.0 += 1;
    entry.1 += usize::from(precise);
}

async fn malformed_bodies_are_invalid_argument(backend: TestBackend) {
    let Some((s, token)) = server_and_token(backend).await else {
        return;
    };
    let mut tally = Tally::new();
    let mut wrong = Vec::new();
    for method in methods() {
        for (what, body) in malformed(&method) {
            let status = send(&s, &token, &method, body).await;
            let precise =
                status.code() == Code::InvalidArgument && reason(&status) == "MALFORMED_REQUEST";
            record(&mut tally, &method, precise);
            if !precise {
                wrong.push(format!(
                    "{} ({what}): {:?} {} {}",
                    method.full_name(),
                    status.code(),
                    reason(&status),
                    status.message()
                ));
            }
        }
    }
    eprintln!("malformed bodies (service: tried, precise): {tally:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        tally.values().map(|t| t.0).sum::<usize>() > 300,
        "{tally:?}"
    );
}
both_backends!(
    malformed_bodies_are_invalid_argument_on,
    malformed_bodies_are_invalid_argument
);

async fn oversized_messages_are_resource_exhausted_naming_the_limit(backend: TestBackend) {
    let limit = 64 * 1024;
    let Some(s) = TestServer::start(Options {
        backend,
        max_message_bytes: limit,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let token = all_roles_token(&s);
    let mut tally = Tally::new();
    let mut wrong = Vec::new();
    for method in methods() {
        // A well-formed message of an unknown field, one byte over the limit.
        let mut body = tag(1000, 2);
        let payload = limit + 1 - body.len() - 3;
        prost::encoding::encode_varint(payload as u64, &mut body);
        body.resize(limit + 1, b'x');
        let status = send(&s, &token, &method, body.clone()).await;
        let info = tonic_types::StatusExt::get_error_details(&status)
            .error_info()
            .cloned();
        let precise = status.code() == Code::ResourceExhausted
            && reason(&status) == "MESSAGE_TOO_LARGE"
            && info.is_some_and(|i| {
                i.metadata.get("limit_bytes") == Some(&limit.to_string())
                    && i.metadata.get("size_bytes") == Some(&(limit + 1).to_string())
            });
        record(&mut tally, &method, precise);
        if !precise {
            wrong.push(format!(
                "{}: {:?} {} {}",
                method.full_name(),
                status.code(),
                reason(&status),
                status.message()
            ));
        }
    }
    // The same message gzip-compressed: its frame is small, and it grows past the limit only
    // when the server decompresses it.
    for method in methods() {
        let mut body = tag(1000, 2);
        prost::encoding::encode_varint((4 * limit) as u64, &mut body);
        body.resize(body.len() + 4 * limit, b'x');
        let status = send_as(&s, &token, &method, body, true).await;
        let info = tonic_types::StatusExt::get_error_details(&status)
            .error_info()
            .cloned();
        let precise = status.code() == Code::ResourceExhausted
            && reason(&status) == "MESSAGE_TOO_LARGE"
            && info.is_some_and(|i| i.metadata.get("limit_bytes") == Some(&limit.to_string()));
        record(&mut tally, &method, precise);
        if !precise {
            wrong.push(format!(
                "{} (gzip): {:?} {} {}",
                method.full_name(),
                status.code(),
                reason(&status),
                status.message()
            ));
        }
    }
    eprintln!("oversized messages (service: tried, precise): {tally:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
both_backends!(
    oversized_messages_are_resource_exhausted_naming_the_limit_on,
    oversized_messages_are_resource_exhausted_naming_the_limit
);

/// A status's size on the wire: its message and its encoded details, which go in the trailers.
fn trailer_bytes(status: &tonic::Status) -> usize {
    status.message().len() + status.details().len()
}

async fn errors_stay_small_and_request_ids_have_one_form(backend: TestBackend) {
    use concordat_proto::changecontrol::v1 as cc;
    use concordat_proto::sharedconfig::v1 as sc;
    let Some((s, token)) = server_and_token(backend).await else {
        return;
    };

    // 100,000 unknown affected trusts and a 1 MB design-authority name: the status stays well
    // inside a default grpcio client's 16 KiB trailer limit and says how much it left out.
    let status = s
        .change_control(&token)
        .create_change_request(cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(cc::ChangeRequest {
                title: "t".into(),
                design_authority: format!("icss/QUE/designAuthorities/{}", "d".repeat(1 << 20)),
                affected_trusts: (0..100_000).map(|i| format!("X{i}")).collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    eprintln!(
        "the status for 100,000 unknown trusts and a 1 MB name: {} bytes",
        trailer_bytes(&status)
    );
    assert!(
        trailer_bytes(&status) < 16 * 1024,
        "{} bytes",
        trailer_bytes(&status)
    );
    let violations = concordat_e2e::fields(&status);
    assert!(violations.len() <= 50, "{} violations", violations.len());

    // Every problem of a request at once. The fields the proto marks REQUIRED, all in one answer
    // before anything else is looked at...
    let status = s
        .change_control(&token)
        .create_change_request(cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(cc::ChangeRequest {
                affected_trusts: vec!["ZZZ".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        concordat_e2e::fields(&status),
        [
            "change_request.title",
            "change_request.description",
            "change_request.domain",
            "change_request.design_authority",
            "change_request.change_class",
        ]
    );
    // ...and then what only the service can tell, all in one answer too: an unknown design
    // authority, an unknown trust, a title over 200 characters.
    let status = s
        .change_control(&token)
        .create_change_request(cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(cc::ChangeRequest {
                title: "t".repeat(201),
                description: "d".into(),
                domain: "medicines".into(),
                design_authority: "icss/QUE/designAuthorities/nothing".into(),
                affected_trusts: vec!["ZZZ".into()],
                change_class: cc::ChangeClass::Routine as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    let fields = concordat_e2e::fields(&status);
    for field in [
        "change_request.design_authority",
        "change_request.title",
        "change_request.affected_trusts",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} missing from {fields:?}"
        );
    }
    // An update names what it changes; what cannot change is refused by name.
    let status = s
        .change_control(&token)
        .update_change_request(cc::UpdateChangeRequestRequest {
            change_request: Some(cc::ChangeRequest {
                name: "icss/QUE/changeRequests/cr-1".into(),
                etag: "\"1\"".into(),
                ..Default::default()
            }),
            update_mask: vec![
                "rationale".into(),
                "design_authority".into(),
                "state".into(),
            ],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        concordat_e2e::fields(&status),
        ["update_mask[1]", "update_mask[2]"],
        "{}",
        status.message()
    );

    // A request id of the wrong form is refused naming `request_id`, before anything is written.
    let kind = |request_id: &str| sc::CreateConfigKindRequest {
        parent: "icss/QUE".into(),
        config_kind_id: "alert-rule".into(),
        config_kind: Some(sc::ConfigKind {
            domain: "medicines".into(),
            schema: Some(prost_types::Struct {
                fields: [(
                    "type".to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue("object".into())),
                    },
                )]
                .into(),
            }),
            ..Default::default()
        }),
        request_id: request_id.into(),
    };
    for bad in ["x".repeat(129), "a b".into(), "nul\0".into(), "é".into()] {
        let status = s
            .shared_config(&token)
            .create_config_kind(kind(&bad))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        assert_eq!(concordat_e2e::fields(&status), ["request_id"], "{bad:?}");
    }
    // The right form is accepted: the request reaches the use case (which asks change control
    // for the kind's domain, decided by no design authority here).
    let status = s
        .shared_config(&token)
        .create_config_kind(kind("8f2c1d2e-0b7a-4c55-9d3e-2a1b0c9d8e7f"))
        .await
        .unwrap_err();
    assert_eq!(
        concordat_e2e::fields(&status),
        ["config_kind.domain"],
        "{status:?}"
    );
}
both_backends!(
    errors_stay_small_and_request_ids_have_one_form_on,
    errors_stay_small_and_request_ids_have_one_form
);

/// A message of `desc` with every REQUIRED and IDENTIFIER field set to a value the checks accept,
/// nested messages filled the same way, so that the one bad value set on it is all that is wrong.
fn filled(desc: &prost_reflect::MessageDescriptor) -> prost_reflect::DynamicMessage {
    use concordat_proto::behaviour;
    use prost_reflect::{DynamicMessage, Value};
    let mut message = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let b = behaviour::of_field(field.full_name());
        if !(b.required || b.identifier) {
            continue;
        }
        let one = match field.kind() {
            // An update masks a field it may change and need not set.
            Kind::String if field.name() == "update_mask" => {
                let resource = desc
                    .fields()
                    .find_map(|f| match f.kind() {
                        Kind::Message(m) if m.full_name().starts_with("concordat.") => Some(m),
                        _ => None,
                    })
                    .unwrap();
                let changeable = resource
                    .fields()
                    .find(|f| {
                        let b = behaviour::of_field(f.full_name());
                        !(b.required || b.output_only || b.immutable || b.identifier)
                            && f.name() != "etag"
                    })
                    .unwrap();
                Value::String(changeable.name().to_owned())
            }
            Kind::String => Value::String("x".into()),
            Kind::Bytes => Value::Bytes("x".into()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(1),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(1),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(1),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(1),
            Kind::Double => Value::F64(1.0),
            Kind::Float => Value::F32(1.0),
            Kind::Bool => Value::Bool(true),
            Kind::Enum(e) => {
                Value::EnumNumber(e.values().map(|v| v.number()).find(|n| *n != 0).unwrap())
            }
            Kind::Message(inner) => Value::Message(filled(&inner)),
        };
        let value = if field.is_list() {
            Value::List(vec![one])
        } else {
            one
        };
        message.set_field(&field, value);
    }
    message
}

/// A filled request of `input` with the field at `path` set to `value`.
fn with_field(
    input: &prost_reflect::MessageDescriptor,
    path: &[prost_reflect::FieldDescriptor],
    value: prost_reflect::Value,
) -> Vec<u8> {
    use prost::Message as _;
    use prost_reflect::DynamicMessage;
    fn set(
        message: &mut DynamicMessage,
        path: &[prost_reflect::FieldDescriptor],
        value: prost_reflect::Value,
    ) {
        let (first, rest) = path.split_first().unwrap();
        if rest.is_empty() {
            message.set_field(first, value);
        } else {
            let Kind::Message(desc) = first.kind() else {
                unreachable!()
            };
            // An unset message field reads as the empty message: fill it instead.
            let mut inner = match message.get_field(first).as_message() {
                Some(present) if message.has_field(first) => present.clone(),
                _ => filled(&desc),
            };
            set(&mut inner, rest, value);
            message.set_field(first, prost_reflect::Value::Message(inner));
        }
    }
    let mut message = filled(input);
    set(&mut message, path, value);
    message.encode_to_vec()
}

/// Every field of `input` to attack, as a path of fields: top-level fields and the fields of
/// top-level messages (Concordat's own messages, not google.protobuf's). Output-only fields are
/// left out: a request's values for them are cleared, not checked.
fn attackable(
    input: &prost_reflect::MessageDescriptor,
) -> Vec<Vec<prost_reflect::FieldDescriptor>> {
    let mut out = Vec::new();
    for field in input.fields() {
        out.push(vec![field.clone()]);
        if let Kind::Message(inner) = field.kind()
            && !field.is_list()
            && !field.is_map()
            && inner.full_name().starts_with("concordat.")
        {
            for nested in inner.fields() {
                if !concordat_proto::behaviour::of_field(nested.full_name()).output_only {
                    out.push(vec![field.clone(), nested]);
                }
            }
        }
    }
    out
}

/// The bad values for a field, each with the violation it must get, as (what, value).
fn bad_values(field: &prost_reflect::FieldDescriptor) -> Vec<(&'static str, prost_reflect::Value)> {
    use concordat_proto::limits::{MAX_ITEMS, MAX_LINE, MAX_PAGE_TOKEN, MAX_TEXT, MULTILINE};
    use prost_reflect::Value;
    let name = field.name();
    let mut bad = Vec::new();
    if field.is_map() {
        return bad;
    }
    match field.kind() {
        Kind::String if name == "bundle_json" => bad.push(("a NUL", Value::String("{\0}".into()))),
        Kind::String if name == "request_id" => {
            bad.push(("a space in a request id", Value::String("a b".into())));
            bad.push(("a long request id", Value::String("r".repeat(129))));
        }
        Kind::String => {
            let max = if MULTILINE.contains(&name) {
                MAX_TEXT
            } else if matches!(name, "page_token" | "filter") {
                MAX_PAGE_TOKEN
            } else {
                MAX_LINE
            };
            let one = |s: String| {
                if field.is_list() {
                    Value::List(vec![Value::String(s)])
                } else {
                    Value::String(s)
                }
            };
            bad.push(("a NUL", one("a\0b".into())));
            bad.push(("an escape character", one("a\u{1b}[31mb".into())));
            bad.push(("one character too many", one("x".repeat(max + 1))));
            if !MULTILINE.contains(&name) {
                bad.push(("a line break in one-line text", one("a\nb".into())));
            }
        }
        Kind::Enum(_) => {
            let n = Value::EnumNumber(99);
            bad.push((
                "an undeclared enum value",
                if field.is_list() {
                    Value::List(vec![n])
                } else {
                    n
                },
            ));
        }
        _ => {}
    }
    if field.is_list() && matches!(field.kind(), Kind::String) && name != "changes" {
        bad.push((
            "one entry too many",
            Value::List(vec![Value::String("x".into()); MAX_ITEMS + 1]),
        ));
    }
    bad
}

async fn every_field_limit_is_enforced_with_a_violation_naming_it(backend: TestBackend) {
    let Some((s, token)) = server_and_token(backend).await else {
        return;
    };
    let mut tally = Tally::new();
    let mut wrong = Vec::new();
    for method in methods() {
        for path in attackable(&method.input()) {
            let field = path.last().unwrap().clone();
            let name: Vec<&str> = path.iter().map(|f| f.name()).collect();
            let name = name.join(".");
            for (what, value) in bad_values(&field) {
                let listed =
                    matches!(value, prost_reflect::Value::List(_)) && what != "one entry too many";
                let expected = if listed {
                    format!("{name}[0]")
                } else {
                    name.clone()
                };
                let body = with_field(&method.input(), &path, value);
                let status = send(&s, &token, &method, body).await;
                let fields = concordat_e2e::fields(&status);
                let precise =
                    status.code() == Code::InvalidArgument && fields == [expected.clone()];
                record(&mut tally, &method, precise);
                if !precise {
                    wrong.push(format!(
                        "{} {expected} ({what}): {:?} {fields:?} {}",
                        method.name(),
                        status.code(),
                        status.message()
                    ));
                }
            }
        }
    }
    eprintln!("field limits (service: tried, precise): {tally:?}");
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
both_backends!(
    every_field_limit_is_enforced_with_a_violation_naming_it_on,
    every_field_limit_is_enforced_with_a_violation_naming_it
);

/// A random message of `desc`: each field set or not, with values a careless client might send
/// (edge numbers, undeclared enum values, odd timestamps, names right and wrong), nested a few
/// levels. Seeded, so a failure repeats.
fn random_message(
    rng: &mut rand::rngs::StdRng,
    desc: &prost_reflect::MessageDescriptor,
    depth: usize,
) -> prost_reflect::DynamicMessage {
    use prost_reflect::{DynamicMessage, Value};
    use rand::Rng;
    use rand::seq::SliceRandom;
    const STRINGS: &[&str] = &[
        "",
        "icss/QUE",
        "icss/QKK",
        "icss/QUE/designAuthorities/medicines",
        "icss/QUE/changeRequests/0000",
        "icss/QUE/layers/baseline",
        "icss/QUE/layers/RGT",
        "icss/QUE/configKinds/alert-rule",
        "RGT",
        "RJ1",
        "alert-rule",
        "é",
        "a/b/c",
        "  ",
        "DRAFT",
        "state = DRAFT",
        "create_time desc",
        "title",
        "{\"a\": 1}",
        "[1, 2",
    ];
    let mut scalar = |rng: &mut rand::rngs::StdRng, kind: &Kind| -> Option<Value> {
        Some(match kind {
            Kind::String => Value::String(STRINGS.choose(rng).copied().unwrap_or("").to_owned()),
            Kind::Bytes => Value::Bytes(vec![0xff; rng.gen_range(0..4)].into()),
            Kind::Bool => Value::Bool(rng.r#gen()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                Value::I32(*[0, 1, -1, 7, 101, i32::MAX, i32::MIN].choose(rng).unwrap())
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
                *[0, 1, -1, 3, 1 << 40, i64::MAX, i64::MIN, 253_402_300_800]
                    .choose(rng)
                    .unwrap(),
            ),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(*[0, 1, u32::MAX].choose(rng).unwrap()),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(*[0, 1, u64::MAX].choose(rng).unwrap()),
            Kind::Float => Value::F32(*[0.0, -1.5, f32::NAN, f32::INFINITY].choose(rng).unwrap()),
            Kind::Double => Value::F64(*[0.0, 1e308, f64::NAN, -0.5].choose(rng).unwrap()),
            Kind::Enum(e) => {
                let declared: Vec<i32> = e.values().map(|v| v.number()).collect();
                Value::EnumNumber(if rng.gen_bool(0.8) {
                    *declared.choose(rng).unwrap_or(&0)
                } else {
                    99
                })
            }
            Kind::Message(_) => return None,
        })
    };
    let mut message = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        // Required fields are always sent, so that most requests get past the codec's checks to
        // the service's own.
        let required = concordat_proto::behaviour::of_field(field.full_name()).required;
        if field.is_map() || (!required && rng.gen_bool(0.4)) {
            continue;
        }
        let kind = field.kind();
        let one =
            |rng: &mut rand::rngs::StdRng,
             scalar: &mut dyn FnMut(&mut rand::rngs::StdRng, &Kind) -> Option<Value>| {
                match &kind {
                    Kind::Message(inner) if depth < 3 => {
                        Some(Value::Message(random_message(rng, inner, depth + 1)))
                    }
                    Kind::Message(_) => None,
                    other => scalar(rng, other),
                }
            };
        let mut value = None;
        for _ in 0..if required { 8 } else { 1 } {
            value = if field.is_list() {
                let n = rng.gen_range(usize::from(required)..4);
                Some(Value::List(
                    (0..n).filter_map(|_| one(rng, &mut scalar)).collect(),
                ))
            } else {
                one(rng, &mut scalar)
            };
            if value
                .as_ref()
                .is_some_and(|v| !v.is_default_for_field(&field))
            {
                break;
            }
        }
        let Some(value) = value else { continue };
        message.set_field(&field, value);
    }
    message
}

async fn random_well_formed_requests_never_fail_inside(backend: TestBackend) {
    use prost::Message as _;
    use rand::SeedableRng;
    let Some((s, token)) = server_and_token(backend).await else {
        return;
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261202);
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    let (mut sent, mut past_the_codec) = (0, 0);
    for method in methods() {
        for _ in 0..50 {
            let message = random_message(&mut rng, &method.input(), 0);
            let body = message.encode_to_vec();
            let status = send_or_ok(&s, &token, &method, body, false).await;
            sent += 1;
            let code = status.as_ref().map_or(Code::Ok, tonic::Status::code);
            *codes.entry(format!("{code:?}")).or_default() += 1;
            let refused_by_the_codec = status.as_ref().is_some_and(|s| {
                use tonic_types::StatusExt as _;
                s.code() == Code::InvalidArgument
                    && s.get_error_details()
                        .error_info()
                        .is_some_and(|i| i.domain == "platform.concordat")
            });
            past_the_codec += usize::from(!refused_by_the_codec);
            if matches!(code, Code::Internal | Code::Unknown | Code::Cancelled) {
                let status = status.unwrap();
                wrong.push(format!(
                    "{}: {:?} {} — {message:?}",
                    method.name(),
                    status.code(),
                    status.message()
                ));
            }
        }
    }
    eprintln!(
        "{sent} random requests, {past_the_codec} past the codec's checks, by code: {codes:?}"
    );
    assert!(
        wrong.is_empty(),
        "{} failed inside:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
both_backends!(
    random_well_formed_requests_never_fail_inside_on,
    random_well_formed_requests_never_fail_inside
);

/// Sends `body` to `method` (gzip-compressed when `gzip`): the status, or `None` for an OK answer.
async fn send_or_ok(
    s: &TestServer,
    token: &str,
    method: &MethodDescriptor,
    body: Vec<u8>,
    gzip: bool,
) -> Option<tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(s.channel.clone());
    if gzip {
        grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    }
    grpc.ready().await.unwrap();
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let path = http::uri::PathAndQuery::try_from(path).unwrap();
    let mut request = tonic::Request::new(Bytes::from(body));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    if method.is_server_streaming() {
        // A watch that starts streams until cancelled: take its first answer, if any, briefly.
        match grpc.server_streaming(request, path, Raw).await {
            Err(status) => Some(status),
            Ok(response) => {
                let mut stream = response.into_inner();
                match tokio::time::timeout(std::time::Duration::from_millis(50), stream.message())
                    .await
                {
                    Ok(Err(status)) => Some(status),
                    _ => None,
                }
            }
        }
    } else {
        grpc.unary(request, path, Raw).await.err()
    }
}
