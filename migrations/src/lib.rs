//! taskflow's schema history. Migrations are never edited once merged: each change is a new
//! file, listed here in order, with a working `down`.

pub use sea_orm_migration::prelude::*;

/// The statements that count entries of the history into `activity_days` (for seeding).
pub use m20261205_000013_activity_days::fill as fill_activity_days;

mod m20261125_000001_create_tasks;
mod m20261125_000002_create_events;
mod m20261125_000003_create_reminders_notifications;
mod m20261204_000004_reminder_jobs;
mod m20261204_000005_dead_letter_review;
mod m20261204_000006_retention_indexes;
mod m20261204_000007_soft_delete;
mod m20261204_000008_activities;
mod m20261204_000009_activity_insights_index;
mod m20261204_000010_activity_hours;
mod m20261205_000011_lists_and_subtasks;
mod m20261205_000012_several_reminders;
mod m20261205_000013_activity_days;
mod m20261205_000014_tasks_by_user_and_parent;

/// Applies taskflow's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tasks::Migration),
            Box::new(m20261125_000002_create_events::Migration),
            Box::new(m20261125_000003_create_reminders_notifications::Migration),
            Box::new(m20261204_000004_reminder_jobs::Migration),
            Box::new(m20261204_000005_dead_letter_review::Migration),
            Box::new(m20261204_000006_retention_indexes::Migration),
            Box::new(m20261204_000007_soft_delete::Migration),
            Box::new(m20261204_000008_activities::Migration),
            Box::new(m20261204_000009_activity_insights_index::Migration),
            Box::new(m20261204_000010_activity_hours::Migration),
            Box::new(m20261205_000011_lists_and_subtasks::Migration),
            Box::new(m20261205_000012_several_reminders::Migration),
            Box::new(m20261205_000013_activity_days::Migration),
            Box::new(m20261205_000014_tasks_by_user_and_parent::Migration),
        ]
    }
}
