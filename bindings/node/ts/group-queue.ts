// `GroupQueue`: the TypeScript hosts' queue (NanoClaw, DEUS, OpenClaw and
// their forks), with the same API and behaviour as they call it, its
// decisions made by the core. `dropin/group-queue.ts` wires a host's
// config, logger and `fs` into it.
//
// Time is the JavaScript clock (`Date.now()`), with one `setTimeout` armed
// at the core's next deadline, so tests with fake timers drive it; every
// command of a call is carried out inside that call.

import path from 'node:path';

import { Machine } from './machine.js';
import type { Output } from './types.js';

/** The logger a host hands in: pino-like, an object then a message. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The part of Node's `fs` the queue writes follow-ups and sentinels with. */
export interface QueueFs {
  mkdirSync(path: string, options: { recursive: true }): unknown;
  writeFileSync(path: string, data: string): void;
  renameSync(from: string, to: string): void;
}

/** A process (or anything) registered for a group's run. */
export interface RegisteredProcess {
  readonly killed?: boolean;
}

/** What a `GroupQueue` is built from. */
export interface GroupQueueOptions {
  /** The global limit of live containers. */
  maxConcurrentContainers: number;
  /** The host's data directory: follow-ups go to `<dataDir>/ipc/<folder>/input/`. */
  dataDir: string;
  /** Where the queue logs. */
  logger: Logger;
  /** Node's `fs`, or the host's mock of it. */
  fs: QueueFs;
}

/** A group's state as the host sees it (`snapshot()`). */
export interface GroupSnapshot {
  jid: string;
  active: boolean;
  idleWaiting: boolean;
  isTaskContainer: boolean;
  runningTaskId: string | null;
  containerName: string | null;
  groupFolder: string | null;
  pendingTaskCount: number;
  retryCount: number;
}

/** The original's retry schedule and limit. */
const BASE_RETRY_MS = 5000;
const MAX_RETRIES = 5;
/** The longest delay `setTimeout` takes; a later deadline is none for the queue. */
const MAX_DELAY_MS = 2 ** 31 - 1;

type TaskFn = () => Promise<void>;

interface GroupState {
  run: number | null;
  idleWaiting: boolean;
  isTaskContainer: boolean;
  runningTaskId: string | null;
  process: RegisteredProcess | null;
  containerName: string | null;
  groupFolder: string | null;
}

/**
 * The host's queue: one container per group, at most
 * `maxConcurrentContainers` at once, tasks deduplicated by id, failed
 * message runs retried after 5 s doubling (5 times, then the
 * terminal-failure callback), a finishing group's tasks first, then its
 * messages, then waiting groups in arrival order.
 */
export class GroupQueue {
  readonly #machine: Machine<TaskFn>;
  readonly #options: GroupQueueOptions;
  readonly #groups = new Map<string, GroupState>();
  readonly #runGroups = new Map<number, string>();
  #processMessagesFn: ((groupJid: string) => Promise<boolean>) | null = null;
  #onTerminalFailureFn: ((groupJid: string) => void) | null = null;
  #shuttingDown = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = -1;
  readonly #epoch = Date.now();
  #last = 0;
  /** Calls in progress: the timer is armed when the outermost returns. */
  #depth = 0;

