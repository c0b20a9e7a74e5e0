// `Machine`: the core, typed. Every input is one synchronous call into the
// WebAssembly module; its commands wait in `poll()`/`drain()`, in order.
// The machine reads no clock and sets no timer: the host stamps every call
// with `now` and sleeps until `nextDeadline()`.

import {
  GroupqError,
  InvalidConfigError,
  InvalidInputError,
  ShutDownError,
  StaleRunError,
  TimeWentBackwardsError,
  UnknownRunError,
  WorkMismatchError,
} from './errors.js';
import { Handles, StringIds } from './ids.js';
import type {
  BackgroundAnswer,
  BackgroundSettings,
  Breaker,
  CancelAnswer,
  CloseAnswer,
  CloseReason,
  Config,
  CoreRecord,
  Debounce,
  Exit,
  Explain,
  Limits,
  Output,
  PipeAnswer,
  PipeRefusal,
  Requeue,
  ShutdownReport,
  Stats,
  TaskAnswer,
  TurnReport,
  Work,
  WorkKind,
} from './types.js';
import { Core, memory } from './wasm.js';

const REASONS: readonly CloseReason[] = [
  'preempt',
  'idleTimeout',
  'turnTimeout',
  'runTimeLimit',
  'stalled',
  'shutdown',
  'evicted',
  'host',
  'limitLowered',
];
const REFUSALS: readonly PipeRefusal[] = ['noRun', 'noRun', 'taskRun', 'compactRun', 'closing', 'shutDown'];

/** The order of the configuration's slots at the boundary. */
const SLOTS: ReadonlyArray<keyof Config> = [
  'maxActive',
  'retryBaseMs',
  'maxRetries',
  'idleTimeoutMs',
  'warnPercent',
  'autoCompactPercent',
  'notices',
  'policy',
  'records',
  'killGraceMs',
  'maxTurnTimeMs',
  'maxCompactTimeMs',
  'maxRunTimeMs',
  'stallTimeoutMs',
  'startGraceMs',
  'shutdownGraceMs',
  'evictIdle',
  'maxQueuedTasks',
  'maxGroupTasks',
];

/** The settings whose `null` is "off" (-1 at the boundary). */
const NULLABLE = new Set<string>(['maxRunTimeMs', 'stallTimeoutMs', 'maxQueuedTasks', 'maxGroupTasks']);

const SETTINGS = new Set<string>([...SLOTS, 'debounce', 'breaker', 'background']);

/** The debounce's and the breaker's slots, after the plain ones. */
const DEBOUNCE_SLOTS: ReadonlyArray<keyof Debounce> = ['quietMs', 'maxWaitMs'];
const BREAKER_SLOTS: ReadonlyArray<keyof Breaker> = [
  'fastFailureMs',
  'groups',
  'windowMs',
  'cooldownMs',
  'maxCooldownMs',
];

/** The background settings' slots, after the breaker's. */
const BACKGROUND_SLOTS: ReadonlyArray<keyof BackgroundSettings> = ['aging', 'maxRunning', 'skipWindowMs'];

/** Writes the background settings from slot `at` on; a `null` cap or window is -1 (off). */
function background(out: Float64Array, at: number, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null) {
    throw new InvalidConfigError('background', 'background must be an object');
  }
  const record = value as Record<string, unknown>;
  for (const field of Object.keys(record)) {
    if (!(BACKGROUND_SLOTS as readonly string[]).includes(field)) {
      throw new InvalidConfigError(`background.${field}`, `unknown setting background.${field}`);
    }
  }
  BACKGROUND_SLOTS.forEach((field, i) => {
    const v = record[field];
    if (v === undefined) return;
    if (v === null && field !== 'aging') {
      out[at + i] = -1;
    } else if (typeof v === 'number' && !Number.isNaN(v) && v >= 0) {
      out[at + i] = v;
    } else {
      throw new InvalidConfigError(`background.${field}`, `background.${field} cannot be ${String(v)}`);
    }
  });
}

