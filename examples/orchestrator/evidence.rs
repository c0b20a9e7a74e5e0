//! What the agents wrote about themselves: each run directory's `agent.log`
//! with the agent's own wall-clock start, turn, alive and end times (read
//! by `groupq_agent::log`), and the promises checked on it.

use std::io;
use std::path::Path;

use groupq_agent::log::{self, Span};

/// Every agent's span.
pub struct Evidence {
    pub spans: Vec<Span>,
}

impl Evidence {
    /// Reads `dir/runs/*/agent.log`.
    pub fn read(dir: &Path) -> io::Result<Evidence> {
        Ok(Evidence {
            spans: log::read_runs(&dir.join("runs"))?,
        })
    }

    /// Most agents alive at one instant, overall and within one group.
    pub fn max_alive(&self) -> (usize, usize) {
        log::max_alive(&self.spans)
    }

    /// Fails unless no two agents of a group overlapped and at most
    /// `max_active` were alive at once.
    pub fn verify(&self, max_active: usize) -> Result<(), String> {
        match self.max_alive() {
            (_, in_group) if in_group > 1 => {
                Err(format!("{in_group} agents of one group overlapped"))
            }
            (alive, _) if alive > max_active => Err(format!(
                "{alive} agents alive at once, max_active is {max_active}"
            )),
            _ => Ok(()),
        }
    }
}
