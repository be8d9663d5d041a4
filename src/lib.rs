//! taskflow: personal tasks over gRPC, where every change is an event.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod codec;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod inbox;
pub mod listing;
pub mod metrics;
pub mod notifications;
pub mod outbox;
pub mod proto;
pub mod reminders;
pub mod sidecar;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tracecontext;
