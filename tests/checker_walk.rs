//! Long deterministic random walks through a checked machine: every step of
//! every walk must satisfy the checker. (The proptest suites shrink
//! failures; this walk covers long horizons cheaply.)

use std::time::Duration;

use groupq::{
    Compaction, CompactionTrigger, Config, ContextStats, Exit, Input, Output, Policy, RunId,
    Steppable, Time, TurnReport, TurnStatus,
};
use groupq_check::{CheckError, Checked};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Returns (accepted inputs, spawns).
fn walk(seed: u64, config: Config, steps: usize) -> (usize, usize) {
    let mut rng = Rng(seed);
    let mut q = Checked::<u8, u8, u32>::new(config).unwrap();
    let mut now = Time::ZERO;
    let mut live: Vec<RunId> = Vec::new();
    let mut next_run_seen = 1;
    let (mut accepted, mut spawns) = (0, 0);
    for i in 0..steps {
        now = match rng.below(10) {
            0 => q.machine().next_deadline().unwrap_or(now).max(now),
            1 => now.saturating_add(Duration::from_millis(rng.below(100_000))),
            _ => now.saturating_add(Duration::from_millis(rng.below(50))),
        };
        let run = |rng: &mut Rng, live: &[RunId]| {
            if live.is_empty() || rng.below(8) == 0 {
                RunId::new(rng.below(next_run_seen + 2))
            } else {
                live[rng.below(live.len() as u64) as usize]
            }
        };
        let group = rng.below(4) as u8;
        let input = match rng.below(20) {
            0..=4 => Input::Message { group },
            5..=7 => Input::Task {
                group,
                id: rng.below(3) as u8,
                payload: i as u32,
            },
            8..=9 => Input::Pipe { group },
            10 => Input::Idle {
                run: run(&mut rng, &live),
            },
            11..=13 => {
                let percent = [None, Some(50), Some(72), Some(80)][rng.below(4) as usize];
                let output = TurnReport {
                    status: if rng.below(5) == 0 {
                        TurnStatus::Error
                    } else {
                        TurnStatus::Success
                    },
                    replied: rng.below(4) != 0,
                    delivered: rng.below(2) == 0,
                    context: percent.map(|p| ContextStats {
                        percent: Some(p),
                        ..Default::default()
                    }),
                    compaction: (rng.below(6) == 0).then_some(Compaction {
                        trigger: if rng.below(2) == 0 {
                            CompactionTrigger::Auto
                        } else {
                            CompactionTrigger::Manual
                        },
                        tokens_before: Some(100),
                    }),
                };
                Input::Turn {
                    run: run(&mut rng, &live),
                    report: output,
                }
            }
            14..=17 => Input::Exited {
                run: run(&mut rng, &live),
                exit: if rng.below(3) == 0 {
                    Exit::Failed
                } else {
                    Exit::Clean
                },
            },
            18 => Input::Timeout,
            _ if i > steps * 9 / 10 && rng.below(30) == 0 => Input::Shutdown,
            _ => Input::Timeout,
        };
        let at = if rng.below(40) == 0 {
            Time::from_nanos(now.as_nanos() / 2)
        } else {
            now
        };
        let exited = match &input {
            Input::Exited { run, .. } => Some(*run),
            _ => None,
        };
        let mut outputs = Vec::new();
        match q.step(at, input, |o| outputs.push(o)) {
            Ok(_) => {
                accepted += 1;
                for o in &outputs {
                    if let Output::Command(groupq::Command::Spawn { run, .. }) = o {
                        live.push(*run);
                        spawns += 1;
                        next_run_seen = run.get() + 1;
                    }
                }
                if let Some(run) = exited {
                    live.retain(|r| *r != run);
                }
            }
            Err(CheckError::Rejected(_)) => {}
            Err(CheckError::Violation(v)) => panic!("seed {seed}: {v}"),
        }
    }
    (accepted, spawns)
}

#[test]
fn random_walks_satisfy_every_invariant() {
    for seed in 0..40 {
        let config = Config::default()
            .with_max_active(1 + (seed % 3) as usize)
            .with_policy(if seed % 2 == 0 {
                Policy::Fair
            } else {
                Policy::Legacy
            })
            .with_notices(seed % 4 < 2)
            .with_max_retries((seed % 4) as u32)
            .with_idle_timeout(Duration::from_millis(200))
            .with_records(seed % 5 == 0);
        let (accepted, spawns) = walk(seed, config, 3_000);
        // A walk that is mostly rejected or never spawns proves little.
        assert!(
            accepted > 2_000 && spawns > 300,
            "seed {seed}: {accepted} accepted, {spawns} spawns"
        );
    }
}

/// The checker holds the deadline an adapter sleeps until to the deadlines
/// it knows: waking after an open run's idle deadline is a violation, and so
/// is a scheduled retry that no wake-up is asked for.
#[test]
fn checker_rejects_a_wake_up_later_than_a_known_deadline() {
    use groupq::Machine;
    use groupq_check::{Checker, Property, Violation};

    /// Feeds `inputs` at time zero; the last one's next deadline is forged.
    fn run(inputs: &[Input<u8, u8, u32>], last_wake: Option<Time>) -> Result<(), Violation<u8>> {
        let config = Config::default().with_idle_timeout(Duration::from_secs(60));
        let mut q: Machine<u8, u8, u32> = Machine::new(config.clone()).unwrap();
        let mut checker = Checker::new(&config);
        for (i, input) in inputs.iter().enumerate() {
            let mut outputs = Vec::new();
            let result = q.step(Time::ZERO, input.clone(), |o| outputs.push(o));
            let result = result.map(|s| s.answer);
            let mut wake = q.next_deadline();
            if i + 1 == inputs.len() {
                assert_ne!(wake, last_wake, "the forged deadline must differ");
                wake = last_wake;
            }
            checker.step(Time::ZERO, input, &result, &outputs, wake)?;
        }
        Ok(())
    }
    let run1 = RunId::new(1);
    let message = Input::Message { group: 0 };
    let reply = Input::Turn {
        run: run1,
        report: TurnReport::delivered_reply(),
    };
    // The idle deadline is at 60 s; waking at 61 s misses it.
    let late = run(&[message.clone(), reply], Some(Time::from_secs(61))).unwrap_err();
    assert_eq!(late.property, Property::Contract);
    // A failed run schedules a retry at 5 s; no deadline never retries.
    let failed = Input::Exited {
        run: run1,
        exit: Exit::Failed,
    };
    let missing = run(&[message, failed], None).unwrap_err();
    assert_eq!(missing.property, Property::Contract);
    assert!(missing.detail.contains("next deadline None"), "{missing}");
}
