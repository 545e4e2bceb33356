//! The audit hash chain and its canonical binary encoding (format 2).
//!
//! Every applied event extends one SHA-256 chain:
//!
//! ```text
//! h_0 = 32 zero bytes
//! h_n = SHA-256( TAG ‖ u64be(n) ‖ h_{n-1}
//!              ‖ u64be(len(E_n)) ‖ E_n ‖ u64be(len(R_n)) ‖ R_n )
//! ```
//!
//! where `TAG` is the 16 bytes `upline/audit/v2\0` ([`TAG`]; the `2` is
//! the format version, [`FORMAT`]), `n` the event's sequence number (from
//! 1), `E_n` the encoding of the event as the host sent it and `R_n` the
//! encoding of what it produced (its outcome and ledger entries). One hash
//! per event: a sale's seven lines are one block. `u64be` is 8 bytes
//! big-endian, `len` a byte count.
//!
//! # The encoding, byte by byte
//!
//! The encoding is defined on the **JSON form** of a value: the exact JSON
//! `serde_json` writes for it, which is what the store keeps for an event
//! and what [`Engine::export_ledger`](crate::Engine::export_ledger) writes
//! for an event and its records. So an auditor can recompute every hash
//! from an export with a JSON parser, SHA-256 and this page
//! (`tools/verify_export.py` does it with the Python standard library).
//! Floats never occur (money is always a decimal string).
//!
//! `uvarint(x)` is unsigned LEB128: seven bits at a time, least significant
//! group first, the high bit set on every byte but the last, and no
//! superfluous trailing group (0 is `00`, 127 is `7f`, 128 is `80 01`,
//! 300 is `ac 02`).
//!
//! | JSON value | bytes |
//! |---|---|
//! | `null` | `00` |
//! | `false` / `true` | `01` / `02` |
//! | integer `n ≥ 0` | `03` `uvarint(n)` |
//! | integer `n < 0` | `04` `uvarint(−1 − n)` |
//! | string | `05` `uvarint(byte length)` UTF-8 bytes (ids, codes, names, notes: length-prefixed UTF-8) |
//! | decimal (a string, see *Typed strings*) | `06` `uvarint(zigzag(m))` `u8(s)`: the value is `m × 10^−s` |
//! | time (a string, see *Typed strings*) | `07` `i64be(ms)`: milliseconds since 1970-01-01T00:00:00Z, 8 bytes big-endian two's complement |
//! | array | `08` `uvarint(element count)` then each element |
//! | object | `09` `uvarint(member count)` then, for each member in the order of the JSON text, its key then its value |
//!
//! `zigzag(m)` is `2m` for `m ≥ 0` and `−2m − 1` for `m < 0` (so 0, −1, 1,
//! −2 become 0, 1, 2, 3).
//!
//! A **key** is one byte `k` in `01`–`ff` when the key is the `k`-th name
//! of [`KEYS`] (counting from 1), else `00` `uvarint(byte length)` and its
//! UTF-8 bytes. A key that is in [`KEYS`] is always written as its code.
//!
//! ## Typed strings
//!
//! The *key of a value* is the key of the object member it is the value
//! of; an array element has the key of its array; a value outside any
//! object has none. A JSON string is written as a **decimal** (`06`) when
//! its key is one of [`DECIMAL_KEYS`] and the string is in canonical
//! decimal form, and as a **time** (`07`) when its key is one of
//! [`TIME_KEYS`] and the string is in canonical time form. Every other
//! string is a plain string (`05`), whatever it looks like.
//!
//! - *Canonical decimal form*: an optional `-`, the integer digits (`0`, or
//!   a non-zero digit then digits), then optionally `.` and one or more
//!   digits; at most 38 fraction digits and at most 38 significant digits
//!   (`|m| < 10^38`), and no `-` when every digit is zero. `m` is the digits
//!   without the point read as a signed integer, `s` the number of digits
//!   after the point: `"20.00"` is `m = 2000, s = 2` (`06 a0 1f 02`),
//!   `"0.2"` is `m = 2, s = 1`, `"-3.5"` is `m = −35, s = 1`, `"7"` is
//!   `m = 7, s = 0`. `"007"`, `"+7"`, `"7."`, `"1e3"` and `"-0"` are plain
//!   strings. So a decimal keeps its scale: `"20.0"` and `"20.00"` differ.
//! - *Canonical time form*: exactly `YYYY-MM-DDTHH:MM:SSZ` or
//!   `YYYY-MM-DDTHH:MM:SS.mmmZ` (ASCII digits, upper-case `T` and `Z`), a
//!   real date in years 0001–9999, hour ≤ 23, minute and second ≤ 59, and
//!   the `.mmm` part present exactly when the milliseconds are not zero.
//!   This is the form every time in a record takes; an event's time is
//!   kept as the host wrote it, so `"2026-02-01T12:00:00Z"` is a time while
//!   `"2026-02-01T13:00:00+01:00"` stays a plain string.
//!
//! Between two strings under the same key the mapping is one to one (a
//! canonical text is recovered from `m, s` or `ms`, and a non-canonical one
//! is a plain string with another first byte), every variable part carries
//! its length or count, and every value starts with its kind: so the
//! encoding is injective, and `h_n` commits to every byte of meaning of the
//! event and its records.
//!
//! # What is hashed
//!
//! `E_n` is the event's JSON as the store keeps it
//! (`serde_json::to_string(&event)`): an object whose first member is the
//! `type` tag (`"sale_recorded"`, …) followed by the event's fields in wire
//! order (see [`crate::event`]); optional fields the host left out are
//! absent.
//!
//! `R_n` is the object `{"outcome": …, "entries": […]}`:
//!
//! 1. `outcome` is `"none"`, or an object of one member named after the
//!    outcome: `distribution` (`sale, plan, plan_version, currency, amount,
//!    lines, retained, unpaid`, then `awards`, `screening` and `fx`
//!    (`currency, rate, base`: a sale paid in another currency) when
//!    present; each line `earner, level, rate, base, amount, held`; each
//!    unpaid `level, reason`), `refund` (`refund, sale, reversals,
//!    refunded_total`, `milestone_reversals` when present), `batch`
//!    (`batch, as_of, items, skipped`), `awards` (a list of awards) or
//!    `challenge` (`id, total, target, met, currency, shares`), each as
//!    [`crate::event`] documents them;
//! 2. `entries` is the list of ledger entries written, each `seq, at,
//!    earner, currency, kind, amount, available_at, reference`.
//!
//! These are the records [`crate::Applied`] gives a host, in the JSON form
//! [`Engine::export_ledger`](crate::Engine::export_ledger) writes as
//! `records`. [`Engine::verify`](crate::Engine::verify) needs only the
//! events: it replays them, which regenerates the records, and compares
//! each hash.
//!
//! # Example
//!
//! The event `{"type":"currency_registered","currency":"PTS","minor_units":0}`
//! is `09 03 01 05 13 "currency_registered" 0a 05 03 "PTS" 0b 03 00`: an
//! object of 3 members; key `type` (code 1), a string of 19 bytes; key
//! `currency` (code 10), a string of 3 bytes; key `minor_units` (code 11),
//! the integer 0.
//!
//! # Format versions
//!
//! Format 1 (tag `upline/audit/v1\0`) wrote a serde-tagged text encoding;
//! this build reads format 2 only. A store or snapshot written in format 1
//! is refused with a `storage` error naming the format ([`format_refused`]):
//! replay its events into a new store. Any change of this encoding bumps
//! [`TAG`] and [`FORMAT`].

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};

