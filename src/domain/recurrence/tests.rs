use chrono::NaiveDate;

use super::*;

fn rule(
    f: Frequency,
    interval: Option<i64>,
    days: Vec<Weekday>,
    count: Option<i64>,
) -> Result<Recurrence, Vec<(&'static str, String)>> {
    Recurrence::new(f, interval, days, None, count, Anchor::Due)
}

#[test]
fn interval_defaults_to_one_and_is_bounded() {
    assert_eq!(
        rule(Frequency::Daily, None, vec![], None).map(|r| r.interval),
        Ok(1)
    );
    assert!(rule(Frequency::Daily, Some(1000), vec![], None).is_ok());
    for bad in [0, -1, 1001] {
        let err = rule(Frequency::Daily, Some(bad), vec![], None).expect_err("bad interval");
        assert_eq!(err[0].0, "interval");
    }
}

#[test]
fn weekdays_only_on_weekly_rules_and_are_normalised() {
    let err = rule(Frequency::Daily, None, vec![Weekday::Monday], None).expect_err("daily");
    assert_eq!(err[0].0, "weekdays");
    let ok = rule(
        Frequency::Weekly,
        None,
        vec![Weekday::Friday, Weekday::Monday, Weekday::Friday],
        None,
    )
    .expect("weekly");
    assert_eq!(ok.weekdays, vec![Weekday::Monday, Weekday::Friday]);
}

#[test]
fn count_zero_is_rejected() {
    let err = rule(Frequency::Daily, None, vec![], Some(0)).expect_err("count 0");
    assert_eq!(err[0].0, "count");
    assert!(rule(Frequency::Daily, None, vec![], Some(3)).is_ok());
}

#[test]
fn json_round_trip() {
    let r = rule(Frequency::Weekly, Some(2), vec![Weekday::Tuesday], Some(4)).expect("valid");
    assert_eq!(Recurrence::from_json(&r.to_json()).expect("decodes"), r);
}

fn parts(text: &str) -> RuleParts {
    parse_rrule(text).expect("parses")
}

/// The sub-fields `text`'s rule is refused on.
fn refused(text: &str) -> Vec<&'static str> {
    parts(text)
        .validate()
        .expect_err("refused")
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

#[test]
fn monthly_and_yearly_parts_are_bounded_and_named() {
    assert_eq!(refused("FREQ=MONTHLY;BYDAY=6TU"), ["by_weekday"]);
    assert_eq!(refused("FREQ=MONTHLY;BYDAY=-6TU"), ["by_weekday"]);
    assert!(parts("FREQ=YEARLY;BYDAY=53MO").validate().is_ok());
    assert_eq!(refused("FREQ=YEARLY;BYDAY=54MO"), ["by_weekday"]);
    assert_eq!(
        refused("FREQ=YEARLY;BYMONTH=3;BYDAY=6MO"),
        ["by_weekday"],
        "with months, ordinals count within the month"
    );
    assert_eq!(refused("FREQ=MONTHLY;BYMONTHDAY=0"), ["month_days"]);
    assert_eq!(refused("FREQ=MONTHLY;BYMONTHDAY=32"), ["month_days"]);
    assert_eq!(refused("FREQ=MONTHLY;BYMONTHDAY=-32"), ["month_days"]);
    assert_eq!(refused("FREQ=YEARLY;BYMONTH=13"), ["months"]);
    assert_eq!(refused("FREQ=YEARLY;BYMONTH=0"), ["months"]);
    assert_eq!(
        refused("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30,31"),
        ["month_days"],
        "February never has them"
    );
    assert!(
        parts("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29")
            .validate()
            .is_ok()
    );
    assert_eq!(
        refused("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0"),
        ["set_positions"]
    );
    assert_eq!(
        refused("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=367"),
        ["set_positions"]
    );
    assert_eq!(
        refused("FREQ=MONTHLY;BYMONTH=1;BYSETPOS=1"),
        ["set_positions"],
        "BYSETPOS needs a set of days"
    );
    for only_month_based in [
        "FREQ=DAILY;BYDAY=MO",
        "FREQ=WEEKLY;BYDAY=1MO",
        "FREQ=DAILY;BYMONTHDAY=1",
        "FREQ=WEEKLY;BYMONTH=1",
        "FREQ=DAILY;BYSETPOS=1",
    ] {
        assert_eq!(refused(only_month_based).len(), 1, "{only_month_based}");
    }
    // Several problems are reported together.
    assert_eq!(
        refused("FREQ=MONTHLY;INTERVAL=0;BYMONTHDAY=0;BYMONTH=13"),
        ["interval", "month_days", "months"]
    );
}