  constructor(options: GroupQueueOptions) {
    this.#options = options;
    this.#machine = new Machine<TaskFn>({
      maxActive: options.maxConcurrentContainers,
      policy: 'legacy',
      retryBaseMs: BASE_RETRY_MS,
      maxRetries: MAX_RETRIES,
      evictIdle: false,
      notices: false,
      records: true,
      // The host times its own containers: no run deadline here.
      idleTimeoutMs: Infinity,
      maxTurnTimeMs: Infinity,
      maxCompactTimeMs: Infinity,
      killGraceMs: Infinity,
      shutdownGraceMs: Infinity,
    });
  }

  setProcessMessagesFn(fn: (groupJid: string) => Promise<boolean>): void {
    this.#processMessagesFn = fn;
  }

  setOnTerminalFailure(fn: (groupJid: string) => void): void {
    this.#onTerminalFailureFn = fn;
  }

  enqueueMessageCheck(groupJid: string): void {
    if (this.#shuttingDown) return;
    const state = this.#group(groupJid);
    if (state.run !== null) {
      this.#options.logger.debug({ groupJid }, 'Container active, message queued');
    }
    this.#step(() => this.#machine.message(this.#now(), groupJid));
  }

  enqueueTask(groupJid: string, taskId: string, fn: () => Promise<void>): void {
    if (this.#shuttingDown) return;
    this.#group(groupJid);
    const answer = this.#step(() => this.#machine.task(this.#now(), groupJid, taskId, fn));
    if (answer === 'duplicate') {
      this.#options.logger.debug({ groupJid, taskId }, 'Task already queued or running, skipping');
    } else if (answer !== 'queued') {
      // Only with caps configured (the drop-in sets none).
      this.#options.logger.warn({ groupJid, taskId, cap: answer.cap }, 'Task refused: queue full');
    }
  }

  registerProcess(
    groupJid: string,
    proc: RegisteredProcess,
    containerName: string,
    groupFolder?: string,
  ): void {
    const state = this.#group(groupJid);
    state.process = proc;
    state.containerName = containerName;
    if (groupFolder) state.groupFolder = groupFolder;
  }

  /**
   * The group's container finished its work and waits for input: if tasks
   * wait for the group, its input is closed at once.
   */
  notifyIdle(groupJid: string): void {
    const state = this.#group(groupJid);
    state.idleWaiting = true;
    const run = state.run;
    if (run !== null) this.#step(() => this.#machine.idle(this.#now(), run));
  }

  /**
   * A follow-up for the group's live container, written as a file into its
   * input. `false` when the group has no live run, no registered folder,
   * runs a task, or its input is being closed.
   */
  sendMessage(groupJid: string, text: string): boolean {
    const state = this.#group(groupJid);
    if (state.run === null || !state.groupFolder || state.isTaskContainer) return false;
    state.idleWaiting = false;
    const answer = this.#step(() => this.#machine.pipe(this.#now(), groupJid));
    if (!('piped' in answer)) return false;
    const inputDir = this.#inputDir(state.groupFolder);
    try {
      const { fs } = this.#options;
      fs.mkdirSync(inputDir, { recursive: true });
      const filename = `${Date.now()}-${Math.random().toString(36).slice(2, 6)}.json`;
      const filepath = path.join(inputDir, filename);
      const tempPath = `${filepath}.tmp`;
      fs.writeFileSync(tempPath, JSON.stringify({ type: 'message', text }));
      fs.renameSync(tempPath, filepath);
      return true;
    } catch {
      return false;
    }
  }

  /** Asks the group's live container to wind down (the close sentinel). */
  closeStdin(groupJid: string): void {
    const state = this.#group(groupJid);
    if (state.run === null || !state.groupFolder) return;
    const answer = this.#step(() => this.#machine.closeRun(this.#now(), groupJid));
    // Closed: the core's close wrote the sentinel. Already closing: the
    // original writes it again, which is harmless.
    if (!('closed' in answer)) this.#writeClose(groupJid);
  }

  /** Slots free under the global limit. */
  availableSlots(): number {
    return this.#machine.stats().freeSlots;
  }

  /** True once shutdown() has been called: enqueued work is dropped. */
  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Read-only copy of every group's state, without its process. */
  snapshot(): GroupSnapshot[] {
    return [...this.#groups].map(([jid, s]) => {
      const explain = this.#machine.explain(jid);
      return {
        jid,
        active: s.run !== null,
        idleWaiting: s.idleWaiting,
        isTaskContainer: s.isTaskContainer,
        runningTaskId: s.runningTaskId,
        containerName: s.containerName,
        groupFolder: s.groupFolder,
        pendingTaskCount: explain?.jobs.filter((j) => j.kind === 'task').length ?? 0,
        retryCount: explain?.failures ?? 0,
      };
    });
  }

  /**
   * Refuses new work and leaves live containers running (the host detaches
   * them): they finish on their own, and their ends are still counted.
   */
  async shutdown(_gracePeriodMs: number): Promise<void> {
    this.#shuttingDown = true;
    const detachedContainers: string[] = [];
    for (const state of this.#groups.values()) {
      if (state.process && !state.process.killed && state.containerName) {
        detachedContainers.push(state.containerName);
      }
    }
    if (!this.#machine.isShutDown()) {
      this.#step(() => this.#machine.shutdown(this.#now()));
    }
    this.#options.logger.info(
      { activeCount: this.#machine.stats().liveRuns, detachedContainers },
      'GroupQueue shutting down (containers detached, not killed)',
    );
  }

  // ---- carrying out the core's commands --------------------------------

  #group(groupJid: string): GroupState {
    let state = this.#groups.get(groupJid);
    if (!state) {
      state = {
        run: null,
        idleWaiting: false,
        isTaskContainer: false,
        runningTaskId: null,
        process: null,
        containerName: null,
        groupFolder: null,
      };
      this.#groups.set(groupJid, state);
    }
    return state;
  }

  /** The JavaScript clock, as the core's time: milliseconds since construction, never going back. */
  #now(): number {
    this.#last = Math.max(this.#last, Date.now() - this.#epoch);
    return this.#last;
  }

  /** One call into the core, its commands carried out; the timer armed after the outermost. */
  #step<A>(call: () => A): A {
    this.#depth++;
    try {
      const answer = call();
      for (const output of this.#machine.drain()) this.#carryOut(output);
      return answer;
    } finally {
      this.#depth--;
      if (this.#depth === 0) this.#arm();
    }
  }

  #carryOut(output: Output<TaskFn>): void {
    const { logger } = this.#options;
    switch (output.type) {
      case 'spawn':
        this.#runGroups.set(output.run, output.group);
        if (output.work.kind === 'task') {
          this.#runTask(output.run, output.group, output.work.id, output.work.payload);
        } else {
          this.#runMessages(output.run, output.group);
        }
        break;
      case 'closeInput':
        // At shutdown the original leaves containers running: detached.
        if (output.reason !== 'shutdown') {
          const group = this.#runGroups.get(output.run);
          if (group !== undefined) this.#writeClose(group);
        }
        break;
      case 'terminalFailure': {
        const groupJid = output.group;
        logger.error(
          { groupJid, retryCount: MAX_RETRIES + 1 },
          'Max retries exceeded, dropping messages (will retry on next incoming message)',
        );
        try {
          this.#onTerminalFailureFn?.(groupJid);
        } catch (err) {
          logger.error({ groupJid, err }, 'onTerminalFailure callback threw');
        }
        break;
      }
      case 'record':
        if (output.record.kind === 'retryScheduled') {
          const { group, attempt, at } = output.record;
          logger.info(
            { groupJid: group, retryCount: attempt, delayMs: at - this.#machine.now() },
            'Scheduling retry with backoff',
          );
        }
        break;
      case 'kill':
        logger.warn({ run: output.run }, 'kill asked for a run (the queue sets no kill deadline)');
        break;
      default:
        break;
    }
  }

  #runMessages(run: number, groupJid: string): void {
    const state = this.#group(groupJid);
    state.run = run;
    state.idleWaiting = false;
    state.isTaskContainer = false;
    this.#options.logger.debug(
      { groupJid, activeCount: this.#machine.stats().liveRuns },
      'Starting container for group',
    );
    const fn = this.#processMessagesFn;
    let result: Promise<boolean>;
    try {
      result = fn ? Promise.resolve(fn(groupJid)) : Promise.resolve(true);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (success) => this.#end(run, success ? 'clean' : 'failed'),
      (err: unknown) => {
        this.#options.logger.error({ groupJid, err }, 'Error processing messages for group');
        this.#end(run, 'failed');
      },
    );
  }

  #runTask(run: number, groupJid: string, taskId: string, fn: TaskFn): void {
    const state = this.#group(groupJid);
    state.run = run;
    state.idleWaiting = false;
    state.isTaskContainer = true;
    state.runningTaskId = taskId;
    this.#options.logger.debug(
      { groupJid, taskId, activeCount: this.#machine.stats().liveRuns },
      'Running queued task',
    );
    let result: Promise<void>;
    try {
      result = Promise.resolve(fn());
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => this.#end(run, 'clean'),
      (err: unknown) => {
        this.#options.logger.error({ groupJid, taskId, err }, 'Error running task');
        this.#end(run, 'failed');
      },
    );
  }

  /** A run's function settled: the container is gone for the queue. */
  #end(run: number, exit: 'clean' | 'failed'): void {
    const groupJid = this.#runGroups.get(run);
    if (groupJid === undefined) return;
    this.#runGroups.delete(run);
    const state = this.#group(groupJid);
    state.run = null;
    state.isTaskContainer = false;
    state.runningTaskId = null;
    state.process = null;
    state.containerName = null;
    state.groupFolder = null;
    this.#step(() => this.#machine.exited(this.#now(), run, exit));
  }

  #inputDir(groupFolder: string): string {
    return path.join(this.#options.dataDir, 'ipc', groupFolder, 'input');
  }

  /** The close sentinel into the group's input, if its folder is known. */
  #writeClose(groupJid: string): void {
    const folder = this.#groups.get(groupJid)?.groupFolder;
    if (!folder) return;
    const inputDir = this.#inputDir(folder);
    try {
      this.#options.fs.mkdirSync(inputDir, { recursive: true });
      this.#options.fs.writeFileSync(path.join(inputDir, '_close'), '');
    } catch {
      // ignore, as the original does
    }
  }

  /** One timer, at the core's next deadline (none beyond what setTimeout takes). */
  #arm(): void {
    const at = this.#machine.nextDeadline();
    const now = this.#now();
    if (at === null || at - now > MAX_DELAY_MS) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = -1;
      return;
    }
    if (this.#timer !== undefined && this.#timerAt === at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = -1;
      this.#step(() => this.#machine.timeout(this.#now()));
    }, Math.max(0, at - now));
  }
}
