//! Insights: a window of the history in days of the user's time zone — created and completed
//! per day, on time or late, overdue now, streaks and the busiest weekday.

use chrono::{DateTime, Duration, Utc};
use taskflow::domain::{Activity, ActivityKind, Actor, TaskId, UserId};
use taskflow::proto::v1::{self as pb, activity_service_client::ActivityServiceClient};
use taskflow::store::activities;
use tonic::Code;

use crate::both_backends;
use crate::helpers::*;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a time")
        .with_timezone(&Utc)
}

/// An entry as the handlers would have written it at `when`.
fn entry(kind: ActivityKind, when: &str, due: Option<&str>) -> Activity {
    let event_id = uuid::Uuid::now_v7().to_string();
    Activity {
        id: Activity::id_for(&event_id),
        user: UserId::parse("alice").expect("a user"),
        kind,
        actor: Actor::User,
        task: TaskId::new_v7(),
        task_title: "a task".into(),
        occur_time: at(when),
        changes: Vec::new(),
        event_id,
        due_time: due.map(at),
    }
}

fn request(start: &str, end: &str, time_zone: &str) -> pb::GetInsightsRequest {
    pb::GetInsightsRequest {
        parent: "users/alice".into(),
        start_time: Some(ts(start)),
        end_time: Some(ts(end)),
        time_zone: time_zone.into(),
    }
}

async fn a_window_is_summarised_in_the_users_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    use ActivityKind::{TaskCompleted as Done, TaskCreated as New};
    let history = [
        entry(New, "2026-11-16T08:00:00Z", None),
        // Monday 16th to Thursday 19th: a four-day run; on time, late, without a due time.
        entry(Done, "2026-11-16T09:00:00Z", Some("2026-11-16T12:00:00Z")),
        entry(Done, "2026-11-17T09:00:00Z", Some("2026-11-16T12:00:00Z")),
        entry(Done, "2026-11-18T09:00:00Z", None),
        entry(Done, "2026-11-19T09:00:00Z", None),
        entry(New, "2026-11-19T10:00:00Z", None),
        // Sunday 29th 23:30 UTC is Monday 30th in Berlin; Monday 30th 10:00 too.
        entry(Done, "2026-11-29T23:30:00Z", None),
        entry(Done, "2026-11-30T10:00:00Z", None),
        // Before the window: counted for the longest streak only.
        entry(Done, "2026-10-01T09:00:00Z", None),
    ];
    let rows = history.iter().map(activities::row).collect();
    activities::record(app.db().await.conn(), rows)
        .await
        .expect("recorded");
    let mut client = ActivityServiceClient::with_interceptor(
        app.channel(),
        Metadata::new(&[("x-user-id", "alice")]),
    );
    let berlin = client
        .get_insights(request(
            "2026-11-15T23:00:00Z",
            "2026-11-30T23:00:00Z",
            "Europe/Berlin",
        ))
        .await
        .expect("insights")
        .into_inner();
    assert_eq!(berlin.time_zone, "Europe/Berlin");
    assert_eq!(berlin.days.len(), 15, "Nov 16 to Nov 30, Berlin days");
    assert_eq!(berlin.days[0].date, "2026-11-16");
    assert_eq!(berlin.days[14].date, "2026-11-30");
    assert_eq!(
        (berlin.days[14].completed, berlin.days[13].completed),
        (2, 0)
    );
    assert_eq!((berlin.created, berlin.completed), (2, 6));
    assert_eq!(
        (
            berlin.completed_on_time,
            berlin.completed_late,
            berlin.completed_without_due_time
        ),
        (1, 1, 4)
    );
    assert_eq!(berlin.longest_streak_days, 4);
    assert_eq!(berlin.current_streak_days, 1, "Monday 30th, Berlin");
    assert_eq!(berlin.busiest_weekday(), pb::DayOfWeek::Monday);

    // In UTC the late Sunday completion stays on Sunday 29th: a two-day run to Monday.
    let utc = client
        .get_insights(request("2026-11-16T00:00:00Z", "2026-12-01T00:00:00Z", ""))
        .await
        .expect("insights")
        .into_inner();
    assert_eq!(utc.days.len(), 15);
    assert_eq!(utc.current_streak_days, 2);
    assert_eq!(utc.time_zone, "");
}

