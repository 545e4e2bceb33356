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
use std::sync::OnceLock;

use rust_decimal::Decimal;
use serde::ser::{self, Impossible, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::event::{Distribution, EntryRecord, Line, Outcome, Unpaid};
use crate::time::Timestamp;

/// The audit format version this build writes and reads.
pub const FORMAT: u32 = 2;

/// The domain-and-version tag that starts every hashed block.
pub const TAG: &[u8; 16] = b"upline/audit/v2\0";

/// Object keys written as one byte: the `k`-th name (from 1) is written as
/// the byte `k`. Fixed for format 2: names are only ever appended.
pub const KEYS: &[&str] = &[
    "type",
    "member",
    "sponsor",
    "at",
    "status",
    "reason",
    "on",
    "plan",
    "effective_from",
    "currency",
    "minor_units",
    "sale",
    "buyer",
    "amount",
    "category",
    "signals",
    "refund",
    "method",
    "verified",
    "batch",
    "as_of",
    "policy",
    "payout",
    "reference",
    "milestones",
    "counts",
    "on_refund",
    "id",
    "name",
    "team",
    "metric",
    "from",
    "to",
    "target",
    "reward",
    "split",
    "preset",
    "rules",
    "blocklist",
    "review",
    "decision",
    "note",
    "ip",
    "device",
    "email",
    "payment_fingerprint",
    "user_agent",
    "clicked_at",
    "version",
    "levels",
    "rate",
    "min_active_directs",
    "caps",
    "overrides",
    "compression",
    "max_walk",
    "rounding",
    "hold_days",
    "min_sale",
    "commission_window_days",
    "minimum",
    "fees",
    "flat",
    "percent",
    "outcome",
    "entries",
    "distribution",
    "awards",
    "challenge",
    "plan_version",
    "lines",
    "retained",
    "unpaid",
    "screening",
    "earner",
    "level",
    "base",
    "held",
    "reversals",
    "refunded_total",
    "milestone_reversals",
    "items",
    "skipped",
    "gross",
    "fee",
    "net",
    "milestone",
    "threshold",
    "value",
    "bonuses",
    "perks",
    "applied",
    "reversed",
    "progress",
    "total",
    "met",
    "shares",
    "seq",
    "kind",
    "available_at",
    "hits",
    "rule",
    "action",
    "earners",
    "matched",
    "members",
    "detail",
    "fx",
];

/// Keys whose canonical decimal strings are written as decimals.
pub const DECIMAL_KEYS: &[&str] = &[
    "amount",
    "rate",
    "base",
    "retained",
    "refunded_total",
    "gross",
    "fee",
    "net",
    "threshold",
    "value",
    "progress",
    "total",
    "target",
    "flat",
    "percent",
    "min_sale",
];

/// Keys whose canonical time strings are written as times.
pub const TIME_KEYS: &[&str] = &[
    "at",
    "available_at",
    "as_of",
    "effective_from",
    "from",
    "to",
    "clicked_at",
];

const NULL: u8 = 0x00;
const FALSE: u8 = 0x01;
const TRUE: u8 = 0x02;
const UINT: u8 = 0x03;
const NEG: u8 = 0x04;
const STR: u8 = 0x05;
const DEC: u8 = 0x06;
const TIME: u8 = 0x07;
const ARRAY: u8 = 0x08;
const OBJECT: u8 = 0x09;

/// The newtype name under which decimals reach the (not human-readable)
/// encoder: their mantissa and scale packed by [`pack_decimal`].
#[doc(hidden)]
pub const DECIMAL_MAGIC: &str = "$upline::audit::decimal";
/// The newtype name under which timestamps reach the encoder: their
/// milliseconds as an `i64`.
#[doc(hidden)]
pub const TIME_MAGIC: &str = "$upline::audit::time";

/// `mantissa × 32 + scale` (a scale is at most 28).
#[doc(hidden)]
pub fn pack_decimal(value: Decimal) -> i128 {
    value.mantissa() * 32 + i128::from(value.scale())
}

fn unpack_decimal(packed: i128) -> (i128, u32) {
    let scale = packed.rem_euclid(32);
    ((packed - scale) / 32, scale as u32)
}

const fn code_of(name: &str) -> u8 {
    let mut i = 0;
    while i < KEYS.len() {
        let key = KEYS[i].as_bytes();
        let name = name.as_bytes();
        if key.len() == name.len() {
            let mut j = 0;
            while j < key.len() && key[j] == name[j] {
                j += 1;
            }
            if j == key.len() {
                return (i + 1) as u8;
            }
        }
        i += 1;
    }
    panic!("not a key of the dictionary")
}

/// The one-byte code of a dictionary key, computed at compile time.
macro_rules! k {
    ($name:literal) => {{
        const CODE: u8 = code_of($name);
        CODE
    }};
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Plain,
    Decimal,
    Time,
}

struct KeyInfo {
    code: u8,
    kind: Kind,
}

fn key_table() -> &'static crate::id::HashMap<&'static str, KeyInfo> {
    static TABLE: OnceLock<crate::id::HashMap<&'static str, KeyInfo>> = OnceLock::new();
    TABLE.get_or_init(|| {
        KEYS.iter()
            .enumerate()
            .map(|(i, &name)| {
                (
                    name,
                    KeyInfo {
                        code: (i + 1) as u8,
                        kind: kind_of_name(name),
                    },
                )
            })
            .collect()
    })
}

fn kind_of_name(name: &str) -> Kind {
    if DECIMAL_KEYS.contains(&name) {
        Kind::Decimal
    } else if TIME_KEYS.contains(&name) {
        Kind::Time
    } else {
        Kind::Plain
    }
}

/// Writes `name` as a key and returns the kind of its values.
fn put_key(out: &mut Vec<u8>, name: &str) -> Kind {
    match key_table().get(name) {
        Some(info) => {
            out.push(info.code);
            info.kind
        }
        None => {
            out.push(0);
            put_uvarint(out, name.len() as u128);
            out.extend_from_slice(name.as_bytes());
            Kind::Plain
        }
    }
}

fn put_uvarint(out: &mut Vec<u8>, mut value: u128) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_uint(out: &mut Vec<u8>, value: u64) {
    out.push(UINT);
    put_uvarint(out, u128::from(value));
}

fn put_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        put_uint(out, value as u64);
    } else {
        out.push(NEG);
        put_uvarint(out, (-1 - i128::from(value)) as u128);
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.push(STR);
    put_uvarint(out, text.len() as u128);
    out.extend_from_slice(text.as_bytes());
}

