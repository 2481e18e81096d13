//! `google.api.field_behavior` (AIP-203) as the server enforces it, read from the descriptors:
//!
//! - **REQUIRED**: a request must set the field (a string or list not empty, a number not 0, an
//!   enum not its `…_UNSPECIFIED`, a message present) wherever the message holding it is present.
//!   In an update (a request with an `update_mask`), the resource's own required fields are
//!   required only when the mask names them: an update sends what it changes.
//! - **OUTPUT_ONLY**: set by the server; a request's value is cleared before any handler sees it,
//!   and is not held to the field limits. Naming one in an `update_mask` is refused.
//! - **IMMUTABLE**: set when the resource is created and never changed: naming one in an
//!   `update_mask` is refused.
//! - **IDENTIFIER**: the resource's `name`; ignored on create, required on update, and never
//!   named in an `update_mask`.

use std::collections::HashMap;
use std::sync::LazyLock;

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};

/// What `google.api.field_behavior` says of one field.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    /// REQUIRED.
    pub required: bool,
    /// OUTPUT_ONLY.
    pub output_only: bool,
    /// IMMUTABLE.
    pub immutable: bool,
    /// IDENTIFIER.
    pub identifier: bool,
}

/// The behaviour of every annotated field of the pool, by the field's full name.
static BEHAVIOURS: LazyLock<HashMap<String, Behaviour>> = LazyLock::new(|| {
    let mut out = HashMap::new();
    let Some(pool) = super::limits::pool() else {
        return out;
    };
    let Some(extension) = pool.get_extension_by_name("google.api.field_behavior") else {
        return out;
    };
    for message in pool.all_messages() {
        for field in message.fields() {
            let options = field.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let mut b = Behaviour::default();
            if let Value::List(values) = options.get_extension(&extension).as_ref() {
                for value in values {
                    match value.as_enum_number() {
                        Some(2) => b.required = true,
                        Some(3) => b.output_only = true,
                        Some(5) => b.immutable = true,
                        Some(8) => b.identifier = true,
                        _ => {}
                    }
                }
            }
            out.insert(field.full_name().to_owned(), b);
        }
    }
    out
});

/// The behaviour of `field` (all false when it is not annotated).
pub fn of(field: &FieldDescriptor) -> Behaviour {
    BEHAVIOURS
        .get(field.full_name())
        .copied()
        .unwrap_or_default()
}

/// The behaviour of the field named `full_name`, e.g.
/// `concordat.changecontrol.v1.ChangeRequest.title`.
pub fn of_field(full_name: &str) -> Behaviour {
    BEHAVIOURS.get(full_name).copied().unwrap_or_default()
}

/// The fields of the message `full_name` (e.g. `concordat.changecontrol.v1.ChangeRequest`) with
/// their behaviour, in field-number order; empty for a message the API does not have.
pub fn fields_of(full_name: &str) -> Vec<(String, Behaviour)> {
    super::limits::pool()
        .and_then(|pool| pool.get_message_by_name(full_name))
        .map(|message| {
            message
                .fields()
                .map(|f| (f.name().to_owned(), of(&f)))
                .collect()
        })
        .unwrap_or_default()
}

/// How many fields carry an annotation.
pub fn annotated_fields() -> usize {
    BEHAVIOURS.len()
}

/// Why a required field that is unset is refused: what setting it takes.
pub fn required_reason(field: &FieldDescriptor) -> String {
    if field.is_list() || field.is_map() {
        return "is required: at least one entry".into();
    }
    match field.kind() {
        Kind::Enum(e) => {
            let values: Vec<String> = e
                .values()
                .filter(|v| v.number() != 0)
                .map(|v| v.name().to_owned())
                .collect();
            format!("is required: one of {}", values.join(", "))
        }
        Kind::String | Kind::Bytes | Kind::Message(_) | Kind::Bool => "is required".into(),
        _ => "is required and cannot be 0".into(),
    }
}

/// The `update_mask` of an update request and the resource field it masks, when `request` is one.
pub struct Update {
    /// The resource's field in the request, e.g. `change_request`.
    pub resource: FieldDescriptor,
    /// The masked field names.
    pub mask: Vec<String>,
}

impl Update {
    /// The update described by `request`: a repeated string `update_mask` beside exactly one
    /// message field.
    pub fn of(request: &DynamicMessage) -> Option<Update> {
        let descriptor = request.descriptor();
        let mask_field = descriptor.get_field_by_name("update_mask")?;
        let mut resources = descriptor
            .fields()
            .filter(|f| matches!(f.kind(), Kind::Message(_)) && !f.is_list() && !f.is_map());
        let resource = resources.next()?;
        if resources.next().is_some() {
            return None;
        }
        let mask = match request.get_field(&mask_field).as_ref() {
            Value::List(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Some(Update { resource, mask })
    }

    /// Whether the resource's `field` is named by the mask (alone or by a path under it).
    pub fn masks(&self, field: &str) -> bool {
        self.mask
            .iter()
            .any(|m| m == field || m.split('.').next() == Some(field))
    }

    /// The problems of each mask entry, as (index, reason).
    pub fn problems(&self) -> Vec<(usize, String)> {
        let Kind::Message(resource) = self.resource.kind() else {
            return Vec::new();
        };
        let noun = noun(&resource);
        let mut out = Vec::new();
        if self.mask.len() > super::limits::MAX_ITEMS {
            return out; // refused by the limits already
        }
        for (i, entry) in self.mask.iter().enumerate() {
            if entry.chars().any(char::is_control)
                || entry.chars().count() > super::limits::MAX_LINE
            {
                continue; // refused by the limits already
            }
            if entry == "*" {
                out.push((
                    i,
                    "`*` is not accepted: name each field to replace".to_owned(),
                ));
                continue;
            }
            let top = entry.split('.').next().unwrap_or_default();
            let Some(field) = resource.get_field_by_name(top) else {
                out.push((
                    i,
                    format!(
                        "`{}` is not a field of {noun}",
                        super::limits::printable(entry)
                    ),
                ));
                continue;
            };
            let b = of(&field);
            let reason = if b.identifier {
                format!("`{top}` names the {noun} and cannot be changed")
            } else if b.output_only {
                format!("`{top}` is output only: the server sets it")
            } else if b.immutable {
                format!("`{top}` is immutable: it is set when the {noun} is created")
            } else {
                continue;
            };
            out.push((i, reason));
        }
        out
    }
}

/// `ChangeRequest` as people say it: `change request`.
fn noun(message: &MessageDescriptor) -> String {
    let mut out = String::new();
    for (i, c) in message.name().chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Clears every OUTPUT_ONLY field set in `message` and the Concordat messages under it; true when
/// one was set.
pub fn clear_output_only(message: &mut DynamicMessage) -> bool {
    let set: Vec<FieldDescriptor> = message
        .fields()
        .filter(|(f, _)| of(f).output_only)
        .map(|(f, _)| f)
        .collect();
    let mut cleared = !set.is_empty();
    for field in &set {
        message.clear_field(field);
    }
    for (_, value) in message.fields_mut() {
        cleared |= clear_in(value);
    }
    cleared
}

fn clear_in(value: &mut Value) -> bool {
    match value {
        Value::Message(m) if m.descriptor().full_name().starts_with("concordat.") => {
            clear_output_only(m)
        }
        Value::List(items) => items.iter_mut().fold(false, |acc, v| clear_in(v) | acc),
        Value::Map(entries) => entries.values_mut().fold(false, |acc, v| clear_in(v) | acc),
        _ => false,
    }
}
