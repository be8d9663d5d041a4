//! The arguments of `taskflow dead-letters`.

use clap::{Args, Subcommand};

use super::ServeConfig;

#[derive(Debug, Clone, Args)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    pub action: DeadLetterAction,
    #[command(flatten)]
    pub serve: ServeConfig,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DeadLetterAction {
    /// The dead letters, oldest first (by default those still waiting for review).
    List {
        /// Only events of this CloudEvent type (`task.completed` …).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only this user's events.
        #[arg(long)]
        user: Option<String>,
        /// Only those received at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only those received before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// `stored` (waiting for review), `replayed`, `discarded` or `all`.
        #[arg(long, default_value = "stored")]
        status: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// `table` or `json` (one object per line).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// One dead letter in full: its payload decoded to JSON and its CloudEvent attributes.
    Show { id: i64 },
    /// Hand dead letters back to the handlers, exactly once (an event already applied is a
    /// no-op); each replay is recorded.
    Replay {
        /// The dead letters to replay.
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
        /// Every dead letter still waiting for review (with `--type`: of that type).
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// With `--all`: only events of this type.
        #[arg(long = "type", requires = "all")]
        event_type: Option<String>,
    },
    /// Set dead letters aside; they are deleted after the retention.
    Discard {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}
