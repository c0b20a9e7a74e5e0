//! The run table: the live runs, by run id and by index.
//!
//! Invariants: a run starts only in a free slot (the machine checks before
//! [`Runs::start`]), so at most `max_active` runs are live but after a
//! lowered limit, when no idle run stays open above it; run ids increase from 1 and are never
//! reused, so an id that is not live is either unknown (never issued) or
//! stale (exited), and inputs naming it are rejected (fencing). The idle
//! list holds exactly the `IdleWaiting` runs, in the order they became idle,
//! and the closing count is the number of `Closing` runs: both are kept by
//! [`Runs::set_state`], the only way a run's state changes. Table
//! entries are reused, so the table holds at most the largest `max_active`
//! runs' worth of memory once warm.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::Error;
use crate::state::{GroupIdx, NIL};
use crate::time::Time;
use crate::work::{RunId, RunState, WorkKind};

/// A live run, referred to by its group (`Group::live`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Run<T> {
    pub(crate) id: RunId,
    /// Its group.
    pub(crate) group: GroupIdx,
    pub(crate) kind: WorkKind,
    /// The task id of a task run: a new task with this id is a duplicate.
    pub(crate) task: Option<T>,
    /// A background task's run (B16).
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) background: bool,
    pub(crate) state: RunState,
    /// A turn reported an error.
    pub(crate) errored: bool,
    /// A reply reached the user: then a failure is neither rolled back nor
    /// retried.
    pub(crate) delivered: bool,
    /// A follow-up was piped in after the last delivered reply: a failure
    /// must roll it back too.
    pub(crate) piped_after_delivery: bool,
    /// `Kill` was emitted (at most once per run).
    pub(crate) killed: bool,
    /// When it was spawned, with a breaker configured (`None` without):
    /// the breaker's fast failures are measured from it. A run without one
    /// (from a snapshot taken without a breaker) never failed fast.
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) spawned: Option<Time>,
    /// Neighbours in the idle list (`NIL` at the ends, or when not idle).
    idle_prev: u32,
    idle_next: u32,
}

impl<T> Run<T> {
    /// A new busy run.
    pub(crate) fn new(
        id: RunId,
        group: GroupIdx,
        kind: WorkKind,
        task: Option<T>,
        background: bool,
        spawned: Option<Time>,
    ) -> Self {
        Run {
            id,
            group,
            kind,
            task,
            background,
            state: RunState::Busy,
            errored: false,
            delivered: false,
            piped_after_delivery: false,
            killed: false,
            spawned,
            idle_prev: NIL,
            idle_next: NIL,
        }
    }
}

/// Run ids are issued by the machine itself, so a multiplicative hash is
/// enough for the live-run map and far cheaper than SipHash.
#[derive(Clone, Copy, Debug, Default)]
struct RunIdHasher(u64);

impl Hasher for RunIdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The run table. See the module docs for its invariants.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Runs<T> {
    table: Vec<Option<Run<T>>>,
    free: Vec<u32>,
    /// Live run → its group, and its index in `table`.
    #[cfg_attr(feature = "serde", serde(skip))]
    live: HashMap<RunId, (GroupIdx, u32), BuildHasherDefault<RunIdHasher>>,
    next_id: u64,
    /// The idle runs, longest idle first: an intrusive list through the
    /// table, so joining, leaving and finding the oldest are O(1).
    idle_head: u32,
    idle_tail: u32,
    /// Runs whose input is closed and that have not exited yet: each will
    /// free a slot.
    closing: usize,
    /// Live background runs (B16). Rebuilt on restore.
    #[cfg_attr(feature = "serde", serde(skip))]
    background: usize,
}

