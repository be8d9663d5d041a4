//! Incoming deliveries: the event a delivery is turned into, the checks that need no database
//! (inspection and decoding), the subscriber that handles each delivery exactly once, the
//! handlers that react to taskflow's own events, and embedded mode's in-process delivery.

mod activity;
pub mod dead_letters;
pub mod decode;
#[cfg(test)]
mod decode_properties;
mod drop_reason;
pub mod envelope;
#[cfg(test)]
mod envelope_properties;
mod failures;
pub mod handlers;
pub mod inspect;
mod local_sink;
pub mod subscriber;
mod subscriptions;
#[cfg(test)]
mod test_fixtures;

pub use drop_reason::{DropReason, Rejection};
pub use envelope::IncomingEvent;
pub use local_sink::LocalSink;
pub use subscriber::{Subscriber, Verdict};
pub use subscriptions::{Handling, Subscription, Subscriptions};
