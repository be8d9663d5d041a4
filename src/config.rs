//! Command line and environment: every option has a `TASKFLOW_*` variable.

mod bounded;
mod dead_letters;
mod dev_token;
mod identity;
mod retention;
mod secret_files;
mod tls;

use bounded::SecondsUpTo;
pub use dead_letters::{DeadLetterAction, DeadLettersArgs};
pub use dev_token::DevTokenArgs;
pub use identity::{DEFAULT_JWT_LEEWAY_SECONDS, IdentityConfig, MAX_JWT_LEEWAY_SECONDS};
pub use retention::RetentionConfig;
pub use secret_files::{SECRET_FILES, SecretFile};
pub use tls::TlsConfig;

use std::fmt;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::REMIND_BEFORE_MAX_DAYS;

/// A secret whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Parses a page-token key: a [`Secret`] of at least [`crate::listing::MIN_KEY_LEN`] bytes.
/// Its errors, unlike clap's own, never repeat the value.
#[derive(Debug, Clone, Copy)]
struct PageTokenKeyParser;

impl clap::builder::TypedValueParser for PageTokenKeyParser {
    type Value = Secret;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Secret, clap::Error> {
        let min = crate::listing::MIN_KEY_LEN;
        let name = arg.map_or_else(|| "the page token key".to_owned(), ToString::to_string);
        let raw = value.to_str().ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidUtf8,
                format!("{name} must be UTF-8\n"),
            )
        })?;
        if raw.len() < min {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "{name} must be at least {min} bytes (e.g. `openssl rand -base64 48`), got {}\n",
                    raw.len()
                ),
            ));
        }
        Ok(Secret::new(raw))
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(Self(s.to_owned()))
    }
}

/// A database URL whose `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", crate::store::redact(&self.0))
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Self(s.to_owned()))
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "taskflow",
    version,
    about = "Personal tasks over gRPC; every change is an event."
)]
#[command(args_conflicts_with_subcommands = true, after_long_help = secret_files::HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, the default command.
    #[command(flatten)]
    pub serve: ServeConfig,
    #[command(flatten)]
    pub log: LogConfig,
}

#[derive(Debug, Subcommand)]
// Parsed once at start: the size of the serve variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the API (the default when no command is given).
    Serve(ServeConfig),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseConfig),
    /// List, show, replay or discard the events kept from the dead-letter topic. Reads the same
    /// configuration (environment) as `serve`.
    DeadLetters(DeadLettersArgs),
    /// Print a development token for a user: HS256, signed with TASKFLOW_JWT_SECRET, with the
    /// configured issuer and audience.
    DevToken(DevTokenArgs),
}

