//! Money: an exact decimal amount in an ISO 4217 currency.
//!
//! Amounts are `rust_decimal::Decimal`, never `f64`. The number of minor units of a
//! currency (JPY 0, USD 2, KWD 3) comes from the ISO 4217 table of the `iso_currency`
//! crate. An amount with more decimals than its currency allows is an error, never
//! rounded: rounding would silently change what the payer paid.

use std::fmt;

use rust_decimal::Decimal;

/// Largest accepted amount in major units (exclusive): 10^15, a quadrillion. Far above
/// any real payment and far below `Decimal`'s limits, so sums of millions of amounts
/// cannot overflow.
const MAX_MAJOR_EXCLUSIVE: i64 = 1_000_000_000_000_000;

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not an ISO 4217 code, or a code without minor units (gold, test codes).
    #[error("{0:?} is not an ISO 4217 currency code with minor units")]
    UnknownCurrency(String),
    /// The amount is not a finite decimal number.
    #[error("{0:?} is not a decimal number")]
    NotANumber(String),
    /// Negative amounts are not payments; refunds carry `status: refunded`.
    #[error("{0} is negative; refunds are positive amounts with status refunded")]
    Negative(Decimal),
    /// The amount is implausibly large.
    #[error("{0} is too large (limit 10^15 major units)")]
    TooLarge(String),
    /// More decimals than the currency has minor units.
    #[error("{amount} has {scale} decimals but {currency} allows {allowed}")]
    TooPrecise {
        /// The amount as received.
        amount: String,
        /// Its number of significant decimals.
        scale: u32,
        /// The currency's ISO 4217 code.
        currency: &'static str,
        /// The currency's minor units.
        allowed: u32,
    },
}

/// A decimal number read exactly from text: `digits × 10^exponent`, with no leading or
/// trailing zeros in `digits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalText {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl DecimalText {
    /// Decimals the number really has (`10.50` has 1, `1.5e2` has 0).
    pub fn scale(&self) -> u32 {
        u32::try_from((-self.exponent).max(0)).unwrap_or(u32::MAX)
    }
}

