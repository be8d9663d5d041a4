//! The `taskflow` binary: parse the configuration, set up logging, run the command.

use std::process::ExitCode;

use taskflow::config::{Cli, Command};
use taskflow::startup::{Application, shutdown_signal};
use taskflow::store::Database;
use taskflow::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let (command, log) = Cli::parse_with_secret_files().into_command();
    telemetry::init_to(
        &log,
        matches!(command, Command::DeadLetters(_) | Command::DevToken(_)),
    );
    let result = match command {
        Command::Serve(config) => match Application::build(&config).await {
            Ok(app) => app
                .run_until(shutdown_signal())
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        },
        Command::Migrate(config) => migrate(&config).await,
        Command::DeadLetters(args) => taskflow::startup::dead_letters::run(&args).await,
        Command::DevToken(args) => {
            taskflow::auth::mint_dev_token(&args).map(|token| println!("{token}"))
        }
    };
    telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("taskflow: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &taskflow::config::DatabaseConfig) -> Result<(), String> {
    let db = Database::connect_with(
        config.database_url.expose(),
        config.database_max_connections,
        std::time::Duration::from_millis(config.database_acquire_timeout_ms),
    )
    .await
    .map_err(|e| format!("database: {e}"))?;
    db.migrate().await.map_err(|e| format!("database: {e}"))?;
    tracing::info!("migrations applied");
    db.close().await.map_err(|e| e.to_string())
}
