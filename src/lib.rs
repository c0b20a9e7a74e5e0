//! # groupq
//!
//! The deterministic, sans-IO core of an agent-container orchestrator: chat
//! assistants that start one container per conversation ("group"). It
//! decides; it never does. A runtime adapter (tokio, plain threads, a
//! simulator, a test) feeds it inputs stamped with the current time and
//! carries out the commands it emits. The core reads no clock, never
//! sleeps, spawns nothing and touches no file. It depends on `thiserror` and
//! std only.
//!
//! It keeps three promises under any interleaving of inputs:
//!
//! 1. a group never has two live containers;
//! 2. at most `max_active` containers are live at once;
//! 3. no queued work is lost or run twice.
//!
//! On tokio you need not write the adapter: the workspace's `groupq-tokio`
//! crate is this crate's run loop written once, with runtimes that start runs
//! as processes or Docker containers. This page is the contract it (and any
//! adapter of your own) keeps.
//!
//! # Concepts
//!
//! - **Group**: a conversation, keyed by a type `K` of your choosing.
//! - **Run**: one container lifetime for a group, named by a [`RunId`]
//!   (issued from 1, never reused). Every input about a run names it, and an
//!   input naming a run that is not live is rejected: run ids are fencing
//!   tokens, so a late event of an old container never touches its
//!   successor.
//! - **Work** of a run ([`Work`]): `Messages` (read the group's unread
//!   messages; may receive piped follow-ups), `Task { id, payload }` (one
//!   queued task; never receives follow-ups) or `Compact` (the context
//!   compaction turn).
//! - **Slot**: global capacity. At most [`Config::max_active`] runs are live
//!   ([`SetLimits`] changes it while running).
//! - **The key is the group that runs the work**: a task is queued in, and
//!   runs in a slot of, the group its [`Task`] names, whoever submitted it.
//!   A scheduler in group A that submits a task for group B does not hold
//!   A's run or A's place: the task waits for B, and A goes on (a host that
//!   wants the task to run in A's context must submit it for A).
//! - **Unread messages**: one bit per group, "this group has messages no run
//!   has picked up". The messages themselves live in the host's store.
//! - **Task**: an id `T` (deduplicated within its group) and an opaque
//!   payload `P`, handed back in `Spawn` or in the shutdown report.
//! - **Turn report** ([`TurnReport`]): what one agent turn reported: status,
//!   whether a reply was produced and delivered, context statistics, a
//!   compaction event.
//! - **Run state** ([`RunState`]): `Busy` → `IdleWaiting` (finished its
//!   turn) → `Busy` again when a follow-up is piped in, or `Closing` once the
//!   core asked for its input to be closed. A run leaves the machine only
//!   when its exit is reported: the core never pretends a container is gone.
//! - **Deadlines of a run**: while busy, its turn deadline (and, if
//!   configured, its stall watch); while idle, its idle deadline; from its
//!   spawn, its life cap if configured; once closed, only its kill deadline.
//!
//! # The run loop
//!
//! This is the whole contract between an adapter and the core:
//!
//! 1. When something happens, call [`Machine::handle`] with the current
//!    [`Time`] and the event ([`Message`], [`Task`], [`Pipe`], [`Idle`],
//!    [`Turn`], [`Exited`], [`Timeout`], [`Shutdown`], or an [`Input`]
//!    value). `now` must never go backwards. The answer is typed by the
//!    event; a rejected input returns an [`Error`] and changes nothing.
//! 2. Call [`Machine::poll`] until it returns `None`, carrying out every
//!    [`Command`] in the order given. [`Record`]s are observability only.
//! 3. Sleep until [`Machine::next_deadline`] or the next event, whichever
//!    comes first. At the deadline hand in [`Timeout`]; an early or extra
//!    timeout is harmless.
//!
//! [`Steppable::step`] does 1 and 2 in one call and returns the answer with the
//! deadline of 3. It works the same on a [`Machine`] and on the checked
//! machine of the companion crate `groupq-check`, so the invariant checker
//! is switched on by changing one constructor.
//!
//! ```
//! use groupq::{Command, Config, Steppable, Exit, Exited, Machine, Message, Output, Task, Time};
//!
//! let mut q: Machine<&str, u32, String> = Machine::new(Config::default().with_max_active(1))?;
//! let mut now = Time::ZERO;
//! let mut live = Vec::new();
//! let mut carry_out = |output: Output<&str, u32, String>, live: &mut Vec<_>| {
//!     if let Output::Command(Command::Spawn { run, group, work }) = output {
//!         println!("start a container for {group}: {work:?}"); // `docker run ...`
//!         live.push(run);
//!     }
//! };
//! q.step(now, Message { group: "chat-a" }, |o| carry_out(o, &mut live))?;
//! let task = Task { group: "chat-b", id: 7, payload: "weekly report".to_string() };
//! q.step(now, task, |o| carry_out(o, &mut live))?; // waits: one slot
//! while let Some(run) = live.pop() {
//!     now += std::time::Duration::from_secs(1);
//!     let exited = Exited { run, exit: Exit::Clean };
//!     q.step(now, exited, |o| carry_out(o, &mut live))?;
//! }
//! assert!(q.is_quiescent()); // nothing live, nothing pending, nothing held
//! # Ok::<(), groupq::Error>(())
//! ```
//!
//! For real time, [`Epoch`] maps `std::time::Instant` to [`Time`] and back.
//!
//! # What each input does
//!
//! The behaviours have stable names (B1–B12, B14–B16) that the tests and
//! the checker use.
//!
//! - **B1 [`Message`]**. After shutdown: rejected. The group has a live run:
//!   it is marked as having unread messages, which the next run reads. No
//!   live run and a free slot: `Spawn Messages`. No free slot: marked, and
//!   the group joins the back of the waiting line (once).
//! - **B2 [`Task`]**. After shutdown: rejected. An id equal to the live
//!   run's task or to a task queued in the group is a duplicate
//!   ([`TaskAnswer::Duplicate`]): nothing is queued. A task that would
//!   exceed a cap on queued tasks ([`Config::with_max_group_tasks`],
//!   [`Config::with_max_queued_tasks`]; off by default; the running task
//!   and a queued compact do not count) is [`TaskAnswer::Refused`] with the
//!   cap it hit, and changes nothing: the host sheds it or tells its
//!   sender, and no accepted work is ever dropped. Otherwise the task is
//!   appended to the group's jobs; a live run that is `IdleWaiting` gets
//!   `CloseInput(Preempt)` so the task can start; no live run and a free
//!   slot: `Spawn Task`; else the group waits in line.
//! - **B3 [`Pipe`]**: may a follow-up be written into the live run? Answered
//!   [`PipeAnswer::Piped`] only for a live Messages run that is `Busy` or
//!   `IdleWaiting` (it becomes `Busy`); otherwise [`PipeAnswer::Refused`]
//!   with the reason (no run, task run, compact run, closing, shut down),
//!   and the adapter sends a [`Message`] instead. A refusal is an answer,
//!   not an error.
//! - **B4 [`Idle`]**: `Busy` → `IdleWaiting`: the turn deadline and stall
//!   watch give way to the idle deadline (`now + idle_timeout`). If tasks
//!   wait for the group, `CloseInput(Preempt)`; after shutdown,
//!   `CloseInput(Shutdown)` at once. An `Idle` from a run already idle
//!   changes nothing (the idle deadline stays where it was).
//! - **B5 [`Turn`]**, accepted for any live run:
//!   - a report from a busy run restarts its stall watch; a reply from an
//!     idle run pushes its idle deadline out to `now + idle_timeout`;
//!   - a delivered reply is remembered (see B6). Adapter's obligation:
//!     report `delivered` only for a reply that answered every message
//!     handed to the run so far; a reply that answered some is `replied`
//!     ([`TurnReport::delivered`](TurnReport#structfield.delivered));
//!   - with notices on, a successful reply of a Messages run at or above
//!     `warn_percent` gives `Notify(ContextWarning)` (percent, tokens,
//!     limit), and an automatic compaction gives `Notify(AutoCompacted)`;
//!   - a compaction event gives `RecordCompaction` and clears a pending
//!     compact;
//!   - a Messages run at or above `auto_compact_percent` (or whose agent
//!     recommends it), with no compaction in the report and none pending or
//!     queued, marks the group "compact pending": nothing starts now;
//!   - success acts as [`Idle`]; an error marks the run as failed.
//!
//!   The percentage is the reported `percent`, else `tokens · 100 / limit`,
//!   capped at 100 ([`ContextStats::effective_percent`]).
//! - **B6 [`Exited`]**: frees the slot. A Messages run failed if it exited
//!   with any failure class ([`Exit::is_failure`]: `Failed`, `Fatal`,
//!   `RetryAfter`) or a turn reported an error. Failed with nothing delivered,
//!   or with a follow-up piped in after its last delivered reply:
//!   `RollbackCursor`, then a retry (B7), so no message is lost. Failed after
//!   a delivered reply that answered everything piped before it: no
//!   rollback and no retry (re-processing would send duplicates); counts as
//!   done. A failed task is recorded ([`Record::TaskFailed`]); tasks are
//!   not retried. Then a pending compact becomes one `Compact` job at the
//!   front of the group's jobs, and the slot is handed on (B8). The compact
//!   turn therefore never overlaps the turn that triggered it.
//! - **[`NeverLaunched`]** (after a restart of the adapter): a run whose
//!   `Spawn` was never carried out leaves without a failure and no retry is
//!   counted. Its work goes back as it was: a task to the front of its
//!   group's jobs (behind a queued compact), a Messages run's cursor rolled
//!   back (`RollbackCursor`) with its group unread again, a compact queued
//!   again; then the slot is handed on (B8). After shutdown nothing is
//!   queued: the work comes back in the answer ([`Requeue::HandedBack`]).
//!   Work that does not match the run's `Spawn` is rejected
//!   ([`Error::WorkMismatch`]).
//! - **B7 retry**: failures of Messages runs are counted per group; attempt
//!   `n` waits `retry_base · 2^(n−1)`, or exactly the time an
//!   [`Exit::RetryAfter`] asked for (a provider's rate limit; it still
//!   counts as an attempt). Past `max_retries`, or at once for an
//!   [`Exit::Fatal`] (a failure no retry mends: a stale session, a bad
//!   configuration): `TerminalFailure`, the count restarts, no retry. A
//!   failure after a delivered reply is not retried whatever its class
//!   (B6), and a turn error with a clean exit is `Failed`. A retry coming due acts
//!   as a [`Message`]. Starting a Messages run cancels a scheduled retry (the
//!   run reads the rolled-back messages; the count is kept).
//! - **B8 drain**: when a slot frees, within a group jobs (compact, tasks)
//!   start FIFO before unread messages. [`Policy::Fair`]: if other groups
//!   wait, the group that just finished goes to the back of the line and the
//!   slot goes to the head; a group with `W` groups ahead starts within
//!   `W + 1` slot releases. [`Policy::Legacy`]: the finishing group drains
//!   its own backlog first. A slot is never left free while a group with
//!   work waits.
//!
//!   **Idle eviction** ([`Config::with_evict_idle`], on by default): while
//!   more groups wait than there are closing runs (each will free a slot),
//!   the run idle longest is closed (`CloseInput(Evicted)`: by the moment
//!   it went idle, not by its last reply); a run that goes idle while such
//!   groups wait is closed at once. Never more runs are
//!   closed than the waiting groups need, so the fairness bound holds even
//!   when every slot is held by an idle conversation. Off, idle runs keep
//!   their slots until their idle timeout.
//! - **B9 [`Shutdown`]**: no `Spawn` after it, ever. It answers with a
//!   [`ShutdownReport`]: queued jobs with their payloads, unread messages,
//!   scheduled retries, pending compacts, and the live runs as they were.
//!   Then idle runs are closed at once (`CloseInput(Shutdown)`), busy runs
//!   get `shutdown_grace` to finish their turn (closed as soon as they go
//!   idle, or when the grace ends), and every close is followed by a kill
//!   after `kill_grace` if the run has not exited. Live runs' inputs are
//!   still accepted until they exit; a second shutdown is rejected.
//! - **B10 [`Timeout`]**: deadlines at or before `now` fire in deadline
//!   order, ties in the order they were set. What each one does:
//!   - a group's retry: acts as a [`Message`] (B7);
//!   - a run's idle deadline (armed while it is idle):
//!     `CloseInput(IdleTimeout)`;
//!   - its turn deadline (armed at spawn and when a follow-up is piped into
//!     it while idle; `max_turn_time`, or `max_compact_time` for a compact
//!     run; not moved by turn reports or heartbeats):
//!     `CloseInput(TurnTimeout)`;
//!   - its stall watch (`stall_timeout`, restarted by every turn report and
//!     [`Heartbeat`] while busy; its first window, from the spawn to the
//!     run's first report, heartbeat or `Idle`, is `stall_timeout +
//!     start_grace`): `CloseInput(Stalled)`;
//!   - its life cap (`max_run_time`, from its spawn): `CloseInput(RunTimeLimit)`;
//!   - its shutdown grace (B9): `CloseInput(Shutdown)`;
//!   - its kill deadline, armed by every close at `now + kill_grace`:
//!     [`Command::Kill`], at most once per run.
//!
//!   Every close drops the run's other deadlines, so the graceful close
//!   always comes first and the kill only ever follows it by `kill_grace`,
//!   whichever deadline or reason closed it. When deadlines of one run
//!   coincide, the one armed first closes it and gives the reason: at a
//!   spawn the turn deadline is armed before the life cap and the stall
//!   watch, so equal ones close as `TurnTimeout`; a stall watch re-armed
//!   by a report comes after both.
//! - **[`Heartbeat`]**: restarts a busy run's stall watch; nothing else.
//! - **Operator controls**:
//!   - [`Cancel`] removes a queued task wherever it stands and hands back
//!     its payload ([`CancelAnswer::Cancelled`]); a task already running is
//!     not cancelled ([`CancelAnswer::Running`]: close the run with
//!     [`CloseRun`] to stop it); a group left with nothing to wait for leaves
//!     the line.
//!   - [`Pause`] starts nothing for the group until [`Resume`]: its pending
//!     work is kept, it gives up its place in the waiting line (and is not
//!     counted as waiting for eviction), its idle run is not preempted for
//!     tasks that could not start, and a live run keeps running. [`Resume`]
//!     starts it in a free slot or puts it at the back of the line. Both are
//!     rejected after shutdown ([`Error::ShutDown`]), which resumes every
//!     group. [`Cancel`] and [`CloseRun`] are accepted after shutdown: they
//!     only take work away.
//!   - [`SetLimits`] changes `max_active` and the task caps while the
//!     machine runs (rejected after shutdown, and with
//!     [`Error::InvalidConfig`] for `max_active` 0). Raised: waiting groups
//!     start in the new slots at once. Lowered below the live runs: idle
//!     runs are closed longest idle first (`CloseInput(LimitLowered)`)
//!     until the open runs fit, busy runs finish their turn and are closed
//!     when they go idle while still over, and nothing starts while the
//!     live runs are at or above the new limit ([`Machine::free_slots`] is
//!     0), so no run started after the change is over it. Eviction counts
//!     only the closing runs whose exit frees a slot below the limit. New
//!     caps apply to later tasks; queued ones stay.
//!   - [`CloseRun`]: the host closes a group's live run itself (a `/compact`
//!     typed by the user, a change of model backend): the one
//!     `CloseInput(Host)` is emitted, pipes into the run are refused from
//!     then on, and its kill deadline is armed ([`CloseAnswer`]).
//! - **B11 views**: [`Machine::explain`] (a group's run, its state and every
//!   deadline, jobs, unread messages, place in line, failures and retry,
//!   compact pending, paused, last context) and [`Machine::stats`]. The
//!   place in line is counted by walking the line from its head: the one
//!   view that costs O(n) in the waiting groups.
//! - **B12 memory**: a group with no run, no pending work, no retry and no
//!   compact owed holds no memory ([`Machine::is_quiescent`] when none is
//!   held); a paused group is held until it is resumed. Every input costs
//!   O(1) or O(log n) in the groups, jobs and waiting groups (a cancel too),
//!   and the steady state allocates nothing.
//! - **B14 debounce** ([`Config::with_debounce`], off by default): a
//!   [`Message`] for a group with no run, not in line, not paused and with
//!   nothing pending does not wake it; the group debounces: its messages
//!   run starts when `quiet` passes with no further message for it, or
//!   `max_wait` after the burst's first message, whichever is first (the
//!   deadline is the group's debounce timer, fired by [`Timeout`] in
//!   deadline order with the retries). It then starts or joins the line as
//!   B1 says. A task, a retry coming due and a resume wake the group at
//!   once (no debounce holds work that is due); messages for a group with a
//!   run, in line or paused are not debounced. Shutdown reports a
//!   debouncing group's messages as unread. [`Explain::debounced_until`]
//!   shows the deadline.
//! - **B15 crash-loop breaker** ([`Config::with_breaker`], off by default):
//!   a run *fails fast* when it exits failed (B6: a failed exit or an
//!   error turn) within `fast_failure` of its spawn, without its input
//!   having been closed and without a kill. When fast failures of
//!   `groups` distinct groups fall within `window` (each group's latest
//!   counts once), the breaker opens: [`Command::BreakerOpened`], and no
//!   run starts for `cooldown`; every input is still accepted and work
//!   queues in the line (retries coming due too); eviction closes nothing,
//!   since no slot it frees could be used. When the cooldown ends one run
//!   starts, the head of the line, as the probe, and nothing else starts
//!   while it lives. A probe that fails fast opens the breaker again for
//!   twice the last cooldown, at most `max_cooldown`; a probe that lives
//!   `fast_failure`, or exits otherwise (cleanly, closed, killed), closes
//!   it: [`Command::BreakerClosed`], and the line starts in order. A probe
//!   that [`NeverLaunched`] is no probe: the next run to start is. Runs
//!   live when it opens go on. Shutdown ends the breaker without a
//!   command (nothing starts after it anyway). [`Stats::breaker`] shows it.
//! - **B16 background tasks** ([`BackgroundTask`], settings in
//!   [`Background`]): a task's class is *normal* ([`Task`], B2) or
//!   *background*: work that gives way to the conversation (a heartbeat, a
//!   maintenance sweep). After shutdown: rejected. With `skip_if_active`,
//!   a group whose conversation is active (a live run that is not a
//!   background task's, unread messages, normal jobs, a retry or a compact
//!   owed) or whose last conversation run exited less than
//!   [`Background::skip_window`] ago is answered [`TaskAnswer::Skipped`],
//!   and nothing changes. Otherwise it is deduplicated (against the live
//!   run's task and the group's tasks of both classes) and capped (caps
//!   count both classes) like B2, and appended to the group's background
//!   queue. It never closes a run (no preemption, no eviction). A group
//!   starts, in this order, its normal jobs, its unread messages, then its
//!   background tasks, FIFO. A group waiting with background tasks only
//!   waits in the line's *background lane*, behind every group waiting
//!   with a conversation (normal jobs or messages); it moves to the back
//!   of the conversation lane when conversation work arrives for it.
//!   Aging: while both lanes wait, after [`Background::aging`]
//!   conversation starts since the last background start, the background
//!   lane's head starts next. At most [`Background::max_running`]
//!   background runs are live: past it a background group waits, even
//!   with a slot free. A message (or a retry coming due) for a group whose
//!   live run is an idle background run closes it (`CloseInput(Preempt)`):
//!   the conversation goes first; a busy background run finishes.
//!   Under the fair policy, a group waiting with background work only,
//!   `B` background groups ahead of it, starts within
//!   `(B + 1) · (aging + 1)` slot releases after which a background run
//!   could start (below `max_running`, the breaker not holding).
//!   [`Explain::background_tasks`], [`Stats::waiting_background`] and
//!   [`Stats::background_runs`] show them; the shutdown report hands them
//!   back in [`PendingGroup::background_tasks`].
//!
//! # What the adapter must do
//!
//! - **Time**: stamp every input with a [`Time`] that never goes backwards
//!   (an earlier one is rejected with [`Error::TimeWentBackwards`]).
//! - **`Spawn { run, group, work }`**: start a container for `run`. If it
//!   cannot start, report [`Exited`] with [`Exit::Failed`]: every spawned run
//!   must be reported exited exactly once, or its slot is held forever.
//! - **Run events**: report a turn's result as [`Turn`], a run waiting for
//!   input as [`Idle`] (a successful [`Turn`] already counts as idle), and
//!   the container's end as [`Exited`] (clean only for exit status 0).
//! - **Follow-ups**: to pass a new user message into a live run, ask
//!   [`Pipe`] first and write the message into the run only on
//!   [`PipeAnswer::Piped`]; on a refusal send [`Message`]. Never write into
//!   a run the core did not answer `Piped` for: the message could be lost.
//! - **`CloseInput { run, reason }`**: close the run's input (write the
//!   close sentinel, close stdin). The run should finish and exit; the core
//!   sends no second close.
//! - **`Kill { run }`**: the run did not exit within `kill_grace` of its
//!   close: kill it (`docker kill`, SIGKILL of its process group), then
//!   report [`Exited`] (`Failed`) when it is gone. The run stays live, and
//!   holds its slot, until that report: the core never pretends a container
//!   is gone, and sends no second kill.
//! - **Liveness**: send [`Heartbeat`] when the agent shows it is alive
//!   between turn reports (a tool call in progress, a keep-alive line), if
//!   you configure `stall_timeout`. Tell agent authors to send it from a
//!   timer for as long as a turn is in progress, not only on model events:
//!   a turn waiting out a rate limit sends no events and is alive.
//! - **`RollbackCursor { group }`**: the run failed before its messages were
//!   all answered. Rewind the group's message cursor to just after the
//!   messages the run's last delivered reply answered (to where it stood at
//!   the run's spawn if nothing was delivered), so those messages, the
//!   follow-ups piped into the run after that reply, and any that arrived
//!   since, are read again by the next run.
//! - **`TerminalFailure { group }`**: retries are exhausted and no retry
//!   follows; the unread messages stay unread. Tell the user, and either
//!   leave the cursor (the next message retries them all) or advance it to
//!   skip them.
//! - **`Notify { group, notice }`**: show the notice to the group's user.
//! - **`RecordCompaction { group }`**: persist that the group's context was
//!   compacted now.
//! - **`BreakerOpened { until, cooldown }`** and **`BreakerClosed`**: tell
//!   the operator (an alert, not a user message): runs of several groups
//!   crash at once, so something they all need is broken (the image, a
//!   credential, the network). Nothing is lost meanwhile: work queues, and
//!   the line starts in order once the probe lives.
//! - **`TaskAnswer::Skipped`** (only for a [`BackgroundTask`] that asked
//!   for it): nothing was queued; drop the work or try it later (the next
//!   heartbeat). A host that must know when the work is done keys it by
//!   its id, as for any task.
//! - **The shutdown report**: persist it and resubmit its work on the next
//!   start, background tasks as [`BackgroundTask`]s; live runs listed there
//!   must still be reported exited.
//! - **Restarts** (with the `serde` feature, see [Snapshots](#snapshots)):
//!   restore the machine (a snapshot, then the inputs accepted since, in
//!   order, with their times), then settle every run the machine holds
//!   live before any new input: a run still there whose output you can
//!   read on from where you stopped may be adopted (leave it live and
//!   report its events as before: its deadlines continue from the restored
//!   time); [`Exited`] (`Failed`) for one that may have started and is not
//!   adopted (kill it first); [`NeverLaunched`] for one that certainly
//!   never started. A task's run reported `Exited` is recorded failed and
//!   never re-run; one reported `NeverLaunched` runs again.
//! - Match commands, records and notices with a wildcard arm: those enums are
//!   `#[non_exhaustive]` and will grow (kill, new close reasons).
//!
//! # Snapshots
//!
//! With the optional `serde` feature, a [`Machine`] serializes its whole
//! state and deserializes into a machine `==` to the one serialized, which
//! then answers every input exactly as the original would: a snapshot taken
//! after any step, plus the inputs after it, replays into the machine that
//! never stopped (`tests/snapshot.rs` proves it over random input
//! sequences). Hash indices are not written; they are rebuilt on restore,
//! so the bytes never depend on hash seeds. A machine with outputs not yet
//! polled refuses to serialize (`SnapshotError::PendingOutputs`): they
//! would be lost. A deserialized machine is checked link by link (free
//! lists, job links and lengths, run ↔ group pointers, the waiting line,
//! the timer heap) and refused with `SnapshotError::Inconsistent` before
//! it is handed out; the configuration is validated like
//! [`Machine::new`]'s (`SnapshotError::Config`). The format is serde's
//! data model: pick any serde format; `groupq-tokio` writes JSON.
//!
//! # Invariants
//!
//! What the tests prove, on what an adapter sees (the stream of inputs,
//! answers and commands), not only on fields:
//!
//! - **P1** a group never has two live runs.
//! - **P2** live runs never exceed `max_active`: no `Spawn` while the live
//!   runs are at or above the limit in force (a lowered one too); after a
//!   lowered limit, no idle run stays open while more runs are open than
//!   it allows.
//! - **P3** work conservation: after an input, a free slot implies no group
//!   with pending jobs or unread messages is without a run (before
//!   shutdown), but for a debouncing group (B14), while the breaker
//!   holds starts back (B15: open, or its probe live), and for a group
//!   waiting with background tasks only while `max_running` background
//!   runs are live (B16).
//! - **P4** every accepted task is spawned exactly once, with its own
//!   payload, or handed back in the shutdown report; a duplicate, or a
//!   task over a cap, is reported at submission, and only a task over a
//!   cap is refused.
//! - **P5** per group, jobs start FIFO and before the unread messages,
//!   and background tasks FIFO after both.
//! - **P6** fair policy: a group with `W` groups ahead starts within `W + 1`
//!   slot releases (an exit while the breaker holds starts back releases
//!   none), plus one for each background run started meanwhile (B16's
//!   aging: counted with groups waiting with a conversation).
//! - **P7** a pipe is never accepted into a task, compact or closing run.
//! - **P8** at most one `CloseInput` per run, only for a live run, only with
//!   its cause: `Preempt` (the run is idle and normal jobs wait for its
//!   group, or messages wait behind its idle background run),
//!   `Evicted` (it is the run idle longest and other groups wait with a
//!   conversation),
//!   `IdleTimeout`, `TurnTimeout`, `Stalled`, `RunTimeLimit` (a timeout
//!   found that deadline passed), `Shutdown` (idle at or after shutdown,
//!   or its shutdown grace passed), `Host` (a [`CloseRun`]), `LimitLowered`
//!   (it is the run idle longest and more runs are open than a lowered
//!   limit allows).
//! - **P9** a rejected input changes nothing and produces nothing, and only
//!   invalid inputs are rejected.
//! - **P10** no `Spawn` after shutdown.
//! - **P11** a compact job starts only after the run that triggered it
//!   exited.
//! - **P12** retry delays follow B7; `TerminalFailure` after
//!   `max_retries + 1` consecutive failures, or at a `Fatal` one.
//! - **P13** determinism: the same configuration and inputs give the same
//!   answers and outputs, byte for byte, whatever the hash seeds. No hasher
//!   can be passed in; each machine's maps draw their own `RandomState`
//!   keys (and a new thread draws new ones), so a determinism test of
//!   your own varies the seeds by building machines side by side, one of
//!   them on another thread, as `tests/determinism.rs` does.
//! - **P14** deadlines: a run whose deadline passed is closed by the timeout
//!   that finds it; a closed run still live `kill_grace` later is killed, at
//!   most once; after shutdown no run stays idle and open.
//! - **P15** eviction (when on): after every input, no idle run holds a slot
//!   while more groups wait than runs are closing; the run evicted is the
//!   one idle longest.
//! - **P16** operator controls: nothing is spawned for a paused group; a
//!   cancelled task never spawns; a host close is emitted once.
//! - **P17** debounce: a messages run of a debouncing group starts neither
//!   before its burst ends (quiet period, maximum wait, or a wake by a
//!   task, a retry or a resume) nor later than the timeout that finds it
//!   ended (with a free slot).
//! - **P18** breaker: no `Spawn` while it is open, one probe while it is
//!   half-open; `BreakerOpened` exactly when B15's threshold is met (with
//!   its `until` and doubling cooldown), `BreakerClosed` exactly when the
//!   probe lives; no accepted work is dropped (P4 holds throughout).
//! - **P19** background tasks: a background task never closes a run (no
//!   preemption, no eviction for it); it starts only when its group has
//!   no normal jobs and no unread messages, never past `max_running`; it
//!   is `Skipped` exactly when it asked and the conversation is active;
//!   B16's bound on its wait holds.
//!
//! The companion crate `groupq-check` checks P1–P12 and P14–P19 step by step (its
//! `Checker` and `Checked`), with its own account and arithmetic; P13 is
//! proven by running machines with different hash seeds side by side.
//!
//! # Decisions
//!
//! Where the behaviours above leave room, the core decided:
//!
//! - B8's bound is `W + 1` releases, not `W`: a group at the head of the
//!   line still needs one release.
//! - Records are off by default ([`Config::with_records`]): each costs a key
//!   clone, and no adapter needs them.
//! - A pipe refusal is an answer ([`PipeAnswer`]), so the fallback to a
//!   message is one line and `?` propagates only real errors. A refused
//!   pipe is an accepted input: it moves the machine's clock like any other.
//! - A Messages run that fails after a reply was delivered counts as done
//!   for retries (count reset).
//! - Starting a Messages run cancels its group's scheduled retry (see B7).
//! - Turn reports are accepted from any live run; notices and the
//!   auto-compact trigger come only from Messages runs, so a compact turn
//!   can never queue another compact. Both notices need a successful reply.
//! - A context percentage above 100 is taken as 100.
//! - Closing a run's input cancels all its deadlines but the kill, and a
//!   reply from a closing run re-arms nothing.
//! - The idle deadline runs from the moment the run goes idle (with or
//!   without a reply), not from its last reply while busy: it only ever
//!   closes an idle run, and an idle run that never replied is closed too.
//! - A follow-up piped into a busy run does not move its turn deadline (a
//!   user typing cannot keep a hung agent alive); one piped into an idle
//!   run starts a new turn with a new turn deadline.
//! - A task run's turn is its whole life: it has the turn deadline from its
//!   spawn until it exits or goes idle.
//! - The shutdown report lists the live runs as they were when shutdown was
//!   asked, before the shutdown's own closes.
//! - A Messages run that fails after shutdown still rolls back its cursor,
//!   but schedules no retry and gives no `TerminalFailure`; a compact it
//!   triggered is dropped ([`Record::Dropped`]): the report was already
//!   handed back, and the next start triggers it again.
//! - The shutdown report lists groups in the order of the machine's group
//!   table (deterministic, independent of hashing), live runs by id.
//! - Failure classes (B7): a task run's failure is recorded, never retried,
//!   whatever its class; a `RetryAfter` delay is taken as given (zero
//!   retries at once) and counts as an attempt, so `max_retries` still
//!   bounds a rate-limited group; `Fatal` rolls the cursor back like any
//!   failure, so the messages stay unread for the next message.
//! - Task caps count queued tasks, not the running one nor a queued
//!   compact; the group's cap is checked before the total, a duplicate
//!   before either. [`TaskAnswer`] and [`TaskRefusal`] are exhaustive: a
//!   host handles every answer.
//! - A lowered limit never closes a busy run: it waits for the run's turn
//!   to end (its turn deadline still bounds that). It closes only as many
//!   idle runs as the open runs exceed the limit by.
//! - The defaults drain in at most `shutdown_grace + kill_grace` = 90 s
//!   after [`Shutdown`] (a busy run's 60 s grace, then 30 s to exit before
//!   its kill), plus the time the kill takes: exactly systemd's default
//!   `TimeoutStopSec` of 90 s, after which systemd kills the host first.
//!   Under a service manager, set its stop timeout above the sum (say
//!   120 s), or lower the graces to fit; a driver that is killed before
//!   its runs exit leaves them to be adopted or reported on the next start.
//! - The core clones your key and task id. It clones before it starts a
//!   run, so a panicking `Clone` never leaves a live run without its
//!   `Spawn`: the group's work stays pending and starts on its next message
//!   or task. Other effects of the input that panicked may have happened;
//!   treat a panic in your `Clone` as a bug to fix, not as an input.
//! - Retry delays are exact up to what [`std::time::Duration`] holds, then
//!   saturate; deadlines saturate at [`Time::MAX`].
//! - Debounce and the breaker are off by default, so a machine built with
//!   the defaults behaves as before they existed, byte for byte. For a
//!   chat host, 500 ms to 1 s of quiet with a few seconds' maximum wait,
//!   and `Breaker::default()` (3 groups failing within 10 s of their
//!   spawn, within a minute; 30 s doubling to 10 min), are sensible.
//! - Debounce holds only the start of a messages run: a message for a live
//!   run is piped or read by it as before, and tasks and retries are never
//!   held, so a debounce can delay nothing that was already due.
//! - The breaker counts groups, not runs: one group crashing in a loop is
//!   B7's business (its backoff), not a crash loop. Only failures within
//!   `fast_failure` of the spawn count, not ones after the core or the
//!   host closed the run: a slow or preempted agent is not a broken image.
//!   Its probe is the head of the line, so fairness holds through it.
//! - A background task is its own input, not a flag on [`Task`]: every
//!   existing `Task` keeps its meaning, and `skip_if_active`, which only
//!   background work has, cannot be set on a normal task. Its settings
//!   ([`Background::default`]: aging 4, no cap, no skip window) change
//!   nothing until a background task arrives.
//! - Aging counts starts, not time: the bound is in slot releases, like
//!   B8's, needs no timer, and holds whatever the runs' lengths. A
//!   background group passed over while `max_running` holds it goes first
//!   as soon as the cap allows.
//! - "Active" for `skip_if_active` is the conversation's activity, not the
//!   group's: a live background run does not make its group active (the
//!   task is queued behind it, or deduplicated). The skip window counts
//!   from the last conversation run's exit, which a group forgotten
//!   since is still remembered by (memory: the exits within the window).
//! - A background group never evicts: eviction exists to start waiting
//!   conversations, and background work must not cost a conversation its
//!   context.
//!
//! Contributors: `ARCHITECTURE.md` maps the source files and the invariants
//! each keeps.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod event;
mod input;
mod machine;
mod output;
mod state;
mod step;
mod time;
mod turn_report;
mod view;
mod work;

pub use config::{Background, Breaker, Config, ConfigError, Debounce, Limits, Policy};
pub use error::Error;
pub use event::Event;
pub use input::{
    BackgroundTask, Cancel, CancelAnswer, CloseAnswer, CloseRun, Exited, Heartbeat, Idle, Input,
    Message, NeverLaunched, Pause, Pipe, PipeAnswer, PipeRefusal, Requeue, Response, Resume,
    SetLimits, Shutdown, Task, TaskAnswer, TaskRefusal, Timeout, Turn,
};
pub use machine::Machine;
#[cfg(feature = "serde")]
pub use machine::SnapshotError;
pub use output::{CloseReason, Command, Dropped, Notice, Output, Pending, Record};
pub use step::{Steppable, Stepped};
pub use time::{Epoch, Time};
pub use turn_report::{Compaction, CompactionTrigger, ContextStats, TurnReport, TurnStatus};
pub use view::{
    BreakerStatus, Explain, JobInfo, LiveRun, PendingGroup, RunInfo, ShutdownReport, Stats,
};
pub use work::{Exit, RunId, RunState, Work, WorkKind};
