//! Model-based test: the reference model (`tests/support/model.rs`, written
//! from the crate docs) and the real machine get the same transitions; after each
//! one their answers, their command sequences and their next deadlines must
//! be equal, and `explain` must agree with the model's state. Every step of
//! the machine also goes through the invariant checker.
//!
//! 1,000 cases of up to 300 transitions by default (`PROPTEST_CASES`
//! overrides).

mod support;

use groupq::{Config, Input, JobInfo, Response, RunId, Time};
use groupq_check::Checker;
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

use support::gen::{self, Answer, Clock, In, Q};
use support::model::{Model, ModelJob, ModelStep, ModelTimer};

type M = Model<u8, u8, u32>;

/// The reference side: the model, the adapter's clock, and what the last
/// transition produced (for the machine side to compare against).
#[derive(Clone, Debug)]
struct Reference {
    model: M,
    groups: u8,
    /// The latest accepted time (the adapter's clock).
    clock: Time,
    /// When the last transition was given.
    at: Time,
    last: Option<ModelStep<u8, u8, u32>>,
}

#[derive(Clone, Debug)]
struct Transition {
    clock: Clock,
    input: In,
}

impl ReferenceStateMachine for Reference {
    type State = Reference;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Reference> {
        (gen::config(), 1u8..=5)
            .prop_map(|(config, groups)| Reference {
                model: Model::new(config),
                groups,
                clock: Time::ZERO,
                at: Time::ZERO,
                last: None,
            })
            .boxed()
    }

    fn transitions(state: &Reference) -> BoxedStrategy<Transition> {
        let groups = state.groups;
        let live = state.model.live_runs();
        let issued = state.model.next_run;
        // Mostly live runs; sometimes stale or never issued.
        let any_run = (0..issued + 2).prop_map(RunId::new);
        let run: BoxedStrategy<RunId> = if live.is_empty() {
            any_run.boxed()
        } else {
            prop_oneof![8 => prop::sample::select(live), 1 => any_run].boxed()
        };
        let exit = prop_oneof![3 => Just(groupq::Exit::Clean), 1 => Just(groupq::Exit::Failed)];
        let input = prop_oneof![
            60 => (0..groups).prop_map(|group| Input::Message { group }),
            50 => (0..groups, 0..3u8, any::<u32>())
                .prop_map(|(group, id, payload)| Input::Task { group, id, payload }),
            25 => (0..groups, 0..3u8, any::<u32>(), any::<bool>()).prop_map(
                |(group, id, payload, skip_if_active)| Input::BackgroundTask {
                    group,
                    id,
                    payload,
                    skip_if_active,
                }
            ),
            8 => (0..groups, 0..3u8).prop_map(|(group, id)| Input::Cancel { group, id }),
            30 => (0..groups).prop_map(|group| Input::Pipe { group }),
            30 => run.clone().prop_map(|run| Input::Idle { run }),
            50 => (run.clone(), gen::turn_output())
                .prop_map(|(run, output)| Input::Turn { run, report: output }),
            60 => (run, exit).prop_map(|(run, exit)| Input::Exited { run, exit }),
            30 => Just(Input::Timeout),
            1 => Just(Input::Shutdown),
        ];
        (gen::clock(), input)
            .prop_map(|(clock, input)| Transition { clock, input })
            .boxed()
    }

    fn apply(mut state: Reference, t: &Transition) -> Reference {
        let h = gen::Harness {
            now: state.clock,
            ..gen::Harness::new()
        };
        let at = h.time(&t.clock, state.model.next_deadline());
        let step = state.model.handle(at, t.input.clone());
        if step.0.is_ok() {
            state.clock = state.clock.max(at);
        }
        state.at = at;
        state.last = Some(step);
        state
    }
}

struct Sut {
    q: Q,
    checker: Checker<u8, u8, u32>,
}

/// The shutdown report's group order is the machine's own (the contract
/// only asks that it not depend on hashing); compare it sorted.
fn normalize(answer: Answer) -> Answer {
    answer.map(|r| match r {
        Response::ShutDown(mut report) => {
            report.groups.sort_by_key(|g| g.group);
            Response::ShutDown(report)
        }
        other => other,
    })
}

struct MachineAgainstModel;

impl StateMachineTest for MachineAgainstModel {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(reference: &Reference) -> Sut {
        let config: Config = reference.model.config.clone();
        Sut {
            checker: Checker::new(&config),
            q: Q::new(config).expect("generated configs are valid"),
        }
    }