fn put_decimal_parts(out: &mut Vec<u8>, mantissa: i128, scale: u32) {
    out.push(DEC);
    let zigzag = if mantissa >= 0 {
        (mantissa as u128) << 1
    } else {
        ((-(mantissa + 1)) as u128) << 1 | 1
    };
    put_uvarint(out, zigzag);
    out.push(scale as u8);
}

fn put_decimal(out: &mut Vec<u8>, value: Decimal) {
    put_decimal_parts(out, value.mantissa(), value.scale());
}

fn put_time(out: &mut Vec<u8>, millis: i64) {
    out.push(TIME);
    out.extend_from_slice(&millis.to_be_bytes());
}

/// A string under a key of `kind`: typed when canonical, else plain.
fn put_typed_str(out: &mut Vec<u8>, kind: Kind, text: &str) {
    match kind {
        Kind::Decimal => match canonical_decimal(text) {
            Some((m, s)) => put_decimal_parts(out, m, s),
            None => put_str(out, text),
        },
        Kind::Time => match canonical_time(text) {
            Some(ms) => put_time(out, ms),
            None => put_str(out, text),
        },
        Kind::Plain => put_str(out, text),
    }
}

/// `(m, s)` of a string in canonical decimal form (see the module docs).
fn canonical_decimal(text: &str) -> Option<(i128, u32)> {
    const LIMIT: i128 = 100_000_000_000_000_000_000_000_000_000_000_000_000; // 10^38
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let int_len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if int_len == 0 || (int_len > 1 && digits[0] == b'0') {
        return None;
    }
    let frac = match &digits[int_len..] {
        [] => &[][..],
        [b'.', frac @ ..] if !frac.is_empty() && frac.iter().all(u8::is_ascii_digit) => frac,
        _ => return None,
    };
    if frac.len() > 38 {
        return None;
    }
    let mut mantissa: i128 = 0;
    for &b in digits[..int_len].iter().chain(frac) {
        mantissa = mantissa.checked_mul(10)? + i128::from(b - b'0');
        if mantissa >= LIMIT {
            return None;
        }
    }
    if negative && mantissa == 0 {
        return None;
    }
    Some((
        if negative { -mantissa } else { mantissa },
        frac.len() as u32,
    ))
}

/// The milliseconds of a string in canonical time form.
fn canonical_time(text: &str) -> Option<i64> {
    if !(text.len() == 20 || text.len() == 24) || !text.ends_with('Z') {
        return None;
    }
    let at = crate::time::parse_rfc3339(text)?;
    (at.write_rfc3339(&mut [0; 24]) == text).then(|| at.as_millis())
}

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