/// The audit format version this build writes and reads.
pub const FORMAT: u32 = 2;

/// The domain-and-version tag that starts every hashed block.
pub const TAG: &[u8; 16] = b"upline/audit/v2\0";

mod bytes;
mod encode;

pub use self::{bytes::*, encode::*};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The chain's starting value: 32 zero bytes.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for b in self.0 {
            text.push(HEX[usize::from(b >> 4)] as char);
            text.push(HEX[usize::from(b & 15)] as char);
        }
        text
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// The `storage` error for a store or snapshot (`what`) written with audit
/// format `found`, which this build does not read. Never `tampered`: the
/// books may be intact, only in another encoding.
pub fn format_refused(what: &str, found: u32) -> Error {
    Error::general(
        ErrorKind::Storage,
        format!(
            "this {what} was written with audit format {found}; this build reads format \
             {FORMAT} only: replay its events into a new store"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;
    use rust_decimal::Decimal;

    #[test]
    fn the_key_dictionary_has_no_duplicate_and_fits_a_byte() {
        assert!(KEYS.len() < 256);
        let mut sorted = KEYS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), KEYS.len());
        for key in DECIMAL_KEYS.iter().chain(TIME_KEYS) {
            assert!(KEYS.contains(key), "{key}");
        }
        assert_eq!(code_of("type"), 1);
        assert_eq!(code_of("currency"), 10);
        assert_eq!(code_of("minor_units"), 11);
    }

    #[test]
    fn the_documented_example_encodes_as_written() {
        let event = crate::Event::from_json(
            r#"{"type":"currency_registered","currency":"PTS","minor_units":0}"#,
        )
        .unwrap();
        let mut expected = vec![0x09, 0x03, 0x01, 0x05, 19];
        expected.extend_from_slice(b"currency_registered");
        expected.extend_from_slice(&[0x0a, 0x05, 3]);
        expected.extend_from_slice(b"PTS");
        expected.extend_from_slice(&[0x0b, 0x03, 0x00]);
        assert_eq!(encode(&event).unwrap(), expected);
    }

    #[test]
    fn scalars_encode_as_documented() {
        let mut out = Vec::new();
        for v in [0u128, 127, 128, 300] {
            put_uvarint(&mut out, v);
        }
        assert_eq!(out, [0x00, 0x7f, 0x80, 0x01, 0xac, 0x02]);
        assert_eq!(encode("ab").unwrap(), b"\x05\x02ab");
        assert_eq!(encode(&7u32).unwrap(), [0x03, 0x07]);
        assert_eq!(encode(&-1i64).unwrap(), [0x04, 0x00]);
        assert_eq!(encode(&i64::MIN).unwrap()[0], 0x04);
        assert_eq!(encode(&Some(true)).unwrap(), [0x02]);
        assert_eq!(encode(&None::<u8>).unwrap(), [0x00]);
        assert_ne!(encode(&["a", "bc"]).unwrap(), encode(&["ab", "c"]).unwrap());
        assert!(encode(&1.5f64).is_err());
        // "amount": "20.00" is m = 2000 (zigzag 4000 = a0 1f), s = 2.
        let amount = serde_json::json!({"amount": "20.00"});
        assert_eq!(
            encode(&amount).unwrap(),
            [0x09, 0x01, code_of("amount"), 0x06, 0xa0, 0x1f, 0x02]
        );
        let at = serde_json::json!({"at": "1970-01-01T00:00:01.500Z"});
        assert_eq!(
            encode(&at).unwrap(),
            [
                0x09,
                0x01,
                code_of("at"),
                0x07,
                0,
                0,
                0,
                0,
                0,
                0,
                0x05,
                0xdc
            ]
        );
        let other = serde_json::json!({"zz": "20.00"});
        assert_eq!(encode(&other).unwrap(), b"\x09\x01\x00\x02zz\x05\x0520.00");
    }

    #[test]
    fn canonical_forms_are_exactly_the_documented_ones() {
        for (text, expected) in [
            ("20.00", Some((2000, 2))),
            ("0.2", Some((2, 1))),
            ("-3.5", Some((-35, 1))),
            ("7", Some((7, 0))),
            ("0", Some((0, 0))),
            ("0.00", Some((0, 2))),
            ("007", None),
            ("+7", None),
            ("7.", None),
            (".5", None),
            ("1e3", None),
            ("-0", None),
            ("-0.00", None),
            ("", None),
            ("-", None),
            ("1.2.3", None),
            ("１", None),
        ] {
            assert_eq!(canonical_decimal(text), expected, "{text:?}");
        }
        let max = "9".repeat(38);
        assert!(canonical_decimal(&max).is_some());
        assert!(canonical_decimal(&format!("{max}9")).is_none());
        assert!(canonical_decimal(&format!("0.{}", "0".repeat(38))).is_some());
        assert!(canonical_decimal(&format!("0.{}", "0".repeat(39))).is_none());
        assert_eq!(canonical_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(canonical_time("1970-01-01T00:00:00.001Z"), Some(1));
        assert_eq!(canonical_time("1969-12-31T23:59:59.999Z"), Some(-1));
        for bad in [
            "1970-01-01T00:00:00.000Z",
            "1970-01-01T00:00:00+00:00",
            "1970-01-01t00:00:00Z",
            "1970-01-01T00:00:00z",
            "1970-01-01 00:00:00Z",
            "1970-02-30T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "1970-01-01T00:00:00.1Z",
        ] {
            assert_eq!(canonical_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn decimals_and_times_give_the_bytes_of_their_text() {
        #[derive(serde::Serialize)]
        struct Sample {
            #[serde(serialize_with = "crate::money::serialize_decimal")]
            amount: Decimal,
            // A decimal under a key that is not typed: written as its text.
            #[serde(serialize_with = "crate::money::serialize_decimal")]
            other: Decimal,
            at: Timestamp,
            untyped_time: Timestamp,
            items: Vec<Timestamp>,
        }
        let t = Timestamp::from_millis(1_700_000_000_123).unwrap();
        for (m, s) in [(2000i64, 2u32), (-35, 1), (0, 2), (7, 0), (i64::MAX, 28)] {
            let sample = Sample {
                amount: Decimal::new(m, s),
                other: Decimal::new(m, s),
                at: t,
                untyped_time: t,
                items: vec![t, Timestamp::MIN, Timestamp::MAX],
            };
            assert_eq!(
                encode(&sample).unwrap(),
                encode_via_text(&sample).unwrap(),
                "{m} {s}"
            );
        }
        assert_eq!(pack_decimal(-Decimal::new(5, 3)), -5 * 32 + 3);
        assert_eq!(unpack_decimal(pack_decimal(-Decimal::new(5, 3))), (-5, 3));
    }

    #[test]
    fn decimal_zigzag_is_the_documented_one_on_both_sides_of_64_bits() {
        fn documented(m: i128, s: u32) -> Vec<u8> {
            let zigzag = if m >= 0 {
                (m as u128) * 2
            } else {
                (-1 - m) as u128 * 2 + 1
            };
            let mut out = vec![DEC];
            put_uvarint(&mut out, zigzag);
            out.push(s as u8);
            out
        }
        let edges = [
            0,
            1,
            -1,
            2,
            -2,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
            (1 << 62) - 1,
            1 << 62,
            -(1 << 62),
            -(1 << 62) - 1,
            10_i128.pow(37),
            -(10_i128.pow(37)),
        ];
        for m in edges {
            let mut out = Vec::new();
            put_decimal_parts(&mut out, m, 2);
            assert_eq!(out, documented(m, 2), "{m}");
        }
    }

    #[test]
    fn the_direct_sale_encoding_gives_the_serde_bytes() {
        // Canonical and non-canonical amounts and times, a JSON number for
        // the amount, with and without a category; with signals or fx the
        // serde path is taken, which must still agree.
        let sales = [
            r#"{"type":"sale_recorded","sale":"s1","buyer":"b","amount":"10.00","currency":"USD","at":"2026-02-01T12:00:00Z"}"#,
            r#"{"type":"sale_recorded","sale":"s2","buyer":"b","amount":"010.5","currency":"USD","at":"2026-02-01T13:00:00+01:00","category":"books"}"#,
            r#"{"type":"sale_recorded","sale":"s3","buyer":"b","amount":12.5,"currency":"EUR","at":"2026-02-01T12:00:00.250Z"}"#,
            r#"{"type":"sale_recorded","sale":"s4","buyer":"b","amount":"-0","currency":"USD","at":"not a time"}"#,
            r#"{"type":"sale_recorded","sale":"s5","buyer":"b","amount":"1","currency":"USD","at":"2026-02-01T12:00:00Z","fx":{"currency":"EUR","rate":"0.9"}}"#,
            r#"{"type":"sale_recorded","sale":"s6","buyer":"b","amount":"1","currency":"USD","at":"2026-02-01T12:00:00Z","signals":{"ip":"10.0.0.1"}}"#,
        ];
        for json in sales {
            let event = crate::Event::from_json(json).unwrap();
            let mut direct = Vec::new();
            put_event(&mut direct, &event).unwrap();
            assert_eq!(direct, encode(&event).unwrap(), "{json}");
        }
    }

    #[test]
    fn entry_kind_names_are_their_serde_names() {
        use crate::ledger::EntryKind::*;
        for kind in [
            Commission,
            Reversal,
            ReversalHeld,
            Bonus,
            Adjustment,
            Hold,
            Release,
            PayoutReserve,
            PayoutSettle,
            PayoutFail,
            BonusReversal,
        ] {
            let serde = serde_json::to_value(kind).unwrap();
            assert_eq!(serde.as_str(), Some(kind.as_str()));
        }
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
        changed[2].records[1] ^= 1;
        assert_eq!(verify(&changed), Err(TamperedAt { seq: 3 }));
        let mut dropped = links.clone();
        dropped.remove(1);
        assert_eq!(verify(&dropped), Err(TamperedAt { seq: 2 }));
        let mut swapped = links.clone();
        swapped.swap(3, 4);
        assert_eq!(verify(&swapped), Err(TamperedAt { seq: 4 }));
        assert_eq!(Hash::from_hex(&prev.to_hex()), Some(prev));
    }

    #[test]
    fn a_format_1_refusal_is_storage_and_names_the_format() {
        let err = format_refused("store", 1);
        assert_eq!(err.code(), "storage");
        assert!(
            err.message().contains("audit format 1"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("format 2 only"), "{}", err.message());
    }
}
