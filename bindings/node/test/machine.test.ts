// The core through the package: typed answers, commands in order, views,
// deadlines, records, determinism, and ids that follow what the core holds.
import { describe, expect, it } from 'vitest';

import { Machine, type Output } from 'groupq';

function spawned<P>(outputs: Array<Output<P>>): Array<Extract<Output<P>, { type: 'spawn' }>> {
  return outputs.filter((o): o is Extract<Output<P>, { type: 'spawn' }> => o.type === 'spawn');
}

describe('Machine', () => {
  it('starts a run per group within the limit and hands the slot on at exit', () => {
    const m = new Machine<string>({ maxActive: 1 });
    m.message(0, 'a');
    expect(m.drain()).toEqual([{ type: 'spawn', run: 1, group: 'a', work: { kind: 'messages' } }]);
    expect(m.task(1, 'b', 't1', 'report')).toBe('queued');
    expect(m.task(2, 'b', 't1', 'again')).toBe('duplicate');
    expect(m.drain()).toEqual([]);
    expect(m.explain('b')).toMatchObject({ jobs: [{ kind: 'task', id: 't1' }], waitingBehind: 0 });
    m.exited(3, 1, 'clean');
    expect(m.drain()).toEqual([
      { type: 'spawn', run: 2, group: 'b', work: { kind: 'task', id: 't1', payload: 'report' } },
    ]);
    m.exited(4, 2, 'clean');
    expect(m.isQuiescent()).toBe(true);
    expect(m.explain('a')).toBeNull();
  });

  it('pipes into a busy messages run and refuses a task run with the reason', () => {
    const m = new Machine({ maxActive: 2 });
    m.message(0, 'a');
    m.task(0, 'b', 't', null);
    m.drain();
    expect(m.pipe(1, 'a')).toEqual({ piped: 1 });
    expect(m.pipe(1, 'b')).toEqual({ refused: 'taskRun' });
    expect(m.pipe(1, 'c')).toEqual({ refused: 'noRun' });
    expect(m.closeRun(2, 'a')).toEqual({ closed: 1 });
    expect(m.drain()).toEqual([{ type: 'closeInput', run: 1, reason: 'host' }]);
    expect(m.pipe(3, 'a')).toEqual({ refused: 'closing' });
    expect(m.closeRun(3, 'a')).toEqual({ alreadyClosing: 1 });
    expect(m.closeRun(3, 'c')).toEqual({ noRun: true });
  });

  it('closes an idle run for a task, then kills it after the grace, and rolls back a failure', () => {
    const m = new Machine({ maxActive: 1, killGraceMs: 1000, retryBaseMs: 500 });
    m.message(0, 'a');
    m.drain();
    m.idle(10, 1);
    m.task(20, 'a', 't', 1);
    expect(m.drain()).toEqual([{ type: 'closeInput', run: 1, reason: 'preempt' }]);
    expect(m.nextDeadline()).toBe(1020);
    m.timeout(1020);
    expect(m.drain()).toEqual([{ type: 'kill', run: 1 }]);
    m.message(1030, 'a');
    m.exited(1040, 1, 'failed');
    const outputs = m.drain();
    expect(outputs[0]).toEqual({ type: 'rollbackCursor', group: 'a' });
    expect(spawned(outputs)).toEqual([
      { type: 'spawn', run: 2, group: 'a', work: { kind: 'task', id: 't', payload: 1 } },
    ]);
  });

  it('retries a failing group on the backoff, then gives up with a terminal failure', () => {
    const m = new Machine({ maxRetries: 1, retryBaseMs: 100, records: true });
    m.message(0, 'a');
    m.drain();
    m.exited(5, 1, 'failed');
    const retry = m.drain();
    expect(retry).toContainEqual({ type: 'rollbackCursor', group: 'a' });
    expect(retry).toContainEqual({
      type: 'record',
      record: { kind: 'retryScheduled', group: 'a', attempt: 1, at: 105 },
    });
    expect(m.nextDeadline()).toBe(105);
    m.timeout(105);
    expect(spawned(m.drain()).map((s) => s.run)).toEqual([2]);
    m.exited(110, 2, 'failed');
    expect(m.drain()).toContainEqual({ type: 'terminalFailure', group: 'a' });
  });

  it('gives up at once on a fatal failure and retries a rate limit when it asked', () => {
    const m = new Machine({ maxRetries: 3, retryBaseMs: 100, records: true });
    m.message(0, 'a');
    m.message(0, 'b');
    m.drain();
    m.exited(5, 1, 'fatal');
    m.exited(5, 2, { retryAfter: 2500 });
    const out = m.drain();
    expect(out).toContainEqual({ type: 'terminalFailure', group: 'a' });
    expect(out).toContainEqual({
      type: 'record',
      record: { kind: 'retryScheduled', group: 'b', attempt: 1, at: 2505 },
    });
    expect(m.explain('a')).toBeNull();
    expect(m.nextDeadline()).toBe(2505);
  });

  it('refuses a task over a cap with the cap, and changes limits while running', () => {
    const m = new Machine({ maxActive: 1, maxGroupTasks: 1, maxQueuedTasks: null });
    m.message(0, 'a');
    m.message(0, 'b');
    expect(m.task(0, 'a', 't1', 1)).toBe('queued');
    expect(m.task(0, 'a', 't2', 2)).toEqual({ refused: 'groupFull', cap: 1 });
    expect(m.task(0, 'a', 't1', 3)).toBe('duplicate');
    m.drain();
    m.setLimits(1, { maxActive: 2 });
    expect(spawned(m.drain()).map((s) => s.group)).toEqual(['b']);
    expect(m.stats().maxActive).toBe(2);
    m.idle(2, 2);
    m.setLimits(3, { maxActive: 1, maxQueuedTasks: 1 });
    expect(m.drain()).toContainEqual({ type: 'closeInput', run: 2, reason: 'limitLowered' });
    expect(m.task(4, 'b', 'u1', 4)).toEqual({ refused: 'queueFull', cap: 1 });
    expect(m.stats().freeSlots).toBe(0);
  });

  it('reports turns: a context warning and a compact turn after the run', () => {
    const m = new Machine({ warnPercent: 70, autoCompactPercent: 80 });
    m.message(0, 'a');
    m.drain();
    m.turn(1, 1, {
      status: 'success',
      replied: true,
      delivered: true,
      context: { tokens: 850, limit: 1000 },
    });
    expect(m.drain()).toEqual([
      {
        type: 'notify',
        group: 'a',
        notice: { kind: 'contextWarning', percent: 85, tokens: 850, limit: 1000 },
      },
    ]);
    expect(m.explain('a')?.compactPending).toBe(true);
    m.exited(2, 1, 'clean');
    expect(m.drain()).toEqual([{ type: 'spawn', run: 2, group: 'a', work: { kind: 'compact' } }]);
    m.turn(3, 2, { status: 'success', compaction: { trigger: 'auto', tokensBefore: 850 } });
    expect(m.drain()).toContainEqual({ type: 'recordCompaction', group: 'a' });
  });

  it('cancels a queued task with its payload, not a running one', () => {
    const m = new Machine<{ n: number }>({ maxActive: 1 });
    m.task(0, 'a', 'run-me', { n: 1 });
    m.task(0, 'a', 'later', { n: 2 });
    m.drain();
    expect(m.cancel(1, 'a', 'later')).toEqual({ cancelled: true, payload: { n: 2 } });
    expect(m.cancel(1, 'a', 'run-me')).toEqual({ cancelled: false, running: 1 });
    expect(m.cancel(1, 'a', 'never')).toEqual({ cancelled: false, notQueued: true });
    // The cancelled id is free again: queued anew, not a duplicate.
    expect(m.task(2, 'a', 'later', { n: 3 })).toBe('queued');
  });

  it('puts never-launched work back, and hands it back after shutdown', () => {
    const m = new Machine<string>({ maxActive: 1 });
    m.task(0, 'a', 't', 'p');
    const [spawn] = spawned(m.drain());
    expect(spawn).toBeDefined();
    const work = spawn!.work;
    expect(m.neverLaunched(1, spawn!.run, work)).toEqual({ requeued: true });
    const [again] = spawned(m.drain());
    expect(again?.work).toEqual({ kind: 'task', id: 't', payload: 'p' });
    m.shutdown(2);
    expect(m.neverLaunched(3, again!.run, again!.work)).toEqual({
      requeued: false,
      handedBack: { kind: 'task', id: 't', payload: 'p' },
    });
  });

  it('shuts down with every payload, unread group and live run in the report', () => {
    const m = new Machine<number[]>({ maxActive: 1 });
    m.message(0, 'a');
    m.task(0, 'b', 't1', [1]);
    m.task(0, 'b', 't2', [2]);
    m.message(0, 'c');
    m.drain();
    const report = m.shutdown(1);
    expect(report.liveRuns).toEqual([{ run: 1, group: 'a', kind: 'messages', state: 'busy' }]);
    expect(report.groups).toEqual(
      expect.arrayContaining([
        {
          group: 'b',
          jobs: [
            { kind: 'task', id: 't1', payload: [1] },
            { kind: 'task', id: 't2', payload: [2] },
          ],
          unreadMessages: false,
          retry: null,
          compactPending: false,
          backgroundTasks: [],
        },
        { group: 'c', jobs: [], unreadMessages: true, retry: null, compactPending: false, backgroundTasks: [] },
      ]),
    );
    expect(m.stats().shutDown).toBe(true);
  });

  it('is deterministic: the same inputs give the same outputs', () => {
    const run = (): string => {
      const m = new Machine({ maxActive: 2, records: true, idleTimeoutMs: 50 });
      const all: unknown[] = [];
      for (let i = 0; i < 200; i++) {
        const g = `g${(i * 7) % 13}`;
        if (i % 3 === 0) m.task(i, g, `t${i % 5}`, i);
        else m.message(i, g);
        if (i % 4 === 0) m.timeout(i);
        const out = m.drain();
        all.push(out);
        for (const o of out) if (o.type === 'spawn' && i % 2 === 0) m.exited(i, o.run, 'clean');
        all.push(m.drain());
      }
      return JSON.stringify(all);
    };
    expect(run()).toBe(run());
  });

  it('forgets a group once the core holds nothing for it', () => {
    const m = new Machine({ maxActive: 8 });
    const live: number[] = [];
    const collect = (): void => {
      for (const s of spawned(m.drain())) live.push(s.run);
    };
    for (let round = 0; round < 50; round++) {
      for (let g = 0; g < 100; g++) m.message(round, `g${round}-${g}`);
      collect();
      while (live.length > 0) {
        m.exited(round, live.shift() ?? 0, 'clean');
        collect();
      }
    }
    expect(m.stats().trackedGroups).toBe(0);
    expect(m.explain('g0-0')).toBeNull();
  });

  it('keeps decoding right when the module grows its memory', () => {
    const m = new Machine<number>({ maxActive: 1 });
    m.message(0, 'holder');
    m.drain();
    // Enough queued work to make the core grow its tables (and the
    // module its memory) several times.
    for (let i = 0; i < 60000; i++) expect(m.task(1, `g${i % 3000}`, `t${i}`, i)).toBe('queued');
    expect(m.stats().queuedJobs).toBe(60000);
    m.exited(2, 1, 'clean');
    expect(m.drain()).toEqual([
      { type: 'spawn', run: 2, group: 'g0', work: { kind: 'task', id: 't0', payload: 0 } },
    ]);
    const report = m.shutdown(3);
    expect(report.groups.reduce((n, g) => n + g.jobs.length, 0)).toBe(59999);
    expect(report.groups[0]?.jobs[0]).toEqual({ kind: 'task', id: 't3000', payload: 3000 });
  });
});