/// The encoding (format 2) of any serializable value, as its JSON form
/// would be encoded (see the module docs).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(128);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Like [`encode`], appending to `out`.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    put_value(out, value, Kind::Plain, false)
}

fn put_value<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    kind: Kind,
    human: bool,
) -> Result<(), EncodeError> {
    value.serialize(&mut Encoder {
        out,
        kind,
        magic: Magic::None,
        human,
    })
}

/// The records block `R_n` of an event: `{"outcome": …, "entries": […]}`.
///
/// Gives the same bytes as [`encode`] of that object, written directly for
/// the shapes every sale produces (a distribution and its entries).
pub fn encode_records(outcome: &Outcome, entries: &[EntryRecord]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(160 + 96 * entries.len());
    encode_records_into(outcome, entries, &mut out)?;
    Ok(out)
}

/// `h_n` of an event and its records: [`chain`] over [`encode`] of the
/// event and [`encode_records`], encoded into buffers this thread reuses
/// (no allocation per event once they have grown).
pub fn block_hash(
    seq: u64,
    previous: &Hash,
    event: &crate::Event,
    outcome: &Outcome,
    entries: &[EntryRecord],
) -> Result<Hash, EncodeError> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }
    let hash = |e: &mut Vec<u8>, r: &mut Vec<u8>| {
        e.clear();
        r.clear();
        encode_into(event, e)?;
        encode_records_into(outcome, entries, r)?;
        Ok(chain(seq, previous, e, r))
    };
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffers) => {
            let (e, r) = &mut *buffers;
            hash(e, r)
        }
        Err(_) => hash(&mut Vec::new(), &mut Vec::new()),
    })
}

fn encode_records_into(
    outcome: &Outcome,
    entries: &[EntryRecord],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    out.extend_from_slice(&[OBJECT, 2, k!("outcome")]);
    match outcome {
        Outcome::None => put_str(out, "none"),
        Outcome::Distribution(d) => {
            out.extend_from_slice(&[OBJECT, 1, k!("distribution")]);
            put_distribution(out, d)?;
        }
        other => put_value(out, other, Kind::Plain, false)?,
    }
    out.push(k!("entries"));
    out.push(ARRAY);
    put_uvarint(out, entries.len() as u128);
    for entry in entries {
        put_entry(out, entry)?;
    }
    Ok(())
}

fn put_distribution(out: &mut Vec<u8>, d: &Distribution) -> Result<(), EncodeError> {
    // Every field named: a field added to `Distribution` must be added here.
    let Distribution {
        sale,
        plan,
        plan_version,
        currency,
        amount,
        lines,
        retained,
        unpaid,
        awards,
        screening,
        fx,
    } = d;
    let count = 8
        + usize::from(!awards.is_empty())
        + usize::from(screening.is_some())
        + usize::from(fx.is_some());
    out.extend_from_slice(&[OBJECT, count as u8, k!("sale")]);
    put_str(out, sale);
    out.push(k!("plan"));
    put_str(out, plan);
    out.push(k!("plan_version"));
    put_uint(out, u64::from(*plan_version));
    out.push(k!("currency"));
    put_str(out, currency.code());
    out.push(k!("amount"));
    put_decimal(out, *amount);
    out.push(k!("lines"));
    out.push(ARRAY);
    put_uvarint(out, lines.len() as u128);
    for line in lines {
        let Line {
            earner,
            level,
            rate,
            base,
            amount,
            held,
        } = line;
        out.extend_from_slice(&[OBJECT, 6, k!("earner")]);
        put_str(out, earner);
        out.push(k!("level"));
        put_uint(out, u64::from(*level));
        out.push(k!("rate"));
        put_decimal(out, rate.value());
        out.push(k!("base"));
        put_decimal(out, *base);
        out.push(k!("amount"));
        put_decimal(out, *amount);
        out.extend_from_slice(&[k!("held"), if *held { TRUE } else { FALSE }]);
    }
    out.push(k!("retained"));
    put_decimal(out, *retained);
    out.push(k!("unpaid"));
    out.push(ARRAY);
    put_uvarint(out, unpaid.len() as u128);
    for item in unpaid {
        let Unpaid { level, reason } = item;
        out.extend_from_slice(&[OBJECT, 2, k!("level")]);
        put_uint(out, u64::from(*level));
        out.push(k!("reason"));
        put_value(out, reason, Kind::Plain, false)?;
    }
    if !awards.is_empty() {
        out.push(k!("awards"));
        put_value(out, awards, Kind::Plain, false)?;
    }
    if let Some(screening) = screening {
        out.push(k!("screening"));
        put_value(out, screening, Kind::Plain, false)?;
    }
    if let Some(fx) = fx {
        out.push(k!("fx"));
        put_value(out, fx, Kind::Plain, false)?;
    }
    Ok(())
}

