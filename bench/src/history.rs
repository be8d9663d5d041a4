//! The history loads on PostgreSQL: `ListActivities` (the first page, and a filtered page) for
//! one user with many entries in a much larger table, and `GetInsights` over a year.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use taskflow::proto::v1 as pb;
use tonic::transport::Channel;

use crate::Error;
use crate::client::as_user;
use crate::load::{self, Measured, Until};
use crate::pg::psql;

pub type History = pb::activity_service_client::ActivityServiceClient<Channel>;

/// The user whose history the loads read.
pub const HISTORY_USER: &str = "historian";

const DAY_US: i64 = 86_400_000_000;

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// `total` entries over the last year, `mine` of them [`HISTORY_USER`]'s and the rest spread
/// over 900 other users; every kind, completions with a due time an hour either side (or
/// none), written in SQL as the handlers would have.
pub async fn seed(url: &str, mine: u64, total: u64) -> Result<(), Error> {
    let now = now_us();
    let sql = format!(
        "INSERT INTO activities (id, user_id, kind, actor, task_id, task_title, occur_us, \
           changes, event_id, due_us) \
         SELECT gen_random_uuid(), \
           CASE WHEN g <= {mine} THEN '{HISTORY_USER}' ELSE 'u' || (g % 900) END, \
           ((g % 9) + 1)::smallint, CASE WHEN g % 9 IN (6, 7, 8) THEN 2 ELSE 1 END, \
           gen_random_uuid(), 'task ' || g, \
           {now} - (g % 365) * {DAY_US} - (g % 86400) * 1000000, NULL, 'seed-' || g, \
           CASE WHEN g % 9 = 2 AND g % 3 > 0 \
             THEN {now} - (g % 365) * {DAY_US} - (g % 86400) * 1000000 \
                  + ((g % 3) * 2 - 3) * 3600000000 END \
         FROM generate_series(1::bigint, {total}) g;"
    );
    psql(url, &sql).await?;
    // Their counts per day, as the service keeps them with each entry it records (and as the
    // migration that made the table counted the entries before it).
    psql(
        url,
        &migrations::fill_activity_days("event_id LIKE 'seed-%'").join(";\n"),
    )
    .await?;
    // As autovacuum would have: the visibility map lets reads use the index alone.
    psql(url, "VACUUM ANALYZE activities;").await?;
    psql(url, "VACUUM ANALYZE activity_days;").await?;
    Ok(())
}

fn parent() -> String {
    format!("users/{HISTORY_USER}")
}

/// A page of 50 from `callers` callers for `duration`; `filter` empty for the first page.
pub async fn list(
    clients: &[History],
    callers: usize,
    duration: Duration,
    filter: String,
) -> Result<Measured, Error> {
    let clients = clients.to_vec();
    load::closed_loop(callers, Until::Elapsed(duration), move |caller, _| {
        let mut client = clients[caller % clients.len()].clone();
        let request = pb::ListActivitiesRequest {
            parent: parent(),
            page_size: 50,
            filter: filter.clone(),
            ..Default::default()
        };
        async move {
            let page = client
                .list_activities(as_user(HISTORY_USER, request))
                .await?
                .into_inner();
            if page.activities.len() < 50 {
                return Err(tonic::Status::internal(format!(
                    "a short page: {} entries",
                    page.activities.len()
                )));
            }
            Ok(())
        }
    })
    .await
}

/// The filter of the filtered page: completions of the last half year.
pub fn completed_lately() -> String {
    let since = chrono::Utc::now() - chrono::Duration::days(182);
    format!(
        "type = TASK_COMPLETED AND create_time >= \"{}\"",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// `GetInsights` over the last year, in Berlin days.
pub async fn insights(
    clients: &[History],
    callers: usize,
    duration: Duration,
) -> Result<Measured, Error> {
    let clients = clients.to_vec();
    load::closed_loop(callers, Until::Elapsed(duration), move |caller, _| {
        let mut client = clients[caller % clients.len()].clone();
        let end = SystemTime::now();
        let start = end - Duration::from_secs(365 * 86_400);
        let request = pb::GetInsightsRequest {
            parent: parent(),
            start_time: Some(start.into()),
            end_time: Some(end.into()),
            time_zone: "Europe/Berlin".into(),
        };
        async move {
            let insights = client
                .get_insights(as_user(HISTORY_USER, request))
                .await?
                .into_inner();
            if insights.completed == 0 || insights.days.len() < 365 {
                return Err(tonic::Status::internal("an empty year"));
            }
            Ok(())
        }
    })
    .await
}
