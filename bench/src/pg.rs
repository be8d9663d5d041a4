//! PostgreSQL through `psql`: seeding the list load's tasks and watching the outbox drain.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use tokio::process::Command;

use crate::Error;

/// Runs `sql` on `url` and returns what it printed (unaligned, tuples only).
pub async fn psql(url: &str, sql: &str) -> Result<String, Error> {
    let output = Command::new("psql")
        .args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .await
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Events committed but not yet published.
pub async fn unpublished(url: &str) -> Result<u64, Error> {
    let count = psql(
        url,
        "SELECT count(*) FROM outbox WHERE published_us IS NULL",
    )
    .await?;
    Ok(count.parse()?)
}

/// Waits until the relay has published every committed event.
pub async fn wait_outbox_empty(url: &str, timeout: Duration) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let left = unpublished(url).await?;
        if left == 0 {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(format!("{left} events still unpublished after {timeout:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Copies `user`'s one task (created through the API, so every column holds what the service
/// writes) into `count` more with varied priorities, completion and creation times, without
/// events: the list load then pages through a large table quickly seeded.
pub async fn clone_tasks(url: &str, user: &str, count: u64) -> Result<(), Error> {
    let user = user.replace('\'', "''");
    let sql = format!(
        "INSERT INTO tasks (id, user_id, title, description, priority, due_time_us, time_zone, \
           recurrence, completed, complete_time_us, series_id, occurrence, version, request_id, \
           create_time_us, update_time_us, series_anchor_us) \
         SELECT s.id, t.user_id, t.title || ' ' || s.g, t.description, (s.g % 5)::smallint, \
           t.due_time_us, t.time_zone, t.recurrence, (s.g % 7 = 0), \
           CASE WHEN s.g % 7 = 0 THEN t.create_time_us END, s.id, 1, 1, NULL, \
           t.create_time_us - s.g * 1000, t.update_time_us - s.g * 1000, t.series_anchor_us \
         FROM (SELECT g, gen_random_uuid() AS id FROM generate_series(1, {count}) g) s \
         CROSS JOIN (SELECT * FROM tasks WHERE user_id = '{user}' LIMIT 1) t; \
         ANALYZE tasks;"
    );
    psql(url, &sql).await?;
    Ok(())
}

/// Spreads `user`'s tasks over `lists` new lists of theirs (about evenly) and returns the
/// name of the first list.
pub async fn spread_over_lists(url: &str, user: &str, lists: u64) -> Result<String, Error> {
    let user = user.replace('\'', "''");
    let sql = format!(
        "INSERT INTO task_lists (id, user_id, title, version, request_id, create_time_us, \
           update_time_us) \
         SELECT gen_random_uuid(), '{user}', 'List ' || g, 1, NULL, g, g \
         FROM generate_series(1, {lists}) g; \
         UPDATE tasks SET list_id = l.id \
         FROM (SELECT id, row_number() OVER (ORDER BY create_time_us) - 1 AS n \
               FROM task_lists WHERE user_id = '{user}') l \
         WHERE tasks.user_id = '{user}' \
           AND l.n = abs(hashtext(tasks.id::text)) % {lists};"
    );
    psql(url, &sql).await?;
    // As autovacuum would have: the visibility map and statistics after the bulk update.
    psql(url, "VACUUM ANALYZE tasks;").await?;
    let first = psql(
        url,
        &format!(
            "SELECT id FROM task_lists WHERE user_id = '{user}' ORDER BY create_time_us LIMIT 1"
        ),
    )
    .await?;
    Ok(format!("users/{user}/lists/{}", first.trim()))
}

/// When each task's row was committed, by task id, as PostgreSQL recorded it: `None` when the
/// server does not keep commit timestamps (`track_commit_timestamp = off`; `bench/run`'s own
/// cluster turns it on).
/// Only tasks created at `since` or later are read.
pub async fn commit_times(
    url: &str,
    since: SystemTime,
) -> Result<Option<HashMap<String, SystemTime>>, Error> {
    if psql(url, "SHOW track_commit_timestamp").await? != "on" {
        return Ok(None);
    }
    let since = since.duration_since(SystemTime::UNIX_EPOCH)?.as_micros();
    let rows = psql(
        url,
        &format!(
            "SELECT id, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000000)::bigint \
             FROM tasks WHERE create_time_us >= {since} \
             AND pg_xact_commit_timestamp(xmin) IS NOT NULL"
        ),
    )
    .await?;
    let mut commits = HashMap::new();
    for row in rows.lines() {
        let Some((id, micros)) = row.split_once('|') else {
            continue;
        };
        let micros: u64 = micros.parse()?;
        commits.insert(
            id.to_owned(),
            SystemTime::UNIX_EPOCH + Duration::from_micros(micros),
        );
    }
    Ok(Some(commits))
}
