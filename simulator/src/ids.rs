//! Deterministic identifiers derived from the seed.
//!
//! Two kinds:
//! - *names* (instance, data source, job, event, subscription ids): UUID-shaped strings hashed from
//!   the seed and a few parts, so the same seed gives the same ids in every run;
//! - *row ids* (`CustomerId`, `ActivityId`, source-table keys): random-looking but **invertible**,
//!   built with a keyed Feistel permutation of the row number. The simulator finds a row from its
//!   id by decoding it, so it needs no hash index for keys (a million customers cost no memory for
//!   their ids), and a random-looking id that does not belong to the tenant decodes to a row whose
//!   check part does not match.

/// A 64-bit mix (SplitMix64's finaliser): good avalanche, cheap, stable across versions.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes the seed and a list of parts into 64 bits (FNV-1a over the parts, then mixed).
pub fn hash_parts(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ mix64(seed);
    for part in parts {
        for b in part.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
        h ^= 0xFF;
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    mix64(h)
}

/// A UUID-shaped id (`8-4-4-4-12` lower-case hex, version 4 and variant bits set) for the seed
/// and parts.
pub fn uuid(seed: u64, parts: &[&str]) -> String {
    let hi = hash_parts(seed, parts);
    let lo = mix64(hi ^ 0xA5A5_A5A5_A5A5_A5A5);
    format_uuid(hi, lo)
}

/// A UUID-shaped id for the `n`-th object of a kind (`job`, `event`, ...).
pub fn uuid_n(seed: u64, kind: &str, n: u64) -> String {
    let hi = hash_parts(seed ^ mix64(n), &[kind]);
    let lo = mix64(hi ^ n);
    format_uuid(hi, lo)
}

fn format_uuid(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// A keyed permutation of 64-bit values (a 4-round Feistel network on two 32-bit halves).
#[derive(Debug, Clone, Copy)]
pub struct Permutation {
    keys: [u64; 4],
}

impl Permutation {
    pub fn new(seed: u64, purpose: &str) -> Permutation {
        let base = hash_parts(seed, &[purpose]);
        Permutation {
            keys: [
                mix64(base),
                mix64(base ^ 1),
                mix64(base ^ 2),
                mix64(base ^ 3),
            ],
        }
    }

    fn round(key: u64, half: u32) -> u32 {
        (mix64(key ^ u64::from(half)) >> 32) as u32
    }

    pub fn encrypt(&self, value: u64) -> u64 {
        let (mut l, mut r) = ((value >> 32) as u32, value as u32);
        for key in self.keys {
            let next = l ^ Self::round(key, r);
            l = r;
            r = next;
        }
        (u64::from(l) << 32) | u64::from(r)
    }

    pub fn decrypt(&self, value: u64) -> u64 {
        let (mut l, mut r) = ((value >> 32) as u32, value as u32);
        for key in self.keys.iter().rev() {
            let prev = r ^ Self::round(*key, l);
            r = l;
            l = prev;
        }
        (u64::from(l) << 32) | u64::from(r)
    }

    /// A permutation of 32-bit values (2 × 16-bit halves), for short decimal keys.
    pub fn encrypt32(&self, value: u32) -> u32 {
        let (mut l, mut r) = ((value >> 16) as u16, value as u16);
        for key in self.keys {
            let next = l ^ (Self::round(key, u32::from(r)) as u16);
            l = r;
            r = next;
        }
        (u32::from(l) << 16) | u32::from(r)
    }

    pub fn decrypt32(&self, value: u32) -> u32 {
        let (mut l, mut r) = ((value >> 16) as u16, value as u16);
        for key in self.keys.iter().rev() {
            let prev = r ^ (Self::round(*key, u32::from(l)) as u16);
            r = l;
            l = prev;
        }
        (u32::from(l) << 16) | u32::from(r)
    }
}

/// Encodes and decodes 32-hex-character row ids (`CustomerId`, `ActivityId`): the low half is the
/// permuted row number, the high half a keyed check of it.
#[derive(Debug, Clone, Copy)]
pub struct RowIdCodec {
    perm: Permutation,
    check_key: u64,
}

impl RowIdCodec {
    pub fn new(seed: u64, purpose: &str) -> RowIdCodec {
        RowIdCodec {
            perm: Permutation::new(seed, purpose),
            check_key: hash_parts(seed, &[purpose, "check"]),
        }
    }

    fn check(&self, row: u64) -> u64 {
        mix64(self.check_key ^ row)
    }

    /// Appends the 32 lower-case hex characters of the id of `row`.
    pub fn write(&self, row: u64, out: &mut Vec<u8>) {
        write_hex64(self.check(row), out);
        write_hex64(self.perm.encrypt(row), out);
    }

    pub fn encode(&self, row: u64) -> String {
        let mut out = Vec::with_capacity(32);
        self.write(row, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The row an id names, if it is one of this codec's ids (case-insensitive hex).
    pub fn decode(&self, id: &str) -> Option<u64> {
        if id.len() != 32 {
            return None;
        }
        let hi = u64::from_str_radix(id.get(..16)?, 16).ok()?;
        let lo = u64::from_str_radix(id.get(16..)?, 16).ok()?;
        let row = self.perm.decrypt(lo);
        (self.check(row) == hi).then_some(row)
    }
}

/// Encodes and decodes source-table keys such as `POS-0012345678`: a prefix and ten digits of a
/// permuted 32-bit row number.
#[derive(Debug, Clone)]
pub struct SourceKeyCodec {
    prefix: String,
    perm: Permutation,
}

impl SourceKeyCodec {
    pub fn new(seed: u64, table: &str, prefix: &str) -> SourceKeyCodec {
        SourceKeyCodec {
            prefix: prefix.to_owned(),
            perm: Permutation::new(seed, table),
        }
    }

    pub fn write(&self, row: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prefix.as_bytes());
        write_decimal_padded(self.perm.encrypt32(row), out);
    }

    pub fn encode(&self, row: u32) -> String {
        let mut out = Vec::with_capacity(self.prefix.len() + 10);
        self.write(row, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn decode(&self, key: &str) -> Option<u32> {
        let digits = key.strip_prefix(self.prefix.as_str())?;
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        Some(self.perm.decrypt32(u32::try_from(value).ok()?))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_hex64(v: u64, out: &mut Vec<u8>) {
    for shift in (0..16).rev() {
        out.push(HEX[((v >> (shift * 4)) & 0xF) as usize]);
    }
}

fn write_decimal_padded(v: u32, out: &mut Vec<u8>) {
    let mut buf = [b'0'; 10];
    let mut v = v;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf);
}

/// The instance id of a tenant with `seed`, salted or not: a salt (the harness gives each case
/// against a flow outside it its own) makes a flow still working on one case call an instance
/// that no longer exists (a clear `404`) instead of the next case's.
pub fn instance_id(seed: u64, salt: Option<&str>) -> String {
    match salt {
        Some(salt) => uuid(seed, &["instance", salt]),
        None => uuid(seed, &["instance"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid(42, &["instance"]);
        assert_eq!(a, uuid(42, &["instance"]));
        assert_ne!(a, uuid(43, &["instance"]));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(uuid_n(42, "job", 1), uuid_n(42, "job", 2));
    }

    #[test]
    fn foreign_row_ids_do_not_decode() {
        let codec = RowIdCodec::new(42, "customer");
        assert_eq!(codec.decode("ce759201f786d590bf2134bff576c369"), None);
        assert_eq!(codec.decode("not-an-id"), None);
        assert_eq!(
            codec.decode(&RowIdCodec::new(43, "customer").encode(7)),
            None
        );
    }

    proptest! {
        /// Law: a row id decodes to the row it was made from.
        #[test]
        fn row_ids_round_trip(row in any::<u64>(), seed in any::<u64>()) {
            let codec = RowIdCodec::new(seed, "customer");
            let id = codec.encode(row);
            prop_assert_eq!(id.len(), 32);
            prop_assert_eq!(codec.decode(&id), Some(row));
            prop_assert_eq!(codec.decode(&id.to_uppercase()), Some(row));
        }

        /// Law: a source key decodes to the row it was made from.
        #[test]
        fn source_keys_round_trip(row in any::<u32>(), seed in any::<u64>()) {
            let codec = SourceKeyCodec::new(seed, "PoS_Contacts", "POS-");
            prop_assert_eq!(codec.decode(&codec.encode(row)), Some(row));
        }

        /// Law: the 64-bit permutation is a bijection (decrypt inverts encrypt).
        #[test]
        fn the_permutation_inverts(v in any::<u64>(), w in any::<u32>()) {
            let p = Permutation::new(7, "x");
            prop_assert_eq!(p.decrypt(p.encrypt(v)), v);
            prop_assert_eq!(p.decrypt32(p.encrypt32(w)), w);
        }
    }
}
