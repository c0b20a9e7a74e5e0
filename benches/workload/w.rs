//! Workload W, defined here and only here: included with `#[path]` by
//! `benches/workload.rs` and `examples/simulate.rs`, so that the bench and
//! the example measure the same code.
//!
//! W(G, N, seed), `max_active` 5: splitmix64 draws two numbers per event
//! (`r = a % 100`, `x = b`, low 32 bits of each), time advances 1 ms per
//! event, and per event
//! - `r < 50`: message(group `x % G`);
//! - `50 ≤ r < 65`: task(group `x % G`, id `(x >> 16) % 8`);
//! - `65 ≤ r < 70`: idle(the live run of group `x % G`), if it has one;
//! - `70 ≤ r < 100`: the live run at `x % live.len()` exits (live runs are
//!   kept in spawn order; an exit swap-removes it), if any run is live.
//!
//! After every input all outputs are drained; every `Spawn` appends a live
//! run. Report nanoseconds per event over N = 1,000,000 events for G = 10,
//! 1,000, 100,000 and 1,000,000, with the spawn count (two implementations
//! that did the same work spawn the same number of runs).
//!
//! The floor ([`Floor`]): over the same random numbers, per event one
//! `std` `HashMap` probe on `x % G` (entry, insert when absent) and one queue
//! push (messages) or pop (the rest). No orchestrator can do less; the
//! machine is quoted as a ratio to it, timed in the same run. Targets: at
//! most 2× the floor; flat scaling (G = 1,000,000 over G = 1,000 no worse
//! than the floor's); no heap allocation per event in the steady state.

// Each includer uses a different subset of this module.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;

use groupq::{
    BackgroundTask, Command, Config, Event, Exit, Exited, Idle, Machine, Message, Output, Policy,
    RunId, Steppable, Task, Time, Timeout,
};

/// The machine W drives: `u32` group keys, `u32` task ids, no payload.
pub type Q = Machine<u32, u32, ()>;

/// The group counts W is measured at.
pub const GROUPS: [u32; 4] = [10, 1_000, 100_000, 1_000_000];
/// Events per run.
pub const EVENTS: usize = 1_000_000;
/// The default seed.
pub const SEED: u64 = 42;

/// splitmix64 (Steele, Lea, Flood 2014).
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One event's random numbers.
#[derive(Clone, Copy, Debug)]
pub struct WEvent {
    /// `a % 100`: which kind of event.
    pub r: u32,
    /// `b`: group, task id, or which live run.
    pub x: u32,
}

/// The `n` events of W for `seed`, drawn before any timing starts.
pub fn events(n: usize, seed: u64) -> Vec<WEvent> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let a = rng.next_u64() as u32;
            let b = rng.next_u64() as u32;
            WEvent { r: a % 100, x: b }
        })
        .collect()
}

/// The configuration of W: `max_active` 5, the given policy, defaults
/// otherwise (records off).
pub fn config(policy: Policy) -> Config {
    Config::default().with_max_active(5).with_policy(policy)
}

/// Adapter-side state: what W drives (a [`Machine`], or a checked one:
/// anything that implements [`Steppable`]) and what a real adapter would know
/// (its live runs), with every buffer reused so that the driver allocates
/// nothing per event once warm.
pub struct Driver<D = Q> {
    /// The machine under test.
    pub machine: D,
    groups: u32,
    /// Live runs in spawn order, with their group. At most `max_active`
    /// (5 in W), so finding a group's run is a scan of a few entries.
    live: Vec<(RunId, u32)>,
    /// Milliseconds since the start.
    now_ms: u64,
    /// `Spawn` commands seen.
    pub spawns: u64,
    /// How a run exits: `Clean` in W, `Failed` in the retry storm.
    pub exit: Exit,
    /// W with background tasks: tasks with ids 4 to 7 are background ones,
    /// id 7 skipped while its group is active (off in W).
    pub background: bool,
    /// Answers other than `Ok` (none expected in W).
    pub rejected: u64,
    /// The first of them, with its time: a rejection, or with a checked
    /// machine the invariant it broke.
    pub first_error: Option<String>,
}

impl Driver<Q> {
    /// A driver for W with `groups` groups over a plain machine.
    pub fn new(config: Config, groups: u32) -> Self {
        Driver::over(Machine::new(config).expect("valid config"), groups)
    }
}

