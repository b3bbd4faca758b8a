//! Times as the API and the pages write them (RFC 3339, and a short form for pages).
//!
//! The web layer reads no clock and no random source of its own: the time, nonces and
//! tokens come from the service ([`weft_node::service::Service::now_ms`],
//! [`weft_node::service::Service::token`]), which reads the clock and the random source the
//! node was started with (`weft_node::clock`).

/// RFC 3339 (UTC, milliseconds) from milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Milliseconds since the epoch from RFC 3339 (`2026-12-05T14:00:00Z`,
/// `2026-12-05T15:00:00.5+01:00`; seconds may be left out, as HTML's date-time inputs do;
/// a date alone is its midnight UTC). `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let mut d = date.split('-');
    let (year, month, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || date.len() != 10 || !(1..=12).contains(&month) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > days_in[(month - 1) as usize] {
        return None;
    }
    // Days since the epoch (the inverse of `rfc3339`'s civil date).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if rest.is_empty() {
        return Some(days * 86_400_000);
    }
    // The time, then an offset: Z, +hh:mm or -hh:mm (none: UTC).
    let (time, offset_ms) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, off) = (&rest[..i], &rest[i..]);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        let (h, m) = (num(h)?, num(m)?);
        if h > 23 || m > 59 || off.len() != 6 {
            return None;
        }
        (t, sign * (h * 3600 + m * 60) * 1000)
    } else {
        (rest, 0)
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let (h, m) = (num(t.next()?)?, num(t.next()?)?);
    let sec = match t.next() {
        Some(x) => num(x)?,
        None => 0,
    };
    if t.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let millis = if frac.is_empty() {
        0
    } else {
        let digits = num(frac)?;
        let len = frac.len().min(9) as u32;
        if frac.len() > 9 {
            return None;
        }
        digits * 1000 / 10_i64.pow(len)
    };
    Some(days * 86_400_000 + (h * 3600 + m * 60 + sec) * 1000 + millis - offset_ms)
}

/// A time zone by its IANA name (`Europe/Paris`), or `UTC`.
pub fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 {
        return None;
    }
    jiff::tz::TimeZone::get(name).ok()
}

/// The IANA time zone names, sorted (for choosing one).
pub fn zone_names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut v: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_owned())
            .filter(|n| n.contains('/') || n == "UTC")
            .filter(|n| !n.starts_with("Etc/") && !n.starts_with("SystemV/"))
            .collect();
        v.sort();
        v.dedup();
        v
    })
}

/// Milliseconds since the epoch from a time written with an offset (RFC 3339), or without
/// one (`2026-12-10T09:00`, as HTML's `datetime-local` sends it), then read in `zone`.
pub fn parse_in(s: &str, zone: &jiff::tz::TimeZone) -> Option<i64> {
    let s = s.trim();
    let has_offset = s.ends_with(['Z', 'z'])
        || s.get(10..)
            .is_some_and(|t| t.contains('+') || t.contains('-'));
    if has_offset {
        return parse_rfc3339(s);
    }
    let civil: jiff::civil::DateTime = s.parse().ok()?;
    let z = civil.to_zoned(zone.clone()).ok()?;
    Some(z.timestamp().as_millisecond())
}

/// "2026-11-23 15:05 CET": a time as shown in `zone`.
pub fn short_in(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => short(ms),
    }
}

/// "2026-12-10T10:00": a time in `zone` as a `datetime-local` input holds it.
pub fn local_input(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M")
            .to_string(),
        Err(_) => rfc3339(ms)[..16].to_owned(),
    }
}

/// "2026-11-23 14:05 UTC": how pages show a time (the exact instant is in the `datetime`
/// attribute beside it).
pub fn short(ms: i64) -> String {
    let s = rfc3339(ms);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(short(1_795_442_700_000), "2026-11-23 14:05 UTC");
    }

    #[test]
    fn times_are_read_and_shown_in_a_time_zone() {
        let paris = zone("Europe/Paris").unwrap();
        let ny = zone("America/New_York").unwrap();
        assert!(zone("Mars/Olympus").is_none());
        // 10:00 in Paris in winter is 09:00 UTC; in summer, 08:00 UTC.
        assert_eq!(
            parse_in("2026-12-10T10:00", &paris),
            parse_rfc3339("2026-12-10T09:00Z")
        );
        assert_eq!(
            parse_in("2026-07-10T10:00", &paris),
            parse_rfc3339("2026-07-10T08:00Z")
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            parse_in("2026-12-10T10:00:00+05:30", &paris),
            parse_rfc3339("2026-12-10T04:30Z")
        );
        let t = parse_rfc3339("2026-12-10T09:00Z").unwrap();
        assert_eq!(short_in(t, &paris), "2026-12-10 10:00 CET");
        assert_eq!(short_in(t, &ny), "2026-12-10 04:00 EST");
        assert_eq!(local_input(t, &ny), "2026-12-10T04:00");
        assert_eq!(parse_in("nonsense", &paris), None);
    }

    #[test]
    fn rfc3339_is_read_back() {
        for ms in [0, 951_782_400_123, -1, 1_795_442_700_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms), "{ms}");
        }
        assert_eq!(
            parse_rfc3339("2026-11-23T15:05:00+01:00"),
            Some(1_795_442_700_000)
        );
        assert_eq!(parse_rfc3339("2026-11-23T14:05"), Some(1_795_442_700_000));
        assert_eq!(
            parse_rfc3339("2026-11-23"),
            Some(1_795_442_700_000 - (14 * 60 + 5) * 60_000)
        );
        for bad in [
            "",
            "tomorrow",
            "2026-13-01T00:00Z",
            "2026-02-29T00:00Z",
            "2026-11-23T24:00Z",
            "2026-11-23T10:00+1:00",
            "2026-1-23",
            "2026-11-23T10:00:00.1234567890Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
    }
}
