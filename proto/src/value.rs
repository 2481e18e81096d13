//! `google.protobuf.Value` in the generated messages: either decoded (a request's value, as prost
//! decodes it) or already encoded (a value the server writes from JSON straight into protobuf's
//! wire format, without building prost's tree of `Struct`s, `ListValue`s and strings first).
//!
//! A large read answers tens of thousands of values; building each as a tree and then encoding
//! the tree cost more than the database read of the same rows. On the wire both forms are the same
//! bytes, so clients (any language) see a plain `google.protobuf.Value`.

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use prost::encoding::{DecodeContext, WireType, encode_key, encode_varint, encoded_len_varint};
use prost_types::value::Kind;

/// A `google.protobuf.Value`.
#[derive(Clone, Debug)]
pub enum Value {
    /// As decoded from a message.
    Decoded(prost_types::Value),
    /// The encoded message body (without its own length), as [`Value::from_json`] wrote it.
    Encoded(Bytes),
}

impl Default for Value {
    fn default() -> Self {
        Value::Decoded(prost_types::Value::default())
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Decoded(a), Value::Decoded(b)) => a == b,
            (Value::Encoded(a), Value::Encoded(b)) => a == b,
            _ => self.encode_to_vec() == other.encode_to_vec(),
        }
    }
}

impl From<prost_types::Value> for Value {
    fn from(v: prost_types::Value) -> Self {
        Value::Decoded(v)
    }
}

impl From<Value> for prost_types::Value {
    fn from(v: Value) -> Self {
        v.into_decoded()
    }
}

impl Value {
    /// JSON as a `google.protobuf.Value`, encoded at once. Numbers become doubles, as protobuf
    /// carries them; object keys are written in order, as prost writes a `Struct`.
    pub fn from_json(v: &serde_json::Value) -> Self {
        let mut buf = Vec::with_capacity(json_len(v));
        write_json(v, &mut buf);
        Value::Encoded(Bytes::from(buf))
    }

    /// The value as JSON; whole numbers become integers (protobuf carries every number as a
    /// double), so `5` stays `5`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Decoded(v) => json_of(v.clone()),
            Value::Encoded(_) => self.clone().into_json(),
        }
    }

    /// [`Value::to_json`], taking the value: its strings move instead of being copied.
    pub fn into_json(self) -> serde_json::Value {
        json_of(self.into_decoded())
    }

    /// The value as prost's tree.
    pub fn into_decoded(self) -> prost_types::Value {
        match self {
            Value::Decoded(v) => v,
            // Only `from_json` makes encoded values, and what it writes always decodes.
            Value::Encoded(bytes) => prost_types::Value::decode(bytes).unwrap_or_default(),
        }
    }

    /// The bytes [`Value::from_json`] of `v` takes, without writing them.
    pub fn json_encoded_len(v: &serde_json::Value) -> usize {
        json_len(v)
    }
}

impl Message for Value {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            Value::Decoded(v) => v.encode_raw(buf),
            Value::Encoded(bytes) => buf.put_slice(bytes),
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        if let Value::Encoded(_) = self {
            *self = Value::Decoded(std::mem::take(self).into_decoded());
        }
        match self {
            Value::Decoded(v) => v.merge_field(tag, wire_type, buf, ctx),
            Value::Encoded(_) => Ok(()),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Value::Decoded(v) => v.encoded_len(),
            Value::Encoded(bytes) => bytes.len(),
        }
    }

    fn clear(&mut self) {
        *self = Value::default();
    }
}