    fn apply(mut sut: Sut, reference: &Reference, t: Transition) -> Sut {
        let at = reference.at;
        let (answer, outputs) = gen::run_step(&mut sut.q, at, t.input.clone());
        let wake = sut.q.next_deadline();
        if let Err(v) = sut.checker.step(at, &t.input, &answer, &outputs, wake) {
            panic!("checker: {v}");
        }
        let (want_answer, want_commands) = reference.last.clone().expect("applied");
        assert_eq!(
            normalize(answer),
            normalize(want_answer),
            "answer to {:?} at {at}",
            t.input
        );
        assert_eq!(
            gen::commands(&outputs),
            want_commands,
            "commands for {:?} at {at}",
            t.input
        );
        assert_eq!(
            sut.q.next_deadline(),
            reference.model.next_deadline(),
            "next deadline after {:?} at {at}",
            t.input
        );
        sut
    }

    fn check_invariants(sut: &Sut, reference: &Reference) {
        let model = &reference.model;
        for key in 0..reference.groups {
            let explained = sut.q.explain(&key);
            let Some(g) = model.group(&key) else {
                assert_eq!(explained, None, "group {key} unknown to the model");
                continue;
            };
            let Some(e) = explained else {
                let holds = g.run.is_some()
                    || !g.jobs.is_empty()
                    || !g.background.is_empty()
                    || g.check
                    || g.retry.is_some()
                    || g.compact_pending
                    || g.paused
                    || (g.failures > 0 && !model.shut_down);
                assert!(!holds, "group {key} forgotten while it holds {g:?}");
                continue;
            };
            let run = e.run.map(|r| {
                let deadlines = [
                    r.idle_deadline,
                    r.turn_deadline,
                    r.life_deadline,
                    r.stall_deadline,
                    r.grace_deadline,
                    r.kill_deadline,
                ];
                (r.run, r.kind, r.state, deadlines, r.killed, r.background)
            });
            let model_run = g.run.as_ref().map(|r| {
                let at = |what: ModelTimer<u8>| {
                    model.timers.iter().find(|t| t.what == what).map(|t| t.at)
                };
                let deadlines = [
                    at(ModelTimer::Idle(r.id)),
                    at(ModelTimer::Turn(r.id)),
                    at(ModelTimer::Life(r.id)),
                    at(ModelTimer::Stall(r.id)),
                    at(ModelTimer::Grace(r.id)),
                    at(ModelTimer::Kill(r.id)),
                ];
                (r.id, r.kind, r.state, deadlines, r.killed, r.background)
            });
            assert_eq!(run, model_run, "run of group {key}");
            let model_jobs: Vec<JobInfo<u8>> = g
                .jobs
                .iter()
                .map(|j| match j {
                    ModelJob::Task { id, .. } => JobInfo::Task(*id),
                    ModelJob::Compact => JobInfo::Compact,
                })
                .collect();
            assert_eq!(e.jobs, model_jobs, "jobs of group {key}");
            let model_background: Vec<u8> = g.background.iter().map(|(id, _)| *id).collect();
            assert_eq!(
                e.background_tasks, model_background,
                "background tasks of group {key}"
            );
            assert_eq!(e.unread_messages, g.check, "message check of group {key}");
            let place = model.line.iter().position(|k| *k == key);
            let background_place = model.bg_line.iter().position(|k| *k == key);
            assert_eq!(
                e.waiting_behind,
                place.or(background_place),
                "place in its lane of group {key}"
            );
            assert_eq!(e.failures, g.failures, "failures of group {key}");
            assert_eq!(e.retry_at, g.retry.map(|r| r.1), "retry of group {key}");
            assert_eq!(
                e.compact_pending, g.compact_pending,
                "compact pending of group {key}"
            );
            assert_eq!(e.paused, g.paused, "paused of group {key}");
        }
        let stats = sut.q.stats();
        assert_eq!(stats.live_runs, model.live_runs().len());
        assert_eq!(stats.waiting_groups, model.line.len() + model.bg_line.len());
        assert_eq!(
            stats.waiting_background,
            model.bg_line.len(),
            "background lane {:?} / {:?} of groups {:?}, machine {:?}",
            model.bg_line,
            model.line,
            model.groups,
            (0..reference.groups)
                .map(|g| sut.q.explain(&g))
                .collect::<Vec<_>>()
        );
        let background_runs = model
            .groups
            .iter()
            .filter(|g| g.run.as_ref().is_some_and(|r| r.background))
            .count();
        assert_eq!(stats.background_runs, background_runs);
        assert_eq!(stats.shut_down, model.shut_down);
    }
}

prop_state_machine! {
    #![proptest_config(gen::proptest_config(1_000))]

    /// The machine gives the same answers, the same commands in the same
    /// order and the same next deadline as the reference model, and the
    /// same `explain` view of every group.
    #[test]
    fn machine_matches_the_reference_model(sequential 1..300 => MachineAgainstModel);
}
