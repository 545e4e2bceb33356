//! The audit hash chain and its canonical encoding.
//!
//! Every applied event extends one SHA-256 chain:
//!
//! ```text
//! h_0 = 32 zero bytes
//! h_n = SHA-256( TAG ‖ u64be(n) ‖ h_{n-1}
//!              ‖ u64be(len(E_n)) ‖ E_n ‖ u64be(len(R_n)) ‖ R_n )
//! ```
//!
//! where `TAG` is the 16 bytes `upline/audit/v1\0` ([`TAG`]), `n` the
//! event's sequence number (from 1), `E_n` the canonical encoding of the
//! event as the host sent it, and `R_n` the canonical encoding of what it
//! produced (its outcome and ledger entries). One hash per event: a sale's
//! seven lines are one block.
//!
//! # The canonical encoding, version 1
//!
//! A value of the serde data model is written as a one-byte tag followed by
//! its body; every variable-length part carries its length, so the encoding
//! is injective (no two different values give the same bytes):
//!
//! | value | bytes |
//! |---|---|
//! | unit / `None` | `'n'` |
//! | `Some(v)` | `'o'` then `v` |
//! | bool | `'b'` then `0x00` or `0x01` |
//! | unsigned integer | `'u'` then 8 bytes big-endian |
//! | signed integer | `'i'` then 8 bytes big-endian two's complement |
//! | string (ids, codes, decimals, times) | `'s'` then u32be byte length, then UTF-8 |
//! | bytes | `'y'` then u32be length, then the bytes |
//! | sequence / tuple | `'l'` then u32be count, then each element |
//! | map | `'m'` then u32be count, then key and value alternately, in order |
//! | struct | `'t'`, u32be count of the fields present, then every declared field's value in declaration order (an absent optional field as `'n'`); the struct's type is fixed by its position |
//! | enum variant | `'v'` then the variant name as a string body, then its content as above (`'n'` for a unit variant) |
//! | extension field (see below) | `'x'` then the field name as a string body, then its value (`'o'` then the inner value, for an `Option`); nothing at all when absent |
//!
//! ## Extension fields
//!
//! Fields added to an event or record after version 1 of this encoding are
//! *extension fields*, listed in [`EXTENSION_FIELDS`]. They are optional,
//! declared after every version-1 field of their struct, and written only
//! when present: `'x'`, the field's name, its value (and they count in the
//! struct's field count). An absent extension field writes nothing, so every
//! block written before the field existed keeps its bytes and its hash,
//! while a present one can never be mistaken for another field or value.
//!
//! # What is hashed
//!
//! `E_n` is the event as the host sent it: a struct whose first field is
//! the `type` tag (`"sale_recorded"`, …) followed by the event's fields in
//! wire order (see [`crate::event`]), with money kept as the host's text.
//!
//! `R_n` is a struct of two fields:
//!
//! 1. the outcome, an enum variant: `none` (unit), or `distribution`
//!    (`sale, plan, plan_version, currency, amount, lines, retained,
//!    unpaid`; each line `earner, level, rate, base, amount, held`; each
//!    unpaid `level, reason`), or `refund` (`refund, sale, reversals,
//!    refunded_total`; each reversal `earner, level, amount`), or `batch`
//!    (`batch, as_of, items, skipped`; each item `payout, earner, currency,
//!    gross, fee, net, method`; each skipped `earner, currency, reason`),
//!    or `awards` (the milestones a join made members reach: a list of
//!    awards, each `member, milestone, name, metric, threshold, value,
//!    bonuses, perks`, each bonus `amount, currency`), or `challenge` (a
//!    closed challenge: `id, total, target, met, currency, shares`; each
//!    share `member, progress, amount`);
//! 2. the list of ledger entries written, each `seq, at, earner, currency,
//!    kind, amount, available_at, reference`.
//!
//! Extension fields so far ([`EXTENSION_FIELDS`]): a distribution's
//! `awards` (the milestones its sale made members reach, awards as above)
//! and a refund's `milestone_reversals` (each `member, milestone, value,
//! applied, reversed`, `reversed` a list of bonuses). Both are absent when
//! empty, which they always are before a `milestones_set` event, so every
//! earlier block keeps its hash. The events `milestones_set`,
//! `challenge_created` and `challenge_closed` are new variants and need no
//! extension.
//!
//! Extension fields of fraud screening: `signals` on
//! `member_joined` and `sale_recorded` (a struct `ip, device, email,
//! payment_fingerprint, user_agent, clicked_at`, each optional, as the host
//! sent them), and `screening` on a distribution (`rules, hits`; each hit
//! `rule, action, reason, levels, earners, amount, matched, members,
//! detail`), present only when a screening rule matched the sale.
//!
//! Event kinds added after version 1 are ordinary variants:
//! `screening_rules_set` (`id, preset, rules, blocklist, at`; `rules` as
//! the host's JSON, objects with their keys in sorted order) and
//! `fraud_review_resolved` (`review, decision, at, note`). A blocked line
//! appears as an unpaid level with reason `fraud_blocked`; a review writes
//! `release` or `reversal_held` entries.
//!
//! These are exactly the JSON records [`crate::Applied`] gives a host, so an
//! auditor holding the event log and the records can recompute every hash
//! with this page alone ([`verify`] over [`Link`]s does it).
//! [`Engine::verify`](crate::Engine::verify) needs only the events: it
//! replays them, which regenerates the records, and compares each hash.
//!
//! # Values
//!
//! Floats never occur (money is never a float) and are refused. Decimals
//! are written as their canonical strings: amounts carry exactly their
//! currency's minor units (`"20.00"`), rates are normalised (`"0.2"`),
//! times are RFC 3339 UTC (`2026-02-01T12:00:00Z`, `.mmm` when non-zero).
//! Events are encoded as the host sent them (amount text included), after
//! they were validated; an internally tagged event is the variant named by
//! its `type`. Field order is the declaration order of the Rust types, which
//! is also their JSON order. Any change of this encoding bumps [`TAG`].

