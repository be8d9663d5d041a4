//! RRULE text (RFC 5545 §3.3.10, without DTSTART: a series starts at its task's due time):
//! parsing the subset taskflow follows, and writing a rule so that other calendar software
//! expands it to the dates taskflow produces.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{Frequency, Recurrence, RuleParts, Weekday};
use crate::error::excerpt;

const DAY_CODES: [(&str, Weekday); 7] = [
    ("MO", Weekday::Monday),
    ("TU", Weekday::Tuesday),
    ("WE", Weekday::Wednesday),
    ("TH", Weekday::Thursday),
    ("FR", Weekday::Friday),
    ("SA", Weekday::Saturday),
    ("SU", Weekday::Sunday),
];

const UNTIL_FORMAT: &str = "%Y%m%dT%H%M%SZ";

fn day_code(day: Weekday) -> &'static str {
    DAY_CODES
        .iter()
        .find(|(_, d)| *d == day)
        .map_or("MO", |(code, _)| code)
}

/// The RRULE part a sub-field of the structured rule is written as.
pub fn rrule_part_name(field: &str) -> &'static str {
    match field {
        "interval" => "INTERVAL",
        "weekdays" | "by_weekday" => "BYDAY",
        "month_days" => "BYMONTHDAY",
        "months" => "BYMONTH",
        "set_positions" => "BYSETPOS",
        "count" => "COUNT",
        "until_time" => "UNTIL",
        _ => "FREQ",
    }
}

/// The rule as RRULE text (`FREQ=MONTHLY;BYDAY=-1FR`), for a series whose anchor falls on
/// the local date `anchor` (when known): a plain monthly or yearly rule whose anchor day does
/// not exist in every month it lands on gets its month-end clamp written out
/// (`BYMONTHDAY=31,-1;BYSETPOS=1`). `UNTIL` is written in UTC, to the second. The anchor and
/// the missed-occurrences choice are not part of the text.
pub fn render_rrule(rule: &Recurrence, anchor: Option<NaiveDate>) -> String {
    let clamped = anchor.and_then(|day| rule.explicit_clamp(day));
    let rule = clamped.as_ref().unwrap_or(rule);
    let list = |items: Vec<String>| items.join(",");
    let mut parts = vec![format!(
        "FREQ={}",
        match rule.frequency {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Yearly => "YEARLY",
        }
    )];
    if rule.interval > 1 {
        parts.push(format!("INTERVAL={}", rule.interval));
    }
    if !rule.months.is_empty() {
        parts.push(format!(
            "BYMONTH={}",
            list(rule.months.iter().map(u8::to_string).collect())
        ));
    }
    let days: Vec<String> = rule
        .weekdays
        .iter()
        .map(|d| day_code(*d).to_owned())
        .chain(rule.by_weekday.iter().map(|n| match n.ordinal {
            0 => day_code(n.day).to_owned(),
            ordinal => format!("{ordinal}{}", day_code(n.day)),
        }))
        .collect();
    if !days.is_empty() {
        parts.push(format!("BYDAY={}", list(days)));
    }
    if !rule.month_days.is_empty() {
        parts.push(format!(
            "BYMONTHDAY={}",
            list(rule.month_days.iter().map(i8::to_string).collect())
        ));
    }
    if !rule.set_positions.is_empty() {
        parts.push(format!(
            "BYSETPOS={}",
            list(rule.set_positions.iter().map(i16::to_string).collect())
        ));
    }
    if let Some(until) = rule.until {
        parts.push(format!("UNTIL={}", until.format(UNTIL_FORMAT)));
    }
    if let Some(count) = rule.count {
        parts.push(format!("COUNT={count}"));
    }
    parts.join(";")
}

