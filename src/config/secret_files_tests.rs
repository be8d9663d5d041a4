use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::CommandFactory;

use super::*;

const KEY: &str = "pageTokenKeyFromAFile-0123456789abcdef";

/// A directory of secret files and the `*_FILE` variables that point at them.
struct Files {
    dir: tempfile::TempDir,
    env: BTreeMap<String, OsString>,
}

impl Files {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            env: BTreeMap::new(),
        }
    }

    /// Writes `contents` to a file and points `file_env` at it.
    fn with(mut self, file_env: &str, contents: &[u8]) -> Self {
        let path = self.dir.path().join(file_env.to_lowercase());
        std::fs::write(&path, contents).expect("a secret file");
        self.env.insert(file_env.to_owned(), path.into_os_string());
        self
    }

    /// Points `file_env` at `path` as it is.
    fn pointing(mut self, file_env: &str, path: PathBuf) -> Self {
        self.env.insert(file_env.to_owned(), path.into_os_string());
        self
    }

    fn parse(&self, args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_with_secret_files(args.iter().copied(), |name| self.env.get(name).cloned())
    }

    fn serve(&self, args: &[&str]) -> ServeConfig {
        let (command, _) = self.parse(args).expect("parses").into_command();
        match command {
            Command::Serve(serve) => serve,
            Command::DeadLetters(args) => args.serve,
            Command::Migrate(_) | Command::DevToken(_) => panic!("expected serve options"),
        }
    }

    fn error(&self, args: &[&str]) -> String {
        self.parse(args).expect_err("refused").to_string()
    }
}

fn exposed(secret: Option<&Secret>) -> Option<&str> {
    secret.map(Secret::expose)
}

#[test]
fn every_secret_is_read_from_its_file_without_the_trailing_newline() {
    let files = Files::new()
        .with(
            "TASKFLOW_DATABASE_URL_FILE",
            b"postgres://app:pw@db:5432/tasks\n",
        )
        .with("TASKFLOW_JWT_SECRET_FILE", b"jwt secret with spaces\r\n")
        .with(
            "TASKFLOW_PAGE_TOKEN_KEY_FILE",
            format!("{KEY}\n").as_bytes(),
        )
        .with("TASKFLOW_DAPR_API_TOKEN_FILE", b"dapr-token")
        .with("TASKFLOW_APP_API_TOKEN_FILE", b"app-token\n\n");
    for args in [
        &["taskflow"][..],
        &["taskflow", "serve"],
        &["taskflow", "dead-letters", "list"],
    ] {
        let serve = files.serve(args);
        assert_eq!(
            serve.database.database_url.expose(),
            "postgres://app:pw@db:5432/tasks",
            "{args:?}"
        );
        assert_eq!(
            exposed(serve.jwt_secret.as_ref()),
            Some("jwt secret with spaces")
        );
        assert_eq!(exposed(serve.page_token_key.as_ref()), Some(KEY));
        assert_eq!(
            exposed(serve.dapr.dapr_api_token.as_ref()),
            Some("dapr-token")
        );
        assert_eq!(
            exposed(serve.dapr.app_api_token.as_ref()),
            Some("app-token")
        );
    }

    // migrate has only the database options.
    let (command, _) = files
        .parse(&["taskflow", "migrate"])
        .expect("parses")
        .into_command();
    let Command::Migrate(database) = command else {
        panic!("expected migrate");
    };
    assert_eq!(
        database.database_url.expose(),
        "postgres://app:pw@db:5432/tasks"
    );
}

#[test]
fn without_file_variables_parsing_is_unchanged() {
    let serve = Files::new().serve(&["taskflow", "--jwt-secret", "from-the-flag"]);
    assert_eq!(exposed(serve.jwt_secret.as_ref()), Some("from-the-flag"));
    assert_eq!(
        serve.database.database_url.expose(),
        "sqlite://taskflow.db?mode=rwc"
    );
    assert!(serve.page_token_key.is_none());
}