fn put_entry(out: &mut Vec<u8>, entry: &EntryRecord) -> Result<(), EncodeError> {
    let EntryRecord {
        seq,
        at,
        earner,
        currency,
        kind,
        amount,
        available_at,
        reference,
    } = entry;
    out.extend_from_slice(&[OBJECT, 8, k!("seq")]);
    put_uint(out, *seq);
    out.push(k!("at"));
    put_time(out, at.as_millis());
    out.push(k!("earner"));
    put_str(out, earner);
    out.push(k!("currency"));
    put_str(out, currency.code());
    out.push(k!("kind"));
    put_value(out, kind, Kind::Plain, false)?;
    out.push(k!("amount"));
    put_decimal(out, *amount);
    out.push(k!("available_at"));
    put_time(out, available_at.as_millis());
    out.push(k!("reference"));
    put_str(out, reference);
    Ok(())
}

/// A value the encoding cannot carry (a float, an integer beyond 64 bits,
/// a map key that is not a string).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode for the audit chain: {0}")]
pub struct EncodeError(String);

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Magic {
    None,
    Decimal,
    Time,
}

/// The serde serializer behind [`encode`]. Not human-readable, so
/// decimals and timestamps hand it their numbers (see [`DECIMAL_MAGIC`])
/// instead of text; `human` makes it take the text path, for tests that
/// check both give the same bytes.
struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    /// The kind of the current value's key.
    kind: Kind,
    magic: Magic,
    human: bool,
}

fn begin<'a>(enc: &'a mut Encoder<'_>, tag: u8, len: Option<usize>) -> Compound<'a> {
    enc.out.push(tag);
    let start = enc.out.len();
    if let Some(len) = len {
        put_uvarint(enc.out, len as u128);
    }
    Compound {
        kind: enc.kind,
        human: enc.human,
        out: &mut *enc.out,
        start,
        declared: len,
        count: 0,
    }
}

impl Encoder<'_> {
    fn decimal_text(&mut self, mantissa: i128, scale: u32) -> Result<(), EncodeError> {
        if self.kind == Kind::Decimal {
            put_decimal_parts(self.out, mantissa, scale);
        } else {
            let value = Decimal::try_from_i128_with_scale(mantissa, scale)
                .map_err(|e| EncodeError(e.to_string()))?;
            put_str(self.out, crate::money::write_decimal(value, &mut [0; 48]));
        }
        Ok(())
    }

    fn time_value(&mut self, millis: i64) -> Result<(), EncodeError> {
        if self.kind == Kind::Time {
            put_time(self.out, millis);
        } else {
            let at = Timestamp::from_millis(millis)
                .ok_or_else(|| EncodeError("a time out of range".into()))?;
            put_str(self.out, at.write_rfc3339(&mut [0; 24]));
        }
        Ok(())
    }
}

/// An array or object being written. An unknown length is counted and
/// inserted at the end.
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    kind: Kind,
    human: bool,
    start: usize,
    declared: Option<usize>,
    count: usize,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, kind: Kind, value: &T) -> Result<(), EncodeError> {
        self.count += 1;
        put_value(self.out, value, kind, self.human)
    }

    fn finish(self) -> Result<(), EncodeError> {
        match self.declared {
            Some(declared) if declared == self.count => Ok(()),
            Some(declared) => Err(EncodeError(format!(
                "{} elements written where {declared} were declared",
                self.count
            ))),
            None => {
                let mut count = Vec::with_capacity(4);
                put_uvarint(&mut count, self.count as u128);
                self.out.splice(self.start..self.start, count);
                Ok(())
            }
        }
    }
}

macro_rules! unsigned {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name(self, v: $ty) -> Result<(), EncodeError> {
            put_uint(self.out, u64::from(v));
            Ok(())
        }
    )*};
}

macro_rules! signed {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name(self, v: $ty) -> Result<(), EncodeError> {
            put_int(self.out, i64::from(v));
            Ok(())
        }
    )*};
}

