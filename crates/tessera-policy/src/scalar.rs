//! The typed values that conditions compare: dates, numbers, IP networks and booleans, each
//! parsed strictly from text, without allocating (policies parse them once at compile time,
//! request values that arrive as strings are parsed on use).
//!
//! `tessera_protocol::timestamp` parses the wire's `YYYY-MM-DDThh:mm:ssZ`; policy dates are a
//! wider language (any offset, bare dates, fractions kept for comparison, epoch seconds), so
//! they have their own parser here rather than a dependency on the protocol crate.

use std::cmp::Ordering;
use std::net::IpAddr;

/// A point in time: seconds since the Unix epoch and a fraction, ordered as time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant {
    pub(crate) secs: i64,
    pub(crate) nanos: u32,
}

impl Instant {
    /// A whole second.
    pub(crate) fn from_secs(secs: i64) -> Instant {
        Instant { secs, nanos: 0 }
    }
}

/// Parses a date: ISO 8601 `YYYY-MM-DD`, or `YYYY-MM-DDThh:mm[:ss[.fraction]]` followed by `Z`
/// or an offset (`+08:00`, `-0530`, `+08`), or whole epoch seconds (`1700000000`).
///
/// A date and time without a zone is refused rather than guessed: `2024-01-01T00:00:00` means a
/// different instant in every time zone.
pub(crate) fn parse_date(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    if b.first() == Some(&b'-') || b.len() < 10 || b[4] != b'-' {
        // Not `YYYY-`: epoch seconds or nothing.
        return parse_epoch(b);
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if b[7] != b'-' || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some(Instant::from_secs(days * 86_400));
    }
    if !matches!(b[10], b'T' | b't') {
        return None;
    }
    // hh:mm
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    if b.get(13) != Some(&b':') || hour > 23 || minute > 59 {
        return None;
    }
    let mut pos = 16;
    let mut second = 0;
    let mut nanos = 0u32;
    if b.get(pos) == Some(&b':') {
        second = digits(b, pos + 1, 2)?;
        if second > 59 {
            return None;
        }
        pos += 3;
        if b.get(pos) == Some(&b'.') {
            pos += 1;
            let n = b[pos..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            let frac = digits(b, pos, n)?;
            // Scale to nanoseconds: "5" is 500_000_000.
            nanos = u32::try_from(frac * 10i64.pow(9 - n as u32)).ok()?;
            pos += n;
        }
    }
    let offset = parse_offset(&b[pos..])?;
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    Some(Instant { secs, nanos })
}

/// A zone designator: `Z`, `±hh:mm`, `±hhmm` or `±hh`; returns the offset in seconds.
fn parse_offset(b: &[u8]) -> Option<i64> {
    let sign = match b.first()? {
        b'Z' | b'z' if b.len() == 1 => return Some(0),
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits(b, 1, 2)?;
    let minutes = match b.len() {
        3 => 0,
        5 => digits(b, 3, 2)?,
        6 if b[3] == b':' => digits(b, 4, 2)?,
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600 + minutes * 60))
}

/// Whole epoch seconds, optionally negative.
fn parse_epoch(b: &[u8]) -> Option<Instant> {
    let (negative, d) = match b.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, b),
    };
    if d.is_empty() || d.len() > 18 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits(d, 0, d.len())?;
    Some(Instant::from_secs(if negative { -v } else { v }))
}

