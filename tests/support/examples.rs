//! The programs in `examples/`, run as child processes.
//!
//! `cargo test` builds every example (as a plain binary in `target/<profile>/examples/`)
//! before it runs the test binaries, which live in `target/<profile>/deps/`. Running one
//! test binary alone (`cargo test --test examples`) builds no example: run
//! `cargo build --examples` first.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The built binary of example `name`.
pub fn binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples; to run one test binary alone, \
         run `cargo build --examples` (with the same features) first",
        path.display()
    );
    path
}

/// Runs `command` to completion with its output captured; kills it and panics if it
/// takes longer than `patience`.
pub fn run(mut command: Command, patience: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match finished.recv_timeout(patience) {
        Ok(output) => output.expect("the child's output can be read"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{command:?} did not finish within {patience:?}");
        }
    }
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