#[test]
fn an_option_given_both_ways_is_refused() {
    let files = Files::new().with("TASKFLOW_JWT_SECRET_FILE", b"from-the-file\n");
    let message = files.error(&["taskflow", "--jwt-secret", "from-the-flag"]);
    for part in [
        "TASKFLOW_JWT_SECRET",
        "TASKFLOW_JWT_SECRET_FILE",
        "both set",
    ] {
        assert!(message.contains(part), "{part} missing: {message}");
    }
    assert!(!message.contains("from-the-file"), "{message}");
    assert!(!message.contains("from-the-flag"), "{message}");

    let files = Files::new().with("TASKFLOW_DATABASE_URL_FILE", b"sqlite::memory:");
    let message = files.error(&["taskflow", "migrate", "--database-url", "sqlite::memory:"]);
    assert!(message.contains("TASKFLOW_DATABASE_URL_FILE"), "{message}");
}

#[test]
fn a_missing_or_empty_file_is_refused_naming_the_variable() {
    let files = Files::new();
    let missing = files.dir.path().join("no-such-file");
    let files = files.pointing("TASKFLOW_APP_API_TOKEN_FILE", missing.clone());
    let message = files.error(&["taskflow"]);
    assert!(
        message.contains("TASKFLOW_APP_API_TOKEN_FILE: cannot read"),
        "{message}"
    );
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );

    for contents in [&b""[..], b"\n", b"\r\n\n"] {
        let message = Files::new()
            .with("TASKFLOW_JWT_SECRET_FILE", contents)
            .error(&["taskflow"]);
        assert!(
            message.contains("TASKFLOW_JWT_SECRET_FILE") && message.contains("is empty"),
            "{message}"
        );
    }

    let message = Files::new()
        .with("TASKFLOW_DAPR_API_TOKEN_FILE", &[0xff, 0xfe, b's'])
        .error(&["taskflow"]);
    assert!(message.contains("is not UTF-8"), "{message}");

    // A directory is no secret file either.
    let files = Files::new();
    let dir = files.dir.path().to_owned();
    let message = files
        .pointing("TASKFLOW_DATABASE_URL_FILE", dir)
        .error(&["taskflow"]);
    assert!(
        message.contains("TASKFLOW_DATABASE_URL_FILE: cannot read"),
        "{message}"
    );
}

#[test]
fn a_short_page_token_key_in_a_file_is_refused_without_showing_it() {
    let short = "shortKeyFromFile";
    let message = Files::new()
        .with(
            "TASKFLOW_PAGE_TOKEN_KEY_FILE",
            format!("{short}\n").as_bytes(),
        )
        .error(&["taskflow"]);
    assert!(
        message.contains("TASKFLOW_PAGE_TOKEN_KEY_FILE") && message.contains("at least 32 bytes"),
        "{message}"
    );
    assert!(!message.contains(short), "{message}");
}

#[test]
fn every_secret_option_has_a_file_variable() {
    // The secret options are those whose environment values --help hides.
    let hidden: BTreeSet<String> = Cli::command()
        .get_arguments()
        .filter(|a| a.is_hide_env_values_set())
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    let covered: BTreeSet<String> = SECRET_FILES.iter().map(|s| s.env.to_owned()).collect();
    assert_eq!(hidden, covered);
    for secret in SECRET_FILES {
        let bare = secret.env.trim_start_matches("TASKFLOW_");
        assert_eq!(secret.file_env, format!("TASKFLOW_{bare}_FILE"));
        let arg = Cli::command()
            .get_arguments()
            .find(|a| a.get_id() == secret.id)
            .map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()));
        assert_eq!(arg, Some(Some(secret.env.to_owned())), "{}", secret.id);
    }
    let help = Cli::command().render_long_help().to_string();
    for secret in SECRET_FILES {
        assert!(
            help.contains(secret.file_env),
            "{} not in --help",
            secret.file_env
        );
    }
}
