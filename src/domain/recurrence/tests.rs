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