/// The decimal number in `b[start..start + len]`, all digits, at most 18 of them.
fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let part = b.get(start..start + len)?;
    if part.is_empty() || part.len() > 18 || !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        part.iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')),
    )
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats epoch seconds as `YYYY-MM-DDThh:mm:ssZ`, the form `acs:CurrentTime` has when a
/// string operator looks at it.
pub(crate) fn format_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (h, min, sec) = (rem / 3_600, rem / 60 % 60, rem % 60);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}Z");
    }
    // Every authorized request sets `acs:CurrentTime`, so the common case skips the formatting
    // machinery and writes the digits itself.
    let mut out = *b"0000-00-00T00:00:00Z";
    for (at, width, value) in [
        (0, 4, y),
        (5, 2, m),
        (8, 2, d),
        (11, 2, h),
        (14, 2, min),
        (17, 2, sec),
    ] {
        let mut v = value;
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// A number as conditions compare them: integers exactly, anything else as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// Parses `-?digits(.digits)?`. Exponents, `inf`, `NaN`, `+1`, `.5` and `1.` are refused:
    /// a policy is clearer without them, and `f64`'s own parser would take all of them.
    pub(crate) fn parse(text: &str) -> Option<Number> {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (int, frac) = match unsigned.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (unsigned, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return None;
        }
        if frac.is_none() {
            if let Ok(i) = text.parse::<i64>() {
                return Some(Number::Int(i));
            }
        }
        let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
        Some(Number::Float(f))
    }

    /// Compares two numbers; `None` never happens for parsed numbers (no NaN).
    pub(crate) fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// Parses a boolean condition value: `true` or `false`, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An IP network: a single address is a network of one (`/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { net: u32, mask: u32 },
    V6 { net: u128, mask: u128 },
}

