//! Logging setup: pretty or JSON lines, filtered; database drivers are kept quiet.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{LogConfig, LogFormat};

/// Targets that would log a secret, kept to errors whatever the filter: sqlx warns about an
/// unrecognized parameter of the database URL with its value (e.g. `sslpassword`).
const SECRET_BEARING_TARGETS: &str = "sqlx_postgres::options=error";

/// Installs the global subscriber, writing to stdout. Calling it again (as tests do) keeps the
/// first one.
pub fn init(config: &LogConfig) {
    init_to(config, false);
}

/// [`init`], writing to stderr when `to_stderr` (commands whose stdout is their answer).
pub fn init_to(config: &LogConfig, to_stderr: bool) {
    let directives = format!(
        "{},sqlx=warn,sea_orm=warn,sea_orm_migration=warn,h2=warn,hyper=warn,tower=warn,{SECRET_BEARING_TARGETS}",
        config.log_filter
    );
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true).with_writer(
        move || -> Box<dyn std::io::Write> {
            if to_stderr {
                Box::new(std::io::stderr())
            } else {
                Box::new(std::io::stdout())
            }
        },
    );
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Logging for tests: warnings and above (or `TASKFLOW_TEST_LOG`), captured per test by the
/// test harness.
pub fn init_for_tests() {
    let filter = std::env::var("TASKFLOW_TEST_LOG").unwrap_or_else(|_| "warn,sqlx=error".into());
    let _ = fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_test_writer()
        .compact()
        .try_init();
}
