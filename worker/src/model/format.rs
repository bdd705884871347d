//! Allocation-free formatting of transaction ids and RFC 3339 timestamps.
/// 9999-12-31T23:59:59.999Z, the last instant a four-digit year can show.
pub const MAX_UNIX_MS: i64 = 253_402_300_799_999;

/// A transaction id: a UUID (version 8, "custom") whose first half is a seed-derived prefix
/// and second half the stream counter, so ids are unique within a stream and deterministic.
pub struct Id([u8; 36]);

pub fn transaction_id(prefix: u64, counter: u64) -> Id {
    let hi = (prefix & !0xf000) | 0x8000;
    let lo = (counter & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let mut buf = [0u8; 36];
    uuid::Uuid::from_u64_pair(hi, lo)
        .hyphenated()
        .encode_lower(&mut buf);
    Id(buf)
}

impl Id {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits and hyphens")
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub struct Time([u8; 24]);

/// Formats Unix milliseconds in `0..=MAX_UNIX_MS` as RFC 3339 UTC with milliseconds.
pub fn rfc3339_millis(unix_ms: i64) -> Time {
    debug_assert!((0..=MAX_UNIX_MS).contains(&unix_ms));
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00.000Z";
    put(&mut b[0..4], y as u64);
    put(&mut b[5..7], m as u64);
    put(&mut b[8..10], d as u64);
    put(&mut b[11..13], (ms_of_day / 3_600_000) as u64);
    put(&mut b[14..16], (ms_of_day / 60_000 % 60) as u64);
    put(&mut b[17..19], (ms_of_day / 1000 % 60) as u64);
    put(&mut b[20..23], (ms_of_day % 1000) as u64);
    Time(b)
}

impl Time {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("digits and separators")
    }
}

/// Writes `v` as zero-padded decimal filling `out`.
fn put(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01, by shifting to
/// March-based 400-year eras (H. Hinnant's public-domain civil calendar algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_match_jiff_across_leap_years_and_centuries() {
        let mut ms: i64 = 0;
        // Step an odd number of ms so every field changes; covers 1970..~2570.
        while ms < 19_000_000_000_000 {
            let ours = rfc3339_millis(ms);
            let ts = jiff::Timestamp::from_millisecond(ms).unwrap();
            assert_eq!(ours.as_str(), format!("{ts:.3}"), "at {ms}");
            ms += 987_654_321_123;
        }
        assert_eq!(
            rfc3339_millis(MAX_UNIX_MS).as_str(),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_millis(951_782_400_000).as_str(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn ids_are_version_8_uuids_carrying_the_counter() {
        let id = transaction_id(0x0123_4567_89ab_cdef, 42);
        let parsed = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(parsed.as_u64_pair().1 & 0xffff, 42);
        assert_ne!(
            id.as_str(),
            transaction_id(0x0123_4567_89ab_cdef, 43).as_str()
        );
    }
}