async fn overdue_counts_open_tasks_past_due_now(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let past = |title: &str| pb::Task {
        due_time: Some(timestamp(Utc::now() - Duration::days(2))),
        ..titled(title)
    };
    create(&mut alice, "alice", past("late one")).await;
    let done = create(&mut alice, "alice", past("done")).await;
    complete(&mut alice, &done.name).await;
    let gone = create(&mut alice, "alice", past("deleted")).await;
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: gone.name,
            etag: String::new(),
        })
        .await
        .expect("delete");
    create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(timestamp(Utc::now() + Duration::days(2))),
            ..titled("later")
        },
    )
    .await;
    app.drain_events().await;
    let mut client = ActivityServiceClient::with_interceptor(
        app.channel(),
        Metadata::new(&[("x-user-id", "alice")]),
    );
    let now = client
        .get_insights(pb::GetInsightsRequest {
            parent: "users/alice".into(),
            ..Default::default()
        })
        .await
        .expect("insights")
        .into_inner();
    assert_eq!(now.overdue, 1);
    assert_eq!(
        now.days.len(),
        31,
        "the last 30 days by default, today partly"
    );
    assert_eq!((now.created, now.completed), (4, 1));
    assert_eq!(
        now.completed_late, 1,
        "completed two days after its due time"
    );
    assert_eq!(now.current_streak_days, 1);
}

async fn bad_windows_and_zones_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = ActivityServiceClient::with_interceptor(
        app.channel(),
        Metadata::new(&[("x-user-id", "alice")]),
    );
    for (req, field) in [
        (
            request(
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "Mars/Olympus",
            ),
            "time_zone",
        ),
        (
            request("2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z", ""),
            "start_time",
        ),
        (
            request("2020-01-01T00:00:00Z", "2026-12-01T00:00:00Z", ""),
            "end_time",
        ),
    ] {
        let status = client.get_insights(req).await.expect_err("refused");
        assert_invalid(&status, field);
    }
    let status = client
        .get_insights(pb::GetInsightsRequest {
            parent: "users/bob".into(),
            ..Default::default()
        })
        .await
        .expect_err("another user's");
    assert_eq!(status.code(), Code::PermissionDenied);
}

both_backends!(
    a_window_is_summarised_in_the_users_days,
    overdue_counts_open_tasks_past_due_now,
    bad_windows_and_zones_are_refused,
    odd_zones_and_edges_count_exactly,
    daylight_saving_and_odd_offsets_count_exactly_over_months,
);

