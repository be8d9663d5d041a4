//! The time formats daprd accepts: Go duration strings (`10s`, `1h30m`, `1.5s`), RFC 3339
//! timestamps and non-repeating ISO 8601 durations (`PT10S`).

use std::time::{Duration, SystemTime};

/// Parses a Go duration string as `time.ParseDuration` does (`300ms`, `-1.5h`, `2h45m`,
/// units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`). Negative durations are refused (`None`).
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.starts_with('-') {
        return None;
    }
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let seconds_per_unit = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * seconds_per_unit;
        rest = after;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Parses a non-repeating ISO 8601 duration such as `PT10S`, `P1DT2H` or `P2W` (years and
/// months are refused: their length depends on the calendar).
pub(crate) fn parse_iso8601_duration(text: &str) -> Option<Duration> {
    let body = text.strip_prefix('P')?;
    if body.is_empty() {
        return None;
    }
    let (date, time) = match body.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (body, None),
    };
    let mut total = iso_part(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(time) = time {
        total += iso_part(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    Duration::try_from_secs_f64(total).ok()
}

fn iso_part(mut text: &str, units: &[(char, f64)]) -> Option<f64> {
    let mut total = 0.0;
    let mut next_unit = 0;
    while !text.is_empty() {
        let end = text.find(|c: char| c.is_ascii_alphabetic())?;
        let value: f64 = text[..end].replace(',', ".").parse().ok()?;
        let unit = text[end..].chars().next()?;
        let position = units[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        total += value * units[position].1;
        next_unit = position + 1;
        text = &text[end + unit.len_utf8()..];
    }
    Some(total)
}

/// When a `due_time` falls: an RFC 3339 timestamp, or a Go/ISO 8601 duration counted from
/// `now`. `None` if it is none of these.
pub(crate) fn parse_due_time(text: &str, now: SystemTime) -> Option<SystemTime> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(SystemTime::from(at));
    }
    let after = parse_go_duration(text).or_else(|| parse_iso8601_duration(text))?;
    now.checked_add(after)
}

/// The interval of an `@every <duration>` schedule; `None` for cron expressions and the other
/// `@` periods, which the double stores but never triggers on its own.
pub(crate) fn parse_every(schedule: &str) -> Option<Duration> {
    let duration = schedule.trim().strip_prefix("@every")?.trim();
    parse_go_duration(duration).filter(|d| !d.is_zero())
}

/// Go's `time.Now().Format(time.RFC3339)` in UTC: `2026-01-31T09:00:00Z`.
pub(crate) fn rfc3339_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("-1s"), None);
        assert_eq!(parse_go_duration("s"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn iso_durations() {
        assert_eq!(
            parse_iso8601_duration("PT10S"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_iso8601_duration("P1DT1H"),
            Some(Duration::from_secs(90_000))
        );
        assert_eq!(parse_iso8601_duration("P1Y"), None);
        assert_eq!(parse_iso8601_duration("PT"), None);
        assert_eq!(parse_iso8601_duration("PT1S1H"), None);
    }

    #[test]
    fn due_times() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            parse_due_time("1970-01-01T00:01:00Z", now),
            Some(now + Duration::from_secs(60))
        );
        assert_eq!(
            parse_due_time("2m", now),
            Some(now + Duration::from_secs(120))
        );
        assert_eq!(parse_due_time("tomorrow", now), None);
        assert_eq!(parse_every("@every 1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_every("0 30 * * * *"), None);
    }
}
