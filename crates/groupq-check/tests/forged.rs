//! The checker against hand-forged streams: a real machine sets the scene,
//! then one step's answer, outputs or deadline is forged the way a buggy
//! machine could get it wrong, and the checker must name the broken
//! promise. Each forged step is also first checked honest (the real
//! machine's own answer passes), so every test shows the forgery is what
//! fails.

use std::time::Duration;

use groupq::{
    CloseReason, Command, Config, Error, Exit, Input, LiveRun, Machine, Output, PendingGroup,
    Response, RunId, RunState, ShutdownReport, Steppable, Time, TurnReport, Work, WorkKind,
};
use groupq_check::{Checker, Property, Violation};

type G = &'static str;
type In = Input<G, u32, String>;
type Out = Output<G, u32, String>;
type Answer = Result<Response<G, u32, String>, Error>;

/// A real machine and a checker that has seen every real step.
struct Scene {
    machine: Machine<G, u32, String>,
    checker: Checker<G, u32, String>,
    now: Time,
}

/// What one step really produced.
struct Real {
    answer: Answer,
    outputs: Vec<Out>,
    wake: Option<Time>,
}

impl Scene {
    fn new(config: Config) -> Scene {
        Scene {
            checker: Checker::new(&config),
            machine: Machine::new(config).unwrap(),
            now: Time::ZERO,
        }
    }

    /// Runs `input` on the machine without showing it to the checker.
    fn run(&mut self, input: In) -> Real {
        let mut outputs = Vec::new();
        let answer = self
            .machine
            .step(self.now, input, |o| outputs.push(o))
            .map(|s| s.answer);
        Real {
            answer,
            outputs,
            wake: self.machine.next_deadline(),
        }
    }

    /// A real step, checked: the scene.
    fn real(&mut self, input: In) -> Real {
        let real = self.run(input.clone());
        self.checker
            .step(self.now, &input, &real.answer, &real.outputs, real.wake)
            .unwrap_or_else(|v| panic!("the real machine broke a promise: {v}"));
        real
    }

    /// Shows the checker a forged step for `input`, after proving that the
    /// honest step passes on a copy of the checker.
    fn forged(&mut self, input: In, forge: impl FnOnce(&mut Real)) -> Violation<G> {
        let mut real = self.run(input.clone());
        let mut honest = self.checker.clone();
        honest
            .step(self.now, &input, &real.answer, &real.outputs, real.wake)
            .unwrap_or_else(|v| panic!("the honest step already fails: {v}"));
        forge(&mut real);
        self.checker
            .step(self.now, &input, &real.answer, &real.outputs, real.wake)
            .expect_err("the forged step was accepted")
    }
}

fn message(group: G) -> In {
    Input::Message { group }
}

fn task(group: G, id: u32, payload: &str) -> In {
    Input::Task {
        group,
        id,
        payload: payload.to_string(),
    }
}

fn spawn(run: u64, group: G, work: Work<u32, String>) -> Out {
    Output::Command(Command::Spawn {
        run: RunId::new(run),
        group,
        work,
    })
}

fn task_work(id: u32, payload: &str) -> Work<u32, String> {
    Work::Task {
        id,
        payload: payload.to_string(),
    }
}

fn one_slot() -> Scene {
    Scene::new(Config::default().with_max_active(1))
}

#[test]
fn a_second_spawn_for_a_group_is_caught() {
    let mut s = Scene::new(Config::default().with_max_active(2));
    s.real(message("a"));
    let v = s.forged(message("a"), |r| {
        r.outputs.push(spawn(2, "a", Work::Messages));
    });
    assert_eq!(v.property, Property::OneRunPerGroup, "{v}");
}

#[test]
fn a_spawn_past_the_limit_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    let v = s.forged(message("b"), |r| {
        r.outputs.push(spawn(2, "b", Work::Messages));
    });
    assert_eq!(v.property, Property::GlobalLimit, "{v}");
}

