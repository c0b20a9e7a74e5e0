//! The operator surface's numbers: counters, gauges and histograms in a
//! Prometheus registry (`prometheus-client`), updated by the run loop and
//! read by a [`Handle`](crate::Handle) without a round trip.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use groupq::WorkKind;
use groupq_host::{Counters, HostStats};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A snapshot of the driver's counters and gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Entries the host accepted.
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
    /// Replies delivered to the application.
    pub replies: u64,
    /// Follow-ups written into live runs.
    pub piped: u64,
    /// Times the crash-loop breaker opened.
    pub breaker_openings: u64,
    /// Events dropped because the application's stream was full.
    pub lagged: u64,
    /// Gauge: runs alive now.
    pub live_runs: u64,
    /// Gauge: jobs queued now.
    pub queued_jobs: u64,
    /// Gauge: groups waiting for a slot now.
    pub waiting_groups: u64,
    /// Gauge: messages no run has been handed yet, in every group.
    pub unread_messages: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Work {
    work: &'static str,
}

fn label(kind: WorkKind) -> Work {
    Work {
        work: match kind {
            WorkKind::Messages => "messages",
            WorkKind::Task => "task",
            _ => "compact",
        },
    }
}

type Seconds = Family<Work, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 1 ms to about 9 hours.
    Histogram::new(exponential_buckets(0.001, 4.0, 12))
}

macro_rules! counters {
    ($($field:ident: $name:literal, $help:literal;)*) => {
        /// The registered counters, one per host counter.
        #[derive(Default)]
        struct Registered { $($field: Counter,)* }

        impl Registered {
            fn register(&self, registry: &mut Registry) {
                $(registry.register($name, $help, self.$field.clone());)*
            }

            /// Adds what the host counted since `last`.
            fn advance(&self, last: &Counters, now: &Counters) {
                $(if now.$field > last.$field {
                    self.$field.inc_by(now.$field - last.$field);
                })*
            }
        }
    };
}

counters! {
    entries: "groupq_inputs", "Inputs the host accepted";
    spawns: "groupq_spawns", "Runs started";
    closes: "groupq_closes", "Run inputs closed, for any reason";
    evictions: "groupq_evictions", "Idle runs closed for a waiting group";
    kills: "groupq_kills", "Runs killed after their kill grace";
    retries: "groupq_retries", "Retries scheduled";
    terminal_failures: "groupq_terminal_failures", "Groups whose retries ran out";
    replies: "groupq_replies", "Replies delivered to the application";
    piped: "groupq_piped", "Follow-ups written into live runs";
    breaker_openings: "groupq_breaker_openings", "Times the crash-loop breaker opened";
}

