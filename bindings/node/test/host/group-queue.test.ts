// The drop-in, as a host runs it: every behaviour of the original
// GroupQueue that hosts call, with fake timers, a mocked config, logger
// and fs, exactly as hosts' own tests set them up.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { GroupQueue } from './group-queue.js';
import { logger } from './logger.js';

vi.mock('./config.js', () => ({
  DATA_DIR: '/data',
  MAX_CONCURRENT_CONTAINERS: 2,
}));

vi.mock('./logger.js', () => ({
  logger: { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn(), fatal: vi.fn() },
}));

vi.mock('fs', async () => {
  const actual = await vi.importActual<typeof import('fs')>('fs');
  return {
    ...actual,
    default: { ...actual, mkdirSync: vi.fn(), writeFileSync: vi.fn(), renameSync: vi.fn() },
  };
});

const fs = (await import('fs')).default;
const writes = (): string[] => vi.mocked(fs.writeFileSync).mock.calls.map((c) => String(c[0]));
const closes = (): string[] => writes().filter((p) => p.endsWith('_close'));

/** A function whose calls wait until released, one by one. */
function held<T>(value: T): { fn: () => Promise<T>; release: () => void; calls: () => number } {
  const waiting: Array<() => void> = [];
  let calls = 0;
  return {
    fn: () => {
      calls++;
      return new Promise<T>((resolve) => waiting.push(() => resolve(value)));
    },
    release: () => waiting.shift()?.(),
    calls: () => calls,
  };
}