#[test]
fn a_task_lost_from_the_shutdown_report_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    s.real(task("b", 1, "weekly report"));
    let v = s.forged(Input::Shutdown, |r| {
        let Ok(Response::ShutDown(report)) = &mut r.answer else {
            panic!("shutdown answers with a report")
        };
        report.groups.clear();
    });
    assert_eq!(v.property, Property::NothingLostOrTwice, "{v}");
    assert_eq!(v.group, Some("b"));
}

#[test]
fn a_spawn_of_a_task_never_queued_is_caught() {
    let mut s = one_slot();
    let v = s.forged(message("a"), |r| {
        r.outputs = vec![spawn(1, "a", task_work(9, "invented"))];
    });
    assert_eq!(v.property, Property::NothingLostOrTwice, "{v}");
}

#[test]
fn a_task_spawned_twice_is_caught() {
    let mut s = one_slot();
    s.real(task("a", 1, "report"));
    s.real(Input::Exited {
        run: RunId::new(1),
        exit: Exit::Clean,
    });
    let v = s.forged(message("a"), |r| {
        r.outputs = vec![spawn(2, "a", task_work(1, "report"))];
    });
    assert_eq!(v.property, Property::NothingLostOrTwice, "{v}");
}

#[test]
fn a_retry_that_never_fires_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    // The run fails before any reply: rollback and a retry at 5 s.
    let v = s.forged(
        Input::Exited {
            run: RunId::new(1),
            exit: Exit::Failed,
        },
        |r| r.wake = None,
    );
    assert_eq!(v.property, Property::Contract, "{v}");
    assert!(v.detail.contains("due at 5000ms"), "{v}");
}

#[test]
fn a_retry_dropped_when_its_deadline_passes_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    s.real(Input::Exited {
        run: RunId::new(1),
        exit: Exit::Failed,
    });
    s.now = Time::from_secs(5);
    // The retry fires as a message: a Messages run must start.
    let v = s.forged(Input::Timeout, |r| r.outputs.clear());
    assert_eq!(v.property, Property::WorkConservation, "{v}");
}

#[test]
fn a_task_spawned_with_another_tasks_payload_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    s.real(task("a", 1, "first"));
    s.real(task("a", 2, "second"));
    let v = s.forged(
        Input::Exited {
            run: RunId::new(1),
            exit: Exit::Clean,
        },
        |r| {
            for o in &mut r.outputs {
                if let Output::Command(Command::Spawn { work, .. }) = o {
                    *work = task_work(1, "second");
                }
            }
        },
    );
    assert_eq!(v.property, Property::NothingLostOrTwice, "{v}");
    assert!(v.detail.contains("another payload"), "{v}");
}

#[test]
fn a_forged_payload_in_the_shutdown_report_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    s.real(task("b", 1, "the real one"));
    let v = s.forged(Input::Shutdown, |r| {
        let Ok(Response::ShutDown(report)) = &mut r.answer else {
            panic!("a report")
        };
        report.groups[0].jobs = vec![task_work(1, "a forged one")];
    });
    assert_eq!(v.property, Property::NothingLostOrTwice, "{v}");
}

#[test]
fn a_live_run_reported_with_the_wrong_group_kind_or_state_is_caught() {
    let forgeries: [fn(&mut LiveRun<G>); 3] = [
        |r| r.group = "z",
        |r| r.kind = WorkKind::Task,
        |r| r.state = RunState::IdleWaiting,
    ];
    for forge in forgeries {
        let mut s = one_slot();
        s.real(message("a"));
        let v = s.forged(Input::Shutdown, |r| {
            let Ok(Response::ShutDown(report)) = &mut r.answer else {
                panic!("a report")
            };
            forge(&mut report.live_runs[0]);
        });
        assert_eq!(v.property, Property::Contract, "{v}");
    }
}

