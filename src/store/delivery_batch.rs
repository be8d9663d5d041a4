//! PostgreSQL: a batch of delivery records, their history entries and the entries' day
//! counts written as one statement (data-modifying CTEs over arrays), which is atomic by
//! itself: one round trip instead of BEGIN, three statements and COMMIT, and the same SQL
//! text whatever the batch's size, so each connection plans it once.
//!
//! It runs on a connection of its own whose session uses generic plans: with arrays this
//! small PostgreSQL judges a custom plan cheaper and plans the statement again on every
//! execution (about 1 ms for the 96 running totals, against 0.2 ms to run it).
//!
//! It counts as [`super::activity_days::add`] does (only entries newly recorded, from their quarter
//! to the day's end, rows locked in the same order: user ids by their bytes, then day, then
//! count).

use std::sync::LazyLock;

use sea_orm::sqlx::postgres::{PgPool, PgPoolOptions};
use sea_orm::{DbErr, RuntimeErr, TryIntoModel};

use super::Database;
use super::activity_days::{QUARTER_US, QUARTERS, column};
use super::db::ping_if_due;
use super::deliveries::Record;
use crate::domain::{ActivityKind, DAY_US};

static SQL: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = (1..=QUARTERS).map(column).collect();
    // t_k counts the entries of the day's first k quarters.
    let totals: Vec<String> = (1..=QUARTERS)
        .map(|k| format!("count(*) FILTER (WHERE quarter < {k})"))
        .collect();
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = activity_days.{c} + excluded.{c}"))
        .collect();
    format!(
        "WITH processed AS ( \
           INSERT INTO processed_events (consumer, event_id, event_type, user_id, processed_us) \
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) \
           ON CONFLICT (consumer, event_id) DO NOTHING \
         ), entries AS ( \
           INSERT INTO activities (id, user_id, kind, actor, task_id, task_title, occur_us, \
                                   changes, event_id, due_us) \
           SELECT * FROM unnest($6::uuid[], $7::text[], $8::int2[], $9::int2[], $10::uuid[], \
                                $11::text[], $12::int8[], $13::text[], $14::text[], $15::int8[]) \
           ON CONFLICT (id) DO NOTHING \
           RETURNING user_id, kind, occur_us, due_us \
         ), placed AS ( \
           SELECT user_id, kind, occur_us, due_us, \
                  occur_us - ((occur_us % {DAY_US}) + {DAY_US}) % {DAY_US} AS day_us \
           FROM entries \
         ), counted AS ( \
           SELECT p.user_id, p.day_us, c.counted, (p.occur_us - p.day_us) / {QUARTER_US} AS quarter \
           FROM placed p CROSS JOIN LATERAL (VALUES \
             (0::int2, p.kind = $16), \
             (1::int2, p.kind = $17), \
             (2::int2, p.kind = $17 AND p.due_us IS NOT NULL AND p.occur_us <= p.due_us), \
             (3::int2, p.kind = $17 AND p.due_us IS NOT NULL AND p.occur_us > p.due_us) \
           ) AS c(counted, hit) \
           WHERE c.hit \
         ) \
         INSERT INTO activity_days (user_id, day_us, counted, {}) \
         SELECT user_id, day_us, counted, {} FROM counted \
         GROUP BY user_id, day_us, counted \
         ORDER BY user_id COLLATE \"C\", day_us, counted \
         ON CONFLICT (user_id, day_us, counted) DO UPDATE SET {}",
        columns.join(", "),
        totals.join(", "),
        updates.join(", ")
    )
});

/// The writer's connection (see the module documentation), opened when first used, pinged
/// as the API's pool pings its connections.
pub fn pool(db: &Database) -> PgPool {
    let shared = db.conn().get_postgres_connection_pool();
    let options = (*shared.connect_options())
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(shared.options().get_acquire_timeout())
        .test_before_acquire(false)
        .before_acquire(ping_if_due)
        .connect_lazy_with(options)
}

/// Writes `rows` on `pool` (see the module documentation).
pub async fn insert(pool: &PgPool, rows: Vec<Record>) -> Result<(), DbErr> {
    let mut consumer = Vec::with_capacity(rows.len());
    let mut event_id = Vec::with_capacity(rows.len());
    let mut event_type = Vec::with_capacity(rows.len());
    let mut user_id = Vec::with_capacity(rows.len());
    let mut processed_us = Vec::with_capacity(rows.len());
    let mut entries = Entries::default();
    for row in rows {
        let processed = row.processed.try_into_model()?;
        consumer.push(processed.consumer);
        event_id.push(processed.event_id);
        event_type.push(processed.event_type);
        user_id.push(processed.user_id);
        processed_us.push(processed.processed_us);
        if let Some(activity) = row.activity {
            entries.push(activity.try_into_model()?);
        }
    }
    sqlx::query(SQL.as_str())
        .bind(consumer)
        .bind(event_id)
        .bind(event_type)
        .bind(user_id)
        .bind(processed_us)
        .bind(entries.id)
        .bind(entries.user_id)
        .bind(entries.kind)
        .bind(entries.actor)
        .bind(entries.task_id)
        .bind(entries.task_title)
        .bind(entries.occur_us)
        .bind(entries.changes)
        .bind(entries.event_id)
        .bind(entries.due_us)
        .bind(ActivityKind::TaskCreated.number())
        .bind(ActivityKind::TaskCompleted.number())
        .execute(pool)
        .await
        .map_err(|err| DbErr::Exec(RuntimeErr::SqlxError(err.into())))?;
    Ok(())
}

/// History entries as columns.
#[derive(Default)]
struct Entries {
    id: Vec<uuid::Uuid>,
    user_id: Vec<String>,
    kind: Vec<i16>,
    actor: Vec<i16>,
    task_id: Vec<uuid::Uuid>,
    task_title: Vec<String>,
    occur_us: Vec<i64>,
    changes: Vec<Option<String>>,
    event_id: Vec<String>,
    due_us: Vec<Option<i64>>,
}

impl Entries {
    fn push(&mut self, entry: super::entity::activity::Model) {
        self.id.push(entry.id);
        self.user_id.push(entry.user_id);
        self.kind.push(entry.kind);
        self.actor.push(entry.actor);
        self.task_id.push(entry.task_id);
        self.task_title.push(entry.task_title);
        self.occur_us.push(entry.occur_us);
        self.changes.push(entry.changes);
        self.event_id.push(entry.event_id);
        self.due_us.push(entry.due_us);
    }
}