describe('the drop-in GroupQueue', () => {
  let queue: GroupQueue;

  beforeEach(() => {
    vi.clearAllMocks();
    vi.useFakeTimers();
    queue = new GroupQueue();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('calls the messages function inside the call that starts the run', () => {
    const fn = vi.fn(async () => true);
    queue.setProcessMessagesFn(fn);
    queue.enqueueMessageCheck('g1');
    expect(fn).toHaveBeenCalledWith('g1');
    expect(queue.availableSlots()).toBe(1);
  });

  it('holds a group to one container and the whole queue to the limit', async () => {
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    for (const g of ['a', 'a', 'b', 'c']) queue.enqueueMessageCheck(g);
    expect(run.calls()).toBe(2);
    expect(queue.availableSlots()).toBe(0);
    run.release();
    await vi.advanceTimersByTimeAsync(1);
    // a's second check runs before waiting c (a finishing group first).
    expect(run.calls()).toBe(3);
    const active = queue.snapshot().filter((s) => s.active).map((s) => s.jid);
    expect(active.sort()).toEqual(['a', 'b']);
  });

  it('runs a finishing group’s tasks first, then its messages, then waiting groups in arrival order', async () => {
    const order: string[] = [];
    const run = held(true);
    queue.setProcessMessagesFn(async (g) => {
      order.push(`messages ${g}`);
      return run.fn();
    });
    queue.enqueueMessageCheck('a');
    queue.enqueueMessageCheck('b');
    queue.enqueueMessageCheck('w1');
    queue.enqueueMessageCheck('w2');
    queue.enqueueMessageCheck('a');
    queue.enqueueTask('a', 't', async () => {
      order.push('task a');
    });
    run.release(); // a's first run ends
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(1); // the task ran and ended
    run.release(); // b ends: w1 waited first
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(['messages a', 'messages b', 'task a', 'messages a', 'messages w1']);
  });

  it('drops a task id already queued or running in the group', async () => {
    const run = held(undefined);
    const dup = vi.fn(async () => {});
    queue.enqueueTask('g', 't', run.fn);
    queue.enqueueTask('g', 't', dup);
    expect(logger.debug).toHaveBeenCalledWith({ groupJid: 'g', taskId: 't' }, 'Task already queued or running, skipping');
    run.release();
    await vi.advanceTimersByTimeAsync(1);
    expect(dup).not.toHaveBeenCalled();
    // Once it ended, the same id runs again.
    queue.enqueueTask('g', 't', dup);
    expect(dup).toHaveBeenCalledTimes(1);
  });

  it('retries a failed or throwing run after 5 s doubling, 5 times, then calls the terminal-failure callback once', async () => {
    let calls = 0;
    queue.setProcessMessagesFn(async () => {
      calls++;
      if (calls % 2 === 0) throw new Error('boom');
      return false;
    });
    const terminal = vi.fn();
    queue.setOnTerminalFailure(terminal);
    const start = Date.now();
    queue.enqueueMessageCheck('g');
    let due = 0;
    for (const delay of [5000, 10000, 20000, 40000, 80000]) {
      // Each retry is due `delay` after the failure before it.
      due += delay;
      const before = calls;
      await vi.advanceTimersByTimeAsync(due - 1 - (Date.now() - start));
      expect(calls).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(before + 1);
    }
    expect(terminal).toHaveBeenCalledTimes(1);
    expect(terminal).toHaveBeenCalledWith('g');
    expect(logger.error).toHaveBeenCalledWith(
      { groupJid: 'g', err: expect.any(Error) },
      'Error processing messages for group',
    );
    await vi.advanceTimersByTimeAsync(500000);
    expect(calls).toBe(6);
    // The next message starts afresh.
    queue.enqueueMessageCheck('g');
    expect(calls).toBe(7);
  });

  it('logs a throwing terminal-failure callback and never lets it propagate', async () => {
    queue.setProcessMessagesFn(async () => false);
    queue.setOnTerminalFailure(() => {
      throw new Error('callback');
    });
    queue.enqueueMessageCheck('g');
    await vi.advanceTimersByTimeAsync(200000);
    expect(logger.error).toHaveBeenCalledWith(
      { groupJid: 'g', err: expect.any(Error) },
      'onTerminalFailure callback threw',
    );
  });

  it('writes a follow-up as a renamed file into the registered folder', () => {
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    queue.enqueueMessageCheck('g');
    expect(queue.sendMessage('g', 'hello')).toBe(false); // no folder yet
    queue.registerProcess('g', {} as never, 'container-1', 'folder-g');
    vi.setSystemTime(1_700_000_000_000);
    expect(queue.sendMessage('g', 'hello')).toBe(true);
    expect(fs.mkdirSync).toHaveBeenCalledWith('/data/ipc/folder-g/input', { recursive: true });
    const [tmp, body] = vi.mocked(fs.writeFileSync).mock.calls.at(-1) ?? [];
    expect(String(tmp)).toMatch(/^\/data\/ipc\/folder-g\/input\/1700000000000-[0-9a-z]{0,4}\.json\.tmp$/);
    expect(JSON.parse(String(body))).toEqual({ type: 'message', text: 'hello' });
    const [from, to] = vi.mocked(fs.renameSync).mock.calls.at(-1) ?? [];
    expect(from).toBe(tmp);
    expect(`${String(to)}.tmp`).toBe(tmp);
  });

  it('refuses a follow-up for a task container, a group without a run, and a run being closed', () => {
    const task = held(undefined);
    queue.enqueueTask('t', 'job', task.fn);
    queue.registerProcess('t', {} as never, 'c', 'folder-t');
    expect(queue.sendMessage('t', 'x')).toBe(false);
    expect(queue.sendMessage('nobody', 'x')).toBe(false);
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    queue.enqueueMessageCheck('m');
    queue.registerProcess('m', {} as never, 'c', 'folder-m');
    queue.closeStdin('m');
    expect(closes()).toEqual(['/data/ipc/folder-m/input/_close']);
    // Stricter than the original, which would write a file the agent never reads.
    expect(queue.sendMessage('m', 'too late')).toBe(false);
  });

  it('closes an idle container when a task arrives, and not a busy one', () => {
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    queue.enqueueMessageCheck('g');
    queue.registerProcess('g', {} as never, 'c', 'folder');
    queue.enqueueTask('g', 'busy-task', async () => {});
    expect(closes()).toEqual([]);
    queue.notifyIdle('g'); // a task waits: closed at once
    expect(closes()).toEqual(['/data/ipc/folder/input/_close']);
  });

  it('a follow-up makes an idle container busy again: a task then waits', () => {
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    queue.enqueueMessageCheck('g');
    queue.registerProcess('g', {} as never, 'c', 'folder');
    queue.notifyIdle('g');
    expect(queue.sendMessage('g', 'more')).toBe(true);
    queue.enqueueTask('g', 't', async () => {});
    expect(closes()).toEqual([]);
  });

  it('a compaction asked for during a live run is a task that starts after the run exits (the #985 race)', async () => {
    const run = held(true);
    let live = 0;
    let most = 0;
    queue.setProcessMessagesFn(async () => {
      live++;
      most = Math.max(most, live);
      const ok = await run.fn();
      live--;
      return ok;
    });
    const compact = vi.fn(async () => {
      live++;
      most = Math.max(most, live);
      live--;
    });
    queue.enqueueMessageCheck('g');
    queue.enqueueTask('g', 'auto-compact', compact);
    queue.enqueueTask('g', 'auto-compact', compact);
    expect(compact).not.toHaveBeenCalled();
    run.release();
    await vi.advanceTimersByTimeAsync(1);
    expect(compact).toHaveBeenCalledTimes(1);
    expect(most).toBe(1);
  });

  it('availableSlots follows the live runs', async () => {
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    expect(queue.availableSlots()).toBe(2);
    queue.enqueueMessageCheck('a');
    queue.enqueueMessageCheck('b');
    expect(queue.availableSlots()).toBe(0);
    run.release();
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.availableSlots()).toBe(1);
  });

  it('shutdown refuses new work and leaves live containers running', async () => {
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    queue.enqueueMessageCheck('a');
    queue.registerProcess('a', { killed: false } as never, 'container-a', 'folder-a');
    queue.enqueueMessageCheck('b');
    queue.enqueueMessageCheck('c'); // waits
    await queue.shutdown(1000);
    expect(queue.isShuttingDown()).toBe(true);
    expect(closes()).toEqual([]); // nothing is closed or killed
    expect(logger.info).toHaveBeenCalledWith(
      { activeCount: 2, detachedContainers: ['container-a'] },
      'GroupQueue shutting down (containers detached, not killed)',
    );
    queue.enqueueMessageCheck('d');
    queue.enqueueTask('d', 't', async () => {});
    run.release();
    run.release();
    await vi.advanceTimersByTimeAsync(100000);
    expect(run.calls()).toBe(2); // c never started
    expect(queue.availableSlots()).toBe(2);
  });

  it('snapshot shows each group’s state without its process', async () => {
    const run = held(true);
    queue.setProcessMessagesFn(run.fn);
    queue.registerProcess('idle@x', { pid: 1 } as never, 'c-1', 'f');
    queue.enqueueMessageCheck('busy@x');
    queue.enqueueTask('busy@x', 't', async () => {});
    expect(queue.snapshot()).toEqual([
      {
        jid: 'idle@x',
        active: false,
        idleWaiting: false,
        isTaskContainer: false,
        runningTaskId: null,
        containerName: 'c-1',
        groupFolder: 'f',
        pendingTaskCount: 0,
        retryCount: 0,
      },
      {
        jid: 'busy@x',
        active: true,
        idleWaiting: false,
        isTaskContainer: false,
        runningTaskId: null,
        containerName: null,
        groupFolder: null,
        pendingTaskCount: 1,
        retryCount: 0,
      },
    ]);
  });
});
