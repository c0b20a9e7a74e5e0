// The package's vocabulary: the core's types in TypeScript. Times are
// milliseconds from an epoch the host chooses; durations are milliseconds
// (`Infinity`: never).

/** How a freed slot is shared between groups. */
export type Policy = 'fair' | 'legacy';

/** The core's settings; each one left out keeps the core's default. */
export interface Config {
  /** At most this many runs are live at once (default 5). */
  maxActive?: number;
  /** Delay before the first retry of a failed messages run; doubling (default 5000). */
  retryBaseMs?: number;
  /** Retries before a terminal failure (default 5). */
  maxRetries?: number;
  /** How long a run may stay idle before its input is closed (default 30 min). */
  idleTimeoutMs?: number;
  /** Context percent that gives a warning notice (default 70). */
  warnPercent?: number;
  /** Context percent that queues a compact turn (default 75). */
  autoCompactPercent?: number;
  /** Whether notices are emitted (default true). */
  notices?: boolean;
  /** `fair` (default) or `legacy` (the TypeScript GroupQueue's order). */
  policy?: Policy;
  /** Whether records are emitted (default false). */
  records?: boolean;
  /** How long a closed run may take to exit before a kill (default 30 s). */
  killGraceMs?: number;
  /** How long a busy turn may take before its input is closed (default 30 min). */
  maxTurnTimeMs?: number;
  /** The same for compact turns (default 30 min). */
  maxCompactTimeMs?: number;
  /** A cap on a run's whole life; `null`: none (the default). */
  maxRunTimeMs?: number | null;
  /** How long a busy run may stay silent; `null`: no stall watch (the default). */
  stallTimeoutMs?: number | null;
  /** Extra stall time before a run's first sign of life (default 0). */
  startGraceMs?: number;
  /** How long a run busy at shutdown may finish its turn (default 60 s). */
  shutdownGraceMs?: number;
  /** Whether idle runs are closed for waiting groups (default true). */
  evictIdle?: boolean;
  /** A cap on tasks queued across all groups; `null`: none (the default). */
  maxQueuedTasks?: number | null;
  /** A cap on tasks queued in one group; `null`: none (the default). */
  maxGroupTasks?: number | null;
  /**
   * Wait for a burst of messages to end before a group's messages run
   * starts: `quietMs` with no new message, or `maxWaitMs` (default: `quietMs`)
   * from the burst's first; `null`: start at once (the default).
   */
  debounce?: Debounce | null;
  /** The crash-loop breaker; `null`: off (the default). */
  breaker?: Breaker | null;
  /** How background tasks give way to the conversation (see {@link BackgroundSettings}). */
  background?: BackgroundSettings;
}

/**
 * Background tasks (`backgroundTask`): a group waiting with background work
 * only waits behind every group waiting with a conversation, but `aging`
 * conversation starts at most (default 4); at most `maxRunning` background
 * runs are live (`null`: no cap, the default); a task that asked to be
 * skipped is skipped while its group's conversation is live or pending, or
 * ended less than `skipWindowMs` ago (`null`: no window, the default).
 */
export interface BackgroundSettings {
  aging?: number;
  maxRunning?: number | null;
  skipWindowMs?: number | null;
}

/** The debounce of a burst of messages. */
export interface Debounce {
  /** How long no new message must arrive (more than 0). */
  quietMs: number;
  /** The longest a burst may hold its run back (at least `quietMs`). */
  maxWaitMs?: number;
}

/**
 * The crash-loop breaker: when runs of `groups` distinct groups fail within
 * `fastFailureMs` of their spawn, all within `windowMs`, no run starts for
 * `cooldownMs` (doubling per failed probe, up to `maxCooldownMs`); then one
 * probe starts. Each setting left out is the core's default (10 s, 3, 60 s,
 * 30 s, 10 min).
 */
export interface Breaker {
  fastFailureMs?: number;
  groups?: number;
  windowMs?: number;
  cooldownMs?: number;
  maxCooldownMs?: number;
}

/** What a run does. */
export type Work<P> =
  | { kind: 'messages' }
  | { kind: 'task'; id: string; payload: P }
  | { kind: 'compact' };

/** A run's kind of work. */
export type WorkKind = Work<unknown>['kind'];

/** Why a run's input is closed. */
export type CloseReason =
  | 'preempt'
  | 'idleTimeout'
  | 'turnTimeout'
  | 'runTimeLimit'
  | 'stalled'
  | 'shutdown'
  | 'evicted'
  | 'host'
  | 'limitLowered';

/** Why a follow-up could not be piped into a run. */
export type PipeRefusal = 'noRun' | 'taskRun' | 'compactRun' | 'closing' | 'shutDown';

/** An advisory for a group's user. */
export type Notice =
  | { kind: 'contextWarning'; percent: number; tokens: number | null; limit: number | null }
  | { kind: 'autoCompacted'; tokensBefore: number | null };

/** An observability record (only with `records: true`). */
export type CoreRecord =
  | { kind: 'queued'; group: string; what: 'messages' | 'compact' | { task: string } }
  | { kind: 'deduplicated'; group: string; id: string }
  | { kind: 'waiting'; group: string; ahead: number }
  | { kind: 'drained'; group: string; run: number }
  | { kind: 'retryScheduled'; group: string; attempt: number; at: number }
  | { kind: 'retriesExhausted'; group: string }
  | { kind: 'taskFailed'; group: string; run: number; id: string }
  | { kind: 'dropped'; group: string; what: 'retry' | 'compact' };

