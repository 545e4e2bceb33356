//! Encoding events and their records into audit bytes: a serde
//! `Serializer` for any event, a direct path for the records of a sale
//! (distribution and ledger entries, the hot path), and the block hash
//! that chains them.

use std::fmt;

use rust_decimal::Decimal;
use serde::ser::{self, Impossible, Serialize};

use crate::event::{Distribution, EntryRecord, Line, Outcome};
use crate::time::Timestamp;

use super::*;

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

pub(crate) fn put_value<T: Serialize + ?Sized>(
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
    block_hash_with(seq, previous, event, |r| {
        encode_records_into(outcome, entries, r)
    })
}

/// [`block_hash`] with the records block written by `records`, for the
/// engine's lean path, which writes a sale's records from its own state
/// (the same bytes, see [`put_sale_records`]) without building them.
pub(crate) fn block_hash_with(
    seq: u64,
    previous: &Hash,
    event: &crate::Event,
    records: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<Hash, EncodeError> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }
    let hash = |e: &mut Vec<u8>, r: &mut Vec<u8>| {
        e.clear();
        r.clear();
        put_event(e, event)?;
        records(r)?;
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

/// The encoding of `event`, as [`encode_into`] writes it; a plain sale
/// (no `signals`, no `fx`: what a sales table or a checkout webhook
/// sends) is written directly, the same bytes without serde's field-by-field
/// key lookups.
pub(crate) fn put_event(out: &mut Vec<u8>, event: &crate::Event) -> Result<(), EncodeError> {
    match event {
        crate::Event::SaleRecorded(sale) if sale.signals.is_none() && sale.fx.is_none() => {
            put_plain_sale(out, sale);
            Ok(())
        }
        other => encode_into(other, out),
    }
}

/// A sale without `signals` or `fx`: the object of its `type` tag and its
/// fields in wire order (see [`crate::event::SaleRecorded`]).
fn put_plain_sale(out: &mut Vec<u8>, sale: &crate::event::SaleRecorded) {
    const TYPE: &str = "sale_recorded";
    let members = 6 + u8::from(sale.category.is_some());
    out.extend_from_slice(&[OBJECT, members, k!("type"), STR, TYPE.len() as u8]);
    out.extend_from_slice(TYPE.as_bytes());
    out.push(k!("sale"));
    put_str(out, &sale.sale);
    out.push(k!("buyer"));
    put_str(out, &sale.buyer);
    out.push(k!("amount"));
    put_typed_str(out, Kind::Decimal, sale.amount.as_written());
    out.push(k!("currency"));
    put_str(out, &sale.currency);
    out.push(k!("at"));
    put_typed_str(out, Kind::Time, &sale.at);
    if let Some(category) = &sale.category {
        out.push(k!("category"));
        put_str(out, category);
    }
}

pub(crate) fn encode_records_into(
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

pub(crate) fn put_distribution(out: &mut Vec<u8>, d: &Distribution) -> Result<(), EncodeError> {
    // Every field named: a field added to `Distribution` must be added here
    // and to `DistributionParts`.
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
    put_distribution_parts(
        out,
        &DistributionParts {
            sale,
            plan,
            plan_version: *plan_version,
            currency: *currency,
            amount: *amount,
            retained: *retained,
            awards: &awards.iter().collect::<Vec<_>>(),
            screening: screening.as_ref(),
            fx: fx.as_ref(),
        },
        lines.iter().map(|line| {
            let Line {
                earner,
                level,
                rate,
                base,
                amount,
                held,
            } = line;
            LineParts {
                earner,
                level: *level,
                rate: rate.value(),
                base: *base,
                amount: *amount,
                held: *held,
            }
        }),
        unpaid.iter().map(|u| (u.level, u.reason)),
    )
}

/// A distribution's fields other than its lines and unpaid levels, borrowed
/// from a [`Distribution`] or from the engine's own sale state.
pub(crate) struct DistributionParts<'a> {
    pub(crate) sale: &'a str,
    pub(crate) plan: &'a str,
    pub(crate) plan_version: u32,
    pub(crate) currency: crate::money::Currency,
    pub(crate) amount: Decimal,
    pub(crate) retained: Decimal,
    pub(crate) awards: &'a [&'a crate::event::Award],
    pub(crate) screening: Option<&'a crate::screen::Decision>,
    pub(crate) fx: Option<&'a crate::event::Conversion>,
}

