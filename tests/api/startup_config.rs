//! A configuration value out of range stops the start with a message naming it, never with a
//! panic.

use taskflow::startup::{Application, StartupError};

use crate::helpers::{Binary, test_config};

/// The binary refuses an out-of-range `TASKFLOW_REMINDER_LEAD_SECONDS` (too large for a
/// chrono duration, a day beyond 366, negative) before it touches the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_an_out_of_range_reminder_lead() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for value in ["9223372036854775807", "31708800", "-1"] {
        let env = [("TASKFLOW_REMINDER_LEAD_SECONDS", value)];
        let (status, output) = Binary::spawn(dir.path(), &[], &env).wait().await;
        assert!(!status.success(), "{value} is refused:\n{output}");
        for part in [
            "TASKFLOW_REMINDER_LEAD_SECONDS",
            "from 0 to 31622400",
            &format!("got '{value}'"),
        ] {
            assert!(
                output.contains(part),
                "{part} missing for {value}:\n{output}"
            );
        }
        assert!(!output.contains("panicked"), "{output}");
        assert!(
            !dir.path().join("taskflow.db").exists(),
            "no database was opened"
        );
    }
}

/// A configuration built in code (not parsed) with an out-of-range lead fails to build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_with_an_out_of_range_reminder_lead_fails() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let mut config = test_config(&url);
    config.reminder_lead_seconds = u64::MAX;
    let Err(err) = Application::build(&config).await else {
        panic!("an out-of-range lead builds");
    };
    assert!(matches!(err, StartupError::ReminderLead(u64::MAX)), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("TASKFLOW_REMINDER_LEAD_SECONDS") && message.contains("31622400"),
        "{message}"
    );
}

/// The binary refuses a clock leeway beyond 10 minutes, or one that is not a number, naming
/// `TASKFLOW_JWT_LEEWAY_SECONDS`, whether it came from the environment or the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_an_out_of_range_jwt_leeway() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for value in ["601", "-1", "30s", "18446744073709551616"] {
        let env = [("TASKFLOW_JWT_LEEWAY_SECONDS", value)];
        let flag = format!("--jwt-leeway-seconds={value}");
        for (how, env, args) in [
            ("environment", &env[..], &[][..]),
            ("flag", &[][..], &[flag.as_str()][..]),
        ] {
            let (status, output) = Binary::spawn(dir.path(), args, env).wait().await;
            assert!(!status.success(), "{value} ({how}) is refused:\n{output}");
            for part in [
                "TASKFLOW_JWT_LEEWAY_SECONDS",
                "--jwt-leeway-seconds",
                "from 0 to 600",
                &format!("got '{value}'"),
            ] {
                assert!(
                    output.contains(part),
                    "{part} missing for {value} ({how}):\n{output}"
                );
            }
            assert!(!output.contains("panicked"), "{output}");
        }
    }
    assert!(
        !dir.path().join("taskflow.db").exists(),
        "no database was opened"
    );
}

/// A configuration built in code with a leeway beyond the bound fails to build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_with_an_out_of_range_jwt_leeway_fails() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let mut config = test_config(&url);
    config.jwt_secret = Some(taskflow::config::Secret::new(crate::helpers::JWT_SECRET));
    config.identity.jwt_leeway_seconds = 601;
    let Err(err) = Application::build(&config).await else {
        panic!("an out-of-range leeway builds");
    };
    let message = err.to_string();
    assert!(
        message.contains("TASKFLOW_JWT_LEEWAY_SECONDS") && message.contains("600"),
        "{message}"
    );
}