use std::fmt;

use serde::ser::{self, Serialize};
use sha2::{Digest, Sha256};

/// Fields added after version 1 of the encoding: written as `'x'`, name,
/// value when present and not at all when absent (see the module docs), so
/// the hashes of blocks that do not use them never change. Each must be an
/// optional field declared after its struct's version-1 fields, with
/// `#[serde(skip_serializing_if = "Option::is_none")]` (or another skip
/// condition for its empty value).
pub const EXTENSION_FIELDS: &[&str] = &[
    "awards",
    "milestone_reversals",
    "signals",
    "screening",
    "fx",
];

fn is_extension(name: &str) -> bool {
    EXTENSION_FIELDS.contains(&name) || (cfg!(test) && name == "test_extension")
}

/// The domain-and-version tag that starts every hashed block.
pub const TAG: &[u8; 16] = b"upline/audit/v1\0";

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The chain's starting value: 32 zero bytes.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Hash> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Hash::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

/// The chain's head: the last sequence number and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// The last applied event's sequence number (0 for an empty chain).
    pub seq: u64,
    /// Its hash ([`Hash::ZERO`] for an empty chain).
    pub hash: Hash,
}

/// Extends the chain: `h_n` from `h_{n-1}` and the two encoded parts.
pub fn chain(seq: u64, previous: &Hash, event_bytes: &[u8], record_bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(TAG);
    hasher.update(seq.to_be_bytes());
    hasher.update(previous.0);
    hasher.update((event_bytes.len() as u64).to_be_bytes());
    hasher.update(event_bytes);
    hasher.update((record_bytes.len() as u64).to_be_bytes());
    hasher.update(record_bytes);
    Hash(hasher.finalize().into())
}

/// One link of a stored chain, as [`verify`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The sequence number.
    pub seq: u64,
    /// The canonical event bytes.
    pub event: Vec<u8>,
    /// The canonical record bytes.
    pub records: Vec<u8>,
    /// The hash stored beside them.
    pub hash: Hash,
}

/// Where a chain stops matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audit chain does not match at event {seq}")]
pub struct TamperedAt {
    /// The first sequence number whose stored hash (or position) is wrong.
    pub seq: u64,
}

/// Recomputes every hash of `links` from the zero hash and returns the head,
/// or the first sequence number that does not match (a changed byte, a
/// missing, extra or reordered event).
pub fn verify<'a>(links: impl IntoIterator<Item = &'a Link>) -> Result<Head, TamperedAt> {
    let mut head = Head {
        seq: 0,
        hash: Hash::ZERO,
    };
    for link in links {
        let expected_seq = head.seq + 1;
        if link.seq != expected_seq {
            return Err(TamperedAt {
                seq: expected_seq.min(link.seq),
            });
        }
        let hash = chain(link.seq, &head.hash, &link.event, &link.records);
        if hash != link.hash {
            return Err(TamperedAt { seq: link.seq });
        }
        head = Head {
            seq: link.seq,
            hash,
        };
    }
    Ok(head)
}

/// The canonical encoding (version 1) of any serializable value.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(256);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Like [`encode`], appending to `out`.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    value.serialize(&mut Encoder { out })
}

/// A value the canonical encoding cannot carry (a float, or a part over
/// 4 GiB).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode for the audit chain: {0}")]
pub struct EncodeError(String);

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    fn len(&mut self, len: usize) -> Result<(), EncodeError> {
        let len = u32::try_from(len).map_err(|_| EncodeError("a part over 4 GiB".into()))?;
        self.out.extend_from_slice(&len.to_be_bytes());
        Ok(())
    }

    fn body(&mut self, text: &str) -> Result<(), EncodeError> {
        self.len(text.len())?;
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn count(&mut self, len: Option<usize>) -> Result<(), EncodeError> {
        let len = len.ok_or_else(|| EncodeError("a sequence of unknown length".into()))?;
        self.len(len)
    }
}

macro_rules! unsigned {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name(self, v: $ty) -> Result<(), EncodeError> {
            self.out.push(b'u');
            self.out.extend_from_slice(&u64::from(v).to_be_bytes());
            Ok(())
        }
    )*};
}

