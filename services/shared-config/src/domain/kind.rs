//! Config kinds: a registered kind of item (`alert-rule`, `order-set`, …) with the JSON Schema
//! (draft 2020-12) its values must satisfy, and the design-authority domain that owns it.

use serde_json::Value;

/// A field that is wrong, as `(field path, reason)`.
pub type Violation = (String, String);

/// A registered kind.
pub struct ConfigKind {
    /// The kind's name, e.g. `alert-rule`.
    pub name: String,
    /// The clinical domain (of a design authority) that owns it.
    pub domain: String,
    /// The JSON Schema.
    pub schema: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for ConfigKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigKind")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .finish()
    }
}

/// True for kind names: 1–63 lowercase letters, digits and hyphens, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl ConfigKind {
    /// A kind whose values must satisfy `schema` (draft 2020-12); the schema itself is checked.
    pub fn new(name: &str, domain: &str, schema: Value) -> Result<Self, Vec<Violation>> {
        let mut v: Vec<Violation> = Vec::new();
        if !valid_name(name) {
            v.push((
                "config_kind.name".into(),
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter".into(),
            ));
        }
        if domain.trim().is_empty() {
            v.push((
                "config_kind.domain".into(),
                "must name the owning clinical domain".into(),
            ));
        }
        let validator = match jsonschema::draft202012::new(&schema) {
            Ok(validator) => Some(validator),
            Err(err) => {
                v.push((
                    "config_kind.schema".into(),
                    format!("is not a valid JSON Schema (draft 2020-12): {err}"),
                ));
                None
            }
        };
        match validator {
            Some(validator) if v.is_empty() => Ok(Self {
                name: name.into(),
                domain: domain.into(),
                schema,
                validator,
            }),
            _ => Err(v),
        }
    }

    /// Every way `value` breaks the schema, as violations of `field` + the JSON pointer within
    /// the value (e.g. `changes[2].value/threshold`).
    pub fn check(&self, field: &str, value: &Value) -> Vec<Violation> {
        self.validator
            .iter_errors(value)
            .map(|err| (format!("{field}{}", err.instance_path()), err.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert_rule() -> ConfigKind {
        ConfigKind::new(
            "alert-rule",
            "medicines",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["enabled", "interrupt"],
                "properties": {
                    "enabled": {"type": "boolean"},
                    "interrupt": {"type": "boolean"},
                    "threshold": {"type": "integer", "minimum": 0, "maximum": 20}
                },
                "additionalProperties": false
            }),
        )
        .unwrap()
    }

    #[test]
    fn schema_failures_are_field_violations_with_json_pointers() {
        let kind = alert_rule();
        assert!(
            kind.check(
                "value",
                &json!({"enabled": true, "interrupt": true, "threshold": 5})
            )
            .is_empty()
        );
        let mut fields: Vec<String> = kind
            .check(
                "changes[0].value",
                &json!({"enabled": "yes", "interrupt": true, "threshold": 50}),
            )
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["changes[0].value/enabled", "changes[0].value/threshold"]
        );
        let missing = kind.check("value", &json!({"enabled": true}));
        assert_eq!(missing.len(), 1);
        assert!(missing[0].1.contains("interrupt"), "{missing:?}");
    }

    #[test]
    fn a_broken_schema_or_name_is_refused() {
        let err = ConfigKind::new("Alert Rule", "medicines", json!({"type": "no-such-type"}))
            .unwrap_err();
        let fields: Vec<_> = err.into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["config_kind.name", "config_kind.schema"]);
    }
}
