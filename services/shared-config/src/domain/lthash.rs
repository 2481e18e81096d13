//! A homomorphic multiset hash: LtHash16 ("Securing Update Propagation with Homomorphic
//! Hashing", Lewi, Kim, Maykov and Weis, Facebook 2019). A configuration's hash is the sum, lane by
//! lane modulo 2¹⁶, of its elements' 2,048-byte expansions (1,024 lanes of 16 bits, BLAKE3 in
//! extendable-output mode), so adding or removing one element costs one expansion whatever the
//! size of the configuration: a publish updates the hash in proportion to what it changes. The
//! hash shown to clients is the SHA-256 of the state (64 hex characters).

use sha2::{Digest, Sha256};

/// Lanes of 16 bits.
pub const LANES: usize = 1024;
/// Bytes of a state.
pub const BYTES: usize = LANES * 2;

const CONTEXT: &str = "concordat 2026-12 config element lthash16 v1";

/// The hash of a multiset of elements; the empty multiset is all zeros.
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash(Box<[u16; LANES]>);

impl std::fmt::Debug for LtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LtHash({})", self.checksum())
    }
}

impl Default for LtHash {
    fn default() -> Self {
        Self(Box::new([0; LANES]))
    }
}

impl LtHash {
    /// The hash of the empty multiset.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state as stored: 2,048 bytes, lanes little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|lane| lane.to_le_bytes()).collect()
    }

    /// A stored state; `None` unless exactly [`BYTES`] long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != BYTES {
            return None;
        }
        let mut lanes = Box::new([0u16; LANES]);
        for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Some(Self(lanes))
    }

    /// Adds one element (its encoding).
    pub fn add(&mut self, element: &[u8]) {
        let e = expand(element);
        for (lane, x) in self.0.iter_mut().zip(e.iter()) {
            *lane = lane.wrapping_add(*x);
        }
    }

    /// Removes one element (its encoding) that the multiset holds.
    pub fn remove(&mut self, element: &[u8]) {
        let e = expand(element);
        for (lane, x) in self.0.iter_mut().zip(e.iter()) {
            *lane = lane.wrapping_sub(*x);
        }
    }

    /// Adds every element of `other`: the union of the two multisets.
    pub fn add_all(&mut self, other: &LtHash) {
        for (lane, x) in self.0.iter_mut().zip(other.0.iter()) {
            *lane = lane.wrapping_add(*x);
        }
    }

    /// The hash clients see: SHA-256 of the state, hex.
    pub fn checksum(&self) -> String {
        let mut h = Sha256::new();
        h.update(CONTEXT.as_bytes());
        h.update(self.to_bytes());
        hex::encode(h.finalize())
    }
}

fn expand(element: &[u8]) -> [u16; LANES] {
    let mut hasher = blake3::Hasher::new_derive_key(CONTEXT);
    hasher.update(element);
    let mut bytes = [0u8; BYTES];
    hasher.finalize_xof().fill(&mut bytes);
    let mut lanes = [0u16; LANES];
    for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
        *lane = u16::from_le_bytes([pair[0], pair[1]]);
    }
    lanes
}

/// The encoding of one element: each part length-prefixed, so no two sequences of parts encode
/// alike.
pub fn element(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_change_hashed_once_updates_any_state_as_applying_it_does() {
        let mut direct = LtHash::new();
        direct.add(b"kept");
        direct.add(b"old");
        let mut shared = direct.clone();
        direct.remove(b"old");
        direct.add(b"new");
        let mut delta = LtHash::new();
        delta.remove(b"old");
        delta.add(b"new");
        shared.add_all(&delta);
        assert_eq!(shared, direct);
        assert_ne!(shared, LtHash::new());
    }

    #[test]
    fn the_state_round_trips_and_the_empty_multiset_is_zero() {
        let mut h = LtHash::new();
        assert_eq!(h.to_bytes(), vec![0; BYTES]);
        h.add(b"a");
        assert_eq!(LtHash::from_bytes(&h.to_bytes()).unwrap(), h);
        assert!(LtHash::from_bytes(&[0; 3]).is_none());
        h.remove(b"a");
        assert_eq!(h, LtHash::new());
        assert_eq!(h.checksum().len(), 64);
    }

    proptest! {
        /// The order of additions does not matter, and removing what was added restores the hash.
        #[test]
        fn order_does_not_matter_and_removal_undoes_addition(
            elements in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 0..20),
            extra in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut forward = LtHash::new();
            for e in &elements { forward.add(e); }
            let mut backward = LtHash::new();
            for e in elements.iter().rev() { backward.add(e); }
            prop_assert_eq!(&forward, &backward);
            let mut more = forward.clone();
            more.add(&extra);
            prop_assert_ne!(more.checksum(), forward.checksum());
            more.remove(&extra);
            prop_assert_eq!(more, forward);
        }
    }
}