/// One line of a distribution, borrowed.
pub(crate) struct LineParts<'a> {
    pub(crate) earner: &'a str,
    pub(crate) level: u8,
    pub(crate) rate: Decimal,
    pub(crate) base: Decimal,
    pub(crate) amount: Decimal,
    pub(crate) held: bool,
}

/// One ledger entry as its record shows it, borrowed.
pub(crate) struct EntryParts<'a> {
    pub(crate) seq: u64,
    pub(crate) at: Timestamp,
    pub(crate) earner: &'a str,
    pub(crate) currency: crate::money::Currency,
    pub(crate) kind: crate::ledger::EntryKind,
    pub(crate) amount: Decimal,
    pub(crate) available_at: Timestamp,
    pub(crate) reference: &'a str,
}

/// The records block of a sale, `{"outcome": {"distribution": …},
/// "entries": […]}`, from borrowed parts: the same bytes as
/// [`encode_records_into`] of the records the engine would build.
pub(crate) fn put_sale_records<'a>(
    out: &mut Vec<u8>,
    distribution: &DistributionParts<'_>,
    lines: impl ExactSizeIterator<Item = LineParts<'a>>,
    unpaid: impl ExactSizeIterator<Item = (u8, crate::calc::UnpaidReason)>,
    entries: impl ExactSizeIterator<Item = EntryParts<'a>>,
) -> Result<(), EncodeError> {
    out.extend_from_slice(&[OBJECT, 2, k!("outcome"), OBJECT, 1, k!("distribution")]);
    put_distribution_parts(out, distribution, lines, unpaid)?;
    out.push(k!("entries"));
    out.push(ARRAY);
    put_uvarint(out, entries.len() as u128);
    for entry in entries {
        put_entry_parts(out, &entry)?;
    }
    Ok(())
}

fn put_distribution_parts<'a>(
    out: &mut Vec<u8>,
    d: &DistributionParts<'_>,
    lines: impl ExactSizeIterator<Item = LineParts<'a>>,
    unpaid: impl ExactSizeIterator<Item = (u8, crate::calc::UnpaidReason)>,
) -> Result<(), EncodeError> {
    let count = 8
        + usize::from(!d.awards.is_empty())
        + usize::from(d.screening.is_some())
        + usize::from(d.fx.is_some());
    out.extend_from_slice(&[OBJECT, count as u8, k!("sale")]);
    put_str(out, d.sale);
    out.push(k!("plan"));
    put_str(out, d.plan);
    out.push(k!("plan_version"));
    put_uint(out, u64::from(d.plan_version));
    out.push(k!("currency"));
    put_utf8(out, d.currency.code_bytes());
    out.push(k!("amount"));
    put_decimal(out, d.amount);
    out.push(k!("lines"));
    out.push(ARRAY);
    put_uvarint(out, lines.len() as u128);
    for line in lines {
        out.extend_from_slice(&[OBJECT, 6, k!("earner")]);
        put_str(out, line.earner);
        out.push(k!("level"));
        put_uint(out, u64::from(line.level));
        out.push(k!("rate"));
        put_decimal(out, line.rate);
        out.push(k!("base"));
        put_decimal(out, line.base);
        out.push(k!("amount"));
        put_decimal(out, line.amount);
        out.extend_from_slice(&[k!("held"), if line.held { TRUE } else { FALSE }]);
    }
    out.push(k!("retained"));
    put_decimal(out, d.retained);
    out.push(k!("unpaid"));
    out.push(ARRAY);
    put_uvarint(out, unpaid.len() as u128);
    for (level, reason) in unpaid {
        out.extend_from_slice(&[OBJECT, 2, k!("level")]);
        put_uint(out, u64::from(level));
        out.push(k!("reason"));
        put_value(out, &reason, Kind::Plain, false)?;
    }
    if !d.awards.is_empty() {
        out.push(k!("awards"));
        put_value(out, d.awards, Kind::Plain, false)?;
    }
    if let Some(screening) = d.screening {
        out.push(k!("screening"));
        put_value(out, screening, Kind::Plain, false)?;
    }
    if let Some(fx) = d.fx {
        out.push(k!("fx"));
        put_value(out, fx, Kind::Plain, false)?;
    }
    Ok(())
}

