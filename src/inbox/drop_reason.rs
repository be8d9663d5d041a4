//! Why a delivery is refused: a reason from a small fixed set (the `reason` label of the
//! dropped-deliveries metric) and a message for the logs.

use std::fmt;

/// Why a delivery can never be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The payload (or the envelope) is larger than the largest payload handled (1 MiB).
    Oversized,
    /// The payload's content type is none taskflow reads (protobuf or protobuf JSON).
    UnsupportedContentType,
    /// The bytes are not what their content type says: broken protobuf, JSON or base64.
    Undecodable,
    /// The CloudEvent `type` is none of taskflow's events.
    UnknownType,
    /// The event came on a topic taskflow does not handle it on.
    WrongTopic,
    /// A required attribute or payload field is absent.
    MissingField,
    /// An attribute or payload field is present but malformed (an id, a user, a task name).
    InvalidField,
    /// The partition key, subject, payload user and task name do not all name one user.
    UserMismatch,
    /// The event is well formed but cannot be applied to the stored data.
    NotApplicable,
}

impl DropReason {
    pub const ALL: [Self; 9] = [
        Self::Oversized,
        Self::UnsupportedContentType,
        Self::Undecodable,
        Self::UnknownType,
        Self::WrongTopic,
        Self::MissingField,
        Self::InvalidField,
        Self::UserMismatch,
        Self::NotApplicable,
    ];

    /// The metric label value.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::UnsupportedContentType => "unsupported_content_type",
            Self::Undecodable => "undecodable",
            Self::UnknownType => "unknown_type",
            Self::WrongTopic => "wrong_topic",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::UserMismatch => "user_mismatch",
            Self::NotApplicable => "not_applicable",
        }
    }
}

/// A refused delivery: why, and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: DropReason,
    pub message: String,
}

impl Rejection {
    pub fn new(reason: DropReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_label(), self.message)
    }
}
