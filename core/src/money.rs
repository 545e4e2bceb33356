//! Exact money: currencies, amounts, rates and rounding.
//!
//! Every amount is a [`rust_decimal::Decimal`] held at exactly its
//! currency's minor units (`"20.00"` USD, `"200"` JPY, `"2.469"` KWD).
//! Text is parsed strictly (`-?digits[.digits]`: no exponent, no `+`, no
//! spaces), and an amount finer than its currency allows is an error, never
//! silently rounded. Arithmetic is checked: overflow is an error, not a
//! panic. This module knows nothing about commissions.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind, Result};
use crate::limits::{MAX_CURRENCIES, MAX_DECIMAL_CHARS};

mod exact;

pub(crate) use self::exact::{add, beyond, sub, Wide};

/// Largest number of minor units a currency may have.
pub const MAX_MINOR_UNITS: u8 = 18;

/// The built-in ISO 4217 table: code and minor units.
const ISO_CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("MAD", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RUB", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

/// A currency: its code (3–12 upper-case ASCII letters or digits) and its
/// minor units (0–18). `Copy`, so the hot path never touches a string.
///
/// ```
/// use upline::Currencies;
///
/// let currencies = Currencies::default();
/// let usd = currencies.get("USD", "currency")?;
/// assert_eq!(usd.minor_units(), 2);
/// assert_eq!(currencies.get("XYZ", "currency").unwrap_err().code(), "invalid_currency");
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency {
    code: [u8; 12],
    len: u8,
    minor_units: u8,
}

impl Currency {
    fn new(code: &str, minor_units: u8) -> Self {
        let mut bytes = [0u8; 12];
        bytes[..code.len()].copy_from_slice(code.as_bytes());
        Currency {
            code: bytes,
            len: code.len() as u8,
            minor_units,
        }
    }

    /// The code, e.g. `"USD"`.
    pub fn code(&self) -> &str {
        // Codes are checked ASCII on construction.
        std::str::from_utf8(&self.code[..usize::from(self.len)]).unwrap_or("")
    }

    /// The code's bytes (ASCII), without the UTF-8 check of
    /// [`code`](Self::code): the audit encoder writes one per entry.
    pub(crate) fn code_bytes(&self) -> &[u8] {
        &self.code[..usize::from(self.len)]
    }

    /// Digits after the decimal point (USD 2, JPY 0, KWD 3).
    pub fn minor_units(&self) -> u8 {
        self.minor_units
    }

    /// Parses an amount exact in this currency: at most
    /// [`minor_units`](Self::minor_units) decimals. The result carries
    /// exactly that many decimals.
    pub fn parse_amount(&self, text: &str, field: &str) -> Result<Decimal> {
        let value = parse_decimal(text, field, ErrorKind::InvalidAmount)?;
        self.exact(value, field)
    }

    /// Checks that `value` is exact in this currency and returns it at the
    /// currency's scale.
    pub fn exact(&self, value: Decimal, field: &str) -> Result<Decimal> {
        if value.abs() >= Decimal::from(crate::limits::MAX_AMOUNT_UNITS) {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                field,
                format!(
                    "{field} \"{value}\" is beyond the largest amount, 10^18 {}",
                    self.code()
                ),
            ));
        }
        let normal = value.normalize();
        if normal.scale() > u32::from(self.minor_units) {
            return Err(Error::new(
                ErrorKind::InvalidAmount,
                field,
                format!(
                    "{field} \"{value}\" has more decimals than {} allows ({})",
                    self.code(),
                    self.minor_units
                ),
            ));
        }
        self.at_scale(normal, field)
    }

    /// Rounds `value` to this currency's minor units with `rounding`.
    pub fn round(&self, value: Decimal, rounding: Rounding, field: &str) -> Result<Decimal> {
        let rounded =
            value.round_dp_with_strategy(u32::from(self.minor_units), rounding.strategy());
        self.at_scale(rounded, field)
    }

    fn at_scale(&self, mut value: Decimal, field: &str) -> Result<Decimal> {
        let scale = u32::from(self.minor_units);
        if value.scale() != scale {
            // rescale cannot lose digits here (scale only grows); it can only
            // fail to reach the scale when the mantissa would overflow.
            value.rescale(scale);
            if value.scale() != scale {
                return Err(Error::new(
                    ErrorKind::InvalidAmount,
                    field,
                    format!(
                        "{field} is too large to carry {} decimals",
                        self.minor_units
                    ),
                ));
            }
        }
        Ok(value)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.code(), self.minor_units)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (self.code(), self.minor_units).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (code, minor_units) = <(String, u8)>::deserialize(d)?;
        check_code(&code, "currency").map_err(serde::de::Error::custom)?;
        if minor_units > MAX_MINOR_UNITS {
            return Err(serde::de::Error::custom("minor units above 18"));
        }
        Ok(Currency::new(&code, minor_units))
    }
}