impl<D> Driver<D>
where
    D: Steppable<u32, u32, ()>,
    D::Error: std::fmt::Display,
{
    /// A driver for W with `groups` groups over `machine`.
    pub fn over(machine: D, groups: u32) -> Self {
        Driver {
            machine,
            groups,
            live: Vec::new(),
            now_ms: 0,
            spawns: 0,
            exit: Exit::Clean,
            background: false,
            rejected: 0,
            first_error: None,
        }
    }

    /// The current time.
    pub fn now(&self) -> Time {
        Time::from_millis(self.now_ms)
    }

    /// Runs live right now.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Drives the events through the machine, one millisecond apart.
    pub fn run(&mut self, events: &[WEvent]) {
        let g = self.groups;
        for e in events {
            self.now_ms += 1;
            self.fire_due();
            let group = e.x % g;
            match e.r {
                0..=49 => self.input(Message { group }),
                50..=64 => {
                    let id = (e.x >> 16) % 8;
                    if self.background & (id >= 4) {
                        self.input(BackgroundTask {
                            group,
                            id,
                            payload: (),
                            skip_if_active: id == 7,
                        });
                    } else {
                        self.input(Task {
                            group,
                            id,
                            payload: (),
                        });
                    }
                }
                65..=69 => {
                    if let Some(&(run, _)) = self.live.iter().find(|&&(_, g)| g == group) {
                        self.input(Idle { run });
                    }
                }
                _ => {
                    if !self.live.is_empty() {
                        // x is 32 bits and at most max_active runs are
                        // live: a 32-bit division is enough.
                        let i = (e.x % self.live.len() as u32) as usize;
                        self.exit_at(i, self.exit);
                    }
                }
            }
        }
    }

    /// Exits live runs cleanly (and lets due deadlines fire) until the
    /// machine holds nothing: every group is forgotten, every buffer keeps
    /// its capacity. Time advances 1 ms per step.
    pub fn drain(&mut self) {
        loop {
            self.now_ms += 1;
            self.fire_due();
            if !self.live.is_empty() {
                self.exit_at(self.live.len() - 1, Exit::Clean);
            } else if let Some(at) = self.machine.machine().next_deadline() {
                self.now_ms = self.now_ms.max(at.as_millis() + 1);
            } else {
                break;
            }
        }
    }

    #[inline]
    fn fire_due(&mut self) {
        let now = self.now();
        if self
            .machine
            .machine()
            .next_deadline()
            .is_some_and(|at| at <= now)
        {
            self.input(Timeout);
        }
    }

    #[inline]
    fn exit_at(&mut self, i: usize, exit: Exit) {
        let (run, _) = self.live.swap_remove(i);
        self.input(Exited { run, exit });
    }

    /// One input through the shared run loop ([`Steppable::step`]); every
    /// `Spawn` appends a live run.
    #[inline]
    fn input<E: Event<u32, u32, ()> + Clone>(&mut self, event: E) {
        let now = self.now();
        let (live, spawns) = (&mut self.live, &mut self.spawns);
        let stepped = self.machine.step(now, event, |o| {
            if let Output::Command(Command::Spawn { run, group, .. }) = o {
                *spawns += 1;
                live.push((run, group));
            }
        });
        if let Err(e) = stepped {
            self.rejected += 1;
            if self.first_error.is_none() {
                self.first_error = Some(format!("at {now}: {e}"));
            }
        }
    }
}

/// State of the floor loop, kept between passes so that a warm pass
/// allocates nothing, like the machine.
#[derive(Default)]
pub struct Floor {
    map: HashMap<u32, u32>,
    queue: VecDeque<u32>,
}

impl Floor {
    /// The floor over the same events: per event one probe of a
    /// std `HashMap` on `x % G` (entry, inserting when absent) and one queue
    /// push (messages) or pop (everything else). No orchestrator can do
    /// less. Returns a checksum so that nothing is optimised away.
    pub fn run(&mut self, events: &[WEvent], groups: u32) -> u64 {
        let mut sum = 0u64;
        for e in events {
            let v = self.map.entry(e.x % groups).or_insert(0);
            *v = v.wrapping_add(1);
            if e.r < 50 {
                self.queue.push_back(e.x);
            } else if let Some(x) = self.queue.pop_front() {
                sum = sum.wrapping_add(u64::from(x));
            }
        }
        black_box(sum)
    }

    /// Forgets every entry, keeping capacity (like a drained machine).
    pub fn clear(&mut self) {
        self.map.clear();
        self.queue.clear();
    }
}