/// Reads RRULE text (an optional `RRULE:` prefix, keys and values in any case) into a rule's
/// parts; the anchor and missed-occurrences choice stay at their defaults. Refuses what
/// taskflow does not follow (BYHOUR, BYWEEKNO, …; WKST other than MO; COUNT with UNTIL) with
/// a message that quotes at most a short excerpt of the text.
pub fn parse_rrule(text: &str) -> Result<RuleParts, String> {
    let trimmed = text.trim();
    let body = match trimmed.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &trimmed[6..],
        _ => trimmed,
    };
    if body.contains(['\n', '\r']) || body.to_ascii_uppercase().contains("DTSTART") {
        return Err(format!(
            "one RRULE value without DTSTART (the series starts at the due time), got {}",
            excerpt(text)
        ));
    }
    if body.is_empty() {
        return Err("FREQ is required, as in FREQ=MONTHLY;BYDAY=-1FR".to_owned());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut frequency = None;
    let mut parts = RuleParts::new(Frequency::Daily);
    let mut days: Vec<(i64, Weekday)> = Vec::new();
    for part in body.strip_suffix(';').unwrap_or(body).split(';') {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!("expected KEY=VALUE, got {}", excerpt(part)));
        };
        let key = key.trim().to_ascii_uppercase();
        let value = value.trim();
        if seen.contains(&key) {
            return Err(format!("{} appears twice", excerpt(&key)));
        }
        seen.push(key.clone());
        let bad = |what: &str| format!("{key}: {what}, got {}", excerpt(value));
        match key.as_str() {
            "FREQ" => {
                frequency = Some(match value.to_ascii_uppercase().as_str() {
                    "DAILY" => Frequency::Daily,
                    "WEEKLY" => Frequency::Weekly,
                    "MONTHLY" => Frequency::Monthly,
                    "YEARLY" => Frequency::Yearly,
                    _ => return Err(bad("DAILY, WEEKLY, MONTHLY or YEARLY")),
                });
            }
            "INTERVAL" => parts.interval = Some(number(value).ok_or_else(|| bad("a number"))?),
            "COUNT" => parts.count = Some(number(value).ok_or_else(|| bad("a number"))?),
            "UNTIL" => parts.until = Some(until(value).ok_or_else(|| bad(UNTIL_HINT))?),
            "BYMONTHDAY" => parts.month_days = numbers(value).ok_or_else(|| bad("numbers"))?,
            "BYMONTH" => parts.months = numbers(value).ok_or_else(|| bad("numbers"))?,
            "BYSETPOS" => parts.set_positions = numbers(value).ok_or_else(|| bad("numbers"))?,
            "BYDAY" => {
                days = value
                    .split(',')
                    .map(nth_weekday)
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad("days such as MO, 2TU or -1FR"))?;
            }
            "WKST" if value.eq_ignore_ascii_case("MO") => {}
            "WKST" => return Err(bad("only MO (weeks start on Monday)")),
            "BYSECOND" | "BYMINUTE" | "BYHOUR" => {
                return Err(format!(
                    "{key} is not supported: occurrences keep the due time's time of day"
                ));
            }
            "BYWEEKNO" | "BYYEARDAY" | "BYEASTER" | "RSCALE" | "SKIP" => {
                return Err(format!("{key} is not supported"));
            }
            _ => return Err(format!("unknown part {}", excerpt(part))),
        }
    }
    parts.frequency =
        frequency.ok_or_else(|| format!("FREQ is required, got {}", excerpt(text)))?;
    if parts.count.is_some() && parts.until.is_some() {
        return Err("COUNT and UNTIL cannot both be given (RFC 5545)".to_owned());
    }
    if parts.frequency == Frequency::Weekly && days.iter().all(|(n, _)| *n == 0) {
        parts.weekdays = days.into_iter().map(|(_, d)| d).collect();
    } else {
        parts.by_weekday = days;
    }
    Ok(parts)
}

const UNTIL_HINT: &str =
    "a UTC date-time such as 20271231T235959Z (a date alone or a local time is not accepted)";

fn number(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if digits.is_empty() || digits.len() > 7 {
        return None;
    }
    digits.parse().ok()
}

fn numbers(raw: &str) -> Option<Vec<i64>> {
    raw.split(',').map(|n| number(n.trim())).collect()
}

/// `MO`, `2TU`, `+3WE`, `-1FR`.
fn nth_weekday(raw: &str) -> Option<(i64, Weekday)> {
    let raw = raw.trim();
    let split = raw.len().checked_sub(2)?;
    let (ordinal, code) = (raw.get(..split)?, raw.get(split..)?);
    let day = DAY_CODES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))?
        .1;
    let ordinal = match ordinal {
        "" => 0,
        n => {
            let n = number(n)?;
            if n == 0 {
                return None;
            }
            n
        }
    };
    Some((ordinal, day))
}

fn until(raw: &str) -> Option<DateTime<Utc>> {
    let upper = raw.to_ascii_uppercase();
    NaiveDateTime::parse_from_str(&upper, UNTIL_FORMAT)
        .ok()
        .filter(|_| upper.len() == 16)
        .map(|t| t.and_utc())
}
