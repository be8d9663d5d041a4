//! A stand-in for the Dapr sidecar (daprd) in taskflow's tests and benchmarks.
//!
//! No daprd runs on our machines, so tests talk to this double over real gRPC on loopback. It
//! behaves as `/work/shared/dapr-contract.md` (read from daprd 1.16–1.18's source) says:
//!
//! - **Version profile** — [`DaprVersion`] picks the daprd line (1.16.0/1.16.1, 1.16.2+, 1.17,
//!   1.18; default 1.18): which RPCs exist, whether callbacks carry the app token, and which
//!   callback RPCs daprd calls.
//! - **Server side** — it serves `dapr.proto.runtime.v1.Dapr` on `127.0.0.1:0` with
//!   `PublishEvent`, `BulkPublishEvent(Alpha1)`, `ScheduleJob(Alpha1)`, `DeleteJob(Alpha1)` and
//!   `GetMetadata` as far as the version has them. A method the version lacks answers as daprd's
//!   service-invocation proxy does (`Unknown`); a method daprd has but the double does not
//!   implement answers `Unimplemented`. It builds the CloudEvent envelope daprd would put on
//!   Kafka and records each stored message as a [`Published`].
//! - **Delivery side** — it asks the app's `ListTopicSubscriptions` once, delivers stored
//!   messages to `OnTopicEvent` in per-key order with daprd's retry, drop and dead-letter rules
//!   (no retries unless a Resiliency policy is configured; endless Kafka redelivery without a
//!   dead-letter topic), and records each as a [`Delivery`]; it can also deliver hand-made
//!   envelopes, bulk batches, trigger jobs and probe the app's health.
//! - **App health** — with `DaprDoubleConfig::app_health` it probes the app as daprd does, and
//!   while the app is unhealthy it hands it no new message and no job (`health.rs`).
//! - **Faults** — down, delay, failing publishes or bulk entries, missing bulk or stable job
//!   RPCs, and a real stop/restart of the listening socket, switchable at run time on any clone.
//!
//! ```ignore
//! let double = DaprDouble::start(DaprDoubleConfig::fast(Duration::from_millis(5))).await?;
//! // or as another daprd line:
//! // DaprDoubleConfig::fast(Duration::from_millis(5)).with_version(DaprVersion::V1_16)
//! double.set_app_addr(app_addr);
//! // point the app at double.endpoint() (DAPR_GRPC_ENDPOINT), publish…
//! let published = double.wait_for_published(1, Duration::from_secs(5)).await?;
//! let deliveries = double.wait_for_deliveries(1, Duration::from_secs(5)).await?;
//! assert_eq!(deliveries[0].outcome, Outcome::Acked);
//! ```

mod app;
mod broker;
mod bulk;
mod config;
mod delivery;
mod double;
mod duration;
mod envelope;
mod error;
mod faults;
mod health;
mod jobs;
mod metadata;
mod publish;
mod record;
mod routes;
mod runtime_metadata;
mod server;
mod subscriptions;
mod version;

pub use config::{DaprDoubleConfig, JobRetryPolicy, PubsubComponent, RetryPolicy};
pub use double::DaprDouble;
pub use envelope::DEFAULT_TYPE;
pub use error::DoubleError;
pub use health::{AppHealthProbe, HealthChange};
pub use record::{
    AppAnswer, BulkDelivery, Delivery, JobOutcome, JobTrigger, Outcome, Published, WaitTimeout,
};
pub use server::PROXY_ERROR;
pub use version::DaprVersion;

/// The `dapr` crate's generated types the double's API uses (subscriptions, jobs, statuses).
pub use dapr::dapr::proto::runtime::v1 as proto;
