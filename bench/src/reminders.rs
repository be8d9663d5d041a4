//! Reminders due in the same minute, fired by the embedded (local) scheduler on PostgreSQL:
//! how late each fires (its notification's time − its fire time) and that none is notified
//! twice. The tasks and their armed reminders are seeded in SQL while the server is stopped;
//! then the server starts and fires them as their times come.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use crate::Error;
use crate::load::histogram;
use crate::pg::psql;
use crate::report::Table;
use crate::server::Server;

/// The users the seeded tasks belong to (`rb-0` … ).
const USERS: u64 = 1_000;
/// The minute the reminders are spread over.
const MINUTE_US: u64 = 60_000_000;
/// Time to start the server before the first reminder is due.
const LEAD_IN: Duration = Duration::from_secs(10);

pub struct ReminderFigures {
    pub reminders: u64,
    /// Fire lateness (µs).
    pub lateness: Histogram<u64>,
    pub max_late_ms: f64,
    /// Notifications beyond one per reminder (must be 0).
    pub duplicates: u64,
    /// First due → last fired.
    pub span: Duration,
}

fn now_us() -> Result<u64, Error> {
    Ok(u64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)?
            .as_micros(),
    )?)
}

/// Seeds `count` open tasks, each with its one reminder (`lead`, an hour before it is due)
/// armed within the minute that starts at `first_us`.
async fn seed(url: &str, count: u64, first_us: u64) -> Result<(), Error> {
    let sql = format!(
        "BEGIN; \
         CREATE TEMP TABLE seed AS \
           SELECT g, gen_random_uuid() AS id, 'rb-' || (g % {USERS}) AS user_id, \
             ({first_us}::bigint + (g::bigint * {MINUTE_US}) / {count}) AS fire_at_us \
           FROM generate_series(0, {count} - 1) g; \
         INSERT INTO tasks (id, user_id, title, description, priority, due_time_us, time_zone, \
           recurrence, completed, complete_time_us, series_id, occurrence, version, request_id, \
           create_time_us, update_time_us, series_anchor_us, remind_before_us) \
         SELECT id, user_id, 'Reminded ' || g, '', 0, fire_at_us + 3600000000, '', NULL, false, \
           NULL, id, 1, 1, NULL, {first_us} - 60000000, {first_us} - 60000000, NULL, 3600000000 \
         FROM seed; \
         INSERT INTO reminders (task_id, reminder_id, user_id, fire_at_us, due_at_us, state, \
           fired_us, updated_us, job_pending) \
         SELECT id, 'lead', user_id, fire_at_us, fire_at_us + 3600000000, 0, NULL, \
           {first_us} - 60000000, false \
         FROM seed; \
         COMMIT; \
         ANALYZE tasks; ANALYZE reminders;"
    );
    psql(url, &sql).await?;
    Ok(())
}

async fn number(url: &str, sql: &str) -> Result<u64, Error> {
    Ok(psql(url, sql).await?.parse()?)
}

/// Runs the figure: `count` reminders due in one minute, fired by `binary` on `url`.
pub async fn run(binary: &Path, url: &str, count: u64) -> Result<ReminderFigures, Error> {
    let first_us = now_us()? + u64::try_from(LEAD_IN.as_micros())?;
    seed(url, count, first_us).await?;
    let server = Server::start(
        binary,
        &[
            ("TASKFLOW_DATABASE_URL", url.to_owned()),
            ("TASKFLOW_EVENT_SINK", "local".to_owned()),
        ],
    )
    .await?;
    let fired_sql =
        "SELECT count(*) FROM reminders WHERE user_id LIKE 'rb-%' AND state = 1".to_owned();
    let deadline = Instant::now() + LEAD_IN + Duration::from_secs(60 + 120);
    loop {
        let fired = number(url, &fired_sql).await?;
        if fired >= count {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {fired} of {count} reminders fired in time").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.stop().await?;

    let rows = psql(
        url,
        "SELECT fired_us - fire_at_us FROM reminders WHERE user_id LIKE 'rb-%' AND state = 1",
    )
    .await?;
    let mut lateness = histogram()?;
    let mut max_late_us = 0u64;
    for row in rows.lines() {
        let late: i64 = row.parse()?;
        let late = u64::try_from(late.max(1))?;
        max_late_us = max_late_us.max(late);
        lateness.record(late.min(lateness.high()))?;
    }
    let notifications = number(
        url,
        "SELECT count(*) FROM notifications WHERE user_id LIKE 'rb-%'",
    )
    .await?;
    let distinct = number(
        url,
        "SELECT count(DISTINCT task_id) FROM notifications WHERE user_id LIKE 'rb-%'",
    )
    .await?;
    if distinct != count {
        return Err(format!("{distinct} of {count} reminders were notified").into());
    }
    let last_us = number(
        url,
        "SELECT max(fired_us) FROM reminders WHERE user_id LIKE 'rb-%'",
    )
    .await?;
    Ok(ReminderFigures {
        reminders: count,
        lateness,
        max_late_ms: max_late_us as f64 / 1000.0,
        duplicates: notifications - distinct,
        span: Duration::from_micros(last_us.saturating_sub(first_us)),
    })
}

/// The figure's row; an error when a reminder was notified twice.
pub fn tabulate(figures: &ReminderFigures, table: &mut Table) -> Result<(), Error> {
    table.latency(
        "postgres",
        "reminder fire lateness",
        &figures.lateness,
        &format!(
            "{} reminders due within one minute, embedded scheduler; max {:.0} ms, \
             first due -> last fired {:.1} s, {} duplicate notifications",
            figures.reminders,
            figures.max_late_ms,
            figures.span.as_secs_f64(),
            figures.duplicates
        ),
    );
    if figures.duplicates > 0 {
        return Err(format!("{} reminders were notified twice", figures.duplicates).into());
    }
    Ok(())
}
