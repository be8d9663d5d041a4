//! In-app notifications: stored once (a dedupe key), listed, marked read, and pushed live to
//! the user's watchers through the [`Hub`].

mod hub;
mod listener;
mod watcher;

pub use hub::Hub;
pub use watcher::watch;