/// Reads a decimal number strictly, plain (`12.34`) or scientific (`1.234e1`): an
/// optional `-`, digits, an optional fraction, an optional exponent; nothing else (no
/// `+`, `_`, spaces inside, `NaN`). Nothing is rounded: the digits are kept as written.
///
/// # Errors
/// [`MoneyError::NotANumber`] for anything else.
pub fn parse_decimal(text: &str) -> Result<DecimalText, MoneyError> {
    let bad = || MoneyError::NotANumber(text.to_owned());
    let trimmed = text.trim();
    let (negative, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => {
            let exp = &rest[i + 1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            (&rest[..i], exp.parse::<i64>().map_err(|_| bad())?)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty()
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || (mantissa.contains('.') && frac_part.is_empty())
    {
        return Err(bad());
    }
    let mut digits = format!("{int_part}{frac_part}");
    let mut exponent = exponent - frac_part.len() as i64;
    let trailing = digits.len() - digits.trim_end_matches('0').len();
    digits.truncate(digits.len() - trailing);
    exponent += trailing as i64;
    let digits = digits.trim_start_matches('0').to_owned();
    if digits.is_empty() {
        return Ok(DecimalText {
            negative: false,
            digits,
            exponent: 0,
        });
    }
    Ok(DecimalText {
        negative,
        digits,
        exponent,
    })
}

/// An ISO 4217 currency that has minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    iso: iso_currency::Currency,
    minor_units: u32,
}

impl Currency {
    /// Parses an ISO 4217 alphabetic code in any letter case (`usd`, `USD`).
    ///
    /// # Errors
    /// [`MoneyError::UnknownCurrency`] for anything that is not a code with minor units.
    ///
    /// # Example
    /// ```
    /// use paymetrics::domain::Currency;
    /// assert_eq!(Currency::parse("jpy").unwrap().minor_units(), 0);
    /// assert_eq!(Currency::parse("KWD").unwrap().minor_units(), 3);
    /// assert!(Currency::parse("ABC").is_err());
    /// ```
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let unknown = || MoneyError::UnknownCurrency(code.to_owned());
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(unknown());
        }
        let iso =
            iso_currency::Currency::from_code(&code.to_ascii_uppercase()).ok_or_else(unknown)?;
        let minor_units = iso.exponent().ok_or_else(unknown)?;
        Ok(Self {
            iso,
            minor_units: u32::from(minor_units),
        })
    }

    /// The upper-case ISO 4217 code.
    pub fn code(&self) -> &'static str {
        self.iso.code()
    }

    /// Number of decimals of the currency's minor unit (USD 2, JPY 0, KWD 3).
    pub fn minor_units(&self) -> u32 {
        self.minor_units
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A non-negative amount in a currency, held at exactly the currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount in major units (`12.34` USD).
    ///
    /// # Errors
    /// [`MoneyError::Negative`], [`MoneyError::TooLarge`], or [`MoneyError::TooPrecise`]
    /// when the amount has more significant decimals than the currency allows
    /// (`10.50` USD is fine, `10.505` USD is not).
    pub fn from_major(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative(amount));
        }
        if amount >= Decimal::from(MAX_MAJOR_EXCLUSIVE) {
            return Err(MoneyError::TooLarge(amount.to_string()));
        }
        let scale = amount.normalize().scale();
        if scale > currency.minor_units {
            return Err(MoneyError::TooPrecise {
                amount: amount.to_string(),
                scale,
                currency: currency.code(),
                allowed: currency.minor_units,
            });
        }
        let mut amount = amount.abs();
        amount.rescale(currency.minor_units);
        Ok(Self { amount, currency })
    }

    /// Parses a decimal string in major units, plain or in scientific notation, exactly:
    /// more decimals than the currency has is [`MoneyError::TooPrecise`] however many
    /// there are, never a rounding.
    ///
    /// # Errors
    /// [`MoneyError::NotANumber`] and everything [`Money::from_major`] refuses.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let parsed = parse_decimal(text)?;
        if parsed.scale() > currency.minor_units {
            return Err(MoneyError::TooPrecise {
                amount: text.trim().to_owned(),
                scale: parsed.scale(),
                currency: currency.code(),
                allowed: currency.minor_units,
            });
        }
        // An integer count of minor units now; its size bounds the amount.
        let shift = parsed.exponent + i64::from(currency.minor_units);
        if parsed.digits.len() as i64 + shift > 20 {
            return Err(MoneyError::TooLarge(text.trim().to_owned()));
        }
        let mut minor: i128 = if parsed.digits.is_empty() {
            0
        } else {
            parsed
                .digits
                .parse()
                .map_err(|_| MoneyError::NotANumber(text.to_owned()))?
        };
        for _ in 0..shift {
            minor *= 10;
        }
        if parsed.negative {
            minor = -minor;
        }
        Self::from_major(
            Decimal::from_i128_with_scale(minor, currency.minor_units),
            currency,
        )
    }

    /// An amount in integer minor units (`1234` USD cents is `12.34` USD).
    ///
    /// # Errors
    /// [`MoneyError::Negative`] and [`MoneyError::TooLarge`].
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        Self::from_major(Decimal::new(minor, currency.minor_units), currency)
    }

    /// The amount in major units, with exactly the currency's number of decimals.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The amount in integer minor units.
    pub fn minor(&self) -> i128 {
        self.amount.mantissa()
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn minor_units_come_from_iso_4217() {
        assert_eq!(Currency::parse("USD").unwrap().minor_units(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().minor_units(), 3);
        assert_eq!(Currency::parse("eur").unwrap().code(), "EUR");
    }

    #[test]
    fn codes_without_minor_units_or_unknown_are_refused() {
        for code in ["XAU", "XXX", "ABC", "US", "USDD", "", "U$D"] {
            assert!(Currency::parse(code).is_err(), "{code} accepted");
        }
    }

    #[test]
    fn zero_in_any_spelling_is_zero_and_never_negative() {
        for text in ["0", "-0", "0.00", "-0.000", "000", "0e5", "0.0e-3"] {
            let money = Money::parse_major(text, usd()).unwrap();
            assert_eq!(money.minor(), 0, "{text}");
            assert_eq!(money.amount().to_string(), "0.00", "{text}");
            assert!(!money.amount().is_sign_negative(), "{text}");
        }
    }

    #[test]
    fn money_and_currencies_display_as_amount_and_code() {
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(jpy.to_string(), "JPY");
        assert_eq!(
            Money::from_minor(1234, usd()).unwrap().to_string(),
            "12.34 USD"
        );
        assert_eq!(Money::from_minor(500, jpy).unwrap().to_string(), "500 JPY");
    }

    #[test]
    fn trailing_zeros_are_not_extra_precision() {
        let m = Money::parse_major("10.500", usd()).unwrap();
        assert_eq!(m.amount().to_string(), "10.50");
        let yen = Money::parse_major("100.0", Currency::parse("JPY").unwrap()).unwrap();
        assert_eq!(yen.amount().to_string(), "100");
    }

    #[test]
    fn an_amount_more_precise_than_its_currency_is_refused_not_rounded() {
        assert!(matches!(
            Money::parse_major("10.505", usd()),
            Err(MoneyError::TooPrecise {
                scale: 3,
                allowed: 2,
                ..
            })
        ));
        assert!(Money::parse_major("1.5", Currency::parse("JPY").unwrap()).is_err());
        assert!(Money::parse_major("1.234", Currency::parse("KWD").unwrap()).is_ok());
    }

    #[test]
    fn precision_beyond_decimal_limits_is_refused_not_rounded() {
        for text in [
            "0.99999999999999999999999999999",
            "10.00000000000000000000000000001",
            "42.100000000000000000000000000000001",
            "1e-40",
        ] {
            assert!(
                matches!(
                    Money::parse_major(text, usd()),
                    Err(MoneyError::TooPrecise { .. })
                ),
                "{text}"
            );
        }
        assert_eq!(
            Money::parse_major("10.000000000000000000000000000000", usd())
                .unwrap()
                .amount()
                .to_string(),
            "10.00"
        );
        assert!(matches!(
            Money::parse_major("1e40", usd()),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn garbage_negative_and_huge_amounts_are_refused() {
        for bad in [
            "", "abc", "1,5", "NaN", "+5", "--1", "1e", "1_000.01", "1.", ".5", "1 000", "0x10",
            "1e+",
        ] {
            assert!(
                matches!(
                    Money::parse_major(bad, usd()),
                    Err(MoneyError::NotANumber(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Money::parse_major("-1", usd()),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            Money::parse_major("1000000000000000", usd()),
            Err(MoneyError::TooLarge(_))
        ));
        assert_eq!(
            Money::parse_major("1.5e2", usd())
                .unwrap()
                .amount()
                .to_string(),
            "150.00"
        );
    }

    proptest! {
        #[test]
        fn minor_units_round_trip_through_major_text(minor in 0i64..1_000_000_000_000_000, exp in 0u32..=3) {
            let code = ["JPY", "USD", "USD", "KWD"][exp as usize];
            let currency = Currency::parse(code).unwrap();
            let exp = currency.minor_units();
            prop_assume!(Decimal::new(minor, exp) < Decimal::from(MAX_MAJOR_EXCLUSIVE));
            let money = Money::from_minor(minor, currency).unwrap();
            prop_assert_eq!(money.minor(), i128::from(minor));
            prop_assert_eq!(money.amount().scale(), exp);
            let reparsed = Money::parse_major(&money.amount().to_string(), currency).unwrap();
            prop_assert_eq!(reparsed, money);
        }

        #[test]
        fn decimal_text_is_accepted_exactly_when_its_decimals_fit(
            int in "[0-9]{1,12}",
            frac in "[0-9]{0,40}",
            junk in proptest::option::of("[_+,a-df-z]"),
        ) {
            let text = match (&junk, frac.is_empty()) {
                (Some(j), _) => format!("{int}{j}{frac}"),
                (None, true) => int.clone(),
                (None, false) => format!("{int}.{frac}"),
            };
            let result = Money::parse_major(&text, usd());
            if junk.is_some() {
                prop_assert!(result.is_err());
            } else {
                let significant = frac.trim_end_matches('0').len();
                let large = int.trim_start_matches('0').len() > 15;
                match result {
                    Ok(money) => {
                        prop_assert!(significant <= 2 && !large);
                        let expected = format!("{}.{:0<2}", int.trim_start_matches('0').parse::<u128>().unwrap_or(0), &frac.trim_end_matches('0'));
                        prop_assert_eq!(money.amount().to_string(), expected);
                    }
                    Err(MoneyError::TooPrecise { .. }) => prop_assert!(significant > 2),
                    Err(MoneyError::TooLarge(_)) => prop_assert!(large),
                    Err(other) => prop_assert!(false, "{other}"),
                }
            }
        }

        #[test]
        fn precision_is_accepted_exactly_up_to_the_minor_units(mantissa in 1i64..1_000_000_000, scale in 0u32..6) {
            let amount = Decimal::new(mantissa, scale);
            let usd = usd();
            let significant = amount.normalize().scale();
            let result = Money::from_major(amount, usd);
            prop_assert_eq!(result.is_ok(), significant <= 2);
            if let Ok(m) = result {
                prop_assert_eq!(m.amount(), amount);
            }
        }
    }
}
