//! The one error every parser of this crate returns: which request field is wrong, and how.

/// A request field that failed to parse, named as the caller knows it (`parent`, `page_token`).
///
/// The parsers here cannot know which proto field they were handed, so each takes the field's
/// path from its caller and reports it back; the server turns this into a `BadRequest` field
/// violation and a client can point its user at the flag or field to fix. It converts into
/// [`tonic_types::FieldViolation`] for the server's error mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {description}")]
pub struct FieldViolation {
    /// The request field's path, e.g. `parent` or `change_request.title`.
    pub field: String,
    /// What is wrong with it, a lowercase fragment that reads after the field's name
    /// (`must not be negative`).
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`: `description` should read as a sentence after the field's name.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl From<FieldViolation> for tonic_types::FieldViolation {
    fn from(v: FieldViolation) -> Self {
        tonic_types::FieldViolation::new(v.field, v.description)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_as_a_sentence_about_the_field() {
        let v = FieldViolation::new("page_size", "must not be negative");
        assert_eq!(v.to_string(), "page_size must not be negative");
    }

    #[test]
    fn converts_into_a_bad_request_violation() {
        let v: tonic_types::FieldViolation = FieldViolation::new("parent", "is required").into();
        assert_eq!(v.field, "parent");
        assert_eq!(v.description, "is required");
    }
}
