//! RRULE text: what is read, what is refused, what is written, and that every rule survives
//! being written and read back.

use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;

use super::strategies::any_rule;
use super::{
    Anchor, Frequency, Missed, NthWeekday, Recurrence, RuleParts, Weekday, parse_rrule,
    render_rrule,
};

fn rule(text: &str) -> Recurrence {
    parse_rrule(text)
        .expect("parses")
        .validate()
        .expect("valid")
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

#[test]
fn reads_keys_and_values_in_any_case_with_or_without_the_prefix() {
    let expected = Recurrence {
        interval: 2,
        by_weekday: vec![NthWeekday {
            ordinal: -1,
            day: Weekday::Friday,
        }],
        ..Recurrence::plain(Frequency::Monthly)
    };
    for text in [
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR",
        "RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR",
        "rrule:freq=monthly;interval=2;byday=-1fr;",
        " BYDAY=-1Fr;Freq=Monthly;INTERVAL=+2;WKST=MO ",
    ] {
        assert_eq!(rule(text), expected, "{text}");
    }
    let weekly = rule("FREQ=WEEKLY;BYDAY=FR,MO");
    assert_eq!(weekly.weekdays, [Weekday::Monday, Weekday::Friday]);
    assert!(weekly.by_weekday.is_empty());
    let until = rule("FREQ=DAILY;UNTIL=20271231T235959Z");
    assert_eq!(until.until, DateTime::from_timestamp(1_830_297_599, 0));
    assert_eq!(rule("FREQ=YEARLY;COUNT=3").count, Some(3));
    let first_weekday = rule("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1");
    assert_eq!(first_weekday.by_weekday.len(), 5);
    assert_eq!(first_weekday.set_positions, [1]);
}

#[test]
fn refuses_what_it_does_not_follow_with_a_short_message() {
    for (text, says) in [
        ("", "FREQ is required"),
        ("INTERVAL=2", "FREQ is required"),
        ("FREQ=HOURLY", "FREQ"),
        ("FREQ=DAILY;BYHOUR=9", "BYHOUR is not supported"),
        ("FREQ=DAILY;BYMINUTE=0", "BYMINUTE"),
        ("FREQ=DAILY;BYSECOND=0", "BYSECOND"),
        ("FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO is not supported"),
        ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY is not supported"),
        ("FREQ=WEEKLY;WKST=SU", "only MO"),
        (
            "FREQ=DAILY;COUNT=2;UNTIL=20271231T235959Z",
            "COUNT and UNTIL",
        ),
        ("FREQ=DAILY;UNTIL=20271231", "UTC date-time"),
        ("FREQ=DAILY;UNTIL=20271231T235959", "UTC date-time"),
        ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
        ("FREQ=DAILY;COLOR=RED", "unknown part"),
        ("FREQ=DAILY;INTERVAL", "KEY=VALUE"),
        ("FREQ=DAILY;INTERVAL=two", "a number"),
        ("FREQ=MONTHLY;BYDAY=0MO", "days such as"),
        ("FREQ=MONTHLY;BYDAY=XX", "days such as"),
        (
            "DTSTART:20270101T090000Z\nRRULE:FREQ=DAILY",
            "without DTSTART",
        ),
    ] {
        let err = parse_rrule(text).expect_err(text);
        assert!(err.contains(says), "{text}: {err}");
    }
    let long = format!("FREQ=DAILY;X-NAME={}", "x".repeat(5000));
    let err = parse_rrule(&long).expect_err("refused");
    assert!(err.len() < 300, "{} bytes: {err}", err.len());
}

#[test]
fn writes_the_rule_as_other_calendar_software_reads_it() {
    assert_eq!(render_rrule(&rule("FREQ=DAILY"), None), "FREQ=DAILY");
    assert_eq!(
        render_rrule(&rule("freq=weekly;interval=2;byday=fr,mo"), None),
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR"
    );
    assert_eq!(
        render_rrule(&rule("FREQ=MONTHLY;BYDAY=-1FR"), date(2025, 1, 31)),
        "FREQ=MONTHLY;BYDAY=-1FR"
    );
    assert_eq!(
        render_rrule(&rule("FREQ=YEARLY;BYDAY=4TH;BYMONTH=11;COUNT=5"), None),
        "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=5"
    );
    assert_eq!(
        render_rrule(&rule("FREQ=DAILY;UNTIL=20271231T235959Z"), None),
        "FREQ=DAILY;UNTIL=20271231T235959Z"
    );
    // The month-end clamp of plain monthly and yearly rules, from their anchor day.
    let monthly = Recurrence::plain(Frequency::Monthly);
    for (day, text) in [
        (28, "FREQ=MONTHLY"),
        (29, "FREQ=MONTHLY;BYMONTHDAY=29,-1;BYSETPOS=1"),
        (30, "FREQ=MONTHLY;BYMONTHDAY=30,-1;BYSETPOS=1"),
        (31, "FREQ=MONTHLY;BYMONTHDAY=31,-1;BYSETPOS=1"),
    ] {
        assert_eq!(render_rrule(&monthly, date(2025, 1, day)), text);
    }
    assert_eq!(render_rrule(&monthly, None), "FREQ=MONTHLY");
    let yearly = Recurrence::plain(Frequency::Yearly);
    assert_eq!(
        render_rrule(&yearly, date(2024, 2, 29)),
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29,-1;BYSETPOS=1"
    );
    assert_eq!(render_rrule(&yearly, date(2024, 3, 31)), "FREQ=YEARLY");
    // A completion-anchored series takes its day from each completion: nothing to clamp.
    let completion = Recurrence {
        anchor: Anchor::Completion,
        ..monthly
    };
    assert_eq!(render_rrule(&completion, date(2025, 1, 31)), "FREQ=MONTHLY");
}

fn anchor_day() -> impl Strategy<Value = NaiveDate> {
    (1900i32..=2200, 1u32..=12, 1u32..=31)
        .prop_filter_map("a real date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

proptest! {
    /// structured → text → structured gives the rule back (with a month-end clamp written out
    /// where the anchor needs one), and writing that again gives the same text.
    #[test]
    fn every_rule_round_trips_through_text(rule in any_rule(), anchor in anchor_day()) {
        let text = render_rrule(&rule, Some(anchor));
        let parts = parse_rrule(&text);
        prop_assert!(parts.is_ok(), "{text}: {parts:?}");
        let back = RuleParts {
            anchor: rule.anchor,
            missed: rule.missed,
            ..parts.expect("checked")
        }
        .validate();
        prop_assert!(back.is_ok(), "{text}: {back:?}");
        let back = back.expect("checked");
        let expected = rule.explicit_clamp(anchor).unwrap_or_else(|| rule.clone());
        prop_assert_eq!(&back, &expected, "{}", text);
        prop_assert!(back.same_series(&rule));
        prop_assert_eq!(render_rrule(&back, Some(anchor)), text);
        prop_assert_eq!(RuleParts::from(&back).validate(), Ok(back.clone()));
    }

    /// Nothing panics on arbitrary text, and what parses writes back to text that parses.
    #[test]
    fn arbitrary_text_never_panics(text in "(?i)(rrule:)?((freq|interval|byday|bymonthday|bymonth|bysetpos|count|until|wkst)=[-+0-9a-z,]{0,12};?){0,6}") {
        if let Ok(parts) = parse_rrule(&text)
            && let Ok(rule) = parts.validate()
        {
            prop_assert!(parse_rrule(&render_rrule(&rule, None)).is_ok());
        }
    }
}

#[test]
fn the_missed_choice_defaults_to_keep() {
    assert_eq!(rule("FREQ=DAILY").missed, Missed::Keep);
    assert_eq!(Missed::default(), Missed::Keep);
}
