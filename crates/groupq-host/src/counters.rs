//! What a host counts as it decides: plain numbers, for a driver to export
//! (the tokio driver's `Metrics` and Prometheus registry read them).

/// Counts since the host was built or its counters were reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Entries applied (refused ones are not counted).
    pub entries: u64,
    /// Runs started.
    pub spawns: u64,
    /// Run inputs closed, for any reason.
    pub closes: u64,
    /// Idle runs closed so another group could have their slot.
    pub evictions: u64,
    /// Runs killed after their kill grace.
    pub kills: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Groups whose retries were exhausted.
    pub terminal_failures: u64,
    /// Replies delivered to the application.
    pub replies: u64,
    /// Follow-ups written into live runs.
    pub piped: u64,
    /// Times the crash-loop breaker opened.
    pub breaker_openings: u64,
}
