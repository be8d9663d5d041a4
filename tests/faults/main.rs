//! Faults injected into the real `taskflow` binary (a child process) under load: SIGKILL,
//! the sidecar going away, the database going away, and a sustained load. Each scenario
//! asserts that nothing acknowledged is lost and prints one `FIGURES scenario=…` line.
//! The binary is `TASKFLOW_SERVER_BIN` if set (scripts/test sets the release build), else the
//! one cargo built. docs/reliability.md describes the scenarios and their figures.

#[allow(dead_code, unused_imports)]
#[path = "../api/helpers/mod.rs"]
mod helpers;
mod support;

mod crash;
mod database_outage;
mod load;
mod migrate_together;
mod outage_recovery;
mod sidecar_outage;