fn check_code(code: &str, field: &str) -> Result<()> {
    let ok = (3..=12).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        let shown: String = code.chars().take(32).collect();
        Err(Error::new(
            ErrorKind::InvalidCurrency,
            field,
            format!("{field} {shown:?} is not a currency code (3-12 upper-case letters or digits)"),
        ))
    }
}

/// The currencies an engine knows: the built-in ISO 4217 table plus codes
/// the host registered (tokens, points) with 0–18 minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Currencies {
    registered: BTreeMap<String, u8>,
}

impl Currencies {
    /// Looks a code up; `field` names the input in errors.
    pub fn get(&self, code: &str, field: &str) -> Result<Currency> {
        if let Ok(i) = ISO_CURRENCIES.binary_search_by(|(c, _)| (*c).cmp(code)) {
            return Ok(Currency::new(code, ISO_CURRENCIES[i].1));
        }
        if let Some(&minor_units) = self.registered.get(code) {
            return Ok(Currency::new(code, minor_units));
        }
        check_code(code, field)?;
        Err(Error::new(
            ErrorKind::InvalidCurrency,
            field,
            format!("{field} {code:?} is not a known currency; register it first"),
        ))
    }

    /// Checks that `code` could be registered with `minor_units`; returns
    /// `Ok(true)` when it is already registered identically (a no-op).
    pub(crate) fn check_register(&self, code: &str, minor_units: u8) -> Result<bool> {
        check_code(code, "currency")?;
        if minor_units > MAX_MINOR_UNITS {
            return Err(Error::new(
                ErrorKind::InvalidCurrency,
                "minor_units",
                format!("minor_units {minor_units} is above {MAX_MINOR_UNITS}"),
            ));
        }
        if ISO_CURRENCIES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .is_ok()
        {
            return Err(Error::new(
                ErrorKind::DuplicateId,
                "currency",
                format!("currency {code:?} is built in and cannot be registered"),
            ));
        }
        match self.registered.get(code) {
            Some(&known) if known == minor_units => Ok(true),
            Some(&known) => Err(Error::new(
                ErrorKind::DuplicateId,
                "currency",
                format!("currency {code:?} is already registered with {known} minor units"),
            )),
            None if self.registered.len() >= MAX_CURRENCIES => Err(Error::new(
                ErrorKind::LimitExceeded,
                "currency",
                format!("at most {MAX_CURRENCIES} currencies can be registered"),
            )),
            None => Ok(false),
        }
    }

    pub(crate) fn register(&mut self, code: &str, minor_units: u8) {
        self.registered.insert(code.to_string(), minor_units);
    }
}

/// How a computed amount is brought to the currency's minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Banker's rounding: halves go to the even digit (0.025 → 0.02).
    #[default]
    HalfEven,
    /// Halves go away from zero (0.025 → 0.03).
    HalfUp,
    /// Toward zero: never pays a fraction up (0.029 → 0.02).
    Down,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::Down => RoundingStrategy::ToZero,
        }
    }
}

