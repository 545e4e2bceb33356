//! Exact arithmetic on money: sums checked against the exact range, and
//! the 256-bit fixed point ([`Wide`]) in which products and quotients are
//! formed and rounded once, at the point DESIGN.md names ("Exact or
//! refused"). Parsing, currencies and rounding modes live in the parent
//! module; this file owns only the arithmetic.

use ethnum::I256;
use rust_decimal::Decimal;

use super::Rounding;
use crate::error::{Error, ErrorKind, Result};

/// Exact addition naming `field` when the sum leaves the exact range.
///
/// `Decimal`'s own `+` and `checked_add` silently round a result that
/// needs more than 96 bits of mantissa (dropping trailing digits); money
/// must never do that (DESIGN.md, "Exact or refused"). The sum is taken in
/// 128-bit integers at the larger of the two scales and refused with
/// `limit_exceeded` when it does not fit at that scale.
pub(crate) fn add(a: Decimal, b: Decimal, field: &str) -> Result<Decimal> {
    exact_add(a, b).ok_or_else(|| beyond(field))
}

/// Exact subtraction, as [`add`].
pub(crate) fn sub(a: Decimal, b: Decimal, field: &str) -> Result<Decimal> {
    exact_add(a, -b).ok_or_else(|| beyond(field))
}

/// `a + b` at the larger of their scales, or `None` when the exact result
/// does not fit a `Decimal` at that scale.
fn exact_add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    let sum = mantissa_at(a, scale)?.checked_add(mantissa_at(b, scale)?)?;
    Decimal::try_from_i128_with_scale(sum, scale).ok()
}

/// The mantissa of `value` at `scale` (not below its own scale).
fn mantissa_at(value: Decimal, scale: u32) -> Option<i128> {
    let grow = scale.checked_sub(value.scale())?;
    value.mantissa().checked_mul(10i128.checked_pow(grow)?)
}

/// An exact fixed-point number of up to 256 bits: `mantissa × 10^-scale`.
/// Products and quotients of money are formed here and rounded once, at
/// the point DESIGN.md names, so no intermediate step ever rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wide {
    mantissa: I256,
    scale: u32,
}

impl Wide {
    /// The exact value of `value`.
    pub(crate) fn of(value: Decimal) -> Wide {
        Wide {
            mantissa: I256::from(value.mantissa()),
            scale: value.scale(),
        }
    }

    /// `self × other`, exact (two 96-bit mantissas fit 256 bits easily).
    pub(crate) fn mul(self, other: Wide) -> Wide {
        Wide {
            mantissa: self.mantissa * other.mantissa,
            scale: self.scale + other.scale,
        }
    }

    /// `self + other`, exact.
    pub(crate) fn add(self, other: Wide) -> Option<Wide> {
        let scale = self.scale.max(other.scale);
        let a = self.mantissa.checked_mul(pow10(scale - self.scale)?)?;
        let b = other.mantissa.checked_mul(pow10(scale - other.scale)?)?;
        Some(Wide {
            mantissa: a.checked_add(b)?,
            scale,
        })
    }

    /// `self × 10^-places`, exact (a shift of the decimal point).
    pub(crate) fn shift(self, places: u32) -> Wide {
        Wide {
            mantissa: self.mantissa,
            scale: self.scale + places,
        }
    }

    /// `self / divisor` rounded to `scale` decimals with `rounding`, or
    /// `None` when the divisor is zero or the result does not fit a
    /// `Decimal` at that scale.
    pub(crate) fn div_round(
        self,
        divisor: Wide,
        scale: u32,
        rounding: Rounding,
    ) -> Option<Decimal> {
        if divisor.mantissa == I256::ZERO {
            return None;
        }
        // value = (n / 10^sn) / (d / 10^sd); at `scale`:
        // q = n × 10^(scale + sd) / (d × 10^sn).
        let mut numerator = self.mantissa.checked_mul(pow10(scale + divisor.scale)?)?;
        let mut denominator = divisor.mantissa.checked_mul(pow10(self.scale)?)?;
        if denominator < I256::ZERO {
            numerator = -numerator;
            denominator = -denominator;
        }
        let negative = numerator < I256::ZERO;
        let magnitude = numerator.abs();
        let (quotient, remainder) = (magnitude / denominator, magnitude % denominator);
        let twice = remainder * 2;
        let up = match rounding {
            Rounding::Down => false,
            Rounding::HalfUp => twice >= denominator,
            Rounding::HalfEven => {
                twice > denominator || (twice == denominator && quotient % 2 == I256::ONE)
            }
        };
        let magnitude = quotient + I256::from(u8::from(up));
        let signed = if negative { -magnitude } else { magnitude };
        let mantissa = i128::try_from(signed).ok()?;
        Decimal::try_from_i128_with_scale(mantissa, scale).ok()
    }