/// JSON as prost's tree of a `Value` (for a `Struct`, whose values are prost's own); the
/// reference [`Value::from_json`]'s encoding equals.
pub fn prost_tree(v: &serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(*b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        J::String(s) => Kind::StringValue(s.clone()),
        J::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(prost_tree).collect(),
        }),
        J::Object(o) => Kind::StructValue(prost_types::Struct {
            fields: o.iter().map(|(k, v)| (k.clone(), prost_tree(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

fn json_of(v: prost_types::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(b),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                J::from(n as i64)
            } else {
                serde_json::Number::from_f64(n).map_or(J::Null, J::Number)
            }
        }
        Some(Kind::StringValue(s)) => J::String(s),
        Some(Kind::ListValue(l)) => J::Array(l.values.into_iter().map(json_of).collect()),
        Some(Kind::StructValue(s)) => {
            J::Object(s.fields.into_iter().map(|(k, v)| (k, json_of(v))).collect())
        }
    }
}

// Field numbers of `Value`, `Struct` (and its map entry) and `ListValue`.
const NULL: u32 = 1;
const NUMBER: u32 = 2;
const STRING: u32 = 3;
const BOOL: u32 = 4;
const STRUCT: u32 = 5;
const LIST: u32 = 6;
const STRUCT_FIELDS: u32 = 1;
const ENTRY_KEY: u32 = 1;
const ENTRY_VALUE: u32 = 2;
const LIST_VALUES: u32 = 1;

/// A length-delimited field of `len` bytes, with its one-byte key.
fn delimited(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// The encoded length of `v` as a `Value` message body.
fn json_len(v: &serde_json::Value) -> usize {
    use serde_json::Value as J;
    match v {
        J::Null | J::Bool(_) => 2,
        J::Number(_) => 9,
        J::String(s) => delimited(s.len()),
        J::Array(a) => delimited(a.iter().map(|v| delimited(json_len(v))).sum()),
        J::Object(o) => delimited(o.iter().map(|(k, v)| delimited(entry_len(k, v))).sum()),
    }
}

/// A `Struct` entry's length; an empty key is left out, as prost leaves a default field out.
fn entry_len(k: &str, v: &serde_json::Value) -> usize {
    let key = if k.is_empty() { 0 } else { delimited(k.len()) };
    key + delimited(json_len(v))
}

fn write_json(v: &serde_json::Value, buf: &mut Vec<u8>) {
    use serde_json::Value as J;
    match v {
        J::Null => {
            encode_key(NULL, WireType::Varint, buf);
            encode_varint(0, buf);
        }
        J::Bool(b) => {
            encode_key(BOOL, WireType::Varint, buf);
            encode_varint(u64::from(*b), buf);
        }
        J::Number(n) => {
            encode_key(NUMBER, WireType::SixtyFourBit, buf);
            buf.put_f64_le(n.as_f64().unwrap_or_default());
        }
        J::String(s) => {
            encode_key(STRING, WireType::LengthDelimited, buf);
            encode_varint(s.len() as u64, buf);
            buf.put_slice(s.as_bytes());
        }
        J::Array(a) => {
            encode_key(LIST, WireType::LengthDelimited, buf);
            encode_varint(
                a.iter().map(|v| delimited(json_len(v))).sum::<usize>() as u64,
                buf,
            );
            for item in a {
                encode_key(LIST_VALUES, WireType::LengthDelimited, buf);
                encode_varint(json_len(item) as u64, buf);
                write_json(item, buf);
            }
        }
        J::Object(o) => {
            encode_key(STRUCT, WireType::LengthDelimited, buf);
            let entries: usize = o.iter().map(|(k, v)| delimited(entry_len(k, v))).sum();
            encode_varint(entries as u64, buf);
            for (k, v) in o {
                encode_key(STRUCT_FIELDS, WireType::LengthDelimited, buf);
                encode_varint(entry_len(k, v) as u64, buf);
                if !k.is_empty() {
                    encode_key(ENTRY_KEY, WireType::LengthDelimited, buf);
                    encode_varint(k.len() as u64, buf);
                    buf.put_slice(k.as_bytes());
                }
                encode_key(ENTRY_VALUE, WireType::LengthDelimited, buf);
                encode_varint(json_len(v) as u64, buf);
                write_json(v, buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            (-1_000_000_000_i64..1_000_000_000).prop_map(|n| json!(n)),
            (-1.0e6_f64..1.0e6).prop_map(|n| json!(n)),
            ".{0,200}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(".{0,12}", inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_direct_encoding_is_prosts(v in json()) {
            let direct = Value::from_json(&v);
            prop_assert_eq!(direct.encoded_len(), Value::json_encoded_len(&v));
            prop_assert_eq!(direct.encode_to_vec(), prost_tree(&v).encode_to_vec());
            // And it reads back as the same JSON (whole numbers as integers).
            let back = Value::decode(direct.encode_to_vec().as_slice()).unwrap();
            prop_assert_eq!(&back, &direct);
            prop_assert_eq!(back.to_json(), direct.to_json());
            prop_assert_eq!(direct.to_json(), json_of(prost_tree(&v)));
        }
    }

    #[test]
    fn a_value_in_a_message_is_a_length_delimited_field() {
        let v = Value::from_json(&json!({"enabled": true, "limit": 5, "tags": ["a", null]}));
        let as_field = |v: &Value| {
            let mut buf = Vec::new();
            prost::encoding::message::encode(3, v, &mut buf);
            buf
        };
        let decoded = Value::Decoded(v.clone().into_decoded());
        assert_eq!(as_field(&v), as_field(&decoded));
        assert_eq!(v, decoded);
        assert_eq!(
            v.to_json(),
            json!({"enabled": true, "limit": 5, "tags": ["a", null]})
        );
    }

    #[test]
    fn a_malformed_value_is_a_decode_error() {
        // A string field whose length runs past the end.
        assert!(Value::decode([0x1a_u8, 0x05, b'a'].as_slice()).is_err());
    }
}
