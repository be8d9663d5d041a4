//! Protobuf recurrence rules <-> domain rules: the structured fields and the RRULE text.

use chrono::NaiveDate;

use super::time::{timestamp_in, timestamp_out};
use crate::domain::{
    Anchor, Frequency, Missed, Recurrence, RuleParts, Weekday, parse_rrule, render_rrule,
    rrule_part_name,
};
use crate::error::Violations;
use crate::proto::v1 as pb;

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A request: checked in full; `rrule` and the structured fields must agree.
    Request,
    /// A task snapshot in an event: its structured fields, when set, are the rule (its `rrule`
    /// was written from them), and a rule stored before `count` and `until_time` became
    /// exclusive still reads.
    Snapshot,
}

/// The rule in both forms; `anchor` is the local date of the series' anchor, which decides
/// how `rrule` writes a month-end clamp.
pub fn recurrence_out(rule: &Recurrence, anchor: Option<NaiveDate>) -> pb::Recurrence {
    pb::Recurrence {
        frequency: match rule.frequency {
            Frequency::Daily => pb::Frequency::Daily,
            Frequency::Weekly => pb::Frequency::Weekly,
            Frequency::Monthly => pb::Frequency::Monthly,
            Frequency::Yearly => pb::Frequency::Yearly,
        } as i32,
        interval: Some(i32::try_from(rule.interval).unwrap_or(i32::MAX)),
        weekdays: rule
            .weekdays
            .iter()
            .map(|d| weekday_out(*d) as i32)
            .collect(),
        until_time: rule.until.map(timestamp_out),
        count: rule.count.map(|c| i32::try_from(c).unwrap_or(i32::MAX)),
        anchor: match rule.anchor {
            Anchor::Due => pb::Anchor::DueTime,
            Anchor::Completion => pb::Anchor::Completion,
        } as i32,
        by_weekday: rule
            .by_weekday
            .iter()
            .map(|n| pb::NthWeekday {
                day: weekday_out(n.day) as i32,
                ordinal: i32::from(n.ordinal),
            })
            .collect(),
        month_days: rule.month_days.iter().map(|&d| i32::from(d)).collect(),
        months: rule.months.iter().map(|&m| i32::from(m)).collect(),
        set_positions: rule.set_positions.iter().map(|&p| i32::from(p)).collect(),
        rrule: render_rrule(rule, anchor),
        missed_occurrences: match rule.missed {
            Missed::Keep => pb::MissedOccurrences::Keep,
            Missed::Skip => pb::MissedOccurrences::Skip,
        } as i32,
    }
}

fn weekday_out(day: Weekday) -> pb::DayOfWeek {
    match day {
        Weekday::Monday => pb::DayOfWeek::Monday,
        Weekday::Tuesday => pb::DayOfWeek::Tuesday,
        Weekday::Wednesday => pb::DayOfWeek::Wednesday,
        Weekday::Thursday => pb::DayOfWeek::Thursday,
        Weekday::Friday => pb::DayOfWeek::Friday,
        Weekday::Saturday => pb::DayOfWeek::Saturday,
        Weekday::Sunday => pb::DayOfWeek::Sunday,
    }
}

fn weekday_in(raw: i32) -> Option<Weekday> {
    Some(match pb::DayOfWeek::try_from(raw).ok()? {
        pb::DayOfWeek::Monday => Weekday::Monday,
        pb::DayOfWeek::Tuesday => Weekday::Tuesday,
        pb::DayOfWeek::Wednesday => Weekday::Wednesday,
        pb::DayOfWeek::Thursday => Weekday::Thursday,
        pb::DayOfWeek::Friday => Weekday::Friday,
        pb::DayOfWeek::Saturday => Weekday::Saturday,
        pb::DayOfWeek::Sunday => Weekday::Sunday,
        pb::DayOfWeek::Unspecified => return None,
    })
}

/// Whether any of the structured fields that make up the rule itself is set.
fn has_structured(raw: &pb::Recurrence) -> bool {
    raw.frequency != 0
        || raw.interval.is_some()
        || !raw.weekdays.is_empty()
        || raw.until_time.is_some()
        || raw.count.is_some()
        || !raw.by_weekday.is_empty()
        || !raw.month_days.is_empty()
        || !raw.months.is_empty()
        || !raw.set_positions.is_empty()
}

