//! List paging (AIP-158): the page size rules and one opaque, tamper-evident page token format
//! for every list RPC.
//!
//! A page token carries the position to resume from, bound to the query it was issued for and
//! signed with the server's key, so a client can neither move the position (to skip a filter or
//! read past the end) nor reuse a token with other filters, and every list RPC refuses a foreign
//! token with the same message.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

use crate::violation::FieldViolation;

/// The page size of a request that leaves `page_size` at 0, as every list request documents.
pub const DEFAULT_PAGE_SIZE: u64 = 50;

/// The largest page the server returns; a larger `page_size` is lowered to it (AIP-158 says
/// to coerce, not refuse), so one request cannot ask for the whole table.
pub const MAX_PAGE_SIZE: u64 = 500;

/// The page size to use for request field `field` holding `value`: 0 means
/// [`DEFAULT_PAGE_SIZE`], anything above [`MAX_PAGE_SIZE`] is lowered to it, and a negative
/// size is refused (`must not be negative`) since it can only be a client's bug.
pub fn page_size(field: &str, value: i32) -> Result<u64, FieldViolation> {
    page_size_within(field, value, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
}

/// The same rule for a list with its own `default` and `max` (e.g. a layer's items, read in
/// bigger pages).
pub fn page_size_within(
    field: &str,
    value: i32,
    default: u64,
    max: u64,
) -> Result<u64, FieldViolation> {
    match u64::try_from(value) {
        Err(_) => Err(FieldViolation::new(field, "must not be negative")),
        Ok(0) => Ok(default),
        Ok(size) => Ok(size.min(max)),
    }
}

/// The format's version, the token's first byte; a new format gets a new number.
const VERSION: u8 = 1;
/// The version of cursor tokens (see [`PageTokens::encode_cursor`]).
const CURSOR_VERSION: u8 = 2;
/// Bytes of the SHA-256 of the query kept in a token.
const QUERY_HASH_LEN: usize = 8;
/// Bytes of the HMAC-SHA256 kept in a token.
const MAC_LEN: usize = 16;
/// Version, position, query hash.
const SIGNED_LEN: usize = 1 + 8 + QUERY_HASH_LEN;
/// The whole decoded token.
const TOKEN_LEN: usize = SIGNED_LEN + MAC_LEN;

const NOT_ISSUED: &str = "is not a token this server issued";
const OTHER_QUERY: &str =
    "belongs to another query (the request's other fields must not change between pages)";

/// Issues and checks page tokens with one server key.
///
/// A token is URL-safe base64 (no padding) of: version byte 1, the position as 8 bytes big
/// endian, the first 8 bytes of SHA-256 of the query, and the first 16 bytes of HMAC-SHA256
/// with the key over all of that. The position is an offset or a keyset cursor, whatever the
/// list RPC resumes from; the query is the caller's fingerprint of the request fields a token
/// belongs to (e.g. `parent|filter|order_by`), so a token is refused when they change.
///
/// Tokens are opaque to clients but not secret: they are signed, not encrypted. Every server
/// replica must share the key, and tokens issued before a key change are refused.
#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never print it.
        f.debug_struct("PageTokens").finish_non_exhaustive()
    }
}

