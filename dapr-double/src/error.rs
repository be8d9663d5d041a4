//! The double's own error type (for its helpers; gRPC answers use `tonic::Status`).

use std::fmt;

/// Why a helper of the double failed.
#[derive(Debug)]
pub enum DoubleError {
    /// Binding or re-binding the listening socket failed.
    Io(std::io::Error),
    /// The app's address is not known yet (see `set_app_addr`).
    NoAppAddr,
    /// The app does not subscribe to this topic on the double's pubsub.
    NotSubscribed(String),
    /// No job with this name is scheduled.
    JobNotFound(String),
    /// The app answered a call with an error status.
    App(tonic::Status),
    /// The double is stopped (see `stop`/`restart`).
    Stopped,
    /// A configuration daprd would refuse at start.
    Config(String),
}

impl fmt::Display for DoubleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "socket error: {err}"),
            Self::NoAppAddr => f.write_str("the app's callback address is not set"),
            Self::NotSubscribed(topic) => write!(f, "the app does not subscribe to topic {topic}"),
            Self::JobNotFound(name) => write!(f, "no job named {name}"),
            Self::App(status) => write!(
                f,
                "the app answered {:?}: {}",
                status.code(),
                status.message()
            ),
            Self::Stopped => f.write_str("the double is stopped"),
            Self::Config(reason) => write!(f, "daprd would not start: {reason}"),
        }
    }
}

impl std::error::Error for DoubleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(err) => Some(err),
            Self::App(status) => Some(status),
            _ => None,
        }
    }
}

impl From<std::io::Error> for DoubleError {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err)
    }
}
