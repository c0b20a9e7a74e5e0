//! The scripted workload: what users and a scheduler do, and when, sent
//! through the driver's handle.

use std::time::Duration;

use groupq_tokio::Handle;
use tokio::time::{sleep_until, Instant};

use crate::Fatal;

/// Something the outside world does.
enum Action {
    /// A user writes in a group's chat.
    Message(&'static str, &'static str),
    /// A scheduler queues a task; the id deduplicates it within the group.
    Task(&'static str, &'static str, &'static str),
}

/// Every group the script talks to.
pub const GROUPS: [&str; 6] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];

/// The script: `(milliseconds after start, action)`, in time order.
/// `#flaky` makes delta's agent fail twice before it succeeds; `#hang`
/// makes foxtrot's first agent hang (the reference agent's scripting).
fn script() -> Vec<(u64, Action)> {
    use Action::{Message as M, Task as T};
    vec![
        // Four groups at once, more than there are slots.
        (0, M("alpha", "hello")),
        (0, M("bravo", "what is on today?")),
        (0, M("charlie", "summarise yesterday")),
        (0, M("delta", "deploy the site #flaky")),
        // A scheduled task, submitted twice by an eager scheduler.
        (150, T("alpha", "report", "daily report")),
        (200, T("alpha", "report", "daily report")),
        // A long conversation: its context grows until it is compacted.
        (300, M("echo", "tell me a story")),
        (400, M("alpha", "and the numbers?")),
        // An agent that hangs: closed at its turn deadline, then killed.
        (500, M("foxtrot", "are you there? #hang")),
        (700, M("echo", "go on")),
        (1100, M("echo", "and then?")),
        (1300, T("bravo", "backup", "back up the notes")),
        (1350, T("bravo", "backup", "back up the notes")),
        (1500, M("echo", "what happened next?")),
        (1900, M("echo", "how does it end?")),
        // A burst: several messages in quick succession.
        (2300, M("charlie", "one more thing")),
        (2320, M("charlie", "actually two")),
        (2340, M("charlie", "no, three")),
        (2600, M("echo", "tell it again")),
        // The same task id once the first one has run: a new task.
        (2900, T("bravo", "backup", "back up the notes")),
        (3200, M("alpha", "good night")),
        (3200, M("bravo", "good night")),
        (3200, M("delta", "is it live?")),
    ]
}

/// Plays the script through `handle`, `scale` stretching or shrinking its
/// times; prints what each submission got.
pub async fn play(handle: &Handle, scale: f64) -> Result<(), Fatal> {
    let start = Instant::now();
    for (at_ms, action) in script() {
        sleep_until(start + Duration::from_secs_f64(at_ms as f64 * scale / 1000.0)).await;
        match action {
            Action::Message(group, text) => {
                let delivery = handle.message(group, text).await?;
                crate::timeline::line(group, None, format!("message {text:?}: {delivery:?}"));
            }
            Action::Task(group, id, prompt) => {
                let answer = handle.task(group, id, prompt).await?;
                crate::timeline::line(group, None, format!("task {id} {prompt:?}: {answer:?}"));
            }
        }
    }
    Ok(())
}
