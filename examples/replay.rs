//! Replays a trace file through the machine and the invariant checker.
//!
//! ```sh
//! cargo run --example replay -- tests/traces/compaction_race.trace
//! ```
//!
//! Prints, for every step, the step's line and then, indented, the
//! machine's answer, every command (and record, if the trace's config turns
//! records on) and the next deadline. The output is deterministic: it is
//! what the committed `tests/traces/*.expected` files hold.
//!
//! Exit status: 0 when every step satisfies the checker, 1 on an invariant
//! violation, 2 when the file cannot be read or parsed or its config is
//! invalid. The format is described in the `groupq_check::trace` module docs and
//! the README.

use std::process::ExitCode;

use groupq_check::trace::Trace;
use groupq_check::{replay, ReplayError};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: replay <file.trace>");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let trace = match Trace::parse(&text) {
        Ok(trace) => trace,
        Err(e) => {
            // `path:line:column: message`, as compilers print it, so editors
            // can jump to it.
            eprintln!("{path}:{}:{}: {}", e.line, e.column, e.kind);
            return ExitCode::from(2);
        }
    };
    let mut transcript = String::new();
    let result = replay(&trace, &mut transcript);
    print!("{transcript}");
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e @ ReplayError::Violation { .. }) => {
            eprintln!("{path}: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::from(2)
        }
    }
}