/** A command to carry out, or a record. */
export type Output<P> =
  | { type: 'spawn'; run: number; group: string; work: Work<P> }
  | { type: 'closeInput'; run: number; reason: CloseReason }
  | { type: 'kill'; run: number }
  | { type: 'notify'; group: string; notice: Notice }
  | { type: 'rollbackCursor'; group: string }
  | { type: 'recordCompaction'; group: string }
  | { type: 'terminalFailure'; group: string }
  /** The crash-loop breaker opened: no run starts until `until`. Alert the operator. */
  | { type: 'breakerOpened'; until: number; cooldownMs: number }
  /** The breaker's probe lived: runs start again. */
  | { type: 'breakerClosed' }
  | { type: 'record'; record: CoreRecord };

/** What one turn of an agent reported. */
export interface TurnReport {
  /** The turn's outcome. */
  status: 'success' | 'error';
  /** A reply was produced. */
  replied?: boolean;
  /** The reply reached the user (and answered everything handed to the run). */
  delivered?: boolean;
  /** Context statistics, if the agent reported any. */
  context?: {
    tokens?: number;
    limit?: number;
    percent?: number;
    compactRecommended?: boolean;
  };
  /** The turn compacted the context. */
  compaction?: { trigger: 'auto' | 'manual'; tokensBefore?: number };
}

/**
 * How a run ended. A failure has a class: `'failed'` is retried on the
 * backoff, `'fatal'` is the group's terminal failure at once (a failure no
 * retry mends), `{ retryAfter }` is retried after that many milliseconds (a
 * provider's rate limit; it still counts as an attempt).
 */
export type Exit = 'clean' | 'failed' | 'fatal' | { retryAfter: number };

/** The answer of `neverLaunched`. */
export type Requeue<P> = { requeued: true } | { requeued: false; handedBack: Work<P> };

/** The answer of `cancel`. */
export type CancelAnswer<P> =
  | { cancelled: true; payload: P }
  | { cancelled: false; running: number }
  | { cancelled: false; notQueued: true };

/** The answer of `closeRun`. */
export type CloseAnswer =
  | { closed: number }
  | { alreadyClosing: number }
  | { noRun: true };

/** The answer of `pipe`. */
export type PipeAnswer = { piped: number } | { refused: PipeRefusal };

/** A group's live run, as `explain` shows it. */
export interface RunInfo {
  run: number;
  kind: WorkKind;
  state: 'busy' | 'idle' | 'closing';
  killed: boolean;
  /** It runs a background task. */
  background: boolean;
  idleDeadline: number | null;
  turnDeadline: number | null;
  lifeDeadline: number | null;
  stallDeadline: number | null;
  graceDeadline: number | null;
  killDeadline: number | null;
}

/** Why a group is where it is. */
export interface Explain {
  run: RunInfo | null;
  jobs: Array<{ kind: 'task'; id: string } | { kind: 'compact' }>;
  /** Background tasks' ids, front first: they run after the jobs and the messages. */
  backgroundTasks: string[];
  unreadMessages: boolean;
  waitingBehind: number | null;
  failures: number;
  retryAt: number | null;
  compactPending: boolean;
  paused: boolean;
  /** Its messages run waits for a burst to end, until this time at the latest. */
  debouncedUntil: number | null;
  lastContext: {
    tokens: number | null;
    limit: number | null;
    percent: number | null;
    compactRecommended: boolean;
  } | null;
}

/** The machine at a glance. */
export interface Stats {
  liveRuns: number;
  /** The limit in force: the config's, or the last `setLimits`'. */
  maxActive: number;
  freeSlots: number;
  waitingGroups: number;
  trackedGroups: number;
  queuedJobs: number;
  deadlines: number;
  shutDown: boolean;
  /** Where the crash-loop breaker stands. */
  breaker: { state: 'closed' } | { state: 'open'; until: number } | { state: 'probing'; probe: number | null };
  /** Of the waiting groups, those waiting with background tasks only. */
  waitingBackground: number;
  /** Live runs of background tasks. */
  backgroundRuns: number;
}

/** Everything a shutdown leaves: persist it and resubmit it. */
export interface ShutdownReport<P> {
  groups: Array<{
    group: string;
    jobs: Work<P>[];
    unreadMessages: boolean;
    retry: { attempt: number; at: number } | null;
    compactPending: boolean;
    /** Background tasks left, in order: resubmit them with `backgroundTask`. */
    backgroundTasks: Array<{ id: string; payload: P }>;
  }>;
  liveRuns: Array<{ run: number; group: string; kind: WorkKind; state: 'busy' | 'idle' | 'closing' }>;
}

/** The limits `setLimits` changes while the machine runs. */
export interface Limits {
  /** At most this many runs live at once (at least 1). */
  maxActive: number;
  /** A cap on tasks queued across all groups; `null` or absent: none. */
  maxQueuedTasks?: number | null;
  /** A cap on tasks queued in one group; `null` or absent: none. */
  maxGroupTasks?: number | null;
}

/**
 * The answer of `task`: queued, a duplicate (its id is queued or running in
 * the group), or refused by a cap on queued tasks (nothing changed: shed it
 * or tell its sender).
 */
export type TaskAnswer = 'queued' | 'duplicate' | { refused: 'groupFull' | 'queueFull'; cap: number };

/**
 * The answer of `backgroundTask`: a task's, or `'skipped'` when it asked
 * to be skipped and its group's conversation is active (nothing changed).
 */
export type BackgroundAnswer = TaskAnswer | 'skipped';
