// Background tasks through the package: they give way to the conversation,
// are skipped on request while it is active, wait at their cap, and come
// back in the shutdown report as background work; typed errors for bad
// settings and options.
import { describe, expect, it } from 'vitest';

import { InvalidConfigError, InvalidInputError, Machine, type Output } from 'groupq';

function spawns<P>(outputs: Array<Output<P>>): Array<[string, string]> {
  return outputs.flatMap((o) => (o.type === 'spawn' ? [[o.group, o.work.kind] as [string, string]] : []));
}

describe('background tasks', () => {
  it('wait behind the conversation, never close it, and give way to a message when idle', () => {
    const m = new Machine<string>({ maxActive: 1 });
    m.message(0, 'a');
    m.drain();
    m.idle(10, 1);
    expect(m.backgroundTask(20, 'h', 'beat', 'heartbeat')).toBe('queued');
    expect(m.drain().filter((o) => o.type === 'closeInput')).toEqual([]);
    expect(m.stats().waitingBackground).toBe(1);
    expect(m.explain('h')?.backgroundTasks).toEqual(['beat']);
    m.closeRun(30, 'a');
    m.drain();
    m.exited(40, 1, 'clean');
    expect(spawns(m.drain())).toEqual([['h', 'task']]);
    expect(m.explain('h')?.run?.background).toBe(true);
    expect(m.stats().backgroundRuns).toBe(1);
    m.idle(50, 2);
    m.message(60, 'h');
    expect(m.drain()).toContainEqual({ type: 'closeInput', run: 2, reason: 'preempt' });
  });

  it('is skipped while the conversation is active or within the skip window, and nothing changes', () => {
    const m = new Machine<string>({ background: { skipWindowMs: 60_000 } });
    m.message(0, 'a');
    m.drain();
    const before = m.stats();
    expect(m.backgroundTask(1, 'a', 'beat', 'heartbeat', { skipIfActive: true })).toBe('skipped');
    expect(m.drain()).toEqual([]);
    expect(m.stats()).toEqual(before);
    m.exited(2, 1, 'clean');
    expect(m.backgroundTask(59_000, 'a', 'beat', 'heartbeat', { skipIfActive: true })).toBe('skipped');
    expect(m.backgroundTask(60_002, 'a', 'beat', 'heartbeat', { skipIfActive: true })).toBe('queued');
  });

  it('holds at most maxRunning background runs, even with slots free', () => {
    const m = new Machine<string>({ maxActive: 3, background: { maxRunning: 1, aging: 2 } });
    m.backgroundTask(0, 'h1', 'b', 'one');
    m.backgroundTask(0, 'h2', 'b', 'two');
    expect(spawns(m.drain())).toEqual([['h1', 'task']]);
    expect(m.stats().freeSlots).toBe(2);
    m.exited(1, 1, 'clean');
    expect(spawns(m.drain())).toEqual([['h2', 'task']]);
  });

  it('comes back in the shutdown report as background work, payload and all', () => {
    const m = new Machine<{ prompt: string }>({ maxActive: 1 });
    m.message(0, 'a');
    m.backgroundTask(0, 'a', 'beat', { prompt: 'heartbeat' });
    expect(m.task(0, 'a', 'beat', { prompt: 'dup' })).toBe('duplicate');
    const report = m.shutdown(1);
    expect(report.groups).toEqual([
      {
        group: 'a',
        jobs: [],
        unreadMessages: false,
        retry: null,
        compactPending: false,
        backgroundTasks: [{ id: 'beat', payload: { prompt: 'heartbeat' } }],
      },
    ]);
  });

  it('refuses bad settings and options with typed errors', () => {
    expect(() => new Machine({ background: { aging: 0 } })).toThrow(InvalidConfigError);
    expect(() => new Machine({ background: { maxRunning: 0 } })).toThrow(InvalidConfigError);
    expect(() => new Machine({ background: { agin: 2 } as never })).toThrow(InvalidConfigError);
    expect(() => new Machine({ background: null as never })).toThrow(InvalidConfigError);
    const m = new Machine();
    expect(() => m.backgroundTask(0, 'a', 'b', 1, { skipIfActive: 'yes' as never })).toThrow(InvalidInputError);
    expect(m.isQuiescent()).toBe(true);
  });
});
