//! Counters a host can export without parsing logs: shared atomics the run
//! loop bumps and a [`Handle`](crate::Handle) reads without a round trip.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the driver's counters and gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Inputs the core accepted.
    pub inputs: u64,
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
    /// Replies delivered to the host.
    pub replies: u64,
    /// Follow-ups written into live runs.
    pub piped: u64,
    /// Gauge: runs alive now.
    pub live_runs: u64,
    /// Gauge: jobs queued now.
    pub queued_jobs: u64,
    /// Gauge: groups waiting for a slot now.
    pub waiting_groups: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) inputs: AtomicU64,
    pub(crate) spawns: AtomicU64,
    pub(crate) closes: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) kills: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) terminal_failures: AtomicU64,
    pub(crate) replies: AtomicU64,
    pub(crate) piped: AtomicU64,
    pub(crate) live_runs: AtomicU64,
    pub(crate) queued_jobs: AtomicU64,
    pub(crate) waiting_groups: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Back to zero, gauges aside: after a restore, so that the counts are
    /// this driver's and not the replay's.
    pub(crate) fn reset_counts(&self) {
        for counter in [
            &self.inputs,
            &self.spawns,
            &self.closes,
            &self.evictions,
            &self.kills,
            &self.retries,
            &self.terminal_failures,
            &self.replies,
            &self.piped,
        ] {
            counter.store(0, Relaxed);
        }
    }

    pub(crate) fn gauges(&self, stats: &groupq::Stats) {
        self.live_runs.store(stats.live_runs as u64, Relaxed);
        self.queued_jobs.store(stats.queued_jobs as u64, Relaxed);
        self.waiting_groups
            .store(stats.waiting_groups as u64, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        Metrics {
            inputs: self.inputs.load(Relaxed),
            spawns: self.spawns.load(Relaxed),
            closes: self.closes.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
            kills: self.kills.load(Relaxed),
            retries: self.retries.load(Relaxed),
            terminal_failures: self.terminal_failures.load(Relaxed),
            replies: self.replies.load(Relaxed),
            piped: self.piped.load(Relaxed),
            live_runs: self.live_runs.load(Relaxed),
            queued_jobs: self.queued_jobs.load(Relaxed),
            waiting_groups: self.waiting_groups.load(Relaxed),
        }
    }
}