macro_rules! signed {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name(self, v: $ty) -> Result<(), EncodeError> {
            self.out.push(b'i');
            self.out.extend_from_slice(&i64::from(v).to_be_bytes());
            Ok(())
        }
    )*};
}

impl<'a, 'b> ser::Serializer for &'a mut Encoder<'b> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    unsigned!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);
    signed!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64);

    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.extend_from_slice(&[b'b', u8::from(v)]);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<(), EncodeError> {
        Err(EncodeError("floats are never encoded".into()))
    }
    fn serialize_f64(self, _: f64) -> Result<(), EncodeError> {
        Err(EncodeError("floats are never encoded".into()))
    }
    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        self.out.push(b's');
        self.body(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        self.out.push(b'y');
        self.len(v.len())?;
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), EncodeError> {
        self.out.push(b'n');
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        self.out.push(b'o');
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), EncodeError> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), EncodeError> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), EncodeError> {
        self.out.push(b'v');
        self.body(variant)?;
        self.serialize_none()
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.out.push(b'v');
        self.body(variant)?;
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, EncodeError> {
        self.out.push(b'l');
        self.count(len)?;
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, EncodeError> {
        self.out.push(b'v');
        self.body(variant)?;
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, EncodeError> {
        self.out.push(b'm');
        self.count(len)?;
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self, EncodeError> {
        self.out.push(b't');
        self.len(len)?;
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, EncodeError> {
        self.out.push(b'v');
        self.body(variant)?;
        self.serialize_struct(variant, len)
    }
}

impl ser::SerializeSeq for &mut Encoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Encoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Encoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut Encoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl ser::SerializeMap for &mut Encoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Encoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        if is_extension(name) {
            self.out.push(b'x');
            self.body(name)?;
        }
        value.serialize(&mut **self)
    }
    fn skip_field(&mut self, name: &'static str) -> Result<(), EncodeError> {
        // A skipped version-1 optional field is encoded as absent, so every
        // declared field has a value and positions stay fixed; an absent
        // extension field writes nothing.
        if !is_extension(name) {
            self.out.push(b'n');
        }
        Ok(())
    }
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Encoder<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        ser::SerializeStruct::serialize_field(self, name, value)
    }
    fn skip_field(&mut self, name: &'static str) -> Result<(), EncodeError> {
        ser::SerializeStruct::skip_field(self, name)
    }
    fn end(self) -> Result<(), EncodeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct V1 {
        a: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<u64>,
    }

    #[derive(serde::Serialize)]
    struct V2 {
        a: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        test_extension: Option<u64>,
    }

    #[test]
    fn an_absent_extension_field_keeps_the_version_1_bytes() {
        for b in [None, Some(7)] {
            let old = super::encode(&V1 { a: 1, b }).unwrap();
            let new = super::encode(&V2 {
                a: 1,
                b,
                test_extension: None,
            })
            .unwrap();
            assert_eq!(old, new);
        }
        let present = super::encode(&V2 {
            a: 1,
            b: None,
            test_extension: Some(7),
        })
        .unwrap();
        let mut expected = vec![b't', 0, 0, 0, 2, b'u', 0, 0, 0, 0, 0, 0, 0, 1, b'n'];
        expected.extend_from_slice(b"x\0\0\0\x0etest_extension");
        expected.extend_from_slice(&[b'o', b'u', 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(present, expected);
    }

    use super::*;

    #[test]
    fn encoding_is_length_prefixed_and_tagged() {
        assert_eq!(encode("ab").unwrap(), b"s\0\0\0\x02ab");
        assert_eq!(encode(&7u32).unwrap(), b"u\0\0\0\0\0\0\0\x07");
        assert_eq!(encode(&Some(true)).unwrap(), b"ob\x01");
        // ["a","bc"] and ["ab","c"] differ.
        assert_ne!(encode(&["a", "bc"]).unwrap(), encode(&["ab", "c"]).unwrap());
        assert!(encode(&1.5f64).is_err());
    }

    #[test]
    fn verify_finds_the_first_bad_link() {
        let mut links = Vec::new();
        let mut prev = Hash::ZERO;
        for seq in 1..=5u64 {
            let event = encode(&format!("e{seq}")).unwrap();
            let records = encode(&seq).unwrap();
            let hash = chain(seq, &prev, &event, &records);
            links.push(Link {
                seq,
                event,
                records,
                hash,
            });
            prev = hash;
        }
        assert_eq!(verify(&links).unwrap(), Head { seq: 5, hash: prev });
        let mut changed = links.clone();
        changed[2].records[3] ^= 1;
        assert_eq!(verify(&changed), Err(TamperedAt { seq: 3 }));
        let mut dropped = links.clone();
        dropped.remove(1);
        assert_eq!(verify(&dropped), Err(TamperedAt { seq: 2 }));
        let mut swapped = links.clone();
        swapped.swap(3, 4);
        assert_eq!(verify(&swapped), Err(TamperedAt { seq: 4 }));
        assert_eq!(Hash::from_hex(&prev.to_hex()), Some(prev));
    }
}
