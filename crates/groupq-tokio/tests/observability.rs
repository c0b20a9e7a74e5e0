//! A host's existing `tracing` subscriber sees every input as a span and
//! every command as an event, with the group, run and reason as fields; the
//! counters agree with what happened.

mod support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use groupq::Config;
use groupq_tokio::{Driver, HostEvent, RunExit};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use support::fake::fake;
use support::Host;

/// Records spans and events as `name{field=value ...}` lines.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicU64>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(format!("span {}", span.metadata().name()));
        span.record(&mut fields);
        self.lines.lock().unwrap().push(fields.0);
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(format!("event {}", event.metadata().level()));
        event.record(&mut fields);
        self.lines.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn inputs_are_spans_and_commands_are_events_with_their_fields() {
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    let (runtime, runs) = fake();
    let (driver, handle, events) = Driver::builder(Config::default().with_max_active(1))
        .build(runtime)
        .unwrap();
    let running = tokio::spawn(driver.run());
    let mut host = Host::new(events);
    handle.message("chat-7", "hello").await.unwrap();
    handle.task("chat-7", "t1", "report").await.unwrap();
    let run = host
        .until(|e| match e {
            HostEvent::Spawned { run, .. } => Some(*run),
            _ => None,
        })
        .await;
    runs.exit(run, RunExit::Code(1));
    host.until(|e| matches!(e, HostEvent::RetryScheduled { .. }).then_some(()))
        .await;
    // The slot went to the queued task; it is busy at shutdown.
    let task_run = host
        .until(|e| match e {
            HostEvent::Spawned {
                run, task: Some(_), ..
            } => Some(*run),
            _ => None,
        })
        .await;
    handle.shutdown().await.unwrap();
    runs.exit(task_run, RunExit::Code(0));
    running.await.unwrap().unwrap();
    let lines = recorder.lines.lock().unwrap().clone();
    let has = |needle: &[&str]| lines.iter().any(|l| needle.iter().all(|n| l.contains(n)));
    assert!(has(&["span message", "group=chat-7"]), "{lines:#?}");
    assert!(has(&["span task", "group=chat-7", "task=t1"]), "{lines:#?}");
    assert!(has(&["span run", "run=1", "group=chat-7"]), "{lines:#?}");
    assert!(
        has(&[
            "event INFO",
            "spawn",
            "run=1",
            "group=chat-7",
            "kind=Messages"
        ]),
        "{lines:#?}"
    );
    assert!(has(&["event INFO", "exited", "status 1"]), "{lines:#?}");
    assert!(
        has(&["event INFO", "retry scheduled", "attempt=1"]),
        "{lines:#?}"
    );
    assert!(has(&["span shutdown"]), "{lines:#?}");
    let metrics = handle.metrics();
    assert_eq!((metrics.spawns, metrics.retries, metrics.kills), (2, 1, 0));
    assert_eq!((metrics.live_runs, metrics.queued_jobs), (0, 0));
}