/** Writes a nested setting (`debounce`, `breaker`) from slot `at` on; `null` is -1 (off). */
function nested(out: Float64Array, at: number, key: string, value: unknown, fields: ReadonlyArray<string>): void {
  if (value === undefined) return;
  if (value === null) {
    out[at] = -1;
    return;
  }
  if (typeof value !== 'object') throw new InvalidConfigError(key, `${key} must be an object or null`);
  const record = value as Record<string, unknown>;
  for (const field of Object.keys(record)) {
    if (!fields.includes(field)) throw new InvalidConfigError(`${key}.${field}`, `unknown setting ${key}.${field}`);
  }
  fields.forEach((field, i) => {
    const v = record[field];
    if (v === undefined) return;
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
      throw new InvalidConfigError(`${key}.${field}`, `${key}.${field} cannot be ${String(v)}`);
    }
    out[at + i] = v;
  });
  // The first field says the setting is on: a default stands in for it.
  if (Number.isNaN(out[at] ?? NaN)) out[at] = fields[0] === 'quietMs' ? 0 : 10_000;
}

function time(now: unknown): number {
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0) {
    throw new InvalidInputError('now', `now must be a finite number of milliseconds, not ${String(now)}`);
  }
  return now;
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    throw new InvalidInputError(name, `${name} must be a string, not ${typeof value}`);
  }
  return value;
}

function runId(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidInputError('run', `run must be a run id (an integer from 1), not ${String(value)}`);
  }
  return value;
}

function slots(config: Config): Float64Array {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidConfigError('config', 'the configuration must be an object');
  }
  for (const key of Object.keys(config)) {
    if (!SETTINGS.has(key)) throw new InvalidConfigError(key, `unknown setting ${key}`);
  }
  const at = SLOTS.length + DEBOUNCE_SLOTS.length + BREAKER_SLOTS.length;
  const out = new Float64Array(at + BACKGROUND_SLOTS.length).fill(NaN);
  nested(out, SLOTS.length, 'debounce', config.debounce, DEBOUNCE_SLOTS);
  nested(out, SLOTS.length + DEBOUNCE_SLOTS.length, 'breaker', config.breaker, BREAKER_SLOTS);
  background(out, at, config.background);
  SLOTS.forEach((key, i) => {
    const v: unknown = config[key as keyof Config];
    if (v === undefined) return;
    if (key === 'policy') {
      if (v !== 'fair' && v !== 'legacy') throw new InvalidConfigError(key, `policy must be 'fair' or 'legacy'`);
      out[i] = v === 'fair' ? 0 : 1;
    } else if (typeof v === 'boolean') {
      out[i] = v ? 1 : 0;
    } else if (v === null && NULLABLE.has(key)) {
      out[i] = -1;
    } else if (typeof v === 'number' && !Number.isNaN(v) && v >= 0) {
      out[i] = v;
    } else {
      throw new InvalidConfigError(key, `${key} cannot be ${String(v)}`);
    }
  });
  return out;
}

/** Nanoseconds (as the module's JSON holds times) to milliseconds. */
function ms(nanos: number | null): number | null {
  return nanos === null ? null : nanos / 1e6;
}

/** The error a refusal code and its details stand for. */
function refusal(code: number, d: Float64Array, at: number): GroupqError {
  switch (code) {
    case 1:
      return new UnknownRunError(d[at] ?? 0);
    case 2:
      return new StaleRunError(d[at] ?? 0);
    case 3:
      return new ShutDownError();
    case 4:
      return new TimeWentBackwardsError(d[at] ?? 0, d[at + 1] ?? 0);
    case 5:
      return new WorkMismatchError(d[at] ?? 0);
    case 7:
      return new InvalidInputError('now', 'now is beyond the times the core holds');
    case 8:
      return new InvalidInputError(`argument ${d[at] ?? '?'}`, 'an argument is out of range');
    default:
      return new GroupqError('InvalidInput', `refused (code ${code})`);
  }
}

