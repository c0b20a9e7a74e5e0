//! Workload W from `BENCH.md`, in one place: included with `#[path]` by
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
//! run.

// Each includer uses a different subset of this module.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;

use groupq::{Command, Config, Error, Exit, Input, Machine, Output, Policy, Response, RunId, Time};

/// The machine W drives: `u32` group keys, `u32` task ids, no payload.
pub type Q = Machine<u32, u32, ()>;
/// One input of W.
pub type WInput = Input<u32, u32, ()>;
/// One output of W.
pub type WOutput = Output<u32, u32, ()>;
/// The machine's answer to one input of W.
pub type WResult = Result<Response<u32, u32, ()>, Error>;

/// The group counts BENCH.md asks for.
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
pub struct Event {
    /// `a % 100`: which kind of event.
    pub r: u32,
    /// `b`: group, task id, or which live run.
    pub x: u32,
}

/// The `n` events of W for `seed`, drawn before any timing starts.
pub fn events(n: usize, seed: u64) -> Vec<Event> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let a = rng.next_u64() as u32;
            let b = rng.next_u64() as u32;
            Event { r: a % 100, x: b }
        })
        .collect()
}

/// The configuration of W: `max_active` 5, the given policy, defaults
/// otherwise (records off).
pub fn config(policy: Policy) -> Config {
    Config::default().with_max_active(5).with_policy(policy)
}

/// Sees every input, the machine's answer and the outputs it produced: the
/// place where the invariant checker plugs in (one `step` per input).
pub trait Observer {
    /// When false the driver never collects outputs for the observer.
    const ACTIVE: bool;
    /// One input, its answer, and all its outputs (without `WakeAt`).
    fn step(&mut self, now: Time, input: &WInput, result: &WResult, outputs: &[WOutput]);
}

/// Observes nothing: the timed path.
pub struct NoCheck;

impl Observer for NoCheck {
    const ACTIVE: bool = false;
    fn step(&mut self, _: Time, _: &WInput, _: &WResult, _: &[WOutput]) {}
}

/// Adapter-side state: the machine and what a real adapter would know (its
/// live runs), with every buffer reused so that the driver allocates
/// nothing per event once warm.
pub struct Driver {
    /// The machine under test.
    pub machine: Q,
    groups: u32,
    /// Live runs in spawn order, with their group. At most `max_active`
    /// (5 in W), so finding a group's run is a scan of a few entries.
    live: Vec<(RunId, u32)>,
    /// Outputs of the current input, collected only for an active observer.
    outputs: Vec<WOutput>,
    /// Milliseconds since the start.
    now_ms: u64,
    /// `Spawn` commands seen.
    pub spawns: u64,
    /// How a run exits: `Clean` in W, `Failed` in the retry storm.
    pub exit: Exit,
    /// Answers other than `Ok` (none expected in W).
    pub rejected: u64,
}

