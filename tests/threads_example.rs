//! The std-threads adapter example (`examples/threads.rs`), written from the
//! crate docs alone, runs clean with the checker on and off, and proves from
//! its agents' own clocks that no group had two agents alive and at most
//! `max_active` were.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--example", "threads", "--"])
        .args(args)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "threads {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_threads_adapter_runs_clean_checked_and_unchecked() {
    for max_active in ["1", "3"] {
        let checked = run(&["--check", "--max-active", max_active]);
        assert!(checked.contains("every step checked"), "{checked}");
        assert!(
            checked.contains(&format!("at most {max_active} alive")),
            "{checked}"
        );
        let plain = run(&["--max-active", max_active]);
        assert!(plain.contains("never two per group"), "{plain}");
    }
}

#[test]
fn a_bad_option_is_refused_with_a_usage_line() {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--quiet",
            "--example",
            "threads",
            "--",
            "--max-active",
            "0",
        ])
        .output()
        .expect("cargo runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage:"));
}