impl PageTokens {
    /// A codec signing with `key`, which should be 32 random bytes kept with the server's
    /// configuration and shared by its replicas.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The token for resuming query `query` at `position`, to send as `next_page_token`.
    ///
    /// `position` must not be negative: a token for a negative position is refused by
    /// [`PageTokens::decode`], like a forged one.
    pub fn encode(&self, query: &str, position: i64) -> String {
        let mut token = [0u8; TOKEN_LEN];
        token[..SIGNED_LEN].copy_from_slice(&signed_part(query, position));
        let mac = self.mac(&token[..SIGNED_LEN]).finalize().into_bytes();
        token[SIGNED_LEN..].copy_from_slice(&mac[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The position a `page_token` sent in request field `field` resumes `query` from, or
    /// `None` for an empty token (the first page).
    ///
    /// Refuses a token that is not base64 of a well-formed token signed with this key, or
    /// whose position is negative, with `is not a token this server issued`; and a genuine
    /// token issued for another query with `belongs to another query (…)`.
    pub fn decode(
        &self,
        field: &str,
        token: &str,
        query: &str,
    ) -> Result<Option<i64>, FieldViolation> {
        if token.is_empty() {
            return Ok(None);
        }
        let not_issued = || FieldViolation::new(field, NOT_ISSUED);
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| not_issued())?;
        let bytes: [u8; TOKEN_LEN] = bytes.try_into().map_err(|_| not_issued())?;
        let (signed, mac) = bytes.split_at(SIGNED_LEN);
        // Constant time: the comparison must not tell a forger how many bytes were right.
        self.mac(signed)
            .verify_truncated_left(mac)
            .map_err(|_| not_issued())?;
        let (version, rest) = signed.split_at(1);
        let (position, query_hash) = rest.split_at(8);
        if version != [VERSION] {
            return Err(not_issued());
        }
        let position: [u8; 8] = position.try_into().map_err(|_| not_issued())?;
        let position = i64::from_be_bytes(position);
        if position < 0 {
            return Err(not_issued());
        }
        if query_hash != hash_query(query) {
            return Err(FieldViolation::new(field, OTHER_QUERY));
        }
        Ok(Some(position))
    }

    /// The token for resuming query `query` after `cursor`, a keyset position of any shape (for
    /// example a JSON object naming the last row's sort key). Format version 2: version byte 2,
    /// the first 8 bytes of SHA-256 of the query, the cursor's bytes, and the first 16 bytes of
    /// HMAC-SHA256 over all of that.
    pub fn encode_cursor(&self, query: &str, cursor: &str) -> String {
        let mut token = Vec::with_capacity(1 + QUERY_HASH_LEN + cursor.len() + MAC_LEN);
        token.push(CURSOR_VERSION);
        token.extend_from_slice(&hash_query(query));
        token.extend_from_slice(cursor.as_bytes());
        let mac = self.mac(&token).finalize().into_bytes();
        token.extend_from_slice(&mac[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The cursor a `page_token` made by [`PageTokens::encode_cursor`] resumes `query` after, or
    /// `None` for an empty token; refused like [`PageTokens::decode`] refuses.
    pub fn decode_cursor(
        &self,
        field: &str,
        token: &str,
        query: &str,
    ) -> Result<Option<String>, FieldViolation> {
        if token.is_empty() {
            return Ok(None);
        }
        let not_issued = || FieldViolation::new(field, NOT_ISSUED);
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| not_issued())?;
        if bytes.len() < 1 + QUERY_HASH_LEN + MAC_LEN {
            return Err(not_issued());
        }
        let (signed, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        self.mac(signed)
            .verify_truncated_left(mac)
            .map_err(|_| not_issued())?;
        if signed[0] != CURSOR_VERSION {
            return Err(not_issued());
        }
        let (query_hash, cursor) = signed[1..].split_at(QUERY_HASH_LEN);
        if query_hash != hash_query(query) {
            return Err(FieldViolation::new(field, OTHER_QUERY));
        }
        String::from_utf8(cursor.to_vec())
            .map(Some)
            .map_err(|_| not_issued())
    }

    /// HMAC-SHA256 keyed with the server key, fed `data`.
    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        // HMAC pads a key shorter than the hash's block to the block size with zeros (RFC 2104),
        // so this is HMAC with the 32-byte key; taking the block-sized key makes the key's
        // length a type, where `new_from_slice` would return an error that cannot happen.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.key);
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
        mac.update(data);
        mac
    }
}

/// The first bytes of SHA-256 of the query.
fn hash_query(query: &str) -> [u8; QUERY_HASH_LEN] {
    let digest = Sha256::digest(query.as_bytes());
    let mut hash = [0u8; QUERY_HASH_LEN];
    hash.copy_from_slice(&digest[..QUERY_HASH_LEN]);
    hash
}

/// Version, position and query hash: what the MAC covers.
fn signed_part(query: &str, position: i64) -> [u8; SIGNED_LEN] {
    let mut signed = [0u8; SIGNED_LEN];
    signed[0] = VERSION;
    signed[1..9].copy_from_slice(&position.to_be_bytes());
    signed[9..].copy_from_slice(&hash_query(query));
    signed
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const QUERY: &str = "icss/QUE|state = OPEN|create_time desc";

    fn tokens() -> PageTokens {
        PageTokens::new([7; 32])
    }

    fn refusal(token: &str) -> String {
        tokens()
            .decode("page_token", token, QUERY)
            .unwrap_err()
            .to_string()
    }

    /// A small deterministic generator, so forged inputs are reproducible without a crate.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn an_empty_token_is_the_first_page() {
        assert_eq!(tokens().decode("page_token", "", QUERY).unwrap(), None);
    }

    #[test]
    fn a_token_resumes_where_it_was_issued() {
        let codec = tokens();
        for position in [0, 1, 49, 50, 500, 1 << 31, i64::MAX - 1, i64::MAX] {
            let token = codec.encode(QUERY, position);
            assert_eq!(token.len(), 44);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token} is not URL-safe"
            );
            assert_eq!(
                codec.decode("page_token", &token, QUERY).unwrap(),
                Some(position)
            );
        }
    }

    #[test]
    fn the_mac_is_hmac_sha256_with_the_key() {
        let codec = tokens();
        let mut reference = Hmac::<Sha256>::new_from_slice(&[7; 32]).unwrap();
        reference.update(b"data");
        assert_eq!(
            codec.mac(b"data").finalize().into_bytes(),
            reference.finalize().into_bytes()
        );
    }

    #[test]
    fn a_token_for_another_query_is_refused_as_such() {
        let token = tokens().encode("icss/QUE|state = OPEN|", 50);
        let err = tokens().decode("page_token", &token, QUERY).unwrap_err();
        assert_eq!(err.field, "page_token");
        assert_eq!(
            err.description,
            "belongs to another query (the request's other fields must not change between pages)"
        );
    }

    #[test]
    fn garbage_is_refused() {
        for token in [
            "x",
            "not base64!",
            "====",
            "AQ",
            &URL_SAFE_NO_PAD.encode([1u8; TOKEN_LEN - 1]),
            &URL_SAFE_NO_PAD.encode([1u8; TOKEN_LEN + 1]),
        ] {
            assert_eq!(
                refusal(token),
                "page_token is not a token this server issued"
            );
        }
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..1000 {
            let bytes: Vec<u8> = (0..TOKEN_LEN).map(|_| xorshift(&mut state) as u8).collect();
            assert_eq!(
                refusal(&URL_SAFE_NO_PAD.encode(bytes)),
                "page_token is not a token this server issued"
            );
        }
    }

    #[test]
    fn a_padded_or_standard_alphabet_token_is_refused() {
        let token = tokens().encode(QUERY, 50);
        assert_eq!(
            refusal(&format!("{token}=")),
            "page_token is not a token this server issued"
        );
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let standard = base64::engine::general_purpose::STANDARD.encode(bytes);
        if standard.contains(['+', '/', '=']) {
            assert_eq!(
                refusal(&standard),
                "page_token is not a token this server issued"
            );
        }
    }

    #[test]
    fn flipping_any_bit_is_detected() {
        let token = tokens().encode(QUERY, 100);
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut forged = bytes.clone();
            forged[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                refusal(&URL_SAFE_NO_PAD.encode(&forged)),
                "page_token is not a token this server issued",
                "bit {bit}"
            );
        }
    }