/// A commission rate: a decimal in [0, 1] with at most 6 decimal places.
///
/// ```
/// use upline::Rate;
///
/// assert_eq!(Rate::parse("0.20", "rate")?.to_string(), "0.2");
/// assert_eq!(Rate::parse("1.5", "rate").unwrap_err().code(), "invalid_amount");
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rate(#[serde(serialize_with = "serialize_decimal")] Decimal);

impl Rate {
    /// Most decimal places a rate may have.
    pub const MAX_DECIMALS: u32 = 6;

    /// Parses and checks a rate; `field` names it in errors.
    pub fn parse(text: &str, field: &str) -> Result<Self> {
        Rate::new(parse_decimal(text, field, ErrorKind::InvalidAmount)?, field)
    }

    /// Checks a rate value.
    pub fn new(value: Decimal, field: &str) -> Result<Self> {
        let value = value.normalize();
        if value.is_sign_negative() || value > Decimal::ONE {
            return Err(Error::new(
                ErrorKind::InvalidAmount,
                field,
                format!("{field} \"{value}\" is outside [0, 1]"),
            ));
        }
        if value.scale() > Self::MAX_DECIMALS {
            return Err(Error::new(
                ErrorKind::InvalidAmount,
                field,
                format!(
                    "{field} \"{value}\" has more than {} decimals",
                    Self::MAX_DECIMALS
                ),
            ));
        }
        Ok(Rate(value))
    }

    /// The rate as a decimal fraction (0.2 for 20%).
    pub fn value(self) -> Decimal {
        self.0
    }

    /// The rate as its mantissa and scale (2 and 1 for 0.2): exact in a
    /// `u32` and a `u8`, since a rate is in [0, 1] with at most
    /// [`MAX_DECIMALS`](Self::MAX_DECIMALS) decimals (a mantissa of at most
    /// 1,000,000).
    pub(crate) fn to_parts(self) -> (u32, u8) {
        (self.0.mantissa() as u32, self.0.scale() as u8)
    }

    /// The rate of [`to_parts`](Self::to_parts), digit for digit.
    pub(crate) fn from_parts(mantissa: u32, scale: u8) -> Rate {
        Rate(Decimal::new(i64::from(mantissa), u32::from(scale)))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An exact amount in one currency.
///
/// ```
/// use upline::{Currencies, Money};
///
/// let usd = Currencies::default().get("USD", "currency")?;
/// let a = Money::parse("19.99", usd, "amount")?;
/// let b = Money::parse("0.01", usd, "amount")?;
/// assert_eq!(a.checked_add(&b)?.to_string(), "20.00 USD");
/// assert!(Money::parse("10.001", usd, "amount").is_err());
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Parses `text` as an amount exact in `currency`.
    pub fn parse(text: &str, currency: Currency, field: &str) -> Result<Self> {
        Ok(Money {
            amount: currency.parse_amount(text, field)?,
            currency,
        })
    }

    /// An amount from a decimal that must be exact in `currency`.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self> {
        Ok(Money {
            amount: currency.exact(amount, "amount")?,
            currency,
        })
    }

    /// The amount, at the currency's scale.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The sum, or `currency_mismatch` / `invalid_amount` (overflow).
    pub fn checked_add(&self, other: &Money) -> Result<Money> {
        self.same_currency(other)?;
        Ok(Money {
            amount: add(self.amount, other.amount, "amount")?,
            currency: self.currency,
        })
    }

    /// The difference, or `currency_mismatch` / `invalid_amount` (overflow).
    pub fn checked_sub(&self, other: &Money) -> Result<Money> {
        self.same_currency(other)?;
        Ok(Money {
            amount: sub(self.amount, other.amount, "amount")?,
            currency: self.currency,
        })
    }

    fn same_currency(&self, other: &Money) -> Result<()> {
        if self.currency.code() != other.currency.code() {
            return Err(Error::new(
                ErrorKind::CurrencyMismatch,
                "currency",
                format!("cannot combine {} with {}", self.currency, other.currency),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Parses a plain decimal: `-?[0-9]+(\.[0-9]+)?`, at most
/// [`MAX_DECIMAL_CHARS`] bytes. Refused text is an error of `kind`.
pub fn parse_decimal(text: &str, field: &str, kind: ErrorKind) -> Result<Decimal> {
    if let Some(value) = parse_small_decimal(text) {
        return Ok(value);
    }
    let refuse = |why: &str| {
        let shown: String = text.chars().take(48).collect();
        Error::new(kind, field, format!("{field} {shown:?} {why}"))
    };
    if text.len() > MAX_DECIMAL_CHARS {
        return Err(refuse("is too long for an amount"));
    }
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int_part, frac_part) = match body.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (body, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || !frac_part.is_none_or(all_digits) {
        return Err(refuse("is not a plain decimal number (like \"10.50\")"));
    }
    text.parse::<Decimal>()
        .map_err(|_| refuse("is out of range for an amount"))
}

/// [`parse_decimal`]'s fast path: a non-negative plain decimal of at most
/// 18 digits (almost every amount a host sends), read in 64-bit
/// arithmetic. Longer or negative decimals take the full path.
/// Gives the value `str::parse::<Decimal>` gives, scale included (`"0.10"`
/// has scale 2); anything else is `None` and takes the full path, which
/// also words the errors.
fn parse_small_decimal(text: &str) -> Option<Decimal> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 19 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut scale: Option<u32> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
                if let Some(scale) = &mut scale {
                    *scale += 1;
                }
            }
            // One point, with a digit on each side.
            b'.' if scale.is_none() && i > 0 && i + 1 < bytes.len() => scale = Some(0),
            _ => return None,
        }
    }
    // 19 bytes hold at most 19 digits, below 10^19 < 2^64: the loop above
    // cannot overflow. Longer decimals take the full path.
    if digits > 18 {
        return None;
    }
    Some(Decimal::from_i128_with_scale(
        i128::from(mantissa),
        scale.unwrap_or(0),
    ))
}

/// Writes `value` as its `Display` does (every digit of its scale:
/// `"20.00"`, `"0.05"`, `"-3.5"`) into `buf`, without the `fmt` machinery:
/// records and audit blocks carry a dozen decimals per sale. One
/// difference: a negative zero, which `Display` writes `"-0.00"`, is
/// written `"0.00"`.
pub(crate) fn write_decimal(value: Decimal, buf: &mut [u8; 48]) -> &str {
    let mantissa = value.mantissa();
    let scale = value.scale() as usize;
    // Digits, least significant first; u128 division is slow, and amounts
    // almost always fit 64 bits.
    let mut digits = [0u8; 40];
    let mut count = 0;
    let wide = mantissa.unsigned_abs();
    match u64::try_from(wide) {
        Ok(mut rest) => {
            while rest > 0 {
                digits[count] = (rest % 10) as u8;
                rest /= 10;
                count += 1;
            }
        }
        Err(_) => {
            let mut rest = wide;
            while rest > 0 {
                digits[count] = (rest % 10) as u8;
                rest /= 10;
                count += 1;
            }
        }
    }
    count = count.max(scale + 1); // "0.05": a leading zero before the point
    let mut end = buf.len();
    for (i, digit) in digits[..count].iter().enumerate() {
        if i == scale && scale > 0 {
            end -= 1;
            buf[end] = b'.';
        }
        end -= 1;
        buf[end] = b'0' + digit;
    }
    if mantissa < 0 {
        end -= 1;
        buf[end] = b'-';
    }
    std::str::from_utf8(&buf[end..]).unwrap_or("")
}

/// `serialize_with` for decimals in records: the same text as rust_decimal's
/// serde form, written faster.
pub(crate) fn serialize_decimal<S: Serializer>(
    value: &Decimal,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(write_decimal(*value, &mut [0; 48]))
    } else {
        // The audit encoder (not human-readable) takes the mantissa and
        // scale directly; see `crate::audit`.
        serializer.serialize_newtype_struct(
            crate::audit::DECIMAL_MAGIC,
            &crate::audit::pack_decimal(*value),
        )
    }
}

/// `serialize_with` for currencies in records: the code alone (`"USD"`).
pub(crate) fn serialize_code<S: Serializer>(
    currency: &Currency,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(currency.code())
}

/// A decimal that arrived as text or as a JSON number. Numbers are kept so
/// that validation can refuse them with `invalid_amount` naming the field,
/// instead of failing the whole decode.
///
/// Both forms are written as a JSON string, so an event is stored, hashed
/// and snapshotted with its numbers as strings: equality (and hashing)
/// compare the text alone, or a retry of an event taken with a number (a
/// milestone threshold, a challenge target) would differ from the same
/// event read back from a snapshot or a store.
#[derive(Debug, Clone)]
pub enum DecimalText {
    /// A JSON string (the only accepted form).
    Text(String),
    /// Anything else (a JSON number or boolean), as its text: always
    /// refused for money and rates.
    NotText(String),
}

impl DecimalText {
    /// The text of a decimal string.
    pub fn new(text: impl Into<String>) -> Self {
        DecimalText::Text(text.into())
    }

    pub(crate) fn text(&self, field: &str) -> Result<&str> {
        match self {
            DecimalText::Text(text) => Ok(text),
            DecimalText::NotText(number) => Err(Error::new(
                ErrorKind::InvalidAmount,
                field,
                format!(
                    "{field} is the JSON value {number}; money and rates must be decimal \
                     strings (like \"10.50\") so no float ever touches them"
                ),
            )),
        }
    }
}

impl DecimalText {
    /// The text, whichever form it arrived in.
    pub(crate) fn as_written(&self) -> &str {
        match self {
            DecimalText::Text(text) | DecimalText::NotText(text) => text,
        }
    }
}

impl PartialEq for DecimalText {
    fn eq(&self, other: &Self) -> bool {
        self.as_written() == other.as_written()
    }
}

impl Eq for DecimalText {}

impl std::hash::Hash for DecimalText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_written().hash(state);
    }
}

