//! The real binary refuses a bad configuration before binding any port:
//! a message naming every problem and exit code 64.

use std::process::Command;

#[test]
fn bad_config_exits_64_with_every_problem_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env("SWITCHBOARD__ENGINE__MAX_CALLS", "0")
        .env("SWITCHBOARD__SERVER__BIND", "not-an-address")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_calls") && err.contains("server.bind"),
        "{err}"
    );
}

#[test]
fn unreadable_config_file_exits_64() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--config", "/nonexistent/switchboard.toml", "serve"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/switchboard.toml"));
}
