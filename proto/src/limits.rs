//! The limits every request is held to before any handler sees it, checked by the codec through
//! the message's descriptor (so a new field is covered the day it is added), on its encoded
//! bytes or, for the few requests that need it, on the message decoded (see [`check`]):
//!
//! - **Strings**: no NUL or other control character; line breaks and tabs only in the free-text
//!   fields ([`MULTILINE`]). At most [`MAX_LINE`] characters in a single-line field (names,
//!   identifiers, references, titles: a field may be stricter), [`MAX_TEXT`] in a free-text
//!   field, [`MAX_PAGE_TOKEN`] in `page_token` and `filter`; `bundle_json` is bounded by the
//!   message size alone.
//! - **`request_id`**: empty, or at most 128 printable ASCII characters without spaces.
//! - **Repeated and map fields**: at most [`MAX_ITEMS`] entries ([`MAX_CHANGES`] changes in a
//!   changeset, [`MAX_STRUCT_ENTRIES`] in a `google.protobuf.Struct` or `ListValue`).
//! - **Enums**: only the values the enum declares.
//! - **`google.protobuf.Struct` / `Value` nesting** (kind schemas, item values): at most
//!   [`MAX_DEPTH`] levels. Far deeper (past protobuf's limit of 100 nested messages) a message
//!   cannot be decoded at all and is `MALFORMED_REQUEST`.
//!
//! - **Field behaviour** (`google.api.field_behavior`): required fields set, output-only fields
//!   cleared, no immutable field in an `update_mask`; see [`crate::behaviour`].
//!
//! Only messages named `…Request` are checked: responses are the server's own.

use std::sync::LazyLock;

use prost::encoding::decode_varint;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value,
};

use crate::behaviour::{self, Update};

/// The most characters in a single-line string field.
pub const MAX_LINE: usize = 512;
/// The most characters in a free-text field.
pub const MAX_TEXT: usize = 20_000;
/// The most characters in `page_token` and `filter`.
pub const MAX_PAGE_TOKEN: usize = 2_048;
/// The most entries in a repeated or map field.
pub const MAX_ITEMS: usize = 1_000;
/// The most changes in one changeset.
pub const MAX_CHANGES: usize = 100_000;
/// The most entries in one `Struct` or `ListValue`.
pub const MAX_STRUCT_ENTRIES: usize = 10_000;
/// The deepest nesting of `Struct` and `ListValue` values.
pub const MAX_DEPTH: usize = 32;
/// The most violations one status lists.
pub const MAX_VIOLATIONS: usize = 50;

/// The free-text fields: line breaks and tabs allowed, up to [`MAX_TEXT`] characters.
pub const MULTILINE: &[&str] = &[
    "description",
    "rationale",
    "reason",
    "note",
    "summary",
    "comment",
    "justification",
    "training_impact",
    "local_configuration_impact",
    "existing_controls",
    "further_controls",
    "cause",
    "effect",
    "clinical_risk_notes",
    "disposition_note",
    "precisely",
    "observable_outcome",
    "why_this_change",
    "how_measured",
];

static POOL: LazyLock<Option<DescriptorPool>> =
    LazyLock::new(|| DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).ok());

/// The descriptors of every Concordat message.
pub(crate) fn pool() -> Option<&'static DescriptorPool> {
    POOL.as_ref()
}

/// A field that breaks a limit, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field path, e.g. `change_request.affected_trusts[3]`.
    pub field: String,
    /// What is wrong, for people.
    pub description: String,
}

/// What checking a request found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The fields that break a limit or a field behaviour, at most [`MAX_VIOLATIONS`].
    pub violations: Vec<Violation>,
    /// How many more there were.
    pub omitted: usize,
    /// The request re-encoded without the output-only fields it set, when it set any.
    pub cleared: Option<Vec<u8>>,
}

/// Checks the request message `full_name` encoded in `bytes` (nothing is found when it is not
/// a request).
pub fn check(full_name: &str, bytes: &[u8]) -> Checked {
    if !full_name.ends_with("Request") {
        return Checked::default();
    }
    let Some(desc) = POOL
        .as_ref()
        .and_then(|pool| pool.get_message_by_name(full_name))
    else {
        return Checked::default();
    };
    // Most requests are walked in their encoded form: decoding a changeset of thousands of
    // items into a dynamic message cost more than the rest of creating it. An update (whose
    // mask decides what is required), a request that sets an output-only field (which is
    // cleared from the decoded message) or an encoding the wire walk does not follow (a field
    // sent twice, a group, a map not keyed by strings) is walked decoded.
    if desc.get_field_by_name("update_mask").is_none() {
        let mut walk = Walk::default();
        if walk.wire(&desc, bytes, &Path::Root, 0).is_some() && !walk.output_only_set {
            return Checked {
                violations: walk.found,
                omitted: walk.omitted,
                cleared: None,
            };
        }
    }
    decoded(desc, bytes)
}