impl Cli {
    /// The command to run, with `serve` as the default.
    pub fn into_command(self) -> (Command, LogConfig) {
        (self.command.unwrap_or(Command::Serve(self.serve)), self.log)
    }
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER:PASSWORD@HOST/DB`.
    // `hide_env_values`: `--help` must not print a password taken from the environment.
    #[arg(
        long,
        env = "TASKFLOW_DATABASE_URL",
        default_value = "sqlite://taskflow.db?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: DatabaseUrl,
    /// Largest number of pooled database connections.
    #[arg(long, env = "TASKFLOW_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// Longest wait for a pooled connection (opening one included), in milliseconds. While the
    /// database is unreachable a call fails with `UNAVAILABLE` after this long.
    #[arg(
        long,
        env = "TASKFLOW_DATABASE_ACQUIRE_TIMEOUT_MS",
        default_value_t = crate::store::DEFAULT_ACQUIRE_TIMEOUT_MS
    )]
    pub database_acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Address of the public API (TaskService, reflection, grpc.health.v1).
    #[arg(long, env = "TASKFLOW_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: String,
    #[command(flatten)]
    pub tls: TlsConfig,
    /// HS256 secret that verifies `authorization: Bearer` JWTs. Without it (and without an
    /// identity provider's keys, `TASKFLOW_JWT_JWKS_URL` or `TASKFLOW_OIDC_ISSUER_URL`) the server
    /// runs in development mode, trusts `x-user-id` metadata, and only listens on loopback.
    #[arg(long, env = "TASKFLOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Key that encrypts and authenticates page tokens (`next_page_token`), at least 32
    /// bytes (e.g. `openssl rand -base64 48`); every replica must have the same one. Without
    /// it each start makes a random key: tokens then do not survive a restart and are not
    /// accepted by other replicas.
    #[arg(
        long,
        env = "TASKFLOW_PAGE_TOKEN_KEY",
        hide_env_values = true,
        value_parser = PageTokenKeyParser
    )]
    pub page_token_key: Option<Secret>,
    /// Required `iss` claim of tokens, when set.
    #[arg(long, env = "TASKFLOW_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim of tokens, when set.
    #[arg(long, env = "TASKFLOW_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    #[command(flatten)]
    pub identity: IdentityConfig,
    /// Longest wait for in-flight calls to finish on shutdown, in seconds.
    #[arg(long, env = "TASKFLOW_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
    /// Address of the callback server the Dapr sidecar calls (AppCallback, health); Dapr's
    /// `app-port`. Never the public API port.
    #[arg(
        long,
        env = "TASKFLOW_CALLBACK_LISTEN",
        default_value = "127.0.0.1:50052"
    )]
    pub callback_listen: String,
    /// Address of the Prometheus metrics endpoint (`/metrics`).
    #[arg(
        long,
        env = "TASKFLOW_METRICS_LISTEN",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_listen: String,
    /// Largest request message the public API accepts, in bytes; bigger ones are refused with
    /// `OUT_OF_RANGE` (tonic's default is 4 MiB).
    #[arg(long, env = "TASKFLOW_API_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub api_max_message_bytes: usize,
    /// Largest message the callback server accepts, in bytes (match the sidecar's max-body-size).
    #[arg(long, env = "TASKFLOW_CALLBACK_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub callback_max_message_bytes: usize,
    /// How long before its due time a task's reminder fires by default, in seconds, 0 to
    /// 31622400 (366 days); tasks due sooner get none unless they set their own
    /// `remind_before`.
    #[arg(
        long,
        env = "TASKFLOW_REMINDER_LEAD_SECONDS",
        default_value_t = 86_400,
        value_parser = SecondsUpTo { max: REMINDER_LEAD_MAX_SECONDS, max_shown: "366 days" }
    )]
    pub reminder_lead_seconds: u64,
    #[command(flatten)]
    pub events: EventsConfig,
    #[command(flatten)]
    pub dapr: DaprConfig,
    #[command(flatten)]
    pub retention: RetentionConfig,
}

/// The longest default reminder lead, in seconds: the bound of a task's own `remind_before`.
pub const REMINDER_LEAD_MAX_SECONDS: u64 = REMIND_BEFORE_MAX_DAYS.unsigned_abs() * 86_400;

impl ServeConfig {
    /// The default reminder lead. `None` when `reminder_lead_seconds` is beyond
    /// [`REMINDER_LEAD_MAX_SECONDS`], which parsing refuses.
    pub fn reminder_lead(&self) -> Option<chrono::TimeDelta> {
        (self.reminder_lead_seconds <= REMINDER_LEAD_MAX_SECONDS)
            .then(|| i64::try_from(self.reminder_lead_seconds).ok())
            .flatten()
            .and_then(chrono::TimeDelta::try_seconds)
    }
}

/// Where events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SinkChoice {
    /// Dapr when `DAPR_GRPC_PORT` (or `DAPR_GRPC_ENDPOINT`) is set, otherwise in-process.
    Auto,
    /// Publish through the Dapr sidecar.
    Dapr,
    /// Deliver in-process to taskflow's own handlers (embedded mode).
    Local,
}

#[derive(Debug, Clone, Args)]
pub struct EventsConfig {
    /// Where events go: `auto`, `dapr` or `local`.
    #[arg(long, env = "TASKFLOW_EVENT_SINK", value_enum, default_value_t = SinkChoice::Auto)]
    pub event_sink: SinkChoice,
    /// Dapr pub/sub component name.
    #[arg(long, env = "TASKFLOW_PUBSUB_NAME", default_value = "kafka-pubsub")]
    pub pubsub_name: String,
    /// CloudEvent `source` of published events.
    #[arg(long, env = "TASKFLOW_EVENT_SOURCE", default_value = "taskflow")]
    pub source: String,
    /// Topic of task events.
    #[arg(long, env = "TASKFLOW_TASKS_TOPIC", default_value = "tasks")]
    pub tasks_topic: String,
    /// Topic of reminder events.
    #[arg(long, env = "TASKFLOW_REMINDERS_TOPIC", default_value = "reminders")]
    pub reminders_topic: String,
    /// Dead-letter topic of both.
    #[arg(long, env = "TASKFLOW_DEAD_LETTER_TOPIC", default_value = "tasks-dlq")]
    pub dead_letter_topic: String,
    /// Most events the relay publishes in one batch.
    #[arg(long, env = "TASKFLOW_RELAY_BATCH_SIZE", default_value_t = 1024)]
    pub relay_batch_size: u64,
    /// How often an idle relay looks for events committed by other replicas, in milliseconds.
    #[arg(long, env = "TASKFLOW_RELAY_POLL_MS", default_value_t = 500)]
    pub relay_poll_ms: u64,
    /// Longest pause between publish attempts while the sidecar fails, in milliseconds.
    #[arg(long, env = "TASKFLOW_RELAY_BACKOFF_MAX_MS", default_value_t = 30_000)]
    pub relay_backoff_max_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            event_sink: SinkChoice::Auto,
            pubsub_name: "kafka-pubsub".into(),
            source: "taskflow".into(),
            tasks_topic: "tasks".into(),
            reminders_topic: "reminders".into(),
            dead_letter_topic: "tasks-dlq".into(),
            relay_batch_size: 1024,
            relay_poll_ms: 500,
            relay_backoff_max_ms: 30_000,
        }
    }
}

/// How to reach the Dapr sidecar; the variable names are Dapr's own.
#[derive(Debug, Clone, Args)]
pub struct DaprConfig {
    /// The sidecar's gRPC port on localhost (set by the Dapr injector).
    #[arg(long, env = "DAPR_GRPC_PORT")]
    pub dapr_grpc_port: Option<u16>,
    /// The sidecar's gRPC endpoint, e.g. `http://127.0.0.1:50001` (wins over the port).
    #[arg(long, env = "DAPR_GRPC_ENDPOINT")]
    pub dapr_grpc_endpoint: Option<String>,
    /// Token sent to the sidecar as `dapr-api-token`.
    #[arg(long, env = "DAPR_API_TOKEN", hide_env_values = true)]
    pub dapr_api_token: Option<Secret>,
    /// Token the sidecar must send on callbacks as `dapr-api-token`.
    #[arg(long, env = "APP_API_TOKEN", hide_env_values = true)]
    pub app_api_token: Option<Secret>,
    /// Serve the app callback on a non-loopback address without `APP_API_TOKEN`. Anyone who
    /// reaches that port could then deliver events as the sidecar (and create tasks in any
    /// account), so without this the server refuses to start that way.
    #[arg(
        long,
        env = "TASKFLOW_ALLOW_UNAUTHENTICATED_CALLBACKS",
        default_value_t = false
    )]
    pub allow_unauthenticated_callbacks: bool,
    /// Largest request taskflow sends the sidecar, in bytes: match daprd's `max-body-size`
    /// (`dapr.io/max-body-size`; 4 MiB unless set). Bulk publishes are cut to fit it.
    #[arg(
        long,
        env = "TASKFLOW_DAPR_MAX_REQUEST_BYTES",
        default_value_t = DEFAULT_DAPR_MAX_REQUEST_BYTES
    )]
    pub dapr_max_request_bytes: usize,
    /// Deadline of each call to the sidecar, in milliseconds.
    #[arg(long, env = "TASKFLOW_DAPR_TIMEOUT_MS", default_value_t = 5000)]
    pub dapr_timeout_ms: u64,
}

