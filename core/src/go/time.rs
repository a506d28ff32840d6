//! Go's `time.Time` text: RFC 3339 as its JSON encoding writes it, and the strict RFC 3339 its JSON
//! decoding accepts.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Formats a time as Go's `time.Time` JSON encoding does: RFC 3339 with trailing fractional zeros trimmed.
///
/// `Z` stands for a zero UTC offset, any other offset is `±hh:mm`. Go's zero time prints as
/// `0001-01-01T00:00:00Z`.
pub fn rfc3339(t: &OffsetDateTime) -> String {
    let mut out = String::with_capacity(35);
    if t.year() < 0 {
        out.push('-');
    }
    push_padded(&mut out, t.year().unsigned_abs(), 4);
    out.push('-');
    push_padded(&mut out, u8::from(t.month()).into(), 2);
    out.push('-');
    push_padded(&mut out, t.day().into(), 2);
    out.push('T');
    push_padded(&mut out, t.hour().into(), 2);
    out.push(':');
    push_padded(&mut out, t.minute().into(), 2);
    out.push(':');
    push_padded(&mut out, t.second().into(), 2);
    let mut nanos = t.nanosecond();
    if nanos != 0 {
        // Nine digits with the trailing zeros left off.
        let mut digits = 9;
        while nanos % 10 == 0 {
            nanos /= 10;
            digits -= 1;
        }
        out.push('.');
        push_padded(&mut out, nanos, digits);
    }
    // Go prints the offset in whole minutes, truncated toward zero, and `Z` only for offset zero.
    let offset = t.offset().whole_seconds();
    if offset == 0 {
        out.push('Z');
    } else {
        let minutes = offset / 60;
        out.push(if minutes < 0 { '-' } else { '+' });
        let minutes = minutes.unsigned_abs();
        push_padded(&mut out, minutes / 60, 2);
        out.push(':');
        push_padded(&mut out, minutes % 60, 2);
    }
    out
}

/// `time.Time.UnmarshalJSON`'s strict RFC 3339: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)`, upper-case
/// `T` and `Z`, every field in range (no leap second, no hour 24), any number of fraction digits
/// of which the first nine count. A numeric offset is kept as written.
///
/// (Go does not unescape the JSON string first; no valid timestamp needs escapes, so parsing the
/// unescaped text only differs for inputs no writer produces.)
pub(crate) fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    let s = s.as_bytes();
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(i, c)| s.get(i) == Some(&c)) {
        return None;
    }
    let year = number(s, 0, 4)?;
    let month = Month::try_from(u8::try_from(number(s, 5, 2)?).ok()?).ok()?;
    let day = u8::try_from(number(s, 8, 2)?).ok()?;
    let hour = u8::try_from(number(s, 11, 2)?).ok()?;
    let minute = u8::try_from(number(s, 14, 2)?).ok()?;
    let second = u8::try_from(number(s, 17, 2)?).ok()?;
    // `Date` checks the day against the month (leap years included), `Time` hour < 24,
    // minute < 60 and second < 60.
    let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, day).ok()?;

    let mut rest = s.get(19..)?;
    let mut nanos = 0u32;
    if rest.first() == Some(&b'.') && rest.get(1).is_some_and(u8::is_ascii_digit) {
        let digits = rest
            .get(1..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        for i in 0..9 {
            let digit = if i < digits {
                rest.get(1 + i)? - b'0'
            } else {
                0
            };
            nanos = nanos * 10 + u32::from(digit);
        }
        rest = rest.get(1 + digits..)?;
    }
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;

    let offset = match rest {
        b"Z" => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = i8::try_from(number(rest, 1, 2)?).ok()?;
            let minutes = i8::try_from(number(rest, 4, 2)?).ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let (hours, minutes) = if *sign == b'-' {
                (-hours, -minutes)
            } else {
                (hours, minutes)
            };
            UtcOffset::from_hms(hours, minutes, 0).ok()?
        }
        _ => return None,
    };
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Appends `value` in decimal, with leading zeros up to `width` digits. Every audit line has a
/// time, so this avoids the formatting machinery.
fn push_padded(out: &mut String, value: u32, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(value);
    out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    out.push_str(digits);
}