/// [`check`] of a request decoded into a dynamic message: every request can be checked so.
fn decoded(desc: MessageDescriptor, bytes: &[u8]) -> Checked {
    let Ok(mut message) = DynamicMessage::decode(desc, bytes) else {
        // The typed decode succeeded, so this cannot happen; the typed message is used as is.
        return Checked::default();
    };
    let mut walk = Walk {
        update: Update::of(&message),
        ..Walk::default()
    };
    walk.message(&message, "", 0);
    if let Some(update) = walk.update.take() {
        for (i, reason) in update.problems() {
            walk.push(&format!("update_mask[{i}]"), reason);
        }
    }
    let cleared = (walk.output_only_set && behaviour::clear_output_only(&mut message))
        .then(|| prost::Message::encode_to_vec(&message));
    Checked {
        violations: walk.found,
        omitted: walk.omitted,
        cleared,
    }
}

/// Where a field is: rendered (`change_request.affected_trusts[3]`) only when a violation names
/// it, so walking a large request builds no strings.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    /// A path already rendered.
    Text(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Text(text) => (*text).to_owned(),
            Path::Field(parent, name) => match parent.render() {
                p if p.is_empty() => (*name).to_owned(),
                p => format!("{p}.{name}"),
            },
            Path::Index(parent, i) => format!("{}[{i}]", parent.render()),
            Path::Key(parent, key) => format!("{}[{}]", parent.render(), printable(key)),
        }
    }
}

/// One occurrence of a field in an encoded message.
#[derive(Clone, Copy)]
enum Wire<'b> {
    Varint(u64),
    Fixed64([u8; 8]),
    Fixed32([u8; 4]),
    Bytes(&'b [u8]),
}

/// The field occurrences of an encoded message, by field number (in the order sent within a
/// number); `None` for a group or a broken encoding.
fn occurrences(mut buf: &[u8]) -> Option<Vec<(u32, Wire<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = decode_varint(&mut buf).ok()?;
        let number = u32::try_from(key >> 3).ok()?;
        let wire = match key & 7 {
            0 => Wire::Varint(decode_varint(&mut buf).ok()?),
            1 => {
                let (head, rest) = buf.split_first_chunk::<8>()?;
                buf = rest;
                Wire::Fixed64(*head)
            }
            2 => {
                let len = usize::try_from(decode_varint(&mut buf).ok()?).ok()?;
                if buf.len() < len {
                    return None;
                }
                let (head, rest) = buf.split_at(len);
                buf = rest;
                Wire::Bytes(head)
            }
            5 => {
                let (head, rest) = buf.split_first_chunk::<4>()?;
                buf = rest;
                Wire::Fixed32(*head)
            }
            _ => return None,
        };
        out.push((number, wire));
    }
    out.sort_by_key(|(number, _)| *number);
    Some(out)
}

/// The elements of a repeated field's occurrences: a packed run holds many.
fn elements<'b>(field: &FieldDescriptor, run: &[(u32, Wire<'b>)]) -> Option<Vec<Wire<'b>>> {
    let mut out = Vec::new();
    for (_, wire) in run {
        match (wire, field.kind()) {
            (Wire::Bytes(_), Kind::String | Kind::Bytes | Kind::Message(_)) => out.push(*wire),
            (Wire::Bytes(packed), kind) => {
                let mut buf = *packed;
                while !buf.is_empty() {
                    let element = match kind {
                        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => {
                            let (head, rest) = buf.split_first_chunk::<8>()?;
                            buf = rest;
                            Wire::Fixed64(*head)
                        }
                        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => {
                            let (head, rest) = buf.split_first_chunk::<4>()?;
                            buf = rest;
                            Wire::Fixed32(*head)
                        }
                        _ => Wire::Varint(decode_varint(&mut buf).ok()?),
                    };
                    out.push(element);
                }
            }
            _ => out.push(*wire),
        }
    }
    Some(out)
}