impl Cidr {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`. Host bits below the prefix
    /// are ignored (`10.1.2.3/8` means `10.0.0.0/8`), as AWS does.
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                (a, Some(p.parse::<u32>().ok()?))
            }
            None => (text, None),
        };
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let bits = prefix.unwrap_or(32);
                if bits > 32 {
                    return None;
                }
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                Some(Cidr::V4 {
                    net: u32::from(a) & mask,
                    mask,
                })
            }
            IpAddr::V6(a) => {
                let bits = prefix.unwrap_or(128);
                if bits > 128 {
                    return None;
                }
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                Some(Cidr::V6 {
                    net: u128::from(a) & mask,
                    mask,
                })
            }
        }
    }

    /// Is `ip` in this network? An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
    /// dual-stack socket reports for an IPv4 client) counts as the IPv4 address it carries.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self, ip) {
            (Cidr::V4 { net, mask }, IpAddr::V4(a)) => u32::from(a) & mask == *net,
            (Cidr::V6 { net, mask }, IpAddr::V6(a)) => u128::from(a) & mask == *net,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> Option<(i64, u32)> {
        parse_date(s).map(|i| (i.secs, i.nanos))
    }

    #[test]
    fn dates() {
        let t = 1_352_678_399; // 2012-11-11T23:59:59Z
        let cases: &[(&str, Option<(i64, u32)>)] = &[
            ("2012-11-11T23:59:59Z", Some((t, 0))),
            ("2012-11-11t23:59:59z", Some((t, 0))),
            ("2012-11-12T07:59:59+08:00", Some((t, 0))),
            ("2012-11-12T07:59:59+0800", Some((t, 0))),
            ("2012-11-12T07:59:59+08", Some((t, 0))),
            ("2012-11-11T18:29:59-05:30", Some((t, 0))),
            ("2012-11-11T23:59:59.5Z", Some((t, 500_000_000))),
            ("2012-11-11T23:59:59.123456789Z", Some((t, 123_456_789))),
            ("2012-11-11T23:59Z", Some((t - 59, 0))),
            ("2012-11-11", Some((t - 86_399, 0))),
            ("1352678399", Some((t, 0))),
            ("0", Some((0, 0))),
            ("-86400", Some((-86_400, 0))),
            ("1969-12-31T00:00:00Z", Some((-86_400, 0))),
            ("2000-02-29T00:00:00Z", Some((951_782_400, 0))),
            // Refused.
            ("2012-11-11T23:59:59", None),
            ("2012-11-11T23:59:59.Z", None),
            ("2012-11-11T23:59:59.1234567890Z", None),
            ("2012-13-11T00:00:00Z", None),
            ("2012-00-11T00:00:00Z", None),
            ("2013-02-29T00:00:00Z", None),
            ("1900-02-29", None),
            ("2012-11-31", None),
            ("2012-11-11T24:00:00Z", None),
            ("2012-11-11T23:60:00Z", None),
            ("2012-11-11T23:59:60Z", None),
            ("2012-11-11T23:59:59+24:00", None),
            ("2012-11-11T23:59:59+08:00x", None),
            ("2012-11-11 23:59:59Z", None),
            ("2012/11/11", None),
            ("", None),
            ("-", None),
            ("1e9", None),
            ("+5", None),
            ("１２", None),
            ("2012-11-1é", None),
        ];
        for &(s, want) in cases {
            assert_eq!(date(s), want, "{s:?}");
        }
    }

    #[test]
    fn date_formatting() {
        assert_eq!(format_date(1_352_678_399), "2012-11-11T23:59:59Z");
        assert_eq!(format_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_date(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_date(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(format_date(253_402_300_800), "10000-01-01T00:00:00Z");
        assert_eq!(format_date(-62_167_219_201), "-001-12-31T23:59:59Z");
    }

    #[test]
    fn numbers() {
        assert_eq!(Number::parse("42"), Some(Number::Int(42)));
        assert_eq!(Number::parse("-7"), Some(Number::Int(-7)));
        assert_eq!(Number::parse("1.5"), Some(Number::Float(1.5)));
        assert_eq!(
            Number::parse("99999999999999999999"),
            Some(Number::Float(1e20))
        );
        for bad in [
            "", "-", "1.", ".5", "+1", "1e3", "inf", "NaN", "0x10", " 1", "1 ",
        ] {
            assert_eq!(Number::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Number::parse(&"9".repeat(400)), None);
        let n = |s| Number::parse(s).unwrap();
        assert_eq!(n("10").compare(n("9")), Some(Ordering::Greater));
        assert_eq!(n("10").compare(n("10.0")), Some(Ordering::Equal));
        assert_eq!(n("-0.5").compare(n("0")), Some(Ordering::Less));
        // Large integers compare exactly, not through f64.
        assert_eq!(
            n("9007199254740993").compare(n("9007199254740992")),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("FALSE"), Some(false));
        assert_eq!(parse_bool("1"), None);
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let c = |s: &str| Cidr::parse(s).unwrap();
        assert!(c("192.168.0.0/16").contains(ip("192.168.200.1")));
        assert!(!c("192.168.0.0/16").contains(ip("192.169.0.1")));
        assert!(c("10.1.2.3/8").contains(ip("10.200.0.0")));
        assert!(c("203.0.113.7").contains(ip("203.0.113.7")));
        assert!(!c("203.0.113.7").contains(ip("203.0.113.8")));
        assert!(c("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!c("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(c("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!c("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(c("::/0").contains(ip("::1")));
        assert!(c("2001:db8::1").contains(ip("2001:db8::1")));
        assert!(c("192.168.0.0/16").contains(ip("::ffff:192.168.1.1")));
        for bad in [
            "",
            "/",
            "1.2.3.4/",
            "1.2.3.4/33",
            "::/129",
            "1.2.3",
            "1.2.3.4/+8",
            "1.2.3.4/ 8",
            "host",
            "1.2.3.4/8/8",
            "01.2.3.4",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn dates_agree_with_the_time_crate(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000, offset_min in -1439i32..1439) {
            use time::format_description::well_known::Rfc3339;
            let offset = time::UtcOffset::from_whole_seconds(offset_min * 60).unwrap();
            let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap()
                .replace_nanosecond(nanos).unwrap()
                .to_offset(offset);
            // The time crate writes whatever is representable; only 4-digit years are ISO dates.
            prop_assume!((0..=9999).contains(&t.year()));
            let text = t.format(&Rfc3339).unwrap();
            prop_assert_eq!(date(&text), Some((secs, nanos)), "{}", text);
            prop_assert_eq!(date(&format_date(secs)), Some((secs, 0)));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_date(&s);
            let _ = Number::parse(&s);
            let _ = Cidr::parse(&s);
        }
    }
}