    #[test]
    fn a_hand_made_token_without_the_key_is_refused() {
        for position in [i64::MAX, -1, 0] {
            // u64::MAX has the bit pattern of -1.
            let signed = signed_part(QUERY, position);
            for mac in [[0u8; MAC_LEN], [0xff; MAC_LEN]] {
                let mut token = signed.to_vec();
                token.extend_from_slice(&mac);
                assert_eq!(
                    refusal(&URL_SAFE_NO_PAD.encode(&token)),
                    "page_token is not a token this server issued"
                );
            }
            // A real token's MAC moved onto another position.
            let genuine = URL_SAFE_NO_PAD.decode(tokens().encode(QUERY, 50)).unwrap();
            let mut token = signed.to_vec();
            token.extend_from_slice(&genuine[SIGNED_LEN..]);
            assert_eq!(
                refusal(&URL_SAFE_NO_PAD.encode(&token)),
                "page_token is not a token this server issued"
            );
        }
    }

    #[test]
    fn another_keys_token_is_refused() {
        let token = PageTokens::new([8; 32]).encode(QUERY, 50);
        assert_eq!(
            refusal(&token),
            "page_token is not a token this server issued"
        );
    }

    #[test]
    fn a_negative_position_is_refused_even_when_signed() {
        let token = tokens().encode(QUERY, -1);
        assert_eq!(
            refusal(&token),
            "page_token is not a token this server issued"
        );
        let token = tokens().encode(QUERY, i64::MIN);
        assert_eq!(
            refusal(&token),
            "page_token is not a token this server issued"
        );
    }