/// Whether a singular field's value, as sent, is set as a decoded message would say: present
/// at all when the field tracks presence, otherwise not its default.
fn is_set(field: &FieldDescriptor, wire: &Wire<'_>) -> bool {
    if field.supports_presence() {
        return true;
    }
    match (wire, field.kind()) {
        (Wire::Varint(v), _) => *v != 0,
        (Wire::Fixed64(b), Kind::Double) => f64::from_le_bytes(*b) != 0.0,
        (Wire::Fixed32(b), Kind::Float) => f32::from_le_bytes(*b) != 0.0,
        (Wire::Fixed64(b), _) => *b != [0; 8],
        (Wire::Fixed32(b), _) => *b != [0; 4],
        (Wire::Bytes(b), _) => !b.is_empty(),
    }
}

#[derive(Default)]
struct Walk {
    found: Vec<Violation>,
    omitted: usize,
    /// The update the request is, if it is one.
    update: Option<Update>,
    /// Whether the request set an output-only field.
    output_only_set: bool,
}

impl Walk {
    fn push(&mut self, field: &str, description: String) {
        self.push_at(&Path::Text(field), description);
    }

    fn push_at(&mut self, path: &Path, description: String) {
        if self.found.len() < MAX_VIOLATIONS {
            self.found.push(Violation {
                field: path.render(),
                description,
            });
        } else {
            self.omitted += 1;
        }
    }

    /// [`Walk::message`] of `desc` encoded in `bytes`; `None` when the encoding is one only the
    /// decoded walk follows (see [`check`]).
    fn wire(
        &mut self,
        desc: &MessageDescriptor,
        bytes: &[u8],
        path: &Path,
        depth: usize,
    ) -> Option<()> {
        let structured = matches!(
            desc.full_name(),
            "google.protobuf.Struct" | "google.protobuf.ListValue"
        );
        let depth = depth + usize::from(structured);
        if depth > MAX_DEPTH {
            self.push_at(path, format!("is nested more than {MAX_DEPTH} levels deep"));
            return Some(());
        }
        let occurrences = occurrences(bytes)?;
        let run_of = |number: u32| {
            let start = occurrences.partition_point(|(n, _)| *n < number);
            let end = occurrences.partition_point(|(n, _)| *n <= number);
            &occurrences[start..end]
        };
        let annotated = desc.full_name().starts_with("concordat.");
        if annotated {
            for field in desc.fields() {
                let run = run_of(field.number());
                let set = if field.is_list() {
                    !elements(&field, run)?.is_empty()
                } else if field.is_map() {
                    !run.is_empty()
                } else {
                    run.last().is_some_and(|(_, w)| is_set(&field, w))
                };
                if behaviour::of(&field).required && !set {
                    self.push_at(
                        &Path::Field(path, field.name()),
                        behaviour::required_reason(&field),
                    );
                }
            }
        }
        let mut start = 0;
        while start < occurrences.len() {
            let number = occurrences[start].0;
            let run = run_of(number);
            start += run.len();
            let Some(field) = desc.get_field(number) else {
                continue;
            };
            let here = Path::Field(path, field.name());
            if annotated && behaviour::of(&field).output_only {
                self.output_only_set = true;
                continue;
            }
            if field.is_map() {
                self.wire_map(&field, run, &here, depth, structured)?;
            } else if field.is_list() {
                let items = elements(&field, run)?;
                if self.too_many(&here, &field, items.len(), structured) {
                    continue;
                }
                for (i, item) in items.iter().enumerate() {
                    self.wire_value(&field, item, &Path::Index(&here, i), depth)?;
                }
            } else {
                // A field sent twice is merged (messages) or overridden (the rest) when decoded.
                let [(_, wire)] = run else {
                    return None;
                };
                if is_set(&field, wire) {
                    self.wire_value(&field, wire, &here, depth)?;
                }
            }
        }
        Some(())
    }