/// Reads a rule given as structured fields, as `rrule` text, or both (which must then
/// describe the same series); violations name their field under `field`.
pub fn recurrence_in(
    raw: &pb::Recurrence,
    field: &str,
    source: Source,
    v: &mut Violations,
) -> Option<Recurrence> {
    let anchor = match pb::Anchor::try_from(raw.anchor) {
        Ok(pb::Anchor::Unspecified | pb::Anchor::DueTime) => Anchor::Due,
        Ok(pb::Anchor::Completion) => Anchor::Completion,
        Err(_) => {
            v.add(
                format!("{field}.anchor"),
                format!("unknown anchor {}", raw.anchor),
            );
            Anchor::Due
        }
    };
    let missed = match pb::MissedOccurrences::try_from(raw.missed_occurrences) {
        Ok(pb::MissedOccurrences::Unspecified | pb::MissedOccurrences::Keep) => Missed::Keep,
        Ok(pb::MissedOccurrences::Skip) => Missed::Skip,
        Err(_) => {
            v.add(
                format!("{field}.missed_occurrences"),
                format!("unknown choice {}", raw.missed_occurrences),
            );
            Missed::Keep
        }
    };
    let structured = has_structured(raw);
    let text = raw.rrule.trim();
    let from_text = if text.is_empty() || (structured && source == Source::Snapshot) {
        None
    } else {
        Some(text_in(text, anchor, missed, &format!("{field}.rrule"), v)?)
    };
    if !structured && let Some(rule) = from_text {
        return Some(rule);
    }
    let rule = structured_in(raw, field, anchor, missed, v)?;
    if source == Source::Request && rule.count.is_some() && rule.until.is_some() {
        v.add(
            format!("{field}.count"),
            "not together with until_time: a series ends by one or the other (RFC 5545)",
        );
        return None;
    }
    if let Some(text_rule) = from_text
        && !text_rule.same_series(&rule)
    {
        v.add(
            format!("{field}.rrule"),
            format!(
                "describes another rule than the structured fields ({}); give one form, or both alike",
                render_rrule(&rule, None)
            ),
        );
        return None;
    }
    Some(rule)
}

/// The rule in RRULE text; every problem is reported on `field` (`….rrule`), naming the part.
fn text_in(
    text: &str,
    anchor: Anchor,
    missed: Missed,
    field: &str,
    v: &mut Violations,
) -> Option<Recurrence> {
    let parts = match parse_rrule(text) {
        Ok(parts) => parts,
        Err(problem) => {
            v.add(field, problem);
            return None;
        }
    };
    match (RuleParts {
        anchor,
        missed,
        ..parts
    })
    .validate()
    {
        Ok(rule) => Some(rule),
        Err(problems) => {
            for (sub, description) in problems {
                v.add(field, format!("{}: {description}", rrule_part_name(sub)));
            }
            None
        }
    }
}

/// The rule in the structured fields.
fn structured_in(
    raw: &pb::Recurrence,
    field: &str,
    anchor: Anchor,
    missed: Missed,
    v: &mut Violations,
) -> Option<Recurrence> {
    let frequency = match pb::Frequency::try_from(raw.frequency) {
        Ok(pb::Frequency::Daily) => Some(Frequency::Daily),
        Ok(pb::Frequency::Weekly) => Some(Frequency::Weekly),
        Ok(pb::Frequency::Monthly) => Some(Frequency::Monthly),
        Ok(pb::Frequency::Yearly) => Some(Frequency::Yearly),
        _ => {
            v.add(
                format!("{field}.frequency"),
                "required: FREQUENCY_DAILY, FREQUENCY_WEEKLY, FREQUENCY_MONTHLY or FREQUENCY_YEARLY (or give rrule)",
            );
            None
        }
    };
    let mut weekdays = Vec::with_capacity(raw.weekdays.len());
    for day in &raw.weekdays {
        match weekday_in(*day) {
            Some(d) => weekdays.push(d),
            None => v.add(
                format!("{field}.weekdays"),
                format!("{day} is not a day of the week"),
            ),
        }
    }
    let mut by_weekday = Vec::with_capacity(raw.by_weekday.len());
    for nth in &raw.by_weekday {
        match weekday_in(nth.day) {
            Some(day) => by_weekday.push((i64::from(nth.ordinal), day)),
            None => v.add(
                format!("{field}.by_weekday"),
                format!("day: {} is not a day of the week", nth.day),
            ),
        }
    }
    let until = raw
        .until_time
        .as_ref()
        .and_then(|t| v.check(&format!("{field}.until_time"), timestamp_in(t)));
    let wide = |values: &[i32]| values.iter().map(|&n| i64::from(n)).collect();
    let parts = RuleParts {
        interval: raw.interval.map(i64::from),
        weekdays,
        by_weekday,
        month_days: wide(&raw.month_days),
        months: wide(&raw.months),
        set_positions: wide(&raw.set_positions),
        until,
        count: raw.count.map(i64::from),
        anchor,
        missed,
        ..RuleParts::new(frequency?)
    };
    match parts.validate() {
        Ok(rule) => Some(rule),
        Err(problems) => {
            for (sub, description) in problems {
                v.add(format!("{field}.{sub}"), description);
            }
            None
        }
    }
}