    /// `self` rounded to `scale` decimals with `rounding` (see
    /// [`div_round`](Self::div_round)).
    pub(crate) fn round(self, scale: u32, rounding: Rounding) -> Option<Decimal> {
        self.div_round(
            Wide {
                mantissa: I256::ONE,
                scale: 0,
            },
            scale,
            rounding,
        )
    }
}

/// 10^`exponent` in 256 bits (up to 10^76).
fn pow10(exponent: u32) -> Option<I256> {
    if exponent > 76 {
        return None;
    }
    Some(I256::from(10u8).pow(exponent))
}

/// The error of a result beyond the exact range (DESIGN.md, "Exact or
/// refused").
pub(crate) fn beyond(field: &str) -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        field,
        format!(
            "{field} would leave the exact decimal range (28 significant digits at its \
             currency's scale): refused rather than rounded"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Decimal`'s `+` rounds a sum that needs a 97th bit of mantissa; the
    /// money add refuses it instead (the 18-decimal token case).
    #[test]
    fn sum_beyond_the_exact_range_is_refused_not_rounded() {
        let half: Decimal = "50000000000.000000000000000001".parse().unwrap();
        assert_eq!(
            (half + half).to_string(),
            "100000000000.00000000000000000",
            "rust_decimal rounds silently"
        );
        let err = add(half, half, "balance").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert_eq!(err.field(), Some("balance"));
        let small: Decimal = "0.000000000000000001".parse().unwrap();
        assert_eq!(
            add(half, small, "x").unwrap().to_string(),
            "50000000000.000000000000000002"
        );
        assert_eq!(
            sub(small, half, "x").unwrap().to_string(),
            "-50000000000.000000000000000000"
        );
    }

    /// Products and quotients are formed in 256 bits and rounded once.
    #[test]
    fn wide_arithmetic_rounds_once_with_each_mode() {
        let d = |t: &str| Wide::of(t.parse::<Decimal>().unwrap());
        // 99.99 × 1.0832 = 108.309168 → 108.31
        assert_eq!(
            d("99.99")
                .mul(d("1.0832"))
                .round(2, Rounding::HalfEven)
                .unwrap()
                .to_string(),
            "108.31"
        );
        // 21.66 × 33.33 / 99.99 = 7.22 exactly
        assert_eq!(
            d("21.66")
                .mul(d("33.33"))
                .div_round(d("99.99"), 2, Rounding::HalfEven)
                .unwrap()
                .to_string(),
            "7.22"
        );
        // halves: 0.025 → 0.02 / 0.03 / 0.02, and negative halves mirror
        for (mode, want) in [
            (Rounding::HalfEven, "0.02"),
            (Rounding::HalfUp, "0.03"),
            (Rounding::Down, "0.02"),
        ] {
            assert_eq!(d("0.025").round(2, mode).unwrap().to_string(), want);
            assert_eq!(
                d("-0.025").round(2, mode).unwrap().to_string(),
                format!("-{want}")
            );
        }
        // a product of two near-limit mantissas is exact before rounding:
        // (2^96-1)/10^18 × 0.999999 keeps every digit until the one rounding.
        let big = Wide::of(Decimal::from_i128_with_scale((1i128 << 96) - 1, 18));
        assert_eq!(
            big.mul(d("0.999999"))
                .round(18, Rounding::Down)
                .unwrap()
                .to_string(),
            "79228083286.101823329206356791"
        );
        assert!(big.add(big).unwrap().round(18, Rounding::Down).is_none());
        assert!(d("1").div_round(d("0"), 2, Rounding::Down).is_none());
    }
}
