//! The gRPC surface: decode requests into domain values, call the use cases, encode replies.

mod convert;
mod tasks;

pub use tasks::TaskApi;
