//! Integration tests: a real server over loopback gRPC, on SQLite and on PostgreSQL.

mod helpers;

mod auth;
mod callback;
mod callback_delivery;
mod create_get;
mod cross_user;
mod edges;
mod escaped_keys;
mod events_dapr;
mod events_local;
mod grpcurl;
mod large_backlog;
mod limits;
mod listing;
mod listing_edges;
mod malformed_cases;
mod malformed_deliveries;
mod metrics;
mod metrics_labels;
mod notifications;
mod notifications_watch;
mod ports;
mod python_client;
mod redelivery;
mod reminder_jobs_after_commit;
mod reminders;
mod reminders_jobs;
mod secrets;
mod series_anchor;
mod series_end;
mod server;
mod startup_config;
mod update;
mod validation;
mod verbatim_strings;