/// Zones with quarter-hour offsets and windows that start and end inside a quarter of an hour
/// count exactly what the entries say, day by day.
async fn odd_zones_and_edges_count_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base = at("2026-11-16T00:00:00Z");
    // Entries every 37 minutes and 11 seconds for three days, created and completed in turn.
    let times: Vec<DateTime<Utc>> = (0..116)
        .map(|i| base + Duration::seconds(i * (37 * 60 + 11)))
        .collect();
    let history: Vec<Activity> = times
        .iter()
        .enumerate()
        .map(|(i, when)| {
            let kind = if i % 2 == 0 {
                ActivityKind::TaskCreated
            } else {
                ActivityKind::TaskCompleted
            };
            entry(kind, &when.to_rfc3339(), None)
        })
        .collect();
    activities::record(
        app.db().await.conn(),
        history.iter().map(activities::row).collect(),
    )
    .await
    .expect("recorded");
    let mut client = ActivityServiceClient::with_interceptor(
        app.channel(),
        Metadata::new(&[("x-user-id", "alice")]),
    );
    let (start, end) = (at("2026-11-16T03:07:30Z"), at("2026-11-18T19:52:10Z"));
    for zone in [
        "Asia/Kathmandu",
        "Asia/Kolkata",
        "America/St_Johns",
        "Europe/Berlin",
    ] {
        let tz: chrono_tz::Tz = zone.parse().expect("a zone");
        let insights = client
            .get_insights(request(&start.to_rfc3339(), &end.to_rfc3339(), zone))
            .await
            .expect("insights")
            .into_inner();
        let mut expected: std::collections::BTreeMap<String, (i32, i32)> = Default::default();
        for (i, when) in times.iter().enumerate() {
            if *when < start || *when >= end {
                continue;
            }
            let day = when.with_timezone(&tz).date_naive().to_string();
            let counts = expected.entry(day).or_default();
            if i % 2 == 0 {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
        for day in &insights.days {
            let want = expected.get(&day.date).copied().unwrap_or_default();
            assert_eq!((day.created, day.completed), want, "{zone} {}", day.date);
        }
        let total: i32 = expected.values().map(|c| c.0 + c.1).sum();
        assert_eq!(insights.created + insights.completed, total, "{zone}");
    }
}

/// Over windows of months — across daylight saving time changes (of an hour, and of half an
/// hour on Lord Howe Island), half- and quarter-hour offsets, the day Samoa skipped in 2011 —
/// each local day counts exactly the entries a calendar puts on it, recorded in batches of
/// several days, and the totals split completions on time and late by their due times.
async fn daylight_saving_and_odd_offsets_count_exactly_over_months(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Entries at irregular times (a linear congruential walk of 1 to 37 hours and odd
    // seconds) from 2011-11-01 to 2012-02-15 and from 2025-12-01 over 400 days.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let mut times = Vec::new();
    for (from, until) in [
        (at("2011-11-01T00:00:00Z"), at("2012-02-15T00:00:00Z")),
        (at("2025-12-01T00:00:00Z"), at("2027-01-05T00:00:00Z")),
    ] {
        let mut when = from;
        while when < until {
            times.push(when);
            let step = i64::try_from(3_600 + next() % (36 * 3_600)).expect("small");
            when += Duration::seconds(step);
        }
    }
    let history: Vec<Activity> = times
        .iter()
        .map(|when| {
            let roll = next() % 6;
            let kind = if roll < 2 {
                ActivityKind::TaskCreated
            } else if roll < 5 {
                ActivityKind::TaskCompleted
            } else {
                ActivityKind::TaskUpdated
            };
            let due = match next() % 3 {
                0 => None,
                1 => Some(*when + Duration::minutes(10)),
                _ => Some(*when - Duration::seconds(1)),
            };
            let mut entry = entry(kind, &when.to_rfc3339(), None);
            entry.due_time = due;
            entry
        })
        .collect();
    let db = app.db().await;
    for batch in history.chunks(7) {
        activities::record(db.conn(), batch.iter().map(activities::row).collect())
            .await
            .expect("recorded");
    }
    let mut client = ActivityServiceClient::with_interceptor(
        app.channel(),
        Metadata::new(&[("x-user-id", "alice")]),
    );
    let windows = [
        ("2011-11-20T13:07:30Z", "2012-02-10T08:52:10.5Z"),
        ("2025-12-05T10:07:13Z", "2026-12-31T23:59:59Z"),
        ("2026-03-01T00:00:00Z", "2026-04-15T00:00:00Z"),
        ("2026-09-20T05:14:59.999Z", "2026-11-10T05:15:00.001Z"),
    ];
    for zone in [
        "Europe/Berlin",
        "America/New_York",
        "America/St_Johns",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "Asia/Kathmandu",
        "Asia/Kolkata",
        "Pacific/Apia",
        "Pacific/Kiritimati",
        "UTC",
    ] {
        let tz: chrono_tz::Tz = zone.parse().expect("a zone");
        for (start, end) in windows {
            let (start_at, end_at) = (at(start), at(end));
            let insights = client
                .get_insights(request(start, end, zone))
                .await
                .unwrap_or_else(|e| panic!("{zone} {start}: {e:?}"))
                .into_inner();
            let mut expected: std::collections::BTreeMap<String, (i32, i32)> = Default::default();
            let (mut on_time, mut late) = (0, 0);
            for entry in &history {
                if entry.occur_time < start_at || entry.occur_time >= end_at {
                    continue;
                }
                let day = entry.occur_time.with_timezone(&tz).date_naive().to_string();
                let counts = expected.entry(day).or_default();
                match entry.kind {
                    ActivityKind::TaskCreated => counts.0 += 1,
                    ActivityKind::TaskCompleted => {
                        counts.1 += 1;
                        match entry.due_time {
                            Some(due) if entry.occur_time <= due => on_time += 1,
                            Some(_) => late += 1,
                            None => {}
                        }
                    }
                    _ => {}
                }
            }
            expected.retain(|_, counts| *counts != (0, 0));
            let got: std::collections::BTreeMap<String, (i32, i32)> = insights
                .days
                .iter()
                .filter(|d| (d.created, d.completed) != (0, 0))
                .map(|d| (d.date.clone(), (d.created, d.completed)))
                .collect();
            assert_eq!(got, expected, "{zone} from {start} to {end}");
            assert_eq!(
                (insights.completed_on_time, insights.completed_late),
                (on_time, late),
                "{zone} from {start} to {end}"
            );
        }
    }
}