pub(crate) fn put_entry(out: &mut Vec<u8>, entry: &EntryRecord) -> Result<(), EncodeError> {
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
    put_entry_parts(
        out,
        &EntryParts {
            seq: *seq,
            at: *at,
            earner,
            currency: *currency,
            kind: *kind,
            amount: *amount,
            available_at: *available_at,
            reference,
        },
    )
}

fn put_entry_parts(out: &mut Vec<u8>, entry: &EntryParts<'_>) -> Result<(), EncodeError> {
    // An everyday entry is under 80 bytes besides its two ids, so this is
    // its one growth; a long currency code, kind or amount may add one.
    out.reserve(80 + entry.earner.len() + entry.reference.len());
    out.extend_from_slice(&[OBJECT, 8, k!("seq")]);
    put_uint(out, entry.seq);
    out.push(k!("at"));
    put_time(out, entry.at.as_millis());
    out.push(k!("earner"));
    put_str(out, entry.earner);
    out.push(k!("currency"));
    put_utf8(out, entry.currency.code_bytes());
    out.push(k!("kind"));
    put_str(out, entry.kind.as_str());
    out.push(k!("amount"));
    put_decimal(out, entry.amount);
    out.push(k!("available_at"));
    put_time(out, entry.available_at.as_millis());
    out.push(k!("reference"));
    put_str(out, entry.reference);
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
pub(crate) enum Magic {
    None,
    Decimal,
    Time,
}

/// The serde serializer behind [`encode`]. Not human-readable, so
/// decimals and timestamps hand it their numbers (see [`DECIMAL_MAGIC`])
/// instead of text; `human` makes it take the text path, for tests that
/// check both give the same bytes.
pub(crate) struct Encoder<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    /// The kind of the current value's key.
    pub(crate) kind: Kind,
    pub(crate) magic: Magic,
    pub(crate) human: bool,
}

pub(crate) fn begin<'a>(enc: &'a mut Encoder<'_>, tag: u8, len: Option<usize>) -> Compound<'a> {
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
    pub(crate) fn decimal_text(&mut self, mantissa: i128, scale: u32) -> Result<(), EncodeError> {
        if self.kind == Kind::Decimal {
            put_decimal_parts(self.out, mantissa, scale);
        } else {
            let value = Decimal::try_from_i128_with_scale(mantissa, scale)
                .map_err(|e| EncodeError(e.to_string()))?;
            put_str(self.out, crate::money::write_decimal(value, &mut [0; 48]));
        }
        Ok(())
    }

    pub(crate) fn time_value(&mut self, millis: i64) -> Result<(), EncodeError> {
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
pub(crate) struct Compound<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) kind: Kind,
    pub(crate) human: bool,
    pub(crate) start: usize,
    pub(crate) declared: Option<usize>,
    pub(crate) count: usize,
}

impl Compound<'_> {
    pub(crate) fn element<T: Serialize + ?Sized>(
        &mut self,
        kind: Kind,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.count += 1;
        put_value(self.out, value, kind, self.human)
    }

    pub(crate) fn finish(self) -> Result<(), EncodeError> {
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
pub(crate) struct MapKey<'a> {
    pub(crate) out: &'a mut Vec<u8>,
}

pub(crate) fn key_error() -> EncodeError {
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
