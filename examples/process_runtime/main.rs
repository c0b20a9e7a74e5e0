//! # A groupq runtime adapter with real processes
//!
//! `cargo run --example process_runtime [-- --quick] [--max-active N] [--log-dir DIR]`
//!
//! A tokio adapter that owns a [`groupq::Machine`] and carries out its
//! commands with operating-system processes standing in for containers.
//! Each run is this very binary re-executed in agent mode (`agent.rs`) with
//! its own IPC input directory; messages go in as files, replies come back as
//! JSON lines on stdout. A scripted workload (`workload.rs`) sends bursts of
//! messages to five groups, submits tasks (some twice), has one agent fail
//! twice before it succeeds, grows one conversation until it is compacted,
//! and shuts down. The adapter (`adapter.rs`) prints a timeline, runs the
//! invariant checker over every input, and ends with a summary
//! (`report.rs`) that includes what the processes' own clocks say: no two
//! processes of a group overlapped, at most `max_active` were alive at once.
//!
//! Exits non-zero on an invariant violation or if the processes' timestamps
//! disagree with the promises.
//!
//! - `--quick`: the same script, about two and a half times faster.
//! - `--max-active N`: the global limit (default 3; the script has 5 groups).
//! - `--log-dir DIR`: where each process writes its start and end timestamps
//!   (default: inside the scratch directory, removed at the end).

mod adapter;
mod agent;
mod report;
mod wire;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

/// Command-line options of the adapter.
pub struct Options {
    pub quick: bool,
    pub max_active: usize,
    pub log_dir: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            max_active: 3,
            log_dir: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--max-active" => {
                    let n = args.next().ok_or("--max-active needs a number")?;
                    options.max_active = n.parse().map_err(|e| format!("--max-active: {e}"))?;
                }
                "--log-dir" => {
                    let dir = args.next().ok_or("--log-dir needs a directory")?;
                    options.log_dir = Some(dir.into());
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "agent") {
        return agent::main(&args[1..]);
    }
    const USAGE: &str = "usage: process_runtime [--quick] [--max-active N] [--log-dir DIR]";
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(adapter::run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
