//! Go's `time.ParseDuration` syntax, which KES config files use for every duration.
//!
//! Written here rather than taken from crates.io: the one port there (`go-parse-duration` 0.1.1) has had
//! a single release, and the grammar is small enough to check exhaustively in the tests below.
//!
//! The grammar is an optional sign, then either `0` or one or more `<number><unit>` terms, where a number
//! is `123`, `1.5`, `.5` or `1.`, and a unit is `ns`, `us` (also `µs`, `μs`), `ms`, `s`, `m` or `h`.
//! Like Go, the total must fit in an `i64` of nanoseconds (about 292 years).

use std::time::Duration;

/// Why a duration was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DurationError {
    /// Not Go duration syntax, or out of range.
    Invalid,
    /// A valid but negative duration, which no kesrs setting accepts.
    Negative,
}

/// A duration [`parse_duration`](super::parse_duration) refused: not Go duration syntax, out of
/// range, or negative.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration '{0}'")]
pub struct InvalidDuration(pub(super) String);

/// Parses a Go duration string into a non-negative [`Duration`].
pub(super) fn parse(s: &str) -> Result<Duration, DurationError> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    // A lone zero is the only number that needs no unit.
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(DurationError::Invalid);
    }

    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after_whole) = split_digits(rest);
        let (fraction, after_number) = match after_whole.strip_prefix('.') {
            Some(after_dot) => split_digits(after_dot),
            None => ("", after_whole),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(DurationError::Invalid);
        }
        let unit_len = after_number
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number
            .split_at_checked(unit_len)
            .ok_or(DurationError::Invalid)?;
        let unit = unit_nanos(unit).ok_or(DurationError::Invalid)?;

        total = total
            .checked_add(term_nanos(whole, fraction, unit)?)
            .filter(|&total| total <= MAX_NANOS)
            .ok_or(DurationError::Invalid)?;
        rest = after_unit;
    }

    if negative && total > 0 {
        return Err(DurationError::Negative);
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| DurationError::Invalid)?;
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| DurationError::Invalid)?;
    Ok(Duration::new(secs, nanos))
}

/// Go's limit: `math.MaxInt64` nanoseconds. (Go accepts one more for a negative duration, which kesrs
/// rejects anyway.)
const MAX_NANOS: u128 = i64::MAX as u128;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Go stops reading fraction digits once more would overflow; 18 digits always fit.
const MAX_FRACTION_DIGITS: usize = 18;

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        // Go accepts the micro sign (U+00B5) and the Greek small letter mu (U+03BC).
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        _ => return None,
    })
}

/// The nanoseconds of one `<whole>.<fraction><unit>` term; fractional nanoseconds are truncated.
fn term_nanos(whole: &str, fraction: &str, unit: u128) -> Result<u128, DurationError> {
    let whole = if whole.is_empty() {
        0
    } else {
        whole.parse::<u128>().map_err(|_| DurationError::Invalid)?
    };
    let mut nanos = whole
        .checked_mul(unit)
        .filter(|&nanos| nanos <= MAX_NANOS)
        .ok_or(DurationError::Invalid)?;

    let digits = fraction.get(..MAX_FRACTION_DIGITS).unwrap_or(fraction);
    if !digits.is_empty() {
        let numerator = digits.parse::<u128>().map_err(|_| DurationError::Invalid)?;
        let exponent = u32::try_from(digits.len()).map_err(|_| DurationError::Invalid)?;
        // numerator < 10^18 and unit <= 3.6 * 10^12, so the product fits easily in a u128.
        nanos += numerator * unit / 10u128.pow(exponent);
    }
    Ok(nanos)
}

/// Splits `s` after its leading ASCII digits.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at_checked(end).unwrap_or((s, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse(s).unwrap_or_else(|err| panic!("{s}: {err:?}"))
    }

    #[test]
    fn go_syntax_table() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("+0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("-0s", Duration::ZERO),
            ("5s", Duration::from_secs(5)),
            ("30s", Duration::from_secs(30)),
            ("+5s", Duration::from_secs(5)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1h2m3s", Duration::from_secs(3723)),
            ("3s2m1h", Duration::from_secs(3723)),
            ("1m1m", Duration::from_secs(120)),
            ("300ms", Duration::from_millis(300)),
            ("10us", Duration::from_micros(10)),
            ("10\u{b5}s", Duration::from_micros(10)),
            ("10\u{3bc}s", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("1.5h", Duration::from_secs(5400)),
            ("1.s", Duration::from_secs(1)),
            (".5s", Duration::from_millis(500)),
            ("0.5m", Duration::from_secs(30)),
            ("1.000000001s", Duration::new(1, 1)),
            ("1.0000000019s", Duration::new(1, 1)),
            ("0.1ns", Duration::ZERO),
            ("2h45m30.5s", Duration::new(9930, 500_000_000)),
            ("00005s", Duration::from_secs(5)),
            // Exact arithmetic truncates; Go's float arithmetic may round such inputs by 1ns.
            (
                "0.3333333333333333333333333333h",
                Duration::new(1199, 999_999_999),
            ),
            (
                "9223372036854775807ns",
                Duration::new(9_223_372_036, 854_775_807),
            ),
            ("2562047h", Duration::from_secs(2_562_047 * 3600)),
        ];
        for (input, expected) in cases {
            assert_eq!(ok(input), *expected, "{input}");
        }
    }

    #[test]
    fn invalid_syntax() {
        let cases = [
            "",
            "+",
            "-",
            "s",
            "5",
            "300",
            "1.5",
            "5 m",
            " 5m",
            "5m ",
            "5 minutes",
            "5M",
            "5mins",
            "1d",
            ".s",
            "..5s",
            "1..5s",
            "5m-",
            "5s5",
            "-5-s",
            "--5s",
            "+-5s",
            "1e3s",
            "0x10s",
            "5\u{b5}",
            "\u{2212}5s",
            "٣s",
            "5ss",
            "5sm",
        ];
        for input in cases {
            assert_eq!(parse(input), Err(DurationError::Invalid), "{input:?}");
        }
    }

    #[test]
    fn overflow_is_invalid() {
        let cases = [
            "9223372036854775808ns",
            "2562048h",
            "2562047h48m",
            "99999999999999999999999999999999999999999h",
            "1000000000000000000000000000000000000000000ns",
        ];
        for input in cases {
            assert_eq!(parse(input), Err(DurationError::Invalid), "{input}");
        }
    }

    /// The public parser, as the command line's duration flags use it.
    #[test]
    fn public_parser() {
        use crate::config::parse_duration;

        assert_eq!(
            parse_duration("720h").unwrap(),
            Duration::from_secs(720 * 3600)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for input in ["", "10", "3d", "-1s"] {
            let err = parse_duration(input).unwrap_err();
            assert_eq!(err.to_string(), format!("invalid duration '{input}'"));
        }
    }

    #[test]
    fn negative_is_rejected() {
        for input in ["-1ns", "-5m", "-1h2m", "-.5s"] {
            assert_eq!(parse(input), Err(DurationError::Negative), "{input}");
        }
    }
}