/** The error a constructor's thrown `"<code>:<details>:<message>"` stands for. */
function configRefusal(thrown: unknown): GroupqError {
  const [code, details, ...rest] = String(thrown).split(':');
  const message = rest.join(':');
  const slot = Number((details ?? '').split(',')[0]);
  if (code === '6') {
    const kind = Number((details ?? '').split(',')[0]);
    const setting =
      kind === 1
        ? 'maxActive'
        : kind === 2
          ? 'retryBaseMs'
          : kind === 4
            ? 'debounce'
            : kind === 5
              ? 'breaker'
              : kind === 6
                ? 'background'
                : 'warnPercent|autoCompactPercent';
    return new InvalidConfigError(setting, message);
  }
  const first = SLOTS.length + DEBOUNCE_SLOTS.length;
  const name =
    slot >= first + BREAKER_SLOTS.length
      ? 'background'
      : slot >= first
        ? 'breaker'
        : slot >= SLOTS.length
          ? 'debounce'
          : SLOTS[slot];
  return new InvalidConfigError(name ?? 'config', message);
}

/**
 * The groupq core: one live run per group, at most `maxActive` runs, no
 * queued work lost or run twice. Group keys and task ids are strings;
 * payloads are any value, handed back in the spawn (or the shutdown
 * report) untouched.
 */
export class Machine<P = unknown> {
  readonly #core: Core;
  readonly #groups = new StringIds();
  readonly #tasks = new StringIds();
  readonly #payloads = new Handles<P>();
  /**
   * Each live run's group id, and its task's id and string: the core
   * deduplicates against the running task, so its id stays held until the
   * run leaves.
   */
  readonly #runs = new Map<number, { group: number; tid: number; task: string | undefined }>();
  #outputs: Array<Output<P>> = [];
  #head = 0;
  #words = new Float64Array(memory.buffer);

  constructor(config: Config = {}) {
    const s = slots(config);
    try {
      this.#core = new Core(s);
    } catch (thrown) {
      throw configRefusal(thrown);
    }
  }

  /** A user's message for `group`: a run reads it, now or when one starts. */
  message(now: number, group: string): void {
    const t = time(now);
    const g = this.#group(text(group, 'group'));
    // An accepted message leaves the group held: only a refusal may not.
    this.#finish(this.#core.message(t, g), [], g);
  }

  /** A task: see {@link TaskAnswer}. Only `'queued'` keeps the task. */
  task(now: number, group: string, id: string, payload: P): TaskAnswer {
    // A normal task is never skipped.
    return this.#submit(now, group, id, payload, undefined) as TaskAnswer;
  }