#[test]
fn parts_are_put_in_a_canonical_order() {
    let rule = parts("FREQ=MONTHLY;BYDAY=-1FR,2TU,MO,2TU;BYMONTHDAY=-1,31,1,-2;BYSETPOS=-1,2")
        .validate()
        .expect("valid");
    let days: Vec<(i8, Weekday)> = rule.by_weekday.iter().map(|n| (n.ordinal, n.day)).collect();
    assert_eq!(
        days,
        [
            (0, Weekday::Monday),
            (2, Weekday::Tuesday),
            (-1, Weekday::Friday)
        ]
    );
    assert_eq!(rule.month_days, [1, 31, -1, -2]);
    assert_eq!(rule.set_positions, [2, -1]);
}

#[test]
fn rows_written_before_the_new_parts_still_read() {
    let old =
        r#"{"frequency":"weekly","interval":2,"weekdays":["monday"],"count":4,"anchor":"due"}"#;
    let rule = Recurrence::from_json(old).expect("reads");
    assert_eq!(
        rule,
        Recurrence {
            interval: 2,
            weekdays: vec![Weekday::Monday],
            count: Some(4),
            ..Recurrence::plain(Frequency::Weekly)
        }
    );
    assert_eq!(rule.missed, Missed::Keep);
    // And a plain rule is written as before.
    assert_eq!(Recurrence::from_json(&rule.to_json()).expect("reads"), rule);
    assert!(!rule.to_json().contains("missed") && !rule.to_json().contains("month_days"));
    let rich = Recurrence {
        missed: Missed::Skip,
        ..parts("FREQ=MONTHLY;BYDAY=-1FR;BYSETPOS=1")
            .validate()
            .expect("valid")
    };
    assert_eq!(Recurrence::from_json(&rich.to_json()).expect("reads"), rich);
}

#[test]
fn the_month_end_clamp_is_written_out_only_where_needed() {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a date");
    let monthly = Recurrence::plain(Frequency::Monthly);
    assert_eq!(monthly.explicit_clamp(day(2025, 1, 28)), None);
    let clamp = monthly.explicit_clamp(day(2025, 1, 31)).expect("a clamp");
    assert_eq!(
        (clamp.month_days.clone(), clamp.set_positions.clone()),
        (vec![31, -1], vec![1])
    );
    assert!(monthly.same_series(&clamp) && clamp.same_series(&monthly));
    let yearly = Recurrence::plain(Frequency::Yearly);
    assert_eq!(yearly.explicit_clamp(day(2025, 1, 31)), None);
    let leap = yearly.explicit_clamp(day(2024, 2, 29)).expect("a clamp");
    assert_eq!(leap.months, [2]);
    // Completion-anchored and rules with parts of their own are left alone.
    let completion = Recurrence {
        anchor: Anchor::Completion,
        ..monthly.clone()
    };
    assert_eq!(completion.explicit_clamp(day(2025, 1, 31)), None);
    let last_friday = parts("FREQ=MONTHLY;BYDAY=-1FR").validate().expect("valid");
    assert_eq!(last_friday.explicit_clamp(day(2025, 1, 31)), None);
    assert!(!last_friday.same_series(&monthly));
}