    #[test]
    fn another_version_is_refused_even_when_signed() {
        let codec = tokens();
        let mut signed = signed_part(QUERY, 50);
        signed[0] = 2;
        let mac = codec.mac(&signed).finalize().into_bytes();
        let mut token = signed.to_vec();
        token.extend_from_slice(&mac[..MAC_LEN]);
        assert_eq!(
            refusal(&URL_SAFE_NO_PAD.encode(&token)),
            "page_token is not a token this server issued"
        );
    }

    #[test]
    fn debug_does_not_print_the_key() {
        assert_eq!(format!("{:?}", tokens()), "PageTokens { .. }");
    }

    #[test]
    fn a_cursor_token_round_trips_and_is_bound_to_its_query() {
        let t = tokens();
        let token = t.encode_cursor(QUERY, r#"{"time":"2026-01-01","id":"x"}"#);
        assert_eq!(
            t.decode_cursor("page_token", &token, QUERY)
                .unwrap()
                .as_deref(),
            Some(r#"{"time":"2026-01-01","id":"x"}"#)
        );
        let other = t.decode_cursor("page_token", &token, "other").unwrap_err();
        assert_eq!(other.description, OTHER_QUERY);
        let offset = t.encode(QUERY, 4);
        assert_eq!(
            t.decode_cursor("page_token", &offset, QUERY)
                .unwrap_err()
                .description,
            NOT_ISSUED,
            "an offset token is not a cursor token"
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[12] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(
            t.decode_cursor("page_token", &forged, QUERY)
                .unwrap_err()
                .description,
            NOT_ISSUED
        );
    }

    #[test]
    fn page_size_rules() {
        assert_eq!(page_size("page_size", 0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size("page_size", 1).unwrap(), 1);
        assert_eq!(page_size("page_size", 50).unwrap(), 50);
        assert_eq!(page_size("page_size", 500).unwrap(), 500);
        assert_eq!(page_size("page_size", 501).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(page_size("page_size", i32::MAX).unwrap(), MAX_PAGE_SIZE);
        for negative in [-1, -50, i32::MIN] {
            assert_eq!(
                page_size("page_size", negative).unwrap_err(),
                FieldViolation::new("page_size", "must not be negative")
            );
        }
    }
}