  /**
   * A background task: it starts only when its group has no run, no unread
   * messages and no normal tasks, after the groups waiting with a
   * conversation (with aging), and never closes a run. With
   * `skipIfActive`, a group whose conversation is live, pending or ended
   * within the skip window answers `'skipped'` and nothing changes.
   */
  backgroundTask(
    now: number,
    group: string,
    id: string,
    payload: P,
    options: { skipIfActive?: boolean } = {},
  ): BackgroundAnswer {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidInputError('options', 'options must be an object');
    }
    const skip = options.skipIfActive ?? false;
    if (typeof skip !== 'boolean') {
      throw new InvalidInputError('options.skipIfActive', 'skipIfActive must be a boolean');
    }
    return this.#submit(now, group, id, payload, skip);
  }

  /** A task of either class (`skip` undefined: normal). */
  #submit(now: number, group: string, id: string, payload: P, skip: boolean | undefined): BackgroundAnswer {
    const t = time(now);
    const g = this.#group(text(group, 'group'));
    const tid = this.#tasks.hold(text(id, 'id'));
    const p = this.#payloads.put(payload);
    const n =
      skip === undefined ? this.#core.task(t, g, tid, p) : this.#core.background_task(t, g, tid, p, skip ? 1 : 0);
    const code = n >= 0 ? this.#answer(0) : -1;
    const cap = n >= 0 ? this.#answer(1) : 0;
    if (code !== 0) {
      this.#tasks.release(tid);
      this.#payloads.take(p);
    }
    this.#finish(n, [], g);
    if (code === 0) return 'queued';
    if (code === 2) return { refused: 'groupFull', cap };
    if (code === 3) return { refused: 'queueFull', cap };
    if (code === 4) return 'skipped';
    return 'duplicate';
  }

  /**
   * Changes the limits while running: raised, waiting groups start at once;
   * lowered, idle runs above the new limit are closed (`'limitLowered'`,
   * longest idle first), busy ones finish their turn and close when they go
   * idle, and nothing starts while the live runs are at or above it. New
   * caps apply to later tasks.
   */
  setLimits(now: number, limits: Limits): void {
    const t = time(now);
    if (typeof limits !== 'object' || limits === null) {
      throw new InvalidInputError('limits', 'limits must be an object');
    }
    const max = limits.maxActive;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
      throw new InvalidInputError('limits.maxActive', 'maxActive must be a whole number of at least 1');
    }
    const capOf = (v: unknown, key: string): number => {
      if (v === undefined || v === null) return -1;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new InvalidInputError(`limits.${key}`, `${key} must be a whole number or null`);
      }
      return v;
    };
    const total = capOf(limits.maxQueuedTasks, 'maxQueuedTasks');
    const group = capOf(limits.maxGroupTasks, 'maxGroupTasks');
    this.#finish(this.#core.set_limits(t, max, total, group), []);
  }

  /** May a follow-up be written into the group's live run? Write it only on `piped`. */
  pipe(now: number, group: string): PipeAnswer {
    const t = time(now);
    const g = this.#group(text(group, 'group'));
    const at = this.#finish(this.#core.pipe(t, g), [g]);
    const run = this.#words[at] ?? 0;
    if (run > 0) return { piped: run };
    return { refused: REFUSALS[this.#words[at + 1] ?? 1] ?? 'noRun' };
  }

  /** The run finished its turn and waits for input. */
  idle(now: number, run: number): void {
    this.#finish(this.#core.idle(time(now), runId(run)), []);
  }

  /** The run is alive mid-turn (its stall watch restarts). */
  heartbeat(now: number, run: number): void {
    this.#finish(this.#core.heartbeat(time(now), runId(run)), []);
  }

  /** A turn's report. */
  turn(now: number, run: number, report: TurnReport): void {
    const t = time(now);
    const r = runId(run);
    if (typeof report !== 'object' || report === null) {
      throw new InvalidInputError('report', 'the report must be an object');
    }
    if (report.status !== 'success' && report.status !== 'error') {
      throw new InvalidInputError('report.status', `status must be 'success' or 'error'`);
    }
    const count = (v: unknown, name: string): number => {
      if (v === undefined) return NaN;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new InvalidInputError(name, `${name} must be a count, not ${String(v)}`);
      }
      return v;
    };
    let flags = (report.replied === true ? 1 : 0) | (report.delivered === true ? 2 : 0);
    let tokens = NaN;
    let limit = NaN;
    let percent = NaN;
    let before = NaN;
    if (report.context !== undefined) {
      flags |= 4 | (report.context.compactRecommended === true ? 8 : 0);
      tokens = count(report.context.tokens, 'context.tokens');
      limit = count(report.context.limit, 'context.limit');
      percent = count(report.context.percent, 'context.percent');
    }
    if (report.compaction !== undefined) {
      const trigger = report.compaction.trigger;
      if (trigger !== 'auto' && trigger !== 'manual') {
        throw new InvalidInputError('compaction.trigger', `trigger must be 'auto' or 'manual'`);
      }
      flags |= 16 | (trigger === 'manual' ? 32 : 0);
      before = count(report.compaction.tokensBefore, 'compaction.tokensBefore');
    }
    const status = report.status === 'success' ? 0 : 1;
    this.#finish(this.#core.turn(t, r, status, flags, tokens, limit, percent, before), []);
  }

  /** The run ended: `'clean'` only for exit status 0; see {@link Exit} for the failure classes. */
  exited(now: number, run: number, exit: Exit): void {
    const t = time(now);
    const r = runId(run);
    let code: number;
    let after = 0;
    if (exit === 'clean') code = 0;
    else if (exit === 'failed') code = 1;
    else if (exit === 'fatal') code = 2;
    else if (typeof exit === 'object' && exit !== null && 'retryAfter' in exit) {
      code = 3;
      after = exit.retryAfter;
      if (typeof after !== 'number' || !(after >= 0) || !Number.isFinite(after)) {
        throw new InvalidInputError('exit.retryAfter', 'retryAfter must be a finite number of milliseconds, not negative');
      }
    } else {
      throw new InvalidInputError('exit', `exit must be 'clean', 'failed', 'fatal' or { retryAfter: ms }`);
    }
    this.#finish(this.#core.exited(t, r, code, after), []);
    this.#leave(r);
  }

  /** After a restart: the run's spawn was never carried out; its work goes back. */
  neverLaunched(now: number, run: number, work: Work<P>): Requeue<P> {
    const t = time(now);
    const r = runId(run);
    let kind: number;
    let tid = 0;
    let p = 0;
    if (typeof work !== 'object' || work === null) {
      throw new InvalidInputError('work', 'work must be an object');
    }
    switch (work.kind) {
      case 'messages':
        kind = 0;
        break;
      case 'compact':
        kind = 2;
        break;
      case 'task':
        kind = 1;
        tid = this.#tasks.hold(text(work.id, 'work.id'));
        p = this.#payloads.put(work.payload);
        break;
      default:
        throw new InvalidInputError('work.kind', `kind must be 'messages', 'task' or 'compact'`);
    }
    const n = this.#core.never_launched(t, r, kind, tid, p);
    const requeued = n >= 0 && this.#answer(0) === 0;
    if (kind === 1 && !requeued) {
      this.#tasks.release(tid);
      this.#payloads.take(p);
    }
    this.#finish(n, []);
    this.#leave(r);
    if (requeued) return { requeued: true };
    return { requeued: false, handedBack: work };
  }

  /** Deadlines at or before `now` fire. */
  timeout(now: number): void {
    this.#finish(this.#core.timeout(time(now)), []);
  }

  /** Stop starting runs; everything left comes back in the report. */
  shutdown(now: number): ShutdownReport<P> {
    this.#finish(this.#core.shutdown(time(now)), []);
    const raw = JSON.parse(this.#core.take_report()) as RawReport;
    return {
      groups: raw.groups.map((g) => ({
        group: this.#groups.string(g.group),
        jobs: g.jobs.map((j): Work<P> => {
          if (j.kind !== 'task') return { kind: j.kind };
          const id = this.#tasks.string(j.id ?? 0);
          this.#tasks.release(j.id ?? 0);
          return { kind: 'task', id, payload: this.#payloads.take(j.payload ?? 0) };
        }),
        unreadMessages: g.unreadMessages,
        retry: g.retry === null ? null : { attempt: g.retry.attempt, at: g.retry.at / 1e6 },
        compactPending: g.compactPending,
        backgroundTasks: g.backgroundTasks.map((b) => {
          const id = this.#tasks.string(b.id);
          this.#tasks.release(b.id);
          return { id, payload: this.#payloads.take(b.payload) };
        }),
      })),
      liveRuns: raw.liveRuns.map((r) => ({
        run: r.run,
        group: this.#groups.string(r.group),
        kind: r.kind,
        state: r.state,
      })),
    };
  }

  /** Removes a queued task before it starts. */
  cancel(now: number, group: string, id: string): CancelAnswer<P> {
    const t = time(now);
    const g = this.#group(text(group, 'group'));
    const tid = this.#tasks.hold(text(id, 'id'));
    const n = this.#core.cancel(t, g, tid);
    const kind = n >= 0 ? this.#answer(0) : -1;
    const value = n >= 0 ? this.#answer(1) : 0;
    this.#tasks.release(tid);
    if (kind === 0) this.#tasks.release(tid); // the queued task's own count
    this.#finish(n, [g]);
    if (kind === 0) return { cancelled: true, payload: this.#payloads.take(value) };
    if (kind === 1) return { cancelled: false, running: value };
    return { cancelled: false, notQueued: true };
  }

  /** Start nothing for the group until it is resumed. */
  pause(now: number, group: string): void {
    const t = time(now);
    const g = this.#group(text(group, 'group'));
    this.#finish(this.#core.pause(t, g), [g]);
  }

  /** Undo a pause. */
  resume(now: number, group: string): void {
    const t = time(now);
    const g = this.#group(text(group, 'group'));
    this.#finish(this.#core.resume(t, g), [g]);
  }

  /** The host closes the group's live run itself. */
  closeRun(now: number, group: string): CloseAnswer {
    const t = time(now);
    const g = this.#group(text(group, 'group'));
    const at = this.#finish(this.#core.close_run(t, g), [g]);
    const kind = this.#words[at];
    const run = this.#words[at + 1] ?? 0;
    if (kind === 0) return { closed: run };
    if (kind === 1) return { alreadyClosing: run };
    return { noRun: true };
  }

  /** The next output, in order, or `undefined`. */
  poll(): Output<P> | undefined {
    if (this.#head >= this.#outputs.length) return undefined;
    const out = this.#outputs[this.#head++];
    if (this.#head === this.#outputs.length) {
      this.#outputs = [];
      this.#head = 0;
    }
    return out;
  }

  /** Every output waiting, in order. */
  drain(): Array<Output<P>> {
    const out = this.#head === 0 ? this.#outputs : this.#outputs.slice(this.#head);
    this.#outputs = [];
    this.#head = 0;
    return out;
  }

  /** When to hand in a `timeout`, in milliseconds; `null`: no deadline. */
  nextDeadline(): number | null {
    const d = this.#core.next_deadline();
    return d < 0 ? null : d;
  }

  /** The latest `now` accepted. */
  now(): number {
    return this.#core.now();
  }

  /** Why `group` is where it is, or `null` when the machine holds nothing for it. */
  explain(group: string): Explain | null {
    const g = this.#groups.peek(text(group, 'group'));
    if (g === undefined) return null;
    const json = this.#core.explain(g);
    if (json === '') return null;
    const raw = JSON.parse(json) as RawExplain;
    const run = raw.run;
    return {
      ...raw,
      run:
        run === null
          ? null
          : {
              ...run,
              idleDeadline: ms(run.idleDeadline),
              turnDeadline: ms(run.turnDeadline),
              lifeDeadline: ms(run.lifeDeadline),
              stallDeadline: ms(run.stallDeadline),
              graceDeadline: ms(run.graceDeadline),
              killDeadline: ms(run.killDeadline),
            },
      retryAt: ms(raw.retryAt),
      debouncedUntil: ms(raw.debouncedUntil),
      jobs: raw.jobs.map((j) =>
        j.kind === 'task' ? { kind: 'task', id: this.#tasks.string(j.id ?? 0) } : { kind: 'compact' },
      ),
      backgroundTasks: raw.backgroundTasks.map((id) => this.#tasks.string(id)),
    };
  }

  /** The machine at a glance. */
  stats(): Stats {
    this.#core.stats();
    const w = this.#view();
    const at = this.#core.out_ptr() / 8;
    return {
      liveRuns: w[at] ?? 0,
      freeSlots: w[at + 1] ?? 0,
      waitingGroups: w[at + 2] ?? 0,
      trackedGroups: w[at + 3] ?? 0,
      queuedJobs: w[at + 4] ?? 0,
      deadlines: w[at + 5] ?? 0,
      shutDown: w[at + 6] === 1,
      maxActive: w[at + 7] ?? 0,
      breaker:
        w[at + 8] === 1
          ? { state: 'open', until: w[at + 9] ?? 0 }
          : w[at + 8] === 2
            ? { state: 'probing', probe: w[at + 9] ? (w[at + 9] ?? null) : null }
            : { state: 'closed' },
      waitingBackground: w[at + 10] ?? 0,
      backgroundRuns: w[at + 11] ?? 0,
    };
  }

  /** Whether shutdown was accepted. */
  isShutDown(): boolean {
    return this.#core.is_shut_down();
  }

  /** Nothing live, pending or scheduled. */
  isQuiescent(): boolean {
    return this.#core.is_quiescent();
  }

  /** The boundary's own cost: a call that does nothing (for benchmarks). */
  noop(): number {
    return this.#core.noop();
  }

  /** What a string key would cost at the boundary (for benchmarks). */
  noopString(s: string): number {
    return this.#core.noop_str(s);
  }

  // ---- the boundary ----------------------------------------------------

  /** The id of a key, held while the core holds the group. */
  #group(key: string): number {
    return this.#groups.peek(key) ?? this.#groups.hold(key);
  }

  #view(): Float64Array {
    // Memory growth detaches the old buffer: its view reads as empty.
    if (this.#words.length === 0) this.#words = new Float64Array(memory.buffer);
    return this.#words;
  }

  /** Answer word `i` of the call just made. */
  #answer(i: number): number {
    return this.#view()[this.#core.out_ptr() / 8 + i] ?? 0;
  }

  /**
   * After a call: throws its refusal, or decodes its outputs; frees the
   * ids of the named groups the core no longer holds (`onRefusal`: only
   * if the call was refused). Returns where the answer's words start.
   */
  #finish(n: number, groups: number[], onRefusal?: number): number {
    const w = this.#view();
    const at = this.#core.out_ptr() / 8;
    if (n < 0) {
      const error = refusal(-n, w, at);
      for (const g of groups) if (!this.#core.tracks(g)) this.#groups.forget(g);
      if (onRefusal !== undefined && !this.#core.tracks(onRefusal)) this.#groups.forget(onRefusal);
      throw error;
    }
    const end = at + n;
    let i = at + 4;
    while (i < end) i = this.#decode(w, i);
    for (const g of groups) if (!this.#core.tracks(g)) this.#groups.forget(g);
    return at;
  }

  /** Decodes the output at word `i`; returns the next one's. */
  #decode(w: Float64Array, i: number): number {
    const op = w[i] ?? 0;
    const f = (k: number): number => w[i + k] ?? 0;
    const group = (k: number): string => this.#groups.string(f(k));
    const opt = (k: number): number | null => (Number.isNaN(f(k)) ? null : f(k));
    switch (op) {
      case 1: {
        const run = f(1);
        const kind = f(3);
        let work: Work<P>;
        let task: string | undefined;
        if (kind === 1) {
          task = this.#tasks.string(f(4));
          work = { kind: 'task', id: task, payload: this.#payloads.take(f(5)) };
        } else {
          work = { kind: kind === 2 ? 'compact' : 'messages' };
        }
        this.#runs.set(run, { group: f(2), tid: kind === 1 ? f(4) : 0, task });
        this.#outputs.push({ type: 'spawn', run, group: group(2), work });
        return i + 6;
      }
      case 2:
        this.#outputs.push({ type: 'closeInput', run: f(1), reason: REASONS[f(2)] ?? 'host' });
        return i + 3;
      case 3:
        this.#outputs.push({ type: 'kill', run: f(1) });
        return i + 2;
      case 4:
        this.#outputs.push({
          type: 'notify',
          group: group(1),
          notice: { kind: 'contextWarning', percent: f(2), tokens: opt(3), limit: opt(4) },
        });
        return i + 5;
      case 5:
        this.#outputs.push({
          type: 'notify',
          group: group(1),
          notice: { kind: 'autoCompacted', tokensBefore: opt(2) },
        });
        return i + 3;
      case 6:
        this.#outputs.push({ type: 'rollbackCursor', group: group(1) });
        return i + 2;
      case 7:
        this.#outputs.push({ type: 'recordCompaction', group: group(1) });
        return i + 2;
      case 8:
        this.#outputs.push({ type: 'terminalFailure', group: group(1) });
        return i + 2;
      case 9:
        this.#outputs.push({ type: 'breakerOpened', until: f(1), cooldownMs: f(2) });
        return i + 3;
      case 10:
        this.#outputs.push({ type: 'breakerClosed' });
        return i + 1;
      default:
        return this.#decodeRecord(w, i, op);
    }
  }

  #decodeRecord(w: Float64Array, i: number, op: number): number {
    const f = (k: number): number => w[i + k] ?? 0;
    const group = this.#groups.string(f(1));
    let record: CoreRecord;
    let size: number;
    switch (op) {
      case 20: {
        const what = f(2) === 1 ? { task: this.#tasks.string(f(3)) } : f(2) === 2 ? 'compact' : 'messages';
        record = { kind: 'queued', group, what };
        size = 4;
        break;
      }
      case 21:
        record = { kind: 'deduplicated', group, id: this.#tasks.string(f(2)) };
        size = 3;
        break;
      case 22:
        record = { kind: 'waiting', group, ahead: f(2) };
        size = 3;
        break;
      case 23:
        record = { kind: 'drained', group, run: f(2) };
        size = 3;
        break;
      case 24:
        record = { kind: 'retryScheduled', group, attempt: f(2), at: f(3) };
        size = 4;
        break;
      case 25:
        record = { kind: 'retriesExhausted', group };
        size = 2;
        break;
      case 26:
        record = { kind: 'taskFailed', group, run: f(2), id: this.#runs.get(f(2))?.task ?? '' };
        size = 4;
        break;
      case 27:
        record = { kind: 'dropped', group, what: f(2) === 0 ? 'retry' : 'compact' };
        size = 3;
        break;
      default:
        throw new Error(`groupq: unknown output ${op} (the module and the package disagree)`);
    }
    this.#outputs.push({ type: 'record', record });
    return i + size;
  }

  /** A run the core let go of (its exit, or its never-launched work, was accepted): its group may be forgotten. */
  #leave(run: number): void {
    const live = this.#runs.get(run);
    if (live === undefined) return;
    this.#runs.delete(run);
    if (live.task !== undefined) this.#tasks.release(live.tid);
    if (!this.#core.tracks(live.group)) this.#groups.forget(live.group);
  }
}

interface RawExplain extends Omit<Explain, 'jobs' | 'backgroundTasks'> {
  jobs: Array<{ kind: 'task' | 'compact'; id?: number }>;
  backgroundTasks: number[];
}

interface RawReport {
  groups: Array<{
    group: number;
    jobs: Array<{ kind: 'messages' | 'task' | 'compact'; id?: number; payload?: number }>;
    unreadMessages: boolean;
    retry: { attempt: number; at: number } | null;
    compactPending: boolean;
    backgroundTasks: Array<{ id: number; payload: number }>;
  }>;
  liveRuns: Array<{ run: number; group: number; kind: WorkKind; state: 'busy' | 'idle' | 'closing' }>;
}
