//! Events: the transactional outbox, the relay that publishes it (through the Dapr sidecar or
//! in-process), and the subscriber that reacts to deliveries.

mod breaker;
mod catalog;
pub mod dapr_sink;
pub mod decode;
#[cfg(test)]
mod decode_properties;
pub mod envelope;
#[cfg(test)]
mod envelope_properties;
pub mod handlers;
pub mod inspect;
pub mod outbox;
pub mod payloads;
pub mod relay;
pub mod sidecar;
pub mod sink;
pub mod subscriber;
#[cfg(test)]
mod test_fixtures;

pub use catalog::EventKind;
pub use envelope::IncomingEvent;
pub use inspect::{DropReason, Rejection};
pub use outbox::{NewEvent, Outbox};
pub use payloads::{Cause, task_event};
pub use subscriber::{Subscriber, Verdict};