impl<'a, 'b> ser::Serializer for &'a mut Encoder<'b> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    unsigned!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);
    signed!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32);

    fn is_human_readable(&self) -> bool {
        self.human
    }

    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        if std::mem::replace(&mut self.magic, Magic::None) == Magic::Time {
            return self.time_value(v);
        }
        put_int(self.out, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), EncodeError> {
        if std::mem::replace(&mut self.magic, Magic::None) == Magic::Decimal {
            let (mantissa, scale) = unpack_decimal(v);
            return self.decimal_text(mantissa, scale);
        }
        let v = i64::try_from(v).map_err(|_| EncodeError("an integer beyond 64 bits".into()))?;
        put_int(self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), EncodeError> {
        let v = u64::try_from(v).map_err(|_| EncodeError("an integer beyond 64 bits".into()))?;
        put_uint(self.out, v);
        Ok(())
    }
    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.push(if v { TRUE } else { FALSE });
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
        put_typed_str(self.out, self.kind, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        // JSON writes bytes as an array of numbers.
        self.out.push(ARRAY);
        put_uvarint(self.out, v.len() as u128);
        for &b in v {
            put_uint(self.out, u64::from(b));
        }
        Ok(())
    }
    fn serialize_none(self) -> Result<(), EncodeError> {
        self.out.push(NULL);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
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
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        if name == DECIMAL_MAGIC {
            self.magic = Magic::Decimal;
        } else if name == TIME_MAGIC {
            self.magic = Magic::Time;
        }
        let result = value.serialize(&mut *self);
        self.magic = Magic::None;
        result
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.out.extend_from_slice(&[OBJECT, 1]);
        let kind = put_key(self.out, variant);
        put_value(self.out, value, kind, self.human)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, EncodeError> {
        Ok(begin(self, ARRAY, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, EncodeError> {
        self.out.extend_from_slice(&[OBJECT, 1]);
        self.kind = put_key(self.out, variant);
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>, EncodeError> {
        Ok(begin(self, OBJECT, len))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>, EncodeError> {
        Ok(begin(self, OBJECT, Some(len)))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, EncodeError> {
        self.out.extend_from_slice(&[OBJECT, 1]);
        put_key(self.out, variant);
        Ok(begin(self, OBJECT, Some(len)))
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(self.kind, value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(self.kind, value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(self.kind, value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(self.kind, value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        self.kind = key.serialize(MapKey { out: self.out })?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(self.kind, value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        let kind = put_key(self.out, name);
        self.element(kind, value)
    }
    fn skip_field(&mut self, _: &'static str) -> Result<(), EncodeError> {
        // Absent from the JSON form, so absent here.
        Ok(())
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        ser::SerializeStruct::serialize_field(self, name, value)
    }
    fn skip_field(&mut self, _: &'static str) -> Result<(), EncodeError> {
        Ok(())
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

/// Writes a map key: a string, or an integer or char as the text JSON
/// gives it. Returns the kind of the key's values.
struct MapKey<'a> {
    out: &'a mut Vec<u8>,
}

fn key_error() -> EncodeError {
    EncodeError("a map key that is not a string".into())
}

macro_rules! integer_key {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name(self, v: $ty) -> Result<Kind, EncodeError> {
            Ok(put_key(self.out, &v.to_string()))
        }
    )*};
}

impl ser::Serializer for MapKey<'_> {
    type Ok = Kind;
    type Error = EncodeError;
    type SerializeSeq = Impossible<Kind, EncodeError>;
    type SerializeTuple = Impossible<Kind, EncodeError>;
    type SerializeTupleStruct = Impossible<Kind, EncodeError>;
    type SerializeTupleVariant = Impossible<Kind, EncodeError>;
    type SerializeMap = Impossible<Kind, EncodeError>;
    type SerializeStruct = Impossible<Kind, EncodeError>;
    type SerializeStructVariant = Impossible<Kind, EncodeError>;

    integer_key!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64);

    fn serialize_str(self, v: &str) -> Result<Kind, EncodeError> {
        Ok(put_key(self.out, v))
    }
    fn serialize_char(self, v: char) -> Result<Kind, EncodeError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Kind, EncodeError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Kind, EncodeError> {
        value.serialize(self)
    }
    fn serialize_bool(self, _: bool) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_f32(self, _: f32) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_f64(self, _: f64) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Kind, EncodeError> {
        Err(key_error())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, EncodeError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, EncodeError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, EncodeError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        Err(key_error())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, EncodeError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, EncodeError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        Err(key_error())
    }
}

/// The bytes of `value` taken through its text (human-readable) form: what
/// a verifier working from the JSON computes. Tests compare it with
/// [`encode`] and [`encode_records`].
#[doc(hidden)]
pub fn encode_via_text<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    put_value(&mut out, value, Kind::Plain, true)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