impl Driver {
    /// A driver for W with `groups` groups.
    pub fn new(config: Config, groups: u32) -> Self {
        Driver {
            machine: Machine::new(config).expect("valid config"),
            groups,
            live: Vec::new(),
            outputs: Vec::new(),
            now_ms: 0,
            spawns: 0,
            exit: Exit::Clean,
            rejected: 0,
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
    pub fn run<O: Observer>(&mut self, events: &[Event], obs: &mut O) {
        let g = self.groups;
        for e in events {
            self.now_ms += 1;
            self.fire_due(obs);
            let group = e.x % g;
            match e.r {
                0..=49 => self.message(group, obs),
                50..=64 => self.task(group, (e.x >> 16) % 8, obs),
                65..=69 => {
                    if let Some(&(run, _)) = self.live.iter().find(|&&(_, g)| g == group) {
                        self.idle(run, obs);
                    }
                }
                _ => {
                    if !self.live.is_empty() {
                        // x is 32 bits and at most max_active runs are
                        // live: a 32-bit division is enough.
                        let i = (e.x % self.live.len() as u32) as usize;
                        let exit = self.exit;
                        self.exit_at(i, exit, obs);
                    }
                }
            }
        }
    }

    /// Exits live runs cleanly (and lets due deadlines fire) until the
    /// machine holds nothing: every group is forgotten, every buffer keeps
    /// its capacity. Time advances 1 ms per step.
    pub fn drain<O: Observer>(&mut self, obs: &mut O) {
        loop {
            self.now_ms += 1;
            self.fire_due(obs);
            if !self.live.is_empty() {
                self.exit_at(self.live.len() - 1, Exit::Clean, obs);
            } else if let Some(at) = self.machine.next_deadline() {
                self.now_ms = self.now_ms.max(at.as_millis() + 1);
            } else {
                break;
            }
        }
    }

    // Each input goes through the typed method when nothing observes it
    // (what an adapter that knows what happened calls), and through
    // `Machine::handle` with an `Input` value when the checker must see it.

    #[inline]
    fn fire_due<O: Observer>(&mut self, obs: &mut O) {
        let now = self.now();
        if self.machine.next_deadline().is_some_and(|at| at <= now) {
            if O::ACTIVE {
                self.input(Input::Timeout, obs);
            } else {
                let accepted = self.machine.timeout(now).is_ok();
                self.ok(accepted);
            }
        }
    }

    #[inline]
    fn message<O: Observer>(&mut self, group: u32, obs: &mut O) {
        if O::ACTIVE {
            self.input(Input::Message { group }, obs);
        } else {
            let now = self.now();
            let accepted = self.machine.message(now, group).is_ok();
            self.ok(accepted);
        }
    }

    #[inline]
    fn task<O: Observer>(&mut self, group: u32, id: u32, obs: &mut O) {
        if O::ACTIVE {
            let payload = ();
            self.input(Input::Task { group, id, payload }, obs);
        } else {
            let now = self.now();
            let accepted = self.machine.task(now, group, id, ()).is_ok();
            self.ok(accepted);
        }
    }

    #[inline]
    fn idle<O: Observer>(&mut self, run: RunId, obs: &mut O) {
        if O::ACTIVE {
            self.input(Input::Idle { run }, obs);
        } else {
            let now = self.now();
            let accepted = self.machine.idle(now, run).is_ok();
            self.ok(accepted);
        }
    }

    #[inline]
    fn exit_at<O: Observer>(&mut self, i: usize, exit: Exit, obs: &mut O) {
        let (run, _) = self.live.swap_remove(i);
        if O::ACTIVE {
            self.input(Input::Exited { run, exit }, obs);
        } else {
            let now = self.now();
            let accepted = self.machine.exited(now, run, exit).is_ok();
            self.ok(accepted);
        }
    }

    /// Counts a rejection, then drains every output.
    #[inline]
    fn ok(&mut self, accepted: bool) {
        self.rejected += u64::from(!accepted);
        loop {
            match self.machine.poll() {
                Output::WakeAt(_) => break,
                Output::Command(Command::Spawn { run, group, .. }) => self.spawned(run, group),
                _ => {}
            }
        }
    }

    /// Hands one input to the machine, drains every output and shows all of
    /// it to the observer.
    pub fn input<O: Observer>(&mut self, input: WInput, obs: &mut O) {
        let now = self.now();
        let result = self.machine.handle(now, input.clone());
        self.rejected += u64::from(result.is_err());
        self.outputs.clear();
        loop {
            match self.machine.poll() {
                Output::WakeAt(_) => break,
                o => {
                    if let Output::Command(Command::Spawn { run, group, .. }) = &o {
                        self.spawned(*run, *group);
                    }
                    self.outputs.push(o);
                }
            }
        }
        obs.step(now, &input, &result, &self.outputs);
    }

    #[inline]
    fn spawned(&mut self, run: RunId, group: u32) {
        self.spawns += 1;
        self.live.push((run, group));
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
    /// The floor of BENCH.md over the same events: per event one probe of a
    /// std `HashMap` on `x % G` (entry, inserting when absent) and one queue
    /// push (messages) or pop (everything else). No orchestrator can do
    /// less. Returns a checksum so that nothing is optimised away.
    pub fn run(&mut self, events: &[Event], groups: u32) -> u64 {
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