/// daprd's default `max-body-size`: 4 MiB.
pub const DEFAULT_DAPR_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

impl Default for DaprConfig {
    fn default() -> Self {
        Self {
            dapr_grpc_port: None,
            dapr_grpc_endpoint: None,
            dapr_api_token: None,
            app_api_token: None,
            allow_unauthenticated_callbacks: false,
            dapr_max_request_bytes: DEFAULT_DAPR_MAX_REQUEST_BYTES,
            dapr_timeout_ms: 5000,
        }
    }
}

impl DaprConfig {
    /// The sidecar's endpoint, if one is configured.
    pub fn endpoint(&self) -> Option<String> {
        self.dapr_grpc_endpoint.clone().or_else(|| {
            self.dapr_grpc_port
                .map(|port| format!("http://127.0.0.1:{port}"))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogConfig {
    /// Log format.
    #[arg(long, env = "TASKFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info` or `taskflow=debug,info`.
    #[arg(long, env = "TASKFLOW_LOG", default_value = "info", global = true)]
    pub log_filter: String,
    /// The level of the access log: one line per call (method, status, latency, user, trace
    /// id), target `taskflow::access`; `off` writes none. The log filter applies as well.
    #[arg(long, env = "TASKFLOW_ACCESS_LOG", value_enum, default_value_t = AccessLog::Info, global = true)]
    pub access_log: AccessLog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessLog {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl AccessLog {
    pub fn level(self) -> Option<tracing::Level> {
        match self {
            Self::Off => None,
            Self::Error => Some(tracing::Level::ERROR),
            Self::Warn => Some(tracing::Level::WARN),
            Self::Info => Some(tracing::Level::INFO),
            Self::Debug => Some(tracing::Level::DEBUG),
            Self::Trace => Some(tracing::Level::TRACE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        let url: DatabaseUrl = "postgres://app:hunter2@db/tasks".parse().expect("url");
        assert!(!format!("{url:?}").contains("hunter2"));
    }

    #[test]
    fn plain_taskflow_serves_with_defaults() {
        let (command, log) = Cli::try_parse_from(["taskflow"])
            .expect("parses")
            .into_command();
        let Command::Serve(serve) = command else {
            panic!("expected serve");
        };
        assert_eq!(serve.listen, "127.0.0.1:50051");
        assert_eq!(serve.api_max_message_bytes, 4 * 1024 * 1024);
        assert_eq!(
            serve.database.database_url.expose(),
            "sqlite://taskflow.db?mode=rwc"
        );
        assert_eq!(log.log_format, LogFormat::Pretty);
    }

    #[test]
    fn page_token_keys_are_long_secrets() {
        let key = "k".repeat(crate::listing::MIN_KEY_LEN);
        let cli =
            Cli::try_parse_from(["taskflow", "--page-token-key", key.as_str()]).expect("parses");
        assert_eq!(
            cli.serve.page_token_key.as_ref().map(Secret::expose),
            Some(key.as_str())
        );
        assert!(!format!("{:?}", cli.serve).contains(&key));
        let short = "k".repeat(crate::listing::MIN_KEY_LEN - 1);
        let err = Cli::try_parse_from(["taskflow", "--page-token-key", short.as_str()])
            .expect_err("too short");
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        assert!(!err.to_string().contains(&short), "{err}");
    }

    #[test]
    fn migrate_is_a_subcommand() {
        let cli = Cli::try_parse_from(["taskflow", "migrate", "--database-url", "sqlite::memory:"])
            .expect("parses");
        assert!(matches!(cli.command, Some(Command::Migrate(_))));
    }

    #[test]
    fn the_reminder_lead_is_bounded_by_366_days() {
        let lead = |value: &str| {
            Cli::try_parse_from(["taskflow", &format!("--reminder-lead-seconds={value}")])
                .map(|cli| cli.serve.reminder_lead_seconds)
        };
        assert_eq!(lead("0").ok(), Some(0));
        assert_eq!(lead("31622400").ok(), Some(366 * 86_400));
        let too_large = "9223372036854775807";
        for bad in [too_large, "31622401", "-1", "-86400", "1e3", ""] {
            let err = lead(bad).expect_err("out of range");
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{bad}");
            let message = err.to_string();
            for part in [
                "TASKFLOW_REMINDER_LEAD_SECONDS",
                "from 0 to 31622400",
                &format!("got '{bad}'"),
            ] {
                assert!(message.contains(part), "{part} missing from: {message}");
            }
        }
        // A long value is quoted by its first 100 characters.
        let long = "9".repeat(5000);
        let message = lead(&long).expect_err("out of range").to_string();
        assert!(
            message.contains(&format!("got '{}…'", "9".repeat(100))),
            "{message}"
        );
        assert!(!message.contains(&"9".repeat(101)), "{message}");
    }

    #[test]
    fn the_reminder_lead_becomes_a_duration_only_within_range() {
        let (command, _) = Cli::try_parse_from(["taskflow"])
            .expect("parses")
            .into_command();
        let Command::Serve(mut serve) = command else {
            panic!("expected serve");
        };
        assert_eq!(serve.reminder_lead(), Some(chrono::TimeDelta::days(1)));
        serve.reminder_lead_seconds = REMINDER_LEAD_MAX_SECONDS;
        assert_eq!(serve.reminder_lead(), Some(chrono::TimeDelta::days(366)));
        // A configuration built without parsing (as tests do) is checked too.
        for bad in [REMINDER_LEAD_MAX_SECONDS + 1, u64::MAX] {
            serve.reminder_lead_seconds = bad;
            assert_eq!(serve.reminder_lead(), None, "{bad}");
        }
    }

    #[test]
    fn help_documents_every_env_var() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for var in [
            "TASKFLOW_DATABASE_URL",
            "TASKFLOW_LISTEN",
            "TASKFLOW_API_MAX_MESSAGE_BYTES",
            "TASKFLOW_JWT_SECRET",
            "TASKFLOW_PAGE_TOKEN_KEY",
            "TASKFLOW_LOG_FORMAT",
        ] {
            assert!(help.contains(var), "{var} missing from --help");
        }
    }
}

#[cfg(test)]
mod readme_tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every variable the command line reads, in any subcommand.
    fn variables(command: &clap::Command, out: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            variables(sub, out);
        }
    }

    /// The README's configuration table has a row for every variable, so that it stays true as
    /// options are added.
    #[test]
    fn the_readme_lists_every_variable() {
        let readme = include_str!("../README.md");
        let mut all = Vec::new();
        variables(&Cli::command(), &mut all);
        all.sort();
        all.dedup();
        assert!(all.len() > 30, "{all:?}");
        let missing: Vec<&String> = all
            .iter()
            .filter(|name| !readme.contains(&format!("| `{name}`")))
            .collect();
        assert!(missing.is_empty(), "not in the README's table: {missing:?}");
    }
}