    /// A map field's entries (string keys only), the last of a key sent twice winning.
    fn wire_map(
        &mut self,
        field: &FieldDescriptor,
        run: &[(u32, Wire<'_>)],
        path: &Path,
        depth: usize,
        structured: bool,
    ) -> Option<()> {
        let entry = field.kind().as_message()?.clone();
        if !matches!(entry.map_entry_key_field().kind(), Kind::String) {
            return None;
        }
        let value_field = entry.map_entry_value_field();
        let mut entries: Vec<(&str, Option<Wire<'_>>)> = Vec::with_capacity(run.len());
        for (_, wire) in run {
            let Wire::Bytes(bytes) = wire else {
                return None;
            };
            let (mut key, mut value) = ("", None);
            for (number, part) in occurrences(bytes)? {
                match (number, part) {
                    (1, Wire::Bytes(k)) => key = std::str::from_utf8(k).ok()?,
                    (1, _) => return None,
                    (2, part) => value = Some(part),
                    _ => {}
                }
            }
            entries.push((key, value));
        }
        // Stable: of equal keys, the last sent is last.
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let mut unique: Vec<(&str, Option<Wire<'_>>)> = Vec::with_capacity(entries.len());
        for e in entries {
            match unique.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => unique.push(e),
            }
        }
        if self.too_many(path, field, unique.len(), structured) {
            return Some(());
        }
        for (key, value) in unique {
            let here = Path::Key(path, key);
            self.line(&here, key, MAX_LINE);
            match value {
                Some(value) => self.wire_value(&value_field, &value, &here, depth)?,
                // A missing value is the value type's default: an empty message is walked.
                None => {
                    if let Kind::Message(m) = value_field.kind() {
                        self.wire(&m, &[], &here, depth)?;
                    }
                }
            }
        }
        Some(())
    }

    /// Whether a repeated or map field holds more than `count` entries may (a `Struct` or
    /// `ListValue` more than [`MAX_STRUCT_ENTRIES`], a changeset's changes more than
    /// [`MAX_CHANGES`], anything else more than [`MAX_ITEMS`]); if so, says so.
    fn too_many(
        &mut self,
        path: &Path,
        field: &FieldDescriptor,
        count: usize,
        structured: bool,
    ) -> bool {
        let max = if structured {
            MAX_STRUCT_ENTRIES
        } else if field.is_list() && field.name() == "changes" {
            MAX_CHANGES
        } else {
            MAX_ITEMS
        };
        if count > max {
            self.push_at(
                path,
                format!("has {count} entries; at most {max} are accepted"),
            );
        }
        count > max
    }

    fn wire_value(
        &mut self,
        field: &FieldDescriptor,
        wire: &Wire<'_>,
        path: &Path,
        depth: usize,
    ) -> Option<()> {
        match (field.kind(), wire) {
            (Kind::String, Wire::Bytes(b)) => {
                self.string(field, std::str::from_utf8(b).ok()?, path)
            }
            (Kind::Enum(e), Wire::Varint(n)) => {
                // As protobuf reads an enum: the low 32 bits.
                #[allow(clippy::cast_possible_truncation)]
                let n = *n as i32;
                if e.get_value(n).is_none() {
                    self.push_at(path, format!("{n} is not a value of {}", e.name()));
                }
            }
            (Kind::Message(m), Wire::Bytes(b)) => self.wire(&m, b, path, depth)?,
            (Kind::String | Kind::Message(_) | Kind::Enum(_), _) => return None,
            _ => {}
        }
        Some(())
    }

    fn message(&mut self, message: &DynamicMessage, path: &str, depth: usize) {
        let structured = matches!(
            message.descriptor().full_name(),
            "google.protobuf.Struct" | "google.protobuf.ListValue"
        );
        let depth = depth + usize::from(structured);
        if depth > MAX_DEPTH {
            self.push(path, format!("is nested more than {MAX_DEPTH} levels deep"));
            return;
        }
        let join = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        if message.descriptor().full_name().starts_with("concordat.") {
            let update = self.update.as_ref().filter(|u| path == u.resource.name());
            let missing: Vec<FieldDescriptor> = message
                .descriptor()
                .fields()
                .filter(|field| {
                    let b = behaviour::of(field);
                    let needed = match update {
                        Some(u) => {
                            b.identifier || (b.required && !b.immutable && u.masks(field.name()))
                        }
                        None => b.required,
                    };
                    needed && !message.has_field(field)
                })
                .collect();
            for field in missing {
                self.push(&join(field.name()), behaviour::required_reason(&field));
            }
        }
        for (field, value) in message.fields() {
            if behaviour::of(&field).output_only {
                self.output_only_set = true;
                continue;
            }
            self.field(&field, value, &join(field.name()), depth, structured);
        }
    }

    fn field(
        &mut self,
        field: &FieldDescriptor,
        value: &Value,
        path: &str,
        depth: usize,
        structured: bool,
    ) {
        match value {
            Value::List(items) => {
                if self.too_many(&Path::Text(path), field, items.len(), structured) {
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    self.value(field, item, &format!("{path}[{i}]"), depth);
                }
            }
            Value::Map(entries) => {
                if self.too_many(&Path::Text(path), field, entries.len(), structured) {
                    return;
                }
                let value_field = field.kind().as_message().map(|m| m.map_entry_value_field());
                for (key, item) in entries {
                    let key_text = match key {
                        MapKey::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    let item_path = format!("{path}[{}]", printable(&key_text));
                    if let MapKey::String(s) = key {
                        self.line(&Path::Text(&item_path), s, MAX_LINE);
                    }
                    if let Some(value_field) = &value_field {
                        self.value(value_field, item, &item_path, depth);
                    }
                }
            }
            single => self.value(field, single, path, depth),
        }
    }

    fn value(&mut self, field: &FieldDescriptor, value: &Value, path: &str, depth: usize) {
        match value {
            Value::String(s) => self.string(field, s, &Path::Text(path)),
            Value::EnumNumber(n) => {
                if let Kind::Enum(e) = field.kind()
                    && e.get_value(*n).is_none()
                {
                    self.push(path, format!("{n} is not a value of {}", e.name()));
                }
            }
            Value::Message(m) => self.message(m, path, depth),
            _ => {}
        }
    }

    fn string(&mut self, field: &FieldDescriptor, s: &str, path: &Path) {
        let name = field.name();
        if name == "request_id" {
            if let Err(reason) = concordat_api::request_id::check(s) {
                self.push_at(path, reason.into());
            }
            return;
        }
        if name == "bundle_json" || field.parent_message().full_name() == "google.protobuf.Value" {
            // Bounded by the message size; JSON text and configuration values may hold anything
            // but NUL.
            if s.contains('\0') {
                self.push_at(path, "must not contain NUL characters".into());
            }
            return;
        }
        if MULTILINE.contains(&name) {
            self.text(path, s, MAX_TEXT);
        } else if matches!(name, "page_token" | "filter") {
            self.line(path, s, MAX_PAGE_TOKEN);
        } else {
            self.line(path, s, MAX_LINE);
        }
    }

    /// A single-line string: no control characters at all.
    fn line(&mut self, path: &Path, s: &str, max: usize) {
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            self.push_at(
                path,
                format!(
                    "must be one line of text without control characters (found U+{:04X})",
                    u32::from(c)
                ),
            );
        } else {
            self.length(path, s, max);
        }
    }

    /// Free text: line breaks and tabs allowed, no other control character.
    fn text(&mut self, path: &Path, s: &str, max: usize) {
        if let Some(c) = s
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.push_at(
                path,
                format!(
                    "must not contain control characters other than line breaks and tabs (found U+{:04X})",
                    u32::from(c)
                ),
            );
        } else {
            self.length(path, s, max);
        }
    }

    fn length(&mut self, path: &Path, s: &str, max: usize) {
        let chars = s.chars().count();
        if chars > max {
            self.push_at(
                path,
                format!("is {chars} characters; at most {max} are accepted"),
            );
        }
    }
}

/// Client text as a field path or a reason shows it: at most 40 characters, control characters
/// escaped.
pub(crate) fn printable(key: &str) -> String {
    key.chars()
        .take(40)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::changecontrol::v1 as cc;
    use crate::sharedconfig::v1 as sc;
    use prost::Message;

    fn fields(full_name: &str, message: &impl Message) -> Vec<String> {
        let mut fields: Vec<String> = check(full_name, &message.encode_to_vec())
            .violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        fields.sort();
        fields
    }

    /// A change request with every required field set.
    fn complete() -> cc::ChangeRequest {
        cc::ChangeRequest {
            title: "Allergy alerts".into(),
            description: "Line one\nline two\twith a tab".into(),
            domain: "medicines".into(),
            design_authority: "icss/QUE/designAuthorities/medicines".into(),
            affected_trusts: vec!["RGT".into(), "RGM".into()],
            change_class: cc::ChangeClass::SafetyCritical as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_good_request_keeps_every_limit() {
        let request = cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(complete()),
            request_id: "0f6c9a3e-5b1d-4c2e-9f2a-1d2b3c4d5e6f".into(),
        };
        assert!(
            fields(
                "concordat.changecontrol.v1.CreateChangeRequestRequest",
                &request
            )
            .is_empty()
        );
    }

    #[test]
    fn every_class_of_bad_field_is_named() {
        let request = cc::CreateChangeRequestRequest {
            parent: "icss/QUE\0".into(),
            change_request: Some(cc::ChangeRequest {
                title: "two\nlines".into(),
                description: "x".repeat(MAX_TEXT + 1),
                design_authority: "d".repeat(MAX_LINE + 1),
                affected_trusts: vec!["RG\u{1b}T".into()],
                change_type: 99,
                configuration_items: (0..=MAX_ITEMS).map(|i| i.to_string()).collect(),
                ..complete()
            }),
            request_id: "a b".into(),
        };
        assert_eq!(
            fields(
                "concordat.changecontrol.v1.CreateChangeRequestRequest",
                &request
            ),
            [
                "change_request.affected_trusts[0]",
                "change_request.change_type",
                "change_request.configuration_items",
                "change_request.description",
                "change_request.design_authority",
                "change_request.title",
                "parent",
                "request_id",
            ]
        );
    }

    fn nested(levels: usize) -> prost_types::Value {
        use prost_types::value::Kind;
        let mut v = prost_types::Value {
            kind: Some(Kind::NumberValue(1.0)),
        };
        for _ in 0..levels {
            v = prost_types::Value {
                kind: Some(Kind::StructValue(prost_types::Struct {
                    fields: [("a".to_owned(), v)].into(),
                })),
            };
        }
        v
    }

    #[test]
    fn values_nest_at_most_max_depth_levels() {
        let request = |levels| sc::CreateChangesetRequest {
            parent: "icss/QUE".into(),
            changeset: Some(sc::Changeset {
                layer: "icss/QUE/layers/baseline".into(),
                change_request: "icss/QUE/changeRequests/cr-1".into(),
                changes: vec![sc::ItemChange {
                    operation: 1,
                    item: Some(sc::ConfigItem {
                        kind: "alert-rule".into(),
                        key: "allergy".into(),
                        value: Some(nested(levels).into()),
                        ..Default::default()
                    }),
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        };
        let name = "concordat.sharedconfig.v1.CreateChangesetRequest";
        assert!(fields(name, &request(MAX_DEPTH)).is_empty());
        let deep = fields(name, &request(MAX_DEPTH + 1));
        assert_eq!(deep.len(), 1);
        assert!(
            deep[0].starts_with("changeset.changes[0].item.value"),
            "{deep:?}"
        );
    }

    #[test]
    fn violations_are_bounded() {
        let request = cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(cc::ChangeRequest {
                affected_trusts: (0..200).map(|i| format!("X{i}\0")).collect(),
                ..complete()
            }),
            ..Default::default()
        };
        let checked = check(
            "concordat.changecontrol.v1.CreateChangeRequestRequest",
            &request.encode_to_vec(),
        );
        assert_eq!(
            (checked.violations.len(), checked.omitted),
            (MAX_VIOLATIONS, 150)
        );
    }

    /// The leading comment of `field` in its proto file.
    fn comment(field: &FieldDescriptor) -> String {
        let file = field.parent_file();
        file.file_descriptor_proto()
            .source_code_info
            .as_ref()
            .and_then(|info| info.location.iter().find(|l| l.path == field.path()))
            .and_then(|l| l.leading_comments.clone())
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Every string, bytes, repeated and map field a request can carry states its maximum in its
    /// proto comment, as the checks above enforce it.
    #[test]
    fn every_limited_field_states_its_limit_in_the_proto() {
        let pool = POOL.as_ref().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut todo: Vec<prost_reflect::MessageDescriptor> = pool
            .services()
            .filter(|s| s.full_name().starts_with("concordat."))
            .flat_map(|s| s.methods().map(|m| m.input()).collect::<Vec<_>>())
            .collect();
        let mut missing = Vec::new();
        while let Some(message) = todo.pop() {
            if !message.full_name().starts_with("concordat.")
                || !seen.insert(message.full_name().to_owned())
            {
                continue;
            }
            for field in message.fields() {
                if let Kind::Message(inner) = field.kind() {
                    if inner.is_map_entry() {
                        if let Kind::Message(value) = inner.map_entry_value_field().kind() {
                            todo.push(value);
                        }
                    } else {
                        todo.push(inner);
                    }
                }
                let limited = field.is_list()
                    || field.is_map()
                    || (matches!(field.kind(), Kind::String | Kind::Bytes)
                        && field.name() != "request_id");
                let text = comment(&field);
                if limited && !(text.contains("At most") || text.contains("Bounded by")) {
                    missing.push(field.full_name().to_owned());
                }
                if field.name() == "request_id" && !text.contains("128 printable ASCII") {
                    missing.push(field.full_name().to_owned());
                }
            }
        }
        assert!(
            missing.is_empty(),
            "no limit in the comment of: {missing:#?}"
        );
        assert!(seen.len() > 50, "{} messages", seen.len());
    }

    fn violations(full_name: &str, message: &impl Message) -> Vec<(String, String)> {
        check(full_name, &message.encode_to_vec())
            .violations
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect()
    }

    #[test]
    fn every_missing_required_field_is_named_at_once() {
        let name = "concordat.changecontrol.v1.CreateChangeRequestRequest";
        let empty = cc::CreateChangeRequestRequest::default();
        assert_eq!(fields(name, &empty), ["change_request", "parent"]);
        let blank = cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(cc::ChangeRequest::default()),
            request_id: String::new(),
        };
        let found = violations(name, &blank);
        let named: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            named,
            [
                "change_request.title",
                "change_request.description",
                "change_request.domain",
                "change_request.design_authority",
                "change_request.affected_trusts",
                "change_request.change_class",
            ]
        );
        assert_eq!(
            found[5].1,
            "is required: one of CHANGE_CLASS_ROUTINE, CHANGE_CLASS_SIGNIFICANT, CHANGE_CLASS_SAFETY_CRITICAL"
        );
        assert_eq!(found[4].1, "is required: at least one entry");
        // A nested message is held to its required fields only when it is there.
        let hazard = cc::CreateHazardRequest {
            parent: "icss/QUE/changeRequests/cr-1".into(),
            hazard: Some(cc::Hazard {
                description: "alert fatigue".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        let found = violations("concordat.changecontrol.v1.CreateHazardRequest", &hazard);
        assert_eq!(
            found,
            [
                "initial_likelihood",
                "initial_severity",
                "residual_likelihood",
                "residual_severity"
            ]
            .map(|f| (
                format!("hazard.{f}"),
                "is required and cannot be 0".to_owned()
            ))
        );
    }

    #[test]
    fn an_update_requires_what_its_mask_names_and_refuses_what_cannot_change() {
        let name = "concordat.changecontrol.v1.UpdateChangeRequestRequest";
        let request =
            |mask: &[&str], change_request: cc::ChangeRequest| cc::UpdateChangeRequestRequest {
                change_request: Some(change_request),
                update_mask: mask.iter().map(|m| (*m).to_owned()).collect(),
                request_id: String::new(),
            };
        let edit = cc::ChangeRequest {
            name: "icss/QUE/changeRequests/cr-1".into(),
            etag: "\"3\"".into(),
            rationale: "because".into(),
            ..Default::default()
        };
        // Only the masked fields: an unset title is not required unless the mask names it.
        assert!(fields(name, &request(&["rationale"], edit.clone())).is_empty());
        assert_eq!(
            fields(name, &request(&["title"], edit.clone())),
            ["change_request.title"]
        );
        // The identifier is required on update.
        assert_eq!(
            fields(
                name,
                &request(
                    &["rationale"],
                    cc::ChangeRequest {
                        name: String::new(),
                        ..edit.clone()
                    }
                )
            ),
            ["change_request.name"]
        );
        let found = violations(
            name,
            &request(&["domain", "state", "bogus", "name", "*"], edit),
        );
        assert_eq!(
            found,
            [
                (
                    "update_mask[0]",
                    "`domain` is immutable: it is set when the change request is created"
                ),
                (
                    "update_mask[1]",
                    "`state` is output only: the server sets it"
                ),
                ("update_mask[2]", "`bogus` is not a field of change request"),
                (
                    "update_mask[3]",
                    "`name` names the change request and cannot be changed"
                ),
                (
                    "update_mask[4]",
                    "`*` is not accepted: name each field to replace"
                ),
            ]
            .map(|(f, d)| (f.to_owned(), d.to_owned()))
        );
    }

    #[test]
    fn output_only_fields_are_cleared_and_not_held_to_limits() {
        let name = "concordat.changecontrol.v1.CreateChangeRequestRequest";
        let request = cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(cc::ChangeRequest {
                number: "\0".repeat(MAX_LINE + 1),
                state: cc::State::Approved as i32,
                decision: Some(cc::Decision {
                    approved: true,
                    rule: "by hand".into(),
                    ..Default::default()
                }),
                ..complete()
            }),
            request_id: String::new(),
        };
        let checked = check(name, &request.encode_to_vec());
        assert!(checked.violations.is_empty(), "{:?}", checked.violations);
        let cleared =
            cc::CreateChangeRequestRequest::decode(checked.cleared.expect("cleared").as_slice())
                .unwrap();
        assert_eq!(
            cleared,
            cc::CreateChangeRequestRequest {
                change_request: Some(complete()),
                ..request.clone()
            }
        );
        // Nothing to clear: the bytes are used as sent.
        let plain = cc::CreateChangeRequestRequest {
            change_request: Some(complete()),
            ..request
        };
        assert_eq!(check(name, &plain.encode_to_vec()).cleared, None);
    }

    /// The leading comments and the annotations agree: a field documented as output only is
    /// OUTPUT_ONLY (or the IDENTIFIER), and one documented as `Required.` is REQUIRED (the
    /// annotation is the documentation; a comment need not repeat it).
    #[test]
    fn the_comments_and_the_annotations_agree() {
        let pool = POOL.as_ref().unwrap();
        assert!(
            behaviour::annotated_fields() > 150,
            "{}",
            behaviour::annotated_fields()
        );
        let mut disagree = Vec::new();
        for message in pool.all_messages() {
            if !message.full_name().starts_with("concordat.") {
                continue;
            }
            for field in message.fields() {
                let text = comment(&field);
                let b = behaviour::of(&field);
                if text.contains("output only") && !(b.output_only || b.identifier) {
                    disagree.push(format!("{}: says output only", field.full_name()));
                }
                let says_required = ["Required.", "Required,", "Required;"]
                    .iter()
                    .any(|r| text.contains(r));
                if says_required && !b.required {
                    disagree.push(format!("{}: says required", field.full_name()));
                }
            }
        }
        assert!(disagree.is_empty(), "{disagree:#?}");
    }

    #[test]
    fn responses_are_not_checked() {
        let response = cc::GetChangeRequestResponse {
            change_request: Some(cc::ChangeRequest {
                title: "\0".into(),
                ..Default::default()
            }),
        };
        assert!(
            fields(
                "concordat.changecontrol.v1.GetChangeRequestResponse",
                &response
            )
            .is_empty()
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn requests() -> Vec<String> {
        POOL.as_ref()
            .unwrap()
            .services()
            .filter(|s| s.full_name().starts_with("concordat."))
            .flat_map(|s| {
                s.methods()
                    .map(|m| m.input().full_name().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    proptest! {
        /// Arbitrary bytes, as any request type, never panic the checks: they are decoded and
        /// checked, or refused by the decoder.
        #[test]
        fn arbitrary_bytes_never_panic_the_checks(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for name in requests() {
                let _ = check(&name, &bytes);
            }
        }

        /// Arbitrary well-formed messages of every request type (built from arbitrary bytes that
        /// decode, then encoded again) are checked without panicking, and a message that keeps
        /// every limit has no violations when checked twice.
        #[test]
        fn well_formed_messages_check_the_same_twice(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            use prost::Message as _;
            let pool = POOL.as_ref().unwrap();
            for name in requests() {
                let desc = pool.get_message_by_name(&name).unwrap();
                if let Ok(message) = DynamicMessage::decode(desc, bytes.as_slice()) {
                    let encoded = message.encode_to_vec();
                    let first = check(&name, &encoded);
                    let second = check(&name, &encoded);
                    prop_assert_eq!(first, second);
                }
            }
        }

        /// The walk of an encoded request finds what the walk of the decoded request finds, for
        /// arbitrary bytes that decode as each request type (fields out of order, sent twice,
        /// unknown, packed or not) and for those messages encoded again. Where the wire walk
        /// declines an encoding, `check` walks the decoded message instead.
        #[test]
        fn the_wire_walk_finds_what_the_decoded_walk_finds(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            use prost::Message as _;
            let pool = POOL.as_ref().unwrap();
            let sorted = |found: Vec<Violation>| {
                let mut v: Vec<(String, String)> =
                    found.into_iter().map(|v| (v.field, v.description)).collect();
                v.sort();
                v
            };
            for name in requests() {
                let desc = pool.get_message_by_name(&name).unwrap();
                if desc.get_field_by_name("update_mask").is_some() {
                    continue;
                }
                let Ok(message) = DynamicMessage::decode(desc.clone(), bytes.as_slice()) else {
                    continue;
                };
                for encoded in [bytes.clone(), message.encode_to_vec()] {
                    let mut walk = Walk::default();
                    if walk.wire(&desc, &encoded, &Path::Root, 0).is_none() || walk.output_only_set {
                        continue;
                    }
                    let whole = decoded(desc.clone(), &encoded);
                    prop_assert_eq!(
                        walk.found.len() + walk.omitted,
                        whole.violations.len() + whole.omitted
                    );
                    if walk.omitted == 0 {
                        prop_assert_eq!(sorted(walk.found), sorted(whole.violations));
                    }
                }
            }
        }
    }
}
