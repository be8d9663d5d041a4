//! The gRPC surface: decode requests into domain values, call the use cases, encode replies.

mod app_callback;
pub(crate) mod convert;
mod tasks;

pub use app_callback::AppCallbackApi;
pub use tasks::TaskApi;
