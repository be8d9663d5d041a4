//! Secrets read from files: `TASKFLOW_<NAME>_FILE` names a file whose contents (trailing
//! newlines trimmed) are the value of the secret option `<NAME>`, as Kubernetes mounts Secrets.
//! An option given both ways, or a file that cannot be read, stops the start with an error that
//! names the variable and the path, never the contents.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::{Cli, Command, DatabaseConfig, DatabaseUrl, PageTokenKeyParser, Secret, ServeConfig};

/// A secret option and the variable naming a file that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretFile {
    /// The option's own variable (`TASKFLOW_JWT_SECRET`).
    pub env: &'static str,
    /// The variable naming the file (`TASKFLOW_JWT_SECRET_FILE`).
    pub file_env: &'static str,
    /// The option's id (its field name).
    id: &'static str,
}

/// Every secret option. Dapr's own variables (`APP_API_TOKEN`, `DAPR_API_TOKEN`) get
/// `TASKFLOW_`-prefixed file variables.
pub const SECRET_FILES: [SecretFile; 5] = [
    SecretFile {
        env: "TASKFLOW_DATABASE_URL",
        file_env: "TASKFLOW_DATABASE_URL_FILE",
        id: "database_url",
    },
    SecretFile {
        env: "TASKFLOW_JWT_SECRET",
        file_env: "TASKFLOW_JWT_SECRET_FILE",
        id: "jwt_secret",
    },
    SecretFile {
        env: "TASKFLOW_PAGE_TOKEN_KEY",
        file_env: "TASKFLOW_PAGE_TOKEN_KEY_FILE",
        id: "page_token_key",
    },
    SecretFile {
        env: "DAPR_API_TOKEN",
        file_env: "TASKFLOW_DAPR_API_TOKEN_FILE",
        id: "dapr_api_token",
    },
    SecretFile {
        env: "APP_API_TOKEN",
        file_env: "TASKFLOW_APP_API_TOKEN_FILE",
        id: "app_api_token",
    },
];

/// Shown at the end of `--help`.
pub(super) const HELP: &str = "Secrets can also be read from files (Kubernetes Secrets mounted \
as volumes): TASKFLOW_DATABASE_URL_FILE, TASKFLOW_JWT_SECRET_FILE, TASKFLOW_PAGE_TOKEN_KEY_FILE, \
TASKFLOW_DAPR_API_TOKEN_FILE and TASKFLOW_APP_API_TOKEN_FILE name a file whose contents \
(trailing newlines trimmed) are the value. Setting an option and its file variable is an error.";

impl Cli {
    /// The process's command line and environment, with secrets read from `*_FILE` files;
    /// exits with clap's message and status on an error, as `Cli::parse` does.
    pub fn parse_with_secret_files() -> Self {
        Self::try_parse_with_secret_files(std::env::args_os(), |name| std::env::var_os(name))
            .unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (and the environment, as clap reads it), then applies the `*_FILE`
    /// variables that `file_env` returns.
    pub fn try_parse_with_secret_files<I, T>(
        args: I,
        file_env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut cmd = Self::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let mut cli = Self::from_arg_matches(&matches)?;
        let fail = |message: String| {
            clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).with_cmd(&cmd)
        };
        let (target, options) = match &mut cli.command {
            None => (Target::Serve(&mut cli.serve), &matches),
            Some(Command::Serve(serve)) => (Target::Serve(serve), sub(&matches, "serve")),
            Some(Command::Migrate(database)) => {
                (Target::Database(database), sub(&matches, "migrate"))
            }
            Some(Command::DeadLetters(args)) => (
                Target::Serve(&mut args.serve),
                sub(&matches, "dead-letters"),
            ),
            Some(Command::DevToken(args)) => (Target::Token(args), sub(&matches, "dev-token")),
        };
        let mut target = target;
        for secret in SECRET_FILES {
            let Some(path) = file_env(secret.file_env) else {
                continue;
            };
            if !target.has(secret) {
                continue;
            }
            if given(options, secret.id) {
                return Err(fail(format!(
                    "{} (or its flag) and {} are both set: set only one",
                    secret.env, secret.file_env
                )));
            }
            let value = read_secret(secret, Path::new(&path)).map_err(&fail)?;
            target.set(secret, value).map_err(&fail)?;
        }
        Ok(cli)
    }
}

/// The options a command's secrets live in.
enum Target<'a> {
    Serve(&'a mut ServeConfig),
    Database(&'a mut DatabaseConfig),
    Token(&'a mut super::DevTokenArgs),
}

impl Target<'_> {
    fn has(&self, secret: SecretFile) -> bool {
        match self {
            Target::Serve(_) => true,
            Target::Database(_) => secret.id == "database_url",
            Target::Token(_) => secret.id == "jwt_secret",
        }
    }

    /// Sets the option, checked as its parser would check it.
    fn set(&mut self, secret: SecretFile, value: String) -> Result<(), String> {
        let file_env = secret.file_env;
        let secret_of = |value: String| {
            value
                .parse::<Secret>()
                .map_err(|e| format!("{file_env}: {e}"))
        };
        let serve = match self {
            Target::Database(database) if secret.id == "database_url" => {
                database.database_url = DatabaseUrl(value);
                return Ok(());
            }
            Target::Token(args) if secret.id == "jwt_secret" => {
                args.jwt_secret = Some(secret_of(value)?);
                return Ok(());
            }
            Target::Database(_) | Target::Token(_) => {
                return Err(format!("{file_env}: not an option here"));
            }
            Target::Serve(serve) => serve,
        };
        match secret.id {
            "database_url" => serve.database.database_url = DatabaseUrl(value),
            "jwt_secret" => serve.jwt_secret = Some(secret_of(value)?),
            "dapr_api_token" => serve.dapr.dapr_api_token = Some(secret_of(value)?),
            "app_api_token" => serve.dapr.app_api_token = Some(secret_of(value)?),
            "page_token_key" => {
                let key = PageTokenKeyParser
                    .parse_ref(&Cli::command(), None, OsStr::new(&value))
                    .map_err(|e| {
                        let reason = e.to_string();
                        let reason = reason.trim().trim_start_matches("error: ");
                        format!("{file_env}: {reason}")
                    })?;
                serve.page_token_key = Some(key);
            }
            id => return Err(format!("{file_env}: no option {id}")),
        }
        Ok(())
    }
}

fn sub<'a>(matches: &'a ArgMatches, name: &str) -> &'a ArgMatches {
    matches.subcommand_matches(name).unwrap_or(matches)
}

/// Whether the option was given on the command line or in its own variable.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.ids().any(|i| i.as_str() == id)
        && matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
}

/// The file's contents without trailing newlines. Errors name the variable and the path.
fn read_secret(secret: SecretFile, path: &Path) -> Result<String, String> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| format!("{}: cannot read {shown}: {e}", secret.file_env))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{}: {shown} is not UTF-8 text", secret.file_env))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(format!("{}: {shown} is empty", secret.file_env));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
#[path = "secret_files_tests.rs"]
mod tests;