/// The table only: the id map mirrors it, and its order is the hasher's.
impl<T: std::fmt::Debug> std::fmt::Debug for Runs<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs")
            .field("table", &self.table)
            .field("free", &self.free)
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl<T> Runs<T> {
    pub(crate) fn with_capacity(max_active: usize) -> Self {
        Runs {
            table: Vec::new(),
            free: Vec::new(),
            live: HashMap::with_capacity_and_hasher(max_active.min(1 << 16), Default::default()),
            next_id: 1,
            idle_head: NIL,
            idle_tail: NIL,
            closing: 0,
            background: 0,
        }
    }

    /// Live runs.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// The id the next run will get.
    #[inline]
    pub(crate) fn next_id(&self) -> RunId {
        RunId::new(self.next_id)
    }

    /// Issues ids after `last` only; never moves back.
    pub(crate) fn continue_after(&mut self, last: RunId) {
        self.next_id = self.next_id.max(last.get().saturating_add(1));
    }

    /// Records a new live run of group `g` with the id [`Runs::next_id`];
    /// returns its index for `Group::live`.
    #[inline]
    pub(crate) fn start(&mut self, g: GroupIdx, run: Run<T>) -> u32 {
        debug_assert_eq!(run.id, self.next_id());
        self.next_id += 1;
        if run.background {
            self.background += 1;
        }
        let id = run.id;
        let i = match self.free.pop() {
            Some(i) => {
                self.table[i as usize] = Some(run);
                i
            }
            None => {
                self.table.push(Some(run));
                (self.table.len() - 1) as u32
            }
        };
        self.live.insert(id, (g, i));
        i
    }

    /// The group of live run `run`: the fencing check of every input that
    /// names a run.
    #[inline]
    pub(crate) fn group_of(&self, run: RunId) -> Result<GroupIdx, Error> {
        match self.live.get(&run) {
            Some(&(g, _)) => Ok(g),
            None => Err(self.not_live(run)),
        }
    }

    /// Why `run` is not live: never issued, or already exited.
    #[inline]
    fn not_live(&self, run: RunId) -> Error {
        if run.get() == 0 || run.get() >= self.next_id {
            Error::UnknownRun(run)
        } else {
            Error::StaleRun(run)
        }
    }

    /// The run at index `i`, if `i` is not `NIL`.
    #[inline]
    pub(crate) fn get(&self, i: u32) -> Option<&Run<T>> {
        self.table.get(i as usize)?.as_ref()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> Option<&mut Run<T>> {
        self.table.get_mut(i as usize)?.as_mut()
    }

    /// Ends live run `run`; its group must set `Group::live` to `NIL`.
    /// Fails, changing nothing, if `run` is not live.
    #[inline]
    pub(crate) fn finish(&mut self, run: RunId) -> Result<(GroupIdx, Run<T>), Error> {
        let Some((g, i)) = self.live.remove(&run) else {
            return Err(self.not_live(run));
        };
        self.leave_idle(i);
        let finished = self.table[i as usize]
            .take()
            .expect("the live map names occupied entries");
        self.closing -= usize::from(finished.state == RunState::Closing);
        if finished.background {
            self.background -= 1;
        }
        self.free.push(i);
        Ok((g, finished))
    }

    /// Sets the state of the run at `i`, keeping the idle list and the
    /// closing count. A run becoming idle joins the back of the idle list.
    #[inline]
    pub(crate) fn set_state(&mut self, i: u32, state: RunState) {
        let Some(run) = self.get_mut(i) else {
            return;
        };
        let old = std::mem::replace(&mut run.state, state);
        if old == state {
            return;
        }
        if old == RunState::IdleWaiting {
            self.leave_idle(i);
        }
        match state {
            RunState::IdleWaiting => self.join_idle(i),
            RunState::Closing => self.closing += 1,
            RunState::Busy => {}
        }
    }

    /// Runs closing and not yet exited.
    #[inline]
    pub(crate) fn closing(&self) -> usize {
        self.closing
    }

    /// Live background runs.
    #[inline]
    pub(crate) fn background(&self) -> usize {
        self.background
    }

    /// The run that has been idle longest, by table index.
    #[inline]
    pub(crate) fn longest_idle(&self) -> Option<u32> {
        (self.idle_head != NIL).then_some(self.idle_head)
    }

    fn join_idle(&mut self, i: u32) {
        let tail = self.idle_tail;
        if let Some(run) = self.get_mut(i) {
            run.idle_prev = tail;
            run.idle_next = NIL;
        }
        match self.get_mut(tail) {
            Some(t) => t.idle_next = i,
            None => self.idle_head = i,
        }
        self.idle_tail = i;
    }

    fn leave_idle(&mut self, i: u32) {
        let head = self.idle_head;
        let Some(run) = self.get_mut(i) else {
            return;
        };
        // In the list: at its head, or with a predecessor.
        if head != i && run.idle_prev == NIL {
            return;
        }
        let (prev, next) = (run.idle_prev, run.idle_next);
        run.idle_prev = NIL;
        run.idle_next = NIL;
        match self.get_mut(prev) {
            Some(p) => p.idle_next = next,
            None => self.idle_head = next,
        }
        match self.get_mut(next) {
            Some(n) => n.idle_prev = prev,
            None => self.idle_tail = prev,
        }
    }
}

/// Restoring from a snapshot: the live map is rebuilt from the table, and
/// the table checked against the groups, the idle list and the closing
/// count.
#[cfg(feature = "serde")]
impl<T> Runs<T> {
    pub(crate) fn restore<K>(
        &mut self,
        groups: &crate::state::groups::Groups<K>,
        max_active: usize,
    ) -> Result<(), &'static str> {
        let n = self.table.len();
        // Run timer keys hold a run index in 28 bits.
        if n >= 1 << 27 {
            return Err("the run table is too large");
        }
        if !crate::state::free_list_matches(&self.table, &self.free) {
            return Err("the run free list does not name exactly the empty entries");
        }
        self.live.clear();
        let (mut idle, mut closing) = (0usize, 0usize);
        self.background = 0;
        for (i, run) in self.table.iter().enumerate() {
            let Some(run) = run else {
                continue;
            };
            if run.id.get() == 0 || run.id.get() >= self.next_id {
                return Err("a live run has an id the machine never issued");
            }
            if groups.try_get(run.group).map(|g| g.live) != Some(i as u32) {
                return Err("a live run and its group disagree");
            }
            if self.live.insert(run.id, (run.group, i as u32)).is_some() {
                return Err("two live runs have the same id");
            }
            if run.background && run.kind != WorkKind::Task {
                return Err("a background run that is not a task's");
            }
            self.background += usize::from(run.background);
            idle += usize::from(run.state == RunState::IdleWaiting);
            closing += usize::from(run.state == RunState::Closing);
            if run.state != RunState::IdleWaiting && (run.idle_prev, run.idle_next) != (NIL, NIL) {
                return Err("a run that is not idle is linked in the idle list");
            }
        }
        if closing != self.closing {
            return Err("a wrong closing count");
        }
        // Above a lowered limit runs may be live, but none idle and open.
        if self.live.len() - closing > max_active && idle > 0 {
            return Err("an idle run is open above the limit");
        }
        let (mut prev, mut at, mut len) = (NIL, self.idle_head, 0usize);
        while at != NIL {
            let run = self.get(at).ok_or("the idle list names a free entry")?;
            if run.state != RunState::IdleWaiting || run.idle_prev != prev || len == idle {
                return Err("the idle list is broken");
            }
            (prev, at, len) = (at, run.idle_next, len + 1);
        }
        if prev != self.idle_tail || len != idle {
            return Err("the idle list misses idle runs");
        }
        Ok(())
    }
}
