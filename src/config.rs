//! Command line and environment: every option has a `TASKFLOW_*` variable.

use std::fmt;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
#[command(args_conflicts_with_subcommands = true)]
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
pub enum Command {
    /// Serve the API (the default when no command is given).
    Serve(ServeConfig),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseConfig),
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
    #[arg(
        long,
        env = "TASKFLOW_DATABASE_URL",
        default_value = "sqlite://taskflow.db?mode=rwc"
    )]
    pub database_url: DatabaseUrl,
    /// Largest number of pooled database connections.
    #[arg(long, env = "TASKFLOW_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Address of the public API (TaskService, reflection, grpc.health.v1).
    #[arg(long, env = "TASKFLOW_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// HS256 secret that verifies `authorization: Bearer` JWTs. Without it the server runs in
    /// development mode, trusts `x-user-id` metadata, and only listens on loopback.
    #[arg(long, env = "TASKFLOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Required `iss` claim of tokens, when set.
    #[arg(long, env = "TASKFLOW_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim of tokens, when set.
    #[arg(long, env = "TASKFLOW_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Longest wait for in-flight calls to finish on shutdown, in seconds.
    #[arg(long, env = "TASKFLOW_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            serve.database.database_url.expose(),
            "sqlite://taskflow.db?mode=rwc"
        );
        assert_eq!(log.log_format, LogFormat::Pretty);
    }

    #[test]
    fn migrate_is_a_subcommand() {
        let cli = Cli::try_parse_from(["taskflow", "migrate", "--database-url", "sqlite::memory:"])
            .expect("parses");
        assert!(matches!(cli.command, Some(Command::Migrate(_))));
    }

    #[test]
    fn help_documents_every_env_var() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for var in [
            "TASKFLOW_DATABASE_URL",
            "TASKFLOW_LISTEN",
            "TASKFLOW_JWT_SECRET",
            "TASKFLOW_LOG_FORMAT",
        ] {
            assert!(help.contains(var), "{var} missing from --help");
        }
    }
}
