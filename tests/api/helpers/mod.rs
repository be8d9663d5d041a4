//! Spawns a real taskflow server on a free loopback port, each test on a fresh database of
//! its own (a SQLite file, or a new PostgreSQL database), and gives typed clients per user.

use std::{sync::Arc, time::Duration};

use taskflow::clock::{Clock, SystemClock};

use sea_orm::ConnectionTrait;
use taskflow::config::{DaprConfig, DatabaseConfig, EventsConfig, Secret, ServeConfig, SinkChoice};
use taskflow::proto::v1::{self as pb, task_service_client::TaskServiceClient};
use taskflow::startup::Application;
use tokio::sync::oneshot;
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataKey},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

mod app;
mod binary;
mod callbacks;
mod db;
mod fixtures;
mod grpcurl;
mod notifications;
mod raw;
mod reminders;
mod scrape;
mod waits;

pub use app::*;
pub use binary::*;
pub use callbacks::*;
pub use db::*;
pub use fixtures::*;
pub use grpcurl::*;
pub use notifications::*;
pub use raw::*;
pub use reminders::*;
pub use scrape::*;
pub use waits::*;

/// The two databases every behaviour is checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares `sqlite::NAME` and `postgres::NAME` tests that run `NAME(backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