/// The decimal number in `s[at..at + len]`, all ASCII digits.
fn number(s: &[u8], at: usize, len: usize) -> Option<u32> {
    let digits = s.get(at..at.checked_add(len)?)?;
    digits.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn rfc3339_like_go() {
        let cases = [
            (datetime!(0001-01-01 00:00 UTC), "0001-01-01T00:00:00Z"),
            (
                datetime!(2024-01-12 10:39:20.886816 UTC),
                "2024-01-12T10:39:20.886816Z",
            ),
            (
                datetime!(2024-01-12 10:39:20.100 UTC),
                "2024-01-12T10:39:20.1Z",
            ),
            (
                datetime!(2024-01-12 10:39:20.000000001 UTC),
                "2024-01-12T10:39:20.000000001Z",
            ),
            (
                datetime!(2024-01-12 11:39:20.886816 +01:00),
                "2024-01-12T11:39:20.886816+01:00",
            ),
            (
                datetime!(2009-11-10 18:30:00 -05:30),
                "2009-11-10T18:30:00-05:30",
            ),
            (
                datetime!(2009-11-10 23:00:00 +00:00),
                "2009-11-10T23:00:00Z",
            ),
            (
                datetime!(9999-12-31 23:59:59.999999999 +23:59),
                "9999-12-31T23:59:59.999999999+23:59",
            ),
        ];
        for (time, text) in cases {
            assert_eq!(rfc3339(&time), text);
            assert_eq!(parse_rfc3339(text), Some(time), "{text}");
        }
        // Go prints whole minutes of the offset, truncated toward zero.
        let odd =
            datetime!(2000-01-01 00:00 UTC).to_offset(UtcOffset::from_hms(0, 0, -30).unwrap());
        assert_eq!(rfc3339(&odd), "1999-12-31T23:59:30+00:00");
    }

    /// Random times and whole-minute offsets survive formatting and strict parsing, and the text
    /// has Go's shape: no trailing zeros in the fraction, `Z` only for a zero offset.
    #[test]
    fn rfc3339_roundtrips_random_times() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            // 0001-01-01 to 9999-12-31, in seconds from the Unix epoch.
            let seconds = (next() % 315_537_897_600) as i64 - 62_135_596_800;
            let nanos = match next() % 4 {
                0 => 0,
                1 => (next() % 1000) as u32 * 1_000_000,
                _ => (next() % 1_000_000_000) as u32,
            };
            let minutes = (next() % (2 * 1439 + 1)) as i32 - 1439;
            let offset = UtcOffset::from_whole_seconds(minutes * 60).unwrap();
            let utc = OffsetDateTime::from_unix_timestamp(seconds).unwrap()
                + time::Duration::nanoseconds(nanos.into());
            let Some(time) = utc.checked_to_offset(offset) else {
                continue;
            };
            let text = rfc3339(&time);
            assert_eq!(parse_rfc3339(&text), Some(time), "{text}");
            assert_eq!(text.ends_with('Z'), minutes == 0, "{text}");
            if let Some((_, fraction)) = text.split_once('.') {
                let digits = fraction.split(|c: char| !c.is_ascii_digit()).next();
                assert!(
                    digits.is_some_and(|d| !d.is_empty() && !d.ends_with('0')),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn strict_rfc3339_parsing() {
        let ok = [
            ("2009-11-10T23:00:00Z", datetime!(2009-11-10 23:00:00 UTC)),
            ("0000-01-01T00:00:00Z", datetime!(0000-01-01 00:00:00 UTC)),
            ("2024-02-29T00:00:00Z", datetime!(2024-02-29 00:00:00 UTC)),
            // More than nine fraction digits: the rest are ignored.
            (
                "2009-11-10T23:00:00.1234567891Z",
                datetime!(2009-11-10 23:00:00.123456789 UTC),
            ),
            (
                "2009-11-10T23:00:00-23:59",
                datetime!(2009-11-10 23:00:00 -23:59),
            ),
        ];
        for (text, time) in ok {
            let parsed = parse_rfc3339(text).unwrap();
            assert_eq!(parsed, time, "{text}");
            assert_eq!(parsed.offset(), time.offset(), "{text}");
        }
        let bad = [
            "",
            "2009-11-10T23:00:00",
            "2009-11-10t23:00:00Z",
            "2009-11-10T23:00:00z",
            "2009-11-10 23:00:00Z",
            "2009-11-10T24:00:00Z",
            "2009-11-10T23:60:00Z",
            "2009-11-10T23:00:60Z",
            "2023-02-29T00:00:00Z",
            "2009-00-10T23:00:00Z",
            "2009-11-00T23:00:00Z",
            "2009-11-10T23:00:00.Z",
            "2009-11-10T23:00:00,5Z",
            "2009-11-10T23:00:00+24:00",
            "2009-11-10T23:00:00+01:60",
            "2009-11-10T23:00:00+0100",
            "2009-11-10T23:00:00+01:00:00",
            "2009-11-10T23:00:00ZZ",
            "10000-11-10T23:00:00Z",
            "+009-11-10T23:00:00Z",
            "2009-11-10T3:00:00Z",
            "2009-11-10T23:00:00.5",
            "２009-11-10T23:00:00Z",
        ];
        for text in bad {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }
}
