//! Protocol timestamps: `YYYY-MM-DDThh:mm:ssZ` in UTC.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A timestamp that does not follow the protocol's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timestamp is not YYYY-MM-DDThh:mm:ssZ")]
pub struct TimestampFormatError;

/// Parses `YYYY-MM-DDThh:mm:ssZ`, also accepting fractional seconds (`.749Z`, sent by
/// `@alicloud/sts-sdk`) and a `+00:00` suffix. Returns Unix seconds (fractions dropped).
pub fn parse(s: &str) -> Result<i64, TimestampFormatError> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(TimestampFormatError);
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, TimestampFormatError> {
        let part = &b[r];
        if part.iter().all(u8::is_ascii_digit) {
            Ok(part.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
        } else {
            Err(TimestampFormatError)
        }
    };
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return Err(TimestampFormatError);
        }
        rest = &frac[digits..];
    }
    if rest != b"Z" && rest != b"+00:00" {
        return Err(TimestampFormatError);
    }
    let year = i32::try_from(num(0..4)?).map_err(|_| TimestampFormatError)?;
    let month = Month::try_from(u8::try_from(num(5..7)?).map_err(|_| TimestampFormatError)?)
        .map_err(|_| TimestampFormatError)?;
    let day = u8::try_from(num(8..10)?).map_err(|_| TimestampFormatError)?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| TimestampFormatError)?;
    let [h, m, sec] =
        [num(11..13)?, num(14..16)?, num(17..19)?].map(|v| u8::try_from(v).unwrap_or(u8::MAX));
    let t = Time::from_hms(h, m, sec).map_err(|_| TimestampFormatError)?;
    Ok(PrimitiveDateTime::new(date, t)
        .assume_offset(UtcOffset::UTC)
        .unix_timestamp())
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (second precision, as `credentials-go` and the
/// Python providers require for `Expiration`).
pub fn format(unix_secs: i64) -> String {
    String::from_utf8_lossy(&format_bytes(unix_secs)).into_owned()
}

/// The length of a formatted timestamp, `YYYY-MM-DDTHH:MM:SSZ`.
pub const LEN: usize = 20;

/// [`format`] into a fixed buffer (ASCII): responses carry one, so formatting allocates nothing.
/// Years outside 0–9999 are clamped to them.
pub fn format_bytes(unix_secs: i64) -> [u8; LEN] {
    let t = OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, value: u32, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, t.year().clamp(0, 9999) as u32, 4);
    put(5, u32::from(u8::from(t.month())), 2);
    put(8, u32::from(t.day()), 2);
    put(11, u32::from(t.hour()), 2);
    put(14, u32::from(t.minute()), 2);
    put(17, u32::from(t.second()), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_as_the_gateway_does() {
        assert_eq!(format(1_439_867_745), "2015-08-18T03:15:45Z");
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(253_402_300_799), "9999-12-31T23:59:59Z");
        for secs in [1_700_000_000, 951_782_400, 4_102_444_799] {
            assert_eq!(parse(&format(secs)), Ok(secs), "{secs}");
        }
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(parse("2015-08-18T03:15:45Z"), Ok(1_439_867_745));
        assert_eq!(parse("2015-08-18T03:15:45.749Z"), Ok(1_439_867_745));
        assert_eq!(parse("2015-08-18T03:15:45+00:00"), Ok(1_439_867_745));
    }

    #[test]
    fn rejected_forms() {
        for s in [
            "",
            "2015-08-18",
            "2015-08-18 03:15:45Z",
            "2015-08-18T03:15:45",
            "2015-13-18T03:15:45Z",
            "2015-02-30T03:15:45Z",
            "2015-08-18T25:15:45Z",
            "2015-08-18T03:15:45.Z",
            "2015-08-18T03:15:45+08:00",
            "+015-08-18T03:15:45Z",
            "2015-08-18T03:15:45ZZ",
            "２015-08-18T03:15:45Z",
        ] {
            assert_eq!(parse(s), Err(TimestampFormatError), "{s}");
        }
    }

    #[test]
    fn formats_second_precision() {
        assert_eq!(format(1_439_867_745), "2015-08-18T03:15:45Z");
    }

    proptest! {
        #[test]
        fn round_trip(secs in 0i64..253_402_300_799) {
            prop_assert_eq!(parse(&format(secs)), Ok(secs));
        }
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }
    }
}
