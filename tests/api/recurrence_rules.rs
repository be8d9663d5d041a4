//! Richer recurrence through the API, on both databases: a rule given as RRULE text comes back
//! in both forms; "the last Friday of the month" goes on by ordinal weekday; a month-end series
//! is written the way other calendars reproduce; skipping missed occurrences; invalid rules are
//! INVALID_ARGUMENT naming the field, and nothing is stored.

use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::*;

fn by_text(title: &str, due: &str, rrule: &str) -> pb::Task {
    pb::Task {
        due_time: Some(ts(due)),
        time_zone: "Europe/Berlin".into(),
        recurrence: Some(pb::Recurrence {
            rrule: rrule.into(),
            ..Default::default()
        }),
        ..titled(title)
    }
}

async fn the_last_friday_of_the_month_goes_on_by_ordinal_weekday(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    // Friday 2027-01-29 is January's last Friday.
    let task = create(
        &mut alice,
        "alice",
        by_text(
            "Team review",
            "2027-01-29T15:00:00Z",
            "RRULE:freq=monthly;byday=-1fr",
        ),
    )
    .await;
    let rule = task.recurrence.clone().expect("a rule");
    assert_eq!(rule.rrule, "FREQ=MONTHLY;BYDAY=-1FR");
    assert_eq!(rule.frequency(), pb::Frequency::Monthly);
    assert_eq!(rule.by_weekday.len(), 1);
    assert_eq!(rule.by_weekday[0].ordinal, -1);
    assert_eq!(rule.by_weekday[0].day(), pb::DayOfWeek::Friday);
    complete(&mut alice, &task.name).await;
    app.drain_events().await;
    let second = app.occurrence(&mut alice, "alice", &task.series, 2).await;
    // February 2027's last Friday is the 26th, same local time (16:00 in Berlin).
    assert_eq!(second.due_time, Some(ts("2027-02-26T15:00:00Z")));
    assert_eq!(
        second.recurrence.as_ref().map(|r| r.rrule.as_str()),
        Some("FREQ=MONTHLY;BYDAY=-1FR")
    );
    complete(&mut alice, &second.name).await;
    app.drain_events().await;
    let third = app.occurrence(&mut alice, "alice", &task.series, 3).await;
    // March 2027's last Friday is the 26th, two days before Berlin's clocks go forward.
    assert_eq!(third.due_time, Some(ts("2027-03-26T15:00:00Z")));
    complete(&mut alice, &third.name).await;
    app.drain_events().await;
    let fourth = app.occurrence(&mut alice, "alice", &task.series, 4).await;
    // April 2027's last Friday is the 30th, on summer time: 16:00 local is 14:00 UTC.
    assert_eq!(fourth.due_time, Some(ts("2027-04-30T14:00:00Z")));
}

async fn structured_rules_come_back_as_text_other_calendars_expand_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let month_end = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-01-31T09:00:00Z")),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Monthly as i32,
                ..Default::default()
            }),
            ..titled("Pay rent")
        },
    )
    .await;
    assert_eq!(
        month_end.recurrence.expect("a rule").rrule,
        "FREQ=MONTHLY;BYMONTHDAY=31,-1;BYSETPOS=1"
    );
    let first_weekday = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-02-01T08:00:00Z")),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Monthly as i32,
                by_weekday: [1, 2, 3, 4, 5]
                    .into_iter()
                    .map(|day| pb::NthWeekday { day, ordinal: 0 })
                    .collect(),
                set_positions: vec![1],
                ..Default::default()
            }),
            ..titled("Invoice")
        },
    )
    .await;
    let rule = first_weekday.recurrence.expect("a rule");
    assert_eq!(rule.rrule, "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1");
    // The text round-trips: sent back as text, the same structured rule.
    let again = create(
        &mut alice,
        "alice",
        by_text("Invoice again", "2027-02-01T08:00:00Z", &rule.rrule),
    )
    .await
    .recurrence
    .expect("a rule");
    assert_eq!(again.by_weekday, rule.by_weekday);
    assert_eq!(again.set_positions, rule.set_positions);
}

async fn a_late_completion_skips_missed_occurrences_when_asked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let ago = chrono::Utc::now() - chrono::Duration::days(3) - chrono::Duration::hours(1);
    // Whole seconds, as a user would write it.
    let due = chrono::DateTime::from_timestamp(ago.timestamp(), 0).expect("a time");
    let daily = |missed: pb::MissedOccurrences| pb::Task {
        due_time: Some(timestamp(due)),
        recurrence: Some(pb::Recurrence {
            frequency: pb::Frequency::Daily as i32,
            missed_occurrences: missed as i32,
            ..Default::default()
        }),
        ..titled("Stretch")
    };
    let kept = create(
        &mut alice,
        "alice",
        daily(pb::MissedOccurrences::Unspecified),
    )
    .await;
    let skipped = create(&mut alice, "alice", daily(pb::MissedOccurrences::Skip)).await;
    complete(&mut alice, &kept.name).await;
    complete(&mut alice, &skipped.name).await;
    app.drain_events().await;
    let next_kept = app.occurrence(&mut alice, "alice", &kept.series, 2).await;
    assert_eq!(
        next_kept.due_time,
        Some(timestamp(due + chrono::Duration::days(1))),
        "the default keeps every missed occurrence"
    );
    // Skipping: the first occurrence after now (due + 4 days), at its position in the series
    // (the 5th: the 2nd to the 4th are skipped, all three already past).
    let next_skipped = app
        .occurrence(&mut alice, "alice", &skipped.series, 5)
        .await;
    assert_eq!(
        next_skipped.due_time,
        Some(timestamp(due + chrono::Duration::days(4)))
    );
}

async fn invalid_rules_name_the_field_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    for (rrule, field) in [
        ("FREQ=HOURLY", "task.recurrence.rrule"),
        ("FREQ=MONTHLY;BYHOUR=9", "task.recurrence.rrule"),
        (
            "FREQ=MONTHLY;COUNT=3;UNTIL=20271231T000000Z",
            "task.recurrence.rrule",
        ),
        ("FREQ=MONTHLY;BYDAY=9FR", "task.recurrence.rrule"),
        ("not a rule", "task.recurrence.rrule"),
    ] {
        let err = alice
            .create_task(pb::CreateTaskRequest {
                parent: "users/alice".into(),
                task: Some(by_text("Bad", "2027-01-29T15:00:00Z", rrule)),
                request_id: String::new(),
            })
            .await
            .expect_err(rrule);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{rrule}");
        let fields = violations(&err);
        assert!(
            fields.iter().any(|(f, _)| f.starts_with(field)),
            "{rrule}: {fields:?}"
        );
    }
    let structured = alice
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(pb::Task {
                due_time: Some(ts("2027-01-29T15:00:00Z")),
                recurrence: Some(pb::Recurrence {
                    frequency: pb::Frequency::Daily as i32,
                    month_days: vec![0],
                    ..Default::default()
                }),
                ..titled("Bad")
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("month days on a daily rule");
    let fields = violations(&structured);
    assert!(
        fields
            .iter()
            .any(|(f, _)| f.starts_with("task.recurrence.month_days")),
        "{fields:?}"
    );
    assert!(list_all(&mut alice, "alice").await.is_empty());
}

both_backends!(
    the_last_friday_of_the_month_goes_on_by_ordinal_weekday,
    structured_rules_come_back_as_text_other_calendars_expand_alike,
    a_late_completion_skips_missed_occurrences_when_asked,
    invalid_rules_name_the_field_and_store_nothing,
);