impl From<&str> for DecimalText {
    fn from(text: &str) -> Self {
        DecimalText::Text(text.to_string())
    }
}

impl Serialize for DecimalText {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            DecimalText::Text(text) => s.serialize_str(text),
            DecimalText::NotText(number) => s.serialize_str(number),
        }
    }
}

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DecimalText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<DecimalText, E> {
                Ok(DecimalText::Text(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(
                self,
                v: String,
            ) -> std::result::Result<DecimalText, E> {
                Ok(DecimalText::Text(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<DecimalText, E> {
                Ok(DecimalText::NotText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<DecimalText, E> {
                Ok(DecimalText::NotText(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(
                self,
                v: bool,
            ) -> std::result::Result<DecimalText, E> {
                Ok(DecimalText::NotText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<DecimalText, E> {
                Ok(DecimalText::NotText(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `amount` if it is above zero, else `invalid_amount` naming `field`.
pub(crate) fn positive(amount: Decimal, field: &str) -> Result<Decimal> {
    if amount <= Decimal::ZERO {
        return Err(Error::new(
            ErrorKind::InvalidAmount,
            field,
            format!("{field} \"{amount}\" must be positive"),
        ));
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_small_decimal_fast_path_gives_what_the_full_parse_gives() {
        let mut texts: Vec<String> = [
            "0",
            "7",
            "0.10",
            "00.5",
            "10.50",
            "999999999999999999",
            "999999999999999999.",
            "9999999999999999999",
            "1234567890.12345678",
            "0.000000000000000001",
            "1.2.3",
            ".5",
            "5.",
            "-1.00",
            "+1",
            "1e3",
            "",
            " 1",
            "1 ",
            "12a",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 20) as usize + 1;
            let mut text: String = (0..digits)
                .map(|i| char::from(b'0' + ((x >> (i % 60)) % 10) as u8))
                .collect();
            let point = (x >> 40) as usize % (digits + 2);
            if point > 0 && point < digits {
                text.insert(point, '.');
            }
            texts.push(text);
        }
        for text in &texts {
            let fast = parse_small_decimal(text);
            if let Some(fast) = fast {
                let full: Decimal = text.parse().unwrap();
                assert_eq!(fast, full, "{text}");
                assert_eq!(fast.scale(), full.scale(), "{text}");
                assert_eq!(fast.to_string(), full.to_string(), "{text}");
            }
            // The public function agrees with the full path either way.
            let full = text
                .parse::<Decimal>()
                .ok()
                .filter(|_| !text.starts_with(['+', '.']) && !text.ends_with('.'));
            let parsed = parse_decimal(text, "amount", ErrorKind::InvalidAmount).ok();
            if let (Some(parsed), Some(full)) = (parsed, full) {
                assert_eq!(parsed.to_string(), full.to_string(), "{text}");
            }
        }
        assert!(parse_small_decimal("1.2.3").is_none());
        assert!(parse_small_decimal(".5").is_none());
        assert!(parse_small_decimal("5.").is_none());
        assert!(parse_small_decimal("9999999999999999999").is_none());
        assert_eq!(parse_small_decimal("0.10").unwrap().scale(), 2);
    }

    fn usd() -> Currency {
        Currencies::default().get("USD", "c").unwrap()
    }

    #[test]
    fn iso_table_is_sorted_for_binary_search() {
        assert!(ISO_CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn amounts_carry_exactly_the_minor_units() {
        assert_eq!(usd().parse_amount("10", "a").unwrap().to_string(), "10.00");
        assert_eq!(
            usd().parse_amount("10.5", "a").unwrap().to_string(),
            "10.50"
        );
        assert_eq!(
            usd().parse_amount("10.500", "a").unwrap().to_string(),
            "10.50"
        );
        let kwd = Currencies::default().get("KWD", "c").unwrap();
        assert_eq!(kwd.parse_amount("2.469", "a").unwrap().to_string(), "2.469");
    }

    #[test]
    fn refuses_anything_but_plain_decimals() {
        for bad in [
            "1e3", "+1", " 1", "1.", ".5", "1,5", "", "-", "0x10", "NaN", "10.001",
        ] {
            let err = usd().parse_amount(bad, "sale.amount").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidAmount, "{bad}");
            assert_eq!(err.field(), Some("sale.amount"));
        }
    }

    #[test]
    fn message_names_field_value_and_currency() {
        let err = usd().parse_amount("10.001", "sale.amount").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid_amount: sale.amount \"10.001\" has more decimals than USD allows (2)"
        );
    }

    #[test]
    fn fast_decimal_text_matches_display() {
        for text in [
            "0",
            "0.00",
            "20.00",
            "0.05",
            "-0.20",
            "123456.789",
            "-5",
            "0.000001",
            "79228162514264337593543950335",
            "-7.9228162514264337593543950335",
            "1.5",
        ] {
            let value: Decimal = text.parse().unwrap();
            assert_eq!(
                write_decimal(value, &mut [0; 48]),
                value.to_string(),
                "{text}"
            );
        }
    }

    #[test]
    fn rounding_modes() {
        let v: Decimal = "0.025".parse().unwrap();
        assert_eq!(
            usd().round(v, Rounding::HalfEven, "x").unwrap().to_string(),
            "0.02"
        );
        assert_eq!(
            usd().round(v, Rounding::HalfUp, "x").unwrap().to_string(),
            "0.03"
        );
        let v: Decimal = "0.029".parse().unwrap();
        assert_eq!(
            usd().round(v, Rounding::Down, "x").unwrap().to_string(),
            "0.02"
        );
    }

    #[test]
    fn huge_amounts_overflow_as_errors() {
        let max = Decimal::MAX;
        assert_eq!(
            add(max, max, "x").unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
        let err = usd()
            .parse_amount("79228162514264337593543950336", "a")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidAmount);
        let err = usd().parse_amount("1000000000000000000", "a").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert!(usd().parse_amount("999999999999999999.99", "a").is_ok());
    }
}
