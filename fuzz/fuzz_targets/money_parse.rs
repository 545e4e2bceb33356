//! Any text as an amount, a rate, a currency code or a time: parsing never
//! panics, whatever parses prints back to text that parses the same, and
//! `parse_decimal` agrees with `rust_decimal`'s parser to the scale.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upline::{Currencies, Rate, Rounding, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let currencies = Currencies::default();
    for code in ["USD", "JPY", "KWD"] {
        let currency = currencies.get(code, "currency").expect("built in");
        if let Ok(amount) = currency.parse_amount(text, "amount") {
            assert_eq!(amount.scale(), u32::from(currency.minor_units()));
            assert_eq!(
                currency
                    .parse_amount(&amount.to_string(), "amount")
                    .unwrap(),
                amount
            );
            for rounding in [Rounding::HalfEven, Rounding::HalfUp, Rounding::Down] {
                if let Ok(rounded) =
                    currency.round(amount * rust_decimal::Decimal::new(15, 2), rounding, "x")
                {
                    assert_eq!(rounded.scale(), u32::from(currency.minor_units()));
                }
            }
        }
    }
    if let Ok(rate) = Rate::parse(text, "rate") {
        assert!(
            rate.value() >= rust_decimal::Decimal::ZERO
                && rate.value() <= rust_decimal::Decimal::ONE
        );
        assert_eq!(Rate::parse(&rate.to_string(), "rate").unwrap(), rate);
    }
    // `parse_decimal` (a 64-bit fast path for short plain decimals) gives
    // what `rust_decimal` parses, scale included.
    if let Ok(value) =
        upline::money::parse_decimal(text, "amount", upline::ErrorKind::InvalidAmount)
    {
        let full: rust_decimal::Decimal = text.parse().expect("a plain decimal parses");
        assert_eq!(value.to_string(), full.to_string());
    }
    let _ = currencies.get(text, "currency");
    if let Ok(at) = Timestamp::parse(text, "at") {
        assert_eq!(Timestamp::parse(&at.to_string(), "at").unwrap(), at);
    }
});