#[test]
fn a_preempt_close_of_a_busy_run_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    // A task arrives while the run is busy: no close is due.
    let v = s.forged(task("a", 1, "t"), |r| {
        r.outputs.push(Output::Command(Command::CloseInput {
            run: RunId::new(1),
            reason: CloseReason::Preempt,
        }));
    });
    assert_eq!(v.property, Property::CloseOnce, "{v}");
    assert!(v.detail.contains("Busy"), "{v}");
}

#[test]
fn an_idle_timeout_close_on_another_input_is_caught() {
    let config = Config::default().with_idle_timeout(Duration::from_secs(60));
    let mut s = Scene::new(config);
    s.real(message("a"));
    s.real(Input::Turn {
        run: RunId::new(1),
        report: TurnReport::delivered_reply(),
    });
    // Past the idle deadline, but the input is a message, not a timeout.
    s.now = Time::from_secs(61);
    let v = s.forged(message("b"), |r| {
        r.outputs.push(Output::Command(Command::CloseInput {
            run: RunId::new(1),
            reason: CloseReason::IdleTimeout,
        }));
    });
    assert_eq!(v.property, Property::CloseOnce, "{v}");
}

#[test]
fn a_message_answered_with_a_run_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    let v = s.forged(message("a"), |r| {
        r.answer = Ok(Response::Piped(RunId::new(1)))
    });
    assert_eq!(v.property, Property::Rejection, "{v}");
}

/// The same forged stream names the same group whatever the hash seeds:
/// checkers built on other threads get other `RandomState` keys.
#[test]
fn the_violation_report_does_not_depend_on_hash_seeds() {
    fn violation() -> Violation<G> {
        let groups: [G; 12] = [
            "g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "g10", "g11",
        ];
        let mut s = one_slot();
        s.real(message("busy"));
        for g in groups {
            s.real(task(g, 1, g));
        }
        s.forged(Input::Shutdown, |r| {
            let Ok(Response::ShutDown(report)) = &mut r.answer else {
                panic!("a report")
            };
            *report = ShutdownReport {
                groups: Vec::<PendingGroup<G, u32, String>>::new(),
                live_runs: report.live_runs.clone(),
            };
        })
    }
    let first = violation();
    assert_eq!(first.group, Some("g0"), "the first group the stream named");
    for _ in 0..8 {
        let again = std::thread::spawn(violation).join().unwrap();
        assert_eq!(again, first);
    }
}

fn lifecycle() -> Scene {
    Scene::new(
        Config::default()
            .with_max_active(1)
            .with_max_turn_time(Duration::from_secs(60))
            .with_kill_grace(Duration::from_secs(10)),
    )
}

#[test]
fn a_missing_turn_timeout_close_is_caught() {
    let mut s = lifecycle();
    s.real(message("a"));
    s.now = Time::from_secs(60);
    let v = s.forged(Input::Timeout, |r| r.outputs.clear());
    assert_eq!(v.property, Property::Deadline, "{v}");
}

#[test]
fn a_turn_timeout_close_before_the_deadline_is_caught() {
    let mut s = lifecycle();
    s.real(message("a"));
    s.now = Time::from_secs(59);
    let v = s.forged(Input::Timeout, |r| {
        r.outputs.push(Output::Command(Command::CloseInput {
            run: RunId::new(1),
            reason: CloseReason::TurnTimeout,
        }));
    });
    assert_eq!(v.property, Property::CloseOnce, "{v}");
}

#[test]
fn a_kill_before_the_grace_a_missing_kill_and_a_second_kill_are_caught() {
    let kill = || Output::Command(Command::Kill { run: RunId::new(1) });
    let closed = |s: &mut Scene| {
        s.real(message("a"));
        s.now = Time::from_secs(60);
        s.real(Input::Timeout); // closed for its turn; kill due at 70 s
    };
    // Too early.
    let mut s = lifecycle();
    closed(&mut s);
    s.now = Time::from_secs(69);
    let v = s.forged(Input::Timeout, |r| r.outputs.push(kill()));
    assert_eq!(v.property, Property::KillOnce, "{v}");
    // Missing.
    let mut s = lifecycle();
    closed(&mut s);
    s.now = Time::from_secs(70);
    let v = s.forged(Input::Timeout, |r| r.outputs.clear());
    assert_eq!(v.property, Property::Deadline, "{v}");
    // Twice.
    let mut s = lifecycle();
    closed(&mut s);
    s.now = Time::from_secs(70);
    s.real(Input::Timeout);
    s.now = Time::from_secs(100);
    let v = s.forged(Input::Timeout, |r| r.outputs.push(kill()));
    assert_eq!(v.property, Property::KillOnce, "{v}");
}