/// What the loop updates and handles read.
pub(crate) struct Shared {
    counters: Registered,
    lagged: Arc<AtomicU64>,
    lagged_total: Counter,
    live_runs: Gauge,
    queued_jobs: Gauge,
    waiting_groups: Gauge,
    unread_messages: Gauge,
    free_slots: Gauge,
    max_active: Gauge,
    breaker_open: Gauge,
    background_runs: Gauge,
    waiting_background: Gauge,
    waited: Seconds,
    lived: Seconds,
    registry: Registry,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    /// The registry, with `lagged` the event stream's drop count.
    pub(crate) fn new(lagged: Arc<AtomicU64>) -> Shared {
        let mut shared = Shared {
            counters: Registered::default(),
            lagged,
            lagged_total: Counter::default(),
            live_runs: Gauge::default(),
            queued_jobs: Gauge::default(),
            waiting_groups: Gauge::default(),
            unread_messages: Gauge::default(),
            free_slots: Gauge::default(),
            max_active: Gauge::default(),
            breaker_open: Gauge::default(),
            background_runs: Gauge::default(),
            waiting_background: Gauge::default(),
            waited: Seconds::new_with_constructor(seconds),
            lived: Seconds::new_with_constructor(seconds),
            registry: Registry::default(),
        };
        let registry = &mut shared.registry;
        shared.counters.register(registry);
        registry.register(
            "groupq_events_lagged",
            "Events dropped because the application's stream was full",
            shared.lagged_total.clone(),
        );
        for (name, help, gauge) in [
            ("groupq_live_runs", "Runs alive", &shared.live_runs),
            ("groupq_queued_jobs", "Jobs queued", &shared.queued_jobs),
            (
                "groupq_waiting_groups",
                "Groups waiting for a slot",
                &shared.waiting_groups,
            ),
            (
                "groupq_unread_messages",
                "Messages no run has been handed yet",
                &shared.unread_messages,
            ),
            ("groupq_free_slots", "Slots free", &shared.free_slots),
            (
                "groupq_max_active",
                "The limit on live runs in force (the config's, or the last set_limits')",
                &shared.max_active,
            ),
            (
                "groupq_breaker_open",
                "1 while the crash-loop breaker holds runs back (open, or probing)",
                &shared.breaker_open,
            ),
            (
                "groupq_background_runs",
                "Runs of background tasks alive",
                &shared.background_runs,
            ),
            (
                "groupq_waiting_background",
                "Groups waiting with background tasks only",
                &shared.waiting_background,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "groupq_wait_seconds",
            "From a run's oldest message, or its task's submission, to its spawn",
            shared.waited.clone(),
        );
        registry.register(
            "groupq_run_seconds",
            "Run lifetimes, from spawn to exit",
            shared.lived.clone(),
        );
        shared
    }

    /// After a step: the counters the host added since `last`, and the
    /// gauges of now.
    pub(crate) fn update(&self, last: &Counters, now: &Counters, stats: &HostStats) {
        self.counters.advance(last, now);
        let lagged = self.lagged.load(Relaxed);
        if lagged > self.lagged_total.get() {
            self.lagged_total.inc_by(lagged - self.lagged_total.get());
        }
        let gauge = |g: &Gauge, v: usize| {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        gauge(&self.live_runs, stats.core.live_runs);
        gauge(&self.queued_jobs, stats.core.queued_jobs);
        gauge(&self.waiting_groups, stats.core.waiting_groups);
        gauge(&self.unread_messages, stats.unread_messages);
        gauge(&self.free_slots, stats.core.free_slots);
        gauge(&self.max_active, stats.core.max_active);
        let held = !matches!(stats.core.breaker, groupq::BreakerStatus::Closed);
        gauge(&self.breaker_open, usize::from(held));
        gauge(&self.background_runs, stats.core.background_runs);
        gauge(&self.waiting_background, stats.core.waiting_background);
    }

    /// A run started after its work waited `waited`.
    pub(crate) fn spawned(&self, kind: WorkKind, waited: Option<Duration>) {
        if let Some(waited) = waited {
            self.waited
                .get_or_create(&label(kind))
                .observe(waited.as_secs_f64());
        }
    }

    /// A run of `kind` ended after `lived`.
    pub(crate) fn exited(&self, kind: WorkKind, lived: Duration) {
        self.lived
            .get_or_create(&label(kind))
            .observe(lived.as_secs_f64());
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let c = &self.counters;
        let g = |g: &Gauge| u64::try_from(g.get()).unwrap_or(0);
        Metrics {
            inputs: c.entries.get(),
            spawns: c.spawns.get(),
            closes: c.closes.get(),
            evictions: c.evictions.get(),
            kills: c.kills.get(),
            retries: c.retries.get(),
            terminal_failures: c.terminal_failures.get(),
            replies: c.replies.get(),
            piped: c.piped.get(),
            breaker_openings: c.breaker_openings.get(),
            lagged: self.lagged.load(Relaxed),
            live_runs: g(&self.live_runs),
            queued_jobs: g(&self.queued_jobs),
            waiting_groups: g(&self.waiting_groups),
            unread_messages: g(&self.unread_messages),
        }
    }

    /// The registry in the Prometheus text format.
    pub(crate) fn prometheus(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
