//! The reference agent (`groupq_agent::agent`) as a binary: the program the
//! process runner starts in the tests, and the Docker image's entry point.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    groupq_agent::agent::main(&args)
}
