//! The byte level of audit format 2: the key dictionary, the value tags,
//! and how each primitive (varints, strings, decimals as mantissa and
//! scale, times as milliseconds) is written. The module docs of
//! [`crate::audit`] specify the same bytes in prose.

use std::sync::OnceLock;

use rust_decimal::Decimal;

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

pub(crate) const NULL: u8 = 0x00;
pub(crate) const FALSE: u8 = 0x01;
pub(crate) const TRUE: u8 = 0x02;
pub(crate) const UINT: u8 = 0x03;
pub(crate) const NEG: u8 = 0x04;
pub(crate) const STR: u8 = 0x05;
pub(crate) const DEC: u8 = 0x06;
pub(crate) const TIME: u8 = 0x07;
pub(crate) const ARRAY: u8 = 0x08;
pub(crate) const OBJECT: u8 = 0x09;

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

pub(crate) fn unpack_decimal(packed: i128) -> (i128, u32) {
    let scale = packed.rem_euclid(32);
    ((packed - scale) / 32, scale as u32)
}

pub(crate) const fn code_of(name: &str) -> u8 {
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
pub(crate) use k;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Plain,
    Decimal,
    Time,
}

pub(crate) struct KeyInfo {
    pub(crate) code: u8,
    pub(crate) kind: Kind,
}

pub(crate) fn key_table() -> &'static crate::id::HashMap<&'static str, KeyInfo> {
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

pub(crate) fn kind_of_name(name: &str) -> Kind {
    if DECIMAL_KEYS.contains(&name) {
        Kind::Decimal
    } else if TIME_KEYS.contains(&name) {
        Kind::Time
    } else {
        Kind::Plain
    }
}

/// Writes `name` as a key and returns the kind of its values.
pub(crate) fn put_key(out: &mut Vec<u8>, name: &str) -> Kind {
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

#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, value: u128) {
    match u64::try_from(value) {
        Ok(value) => put_uvarint_u64(out, value),
        Err(_) => {
            let mut value = value;
            while value >= 0x80 {
                out.push((value as u8 & 0x7f) | 0x80);
                value >>= 7;
            }
            out.push(value as u8);
        }
    }
}

/// [`put_uvarint`] of a value that fits 64 bits (every count and length,
/// and the zigzag of an everyday amount's mantissa), in 64-bit arithmetic.
#[inline]
fn put_uvarint_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(crate) fn put_uint(out: &mut Vec<u8>, value: u64) {
    out.push(UINT);
    put_uvarint(out, u128::from(value));
}

pub(crate) fn put_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        put_uint(out, value as u64);
    } else {
        out.push(NEG);
        put_uvarint(out, (-1 - i128::from(value)) as u128);
    }
}

#[inline]
pub(crate) fn put_str(out: &mut Vec<u8>, text: &str) {
    put_utf8(out, text.as_bytes());
}

/// [`put_str`] of bytes already known to be UTF-8 (a currency code).
#[inline]
pub(crate) fn put_utf8(out: &mut Vec<u8>, text: &[u8]) {
    if text.len() < 0x80 {
        // Every id (at most `MAX_ID_BYTES`, 128) but the longest: the tag
        // and the one-byte length together.
        out.extend_from_slice(&[STR, text.len() as u8]);
    } else {
        out.push(STR);
        put_uvarint(out, text.len() as u128);
    }
    out.extend_from_slice(text);
}

#[inline]
pub(crate) fn put_decimal_parts(out: &mut Vec<u8>, mantissa: i128, scale: u32) {
    out.push(DEC);
    match i64::try_from(mantissa) {
        // A mantissa within i64 (any amount under about 9.2 × 10^16 at
        // two decimals): zigzag in 64 bits. The shift wraps and the xor
        // makes it the same value as the 128-bit form below, which takes
        // the rest (a 20-digit USD amount, 10 at 18 decimals).
        Ok(small) => put_uvarint_u64(out, ((small << 1) ^ (small >> 63)) as u64),
        Err(_) => {
            let zigzag = if mantissa >= 0 {
                (mantissa as u128) << 1
            } else {
                ((-(mantissa + 1)) as u128) << 1 | 1
            };
            put_uvarint(out, zigzag);
        }
    }
    out.push(scale as u8);
}

pub(crate) fn put_decimal(out: &mut Vec<u8>, value: Decimal) {
    put_decimal_parts(out, value.mantissa(), value.scale());
}

pub(crate) fn put_time(out: &mut Vec<u8>, millis: i64) {
    out.push(TIME);
    out.extend_from_slice(&millis.to_be_bytes());
}

/// A string under a key of `kind`: typed when canonical, else plain.
pub(crate) fn put_typed_str(out: &mut Vec<u8>, kind: Kind, text: &str) {
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
pub(crate) fn canonical_decimal(text: &str) -> Option<(i128, u32)> {
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
pub(crate) fn canonical_time(text: &str) -> Option<i64> {
    if !(text.len() == 20 || text.len() == 24) || !text.ends_with('Z') {
        return None;
    }
    let at = crate::time::parse_rfc3339(text)?;
    (at.write_rfc3339(&mut [0; 24]) == text).then(|| at.as_millis())
}
