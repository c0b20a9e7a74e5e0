//! A turn line's meaning for the core: whether its reply counts as
//! delivered, and the report the core is given.

use groupq::{Compaction, CompactionTrigger, ContextStats, TurnReport, WorkKind};

use crate::entry::TurnRecord;
use crate::mailbox::Mailboxes;
use crate::runs::LiveRun;

/// What a turn means, decided before the core sees it (nothing changes
/// here: the core may still refuse the turn).
pub(crate) struct Plan {
    /// The report for the core.
    pub(crate) report: TurnReport,
    /// The reply reaches the user: the application's stream could take it.
    pub(crate) delivered: bool,
}

/// A reply is delivered when the application was listening. The core takes
/// a delivered reply to answer every message handed to the run, and counts
/// a run that fails after it as done; an agent that batches by read time
/// may have answered only some. So the core hears "delivered" only for a
/// reply that leaves no handed message unanswered, and "replied" otherwise:
/// a failure then rolls back to just past what was answered.
pub(crate) fn plan(
    mailboxes: &Mailboxes,
    live: &LiveRun,
    turn: &TurnRecord,
    listening: bool,
) -> Plan {
    let delivered = turn.reply.is_some() && listening;
    let answered_all = live.kind != WorkKind::Messages
        || mailboxes.unanswered_after(&live.group, turn.messages) == 0;
    let mut report = if turn.error {
        TurnReport::error()
    } else {
        TurnReport::success()
    };
    if turn.reply.is_some() {
        report = report.replied();
        if delivered && answered_all {
            report = report.delivered();
        }
    }
    if let (Some(tokens), Some(limit)) = (turn.tokens, turn.context_limit) {
        report = report.with_context(ContextStats::from_tokens(tokens, limit));
    }
    if let Some(before) = turn.compacted_from {
        report = report.with_compaction(Compaction {
            trigger: CompactionTrigger::Manual,
            tokens_before: Some(before),
        });
    }
    Plan { report, delivered }
}
