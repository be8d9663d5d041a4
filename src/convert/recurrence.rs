//! Protobuf recurrence rules <-> domain rules.

use super::time::{timestamp_in, timestamp_out};
use crate::domain::{Anchor, Frequency, Recurrence, Weekday};
use crate::error::Violations;
use crate::proto::v1 as pb;

pub fn recurrence_out(rule: &Recurrence) -> pb::Recurrence {
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

pub fn recurrence_in(raw: &pb::Recurrence, field: &str, v: &mut Violations) -> Option<Recurrence> {
    let frequency = match pb::Frequency::try_from(raw.frequency) {
        Ok(pb::Frequency::Daily) => Some(Frequency::Daily),
        Ok(pb::Frequency::Weekly) => Some(Frequency::Weekly),
        Ok(pb::Frequency::Monthly) => Some(Frequency::Monthly),
        Ok(pb::Frequency::Yearly) => Some(Frequency::Yearly),
        _ => {
            v.add(
                format!("{field}.frequency"),
                "required: FREQUENCY_DAILY, FREQUENCY_WEEKLY, FREQUENCY_MONTHLY or FREQUENCY_YEARLY",
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
    let until = raw
        .until_time
        .as_ref()
        .and_then(|t| v.check(&format!("{field}.until_time"), timestamp_in(t)));
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
    let frequency = frequency?;
    match Recurrence::new(
        frequency,
        raw.interval.map(i64::from),
        weekdays,
        until,
        raw.count.map(i64::from),
        anchor,
    ) {
        Ok(rule) => Some(rule),
        Err(problems) => {
            for (sub, description) in problems {
                v.add(format!("{field}.{sub}"), description);
            }
            None
        }
    }
}
