//! The scripted workload: what users and a scheduler do, and when.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{sleep_until, Instant};

use crate::adapter::Event;

/// Something the outside world does.
#[derive(Clone, Debug)]
pub enum Action {
    /// A user writes in a group's chat.
    Message { group: String, text: String },
    /// A scheduler queues a task; `id` deduplicates it within the group.
    Task {
        group: String,
        id: String,
        prompt: String,
    },
    /// The script is over: the host stops once the queued work is done.
    Shutdown,
}

/// The group whose first agent hangs: it never answers and ignores its
/// close, so the core closes it at its turn deadline and kills it after the
/// kill grace; the retry then answers.
pub const HUNG_GROUP: &str = "foxtrot";

/// The group whose agent fails twice before it succeeds.
pub const FLAKY_GROUP: &str = "delta";
/// How many times its agent fails.
pub const FLAKY_FAILURES: u32 = 2;

/// The script: `(milliseconds after start, action)`, in time order.
pub fn script() -> Vec<(u64, Action)> {
    let msg = |group: &str, text: &str| Action::Message {
        group: group.into(),
        text: text.into(),
    };
    let task = |group: &str, id: &str, prompt: &str| Action::Task {
        group: group.into(),
        id: id.into(),
        prompt: prompt.into(),
    };
    vec![
        // Four groups at once, more than there are slots.
        (0, msg("alpha", "hello")),
        (0, msg("bravo", "what is on today?")),
        (0, msg("charlie", "summarise yesterday")),
        (0, msg("delta", "deploy the site")),
        // A scheduled task, submitted twice by an eager scheduler.
        (150, task("alpha", "report", "daily report")),
        (200, task("alpha", "report", "daily report")),
        // A long conversation: its context grows until it is compacted.
        (300, msg("echo", "tell me a story")),
        // A follow-up for a group whose live run may be a task run.
        (400, msg("alpha", "and the numbers?")),
        // An agent that hangs.
        (500, msg(HUNG_GROUP, "are you there?")),
        (700, msg("echo", "go on")),
        (1100, msg("echo", "and then?")),
        (1300, task("bravo", "backup", "back up the notes")),
        (1350, task("bravo", "backup", "back up the notes")),
        (1500, msg("echo", "what happened next?")),
        (1900, msg("echo", "how does it end?")),
        // A burst: several messages in quick succession.
        (2300, msg("charlie", "one more thing")),
        (2320, msg("charlie", "actually two")),
        (2340, msg("charlie", "no, three")),
        (2600, msg("echo", "tell it again")),
        // The same task id once the first one has run: a new task.
        (2900, task("bravo", "backup", "back up the notes")),
        (3200, msg("alpha", "good night")),
        (3200, msg("bravo", "good night")),
        (3200, msg("delta", "is it live?")),
        (3300, Action::Shutdown),
    ]
}

/// Plays the script into the adapter's event channel, `scale` stretching or
/// shrinking its times.
pub async fn play(start: Instant, scale: f64, events: UnboundedSender<Event>) {
    for (at_ms, action) in script() {
        sleep_until(start + Duration::from_secs_f64(at_ms as f64 * scale / 1000.0)).await;
        if events.send(Event::Workload(action)).is_err() {
            return;
        }
    }
}
