//! The gRPC surface: decode requests into domain values, call the use cases, encode replies.

mod activities;
mod app_callback;
mod lists;
mod notifications;
mod tasks;

pub use activities::ActivityApi;
pub use app_callback::AppCallbackApi;
pub use lists::ListApi;
pub use notifications::{NotificationApi, notification_out};
pub use tasks::TaskApi;