#[test]
fn an_idle_run_left_open_after_shutdown_is_caught() {
    let mut s = lifecycle();
    s.real(message("a"));
    s.real(Input::Idle { run: RunId::new(1) });
    let v = s.forged(Input::Shutdown, |r| r.outputs.clear());
    assert_eq!(v.property, Property::Deadline, "{v}");
}

#[test]
fn a_lost_follow_up_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    s.real(Input::Turn {
        run: RunId::new(1),
        report: TurnReport::delivered_reply(),
    });
    s.real(Input::Pipe { group: "a" });
    // The run fails: the follow-up must be rolled back, not dropped.
    let v = s.forged(
        Input::Exited {
            run: RunId::new(1),
            exit: Exit::Failed,
        },
        |r| {
            r.outputs
                .retain(|o| !matches!(o, Output::Command(Command::RollbackCursor { .. })))
        },
    );
    assert_eq!(v.property, Property::Retry, "{v}");
}

#[test]
fn an_idle_run_left_holding_a_slot_while_a_group_waits_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    s.real(Input::Idle { run: RunId::new(1) });
    let v = s.forged(message("b"), |r| {
        r.outputs.retain(|o| o.command().is_none())
    });
    assert_eq!(v.property, Property::Eviction, "{v}");
}

#[test]
fn an_eviction_nobody_waits_for_is_caught() {
    let mut s = Scene::new(Config::default().with_max_active(2));
    s.real(message("a"));
    s.real(Input::Idle { run: RunId::new(1) });
    let v = s.forged(message("b"), |r| {
        r.outputs.push(Output::Command(Command::CloseInput {
            run: RunId::new(1),
            reason: CloseReason::Evicted,
        }));
    });
    assert_eq!(v.property, Property::CloseOnce, "{v}");
}

#[test]
fn a_spawn_for_a_paused_group_is_caught() {
    let mut s = one_slot();
    s.real(Input::Pause { group: "a" });
    let v = s.forged(message("a"), |r| {
        r.outputs.push(spawn(1, "a", Work::Messages));
    });
    assert_eq!(v.property, Property::Paused, "{v}");
}

#[test]
fn a_cancelled_task_that_spawns_anyway_is_caught() {
    let mut s = one_slot();
    s.real(message("busy"));
    s.real(task("a", 1, "t"));
    s.real(Input::Cancel { group: "a", id: 1 });
    let v = s.forged(
        Input::Exited {
            run: RunId::new(1),
            exit: Exit::Clean,
        },
        |r| r.outputs = vec![spawn(2, "a", task_work(1, "t"))],
    );
    assert_eq!(v.property, Property::NothingLostOrTwice, "{v}");
}

#[test]
fn a_cancel_answered_with_another_payload_is_caught() {
    let mut s = one_slot();
    s.real(message("busy"));
    s.real(task("a", 1, "t"));
    let v = s.forged(Input::Cancel { group: "a", id: 1 }, |r| {
        r.answer = Ok(Response::Cancel(groupq::CancelAnswer::Cancelled(
            "forged".into(),
        )));
    });
    assert_eq!(v.property, Property::NothingLostOrTwice, "{v}");
}

#[test]
fn a_host_close_answered_but_not_emitted_is_caught() {
    let mut s = one_slot();
    s.real(message("a"));
    let v = s.forged(Input::CloseRun { group: "a" }, |r| r.outputs.clear());
    assert_eq!(v.property, Property::CloseOnce, "{v}");
}
