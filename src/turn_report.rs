//! What an agent turn reports: [`TurnReport`] and the statistics it carries.

/// Whether an agent turn succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TurnStatus {
    /// The turn finished; the run now waits for input (acts as idle).
    Success,
    /// The turn failed; the run counts as failed when it exits.
    Error,
}

/// Context-window statistics reported with a turn. Every number is optional:
/// agents report what they know, and missing numbers never produce a notice.
///
/// ```
/// use groupq::ContextStats;
/// assert_eq!(ContextStats::from_percent(80).effective_percent(), Some(80));
/// assert_eq!(ContextStats::from_tokens(1_500, 2_000).effective_percent(), Some(75));
/// // A percentage is at most 100, whatever the agent says.
/// assert_eq!(ContextStats::from_percent(250).effective_percent(), Some(100));
/// assert_eq!(ContextStats::from_tokens(9, 0).effective_percent(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ContextStats {
    /// Tokens in the context, if known.
    pub tokens: Option<u64>,
    /// The context window size, if known.
    pub limit: Option<u64>,
    /// Percent of the window in use, if the agent computed it.
    pub percent: Option<u32>,
    /// The agent itself recommends compaction, whatever the percentage.
    pub compact_recommended: bool,
}

impl ContextStats {
    /// Statistics that give only the percentage in use.
    pub fn from_percent(percent: u32) -> ContextStats {
        ContextStats {
            percent: Some(percent),
            ..ContextStats::default()
        }
    }

    /// Statistics that give the tokens in use and the window size.
    pub fn from_tokens(tokens: u64, limit: u64) -> ContextStats {
        ContextStats {
            tokens: Some(tokens),
            limit: Some(limit),
            ..ContextStats::default()
        }
    }

    /// The same statistics, with the agent recommending compaction.
    pub fn recommending_compaction(mut self) -> ContextStats {
        self.compact_recommended = true;
        self
    }

    /// The percentage the core acts on: `percent` if given, else
    /// `tokens · 100 / limit` (rounded down) when both are known and the
    /// limit is not zero; in both cases at most 100, so a nonsensical report
    /// never reaches a user as "context at 4294967295 %".
    pub fn effective_percent(&self) -> Option<u32> {
        let percent = match (self.percent, self.tokens, self.limit) {
            (Some(p), _, _) => u128::from(p),
            (None, Some(tokens), Some(limit)) if limit > 0 => {
                u128::from(tokens) * 100 / u128::from(limit)
            }
            _ => return None,
        };
        Some(percent.min(100) as u32)
    }
}

/// What started a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompactionTrigger {
    /// The agent compacted on its own.
    Auto,
    /// A compact turn (or a user's `/compact`) asked for it.
    Manual,
}

/// A compaction that happened during a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Compaction {
    /// What started it.
    pub trigger: CompactionTrigger,
    /// Tokens in the context before it, if known.
    pub tokens_before: Option<u64>,
}

/// What one turn of a live run reported, carried by the
/// [`Turn`](crate::Turn) input.
///
/// Build it from [`TurnReport::success`] or [`TurnReport::error`] and the
/// `with_*`/flag methods:
///
/// ```
/// use groupq::{Compaction, CompactionTrigger, ContextStats, TurnReport};
/// // Replied, but the reply did not reach the user.
/// let r = TurnReport::success().replied();
/// assert!(r.replied && !r.delivered);
/// // Replied and delivered, at 80 % of the context window.
/// let r = TurnReport::success().delivered().with_context(ContextStats::from_percent(80));
/// assert!(r.replied && r.delivered);
/// // A failed turn during which the agent compacted.
/// let r = TurnReport::error().with_compaction(Compaction {
///     trigger: CompactionTrigger::Auto,
///     tokens_before: None,
/// });
/// assert!(r.compaction.is_some());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TurnReport {
    /// Whether the turn succeeded.
    pub status: TurnStatus,
    /// The turn produced a reply.
    pub replied: bool,
    /// The reply reached the user and answered every message handed to the
    /// run so far (at its spawn and piped since); after that a failure is
    /// not rolled back. A reply that answered only some of them (an agent
    /// that batches what it had read when its turn began) is `replied`, not
    /// `delivered`: otherwise a failure would lose the rest.
    pub delivered: bool,
    /// Context statistics, if the agent reported them.
    pub context: Option<ContextStats>,
    /// A compaction that happened in this turn, if any.
    pub compaction: Option<Compaction>,
}

impl TurnReport {
    /// A successful turn that produced no reply (yet): acts as idle.
    pub fn success() -> TurnReport {
        TurnReport {
            status: TurnStatus::Success,
            replied: false,
            delivered: false,
            context: None,
            compaction: None,
        }
    }

    /// A failed turn that produced nothing.
    pub fn error() -> TurnReport {
        TurnReport {
            status: TurnStatus::Error,
            ..TurnReport::success()
        }
    }

    /// A successful turn whose reply was delivered, without statistics.
    pub fn delivered_reply() -> TurnReport {
        TurnReport::success().delivered()
    }

    /// The same report, with a reply produced.
    pub fn replied(mut self) -> TurnReport {
        self.replied = true;
        self
    }

    /// The same report, with a reply produced and delivered to the user,
    /// answering every message handed to the run so far (see
    /// [`TurnReport::delivered`](TurnReport#structfield.delivered)).
    pub fn delivered(mut self) -> TurnReport {
        self.replied = true;
        self.delivered = true;
        self
    }

    /// The same report with these context statistics.
    pub fn with_context(mut self, context: ContextStats) -> TurnReport {
        self.context = Some(context);
        self
    }

    /// The same report with this compaction event.
    pub fn with_compaction(mut self, compaction: Compaction) -> TurnReport {
        self.compaction = Some(compaction);
        self
    }
}
