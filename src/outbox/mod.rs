//! Outgoing events: the catalog of what taskflow publishes, the payloads built for a change,
//! the outbox rows written in the change's own transaction, and the relay that hands them to a
//! sink (the Dapr sidecar, or the in-process subscriber) in sequence order (each
//! task's events in the order they were committed).

mod catalog;
mod cloudevent;
pub mod dapr_sink;
mod payloads;
pub mod relay;
mod sink;
mod writer;

pub use catalog::EventKind;
pub use cloudevent::{CLOUDEVENTS_JSON, PROTOBUF, structured};
pub use payloads::{Cause, change_event, task_event};
pub use sink::{EventSink, SinkResult};
pub use writer::{NewEvent, Outbox, SHARDS, shard_of, traceparent_for};
