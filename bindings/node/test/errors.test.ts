// Bad input from JavaScript gets a typed error and changes nothing: the
// machine that saw it goes on exactly like a twin that did not.
import { describe, expect, it } from 'vitest';

import {
  GroupqError,
  InvalidConfigError,
  InvalidInputError,
  Machine,
  ShutDownError,
  StaleRunError,
  TimeWentBackwardsError,
  UnknownRunError,
  WorkMismatchError,
} from 'groupq';

/** Everything the machine shows of itself. */
function state(m: Machine<unknown>): string {
  return JSON.stringify([m.stats(), m.nextDeadline(), m.now(), m.explain('a'), m.explain('b')]);
}

/** A machine with a live run (run 1, group a) and a queued task (group b). */
function busy(): Machine<unknown> {
  const m = new Machine<unknown>({ maxActive: 1 });
  m.message(10, 'a');
  m.task(10, 'b', 't', 'p');
  m.drain();
  return m;
}

type Call = [string, (m: Machine<unknown>) => unknown, new (...args: never[]) => GroupqError];

const calls: Call[] = [
  ['time going back', (m) => m.message(5, 'a'), TimeWentBackwardsError],
  ['NaN time', (m) => m.message(NaN, 'a'), InvalidInputError],
  ['negative time', (m) => m.timeout(-1), InvalidInputError],
  ['infinite time', (m) => m.timeout(Infinity), InvalidInputError],
  ['time beyond the core', (m) => m.timeout(1e30), InvalidInputError],
  ['a string for time', (m) => m.message('12' as unknown as number, 'a'), InvalidInputError],
  ['a number for a group', (m) => m.message(20, 42 as unknown as string), InvalidInputError],
  ['an object for a task id', (m) => m.task(20, 'b', {} as unknown as string, 1), InvalidInputError],
  ['a fractional run', (m) => m.idle(20, 1.5), InvalidInputError],
  ['run zero', (m) => m.idle(20, 0), InvalidInputError],
  ['an unissued run', (m) => m.idle(20, 99), UnknownRunError],
  ['a bad exit', (m) => m.exited(20, 1, 'maybe' as 'clean'), InvalidInputError],
  ['a negative retry-after', (m) => m.exited(20, 1, { retryAfter: -1 }), InvalidInputError],
  ['zero slots', (m) => m.setLimits(20, { maxActive: 0 }), InvalidInputError],
  ['a fractional cap', (m) => m.setLimits(20, { maxActive: 1, maxGroupTasks: 0.5 }), InvalidInputError],
  ['a NaN retry-after', (m) => m.exited(20, 1, { retryAfter: NaN }), InvalidInputError],
  ['a bad turn status', (m) => m.turn(20, 1, { status: 'ok' as 'success' }), InvalidInputError],
  [
    'a negative token count',
    (m) => m.turn(20, 1, { status: 'success', context: { tokens: -3 } }),
    InvalidInputError,
  ],
  ['a turn of no object', (m) => m.turn(20, 1, null as never), InvalidInputError],
  ['other work for a run', (m) => m.neverLaunched(20, 1, { kind: 'compact' }), WorkMismatchError],
  ['a bad work kind', (m) => m.neverLaunched(20, 1, { kind: 'nap' } as never), InvalidInputError],
];

describe('bad input', () => {
  for (const [what, call, kind] of calls) {
    it(`${what}: a typed error, nothing changed`, () => {
      const m = busy();
      const twin = busy();
      const before = state(m);
      let thrown: unknown;
      try {
        call(m);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(kind);
      expect(thrown).toBeInstanceOf(GroupqError);
      expect(m.drain()).toEqual([]);
      expect(state(m)).toBe(before);
      // And it goes on like its twin.
      for (const q of [m, twin]) {
        q.exited(30, 1, 'clean');
        q.message(31, 'a');
      }
      expect(m.drain()).toEqual(twin.drain());
      expect(state(m)).toBe(state(twin));
    });
  }

  it('a stale run after its exit', () => {
    const m = busy();
    m.exited(20, 1, 'clean');
    m.drain();
    const before = state(m);
    expect(() => m.idle(21, 1)).toThrow(StaleRunError);
    expect(state(m)).toBe(before);
  });

  it('work after shutdown, a pause too, is ShutDown; a cancel is not', () => {
    const m = busy();
    m.shutdown(20);
    m.drain();
    const before = state(m);
    expect(() => m.message(21, 'a')).toThrow(ShutDownError);
    expect(() => m.task(21, 'c', 'x', 1)).toThrow(ShutDownError);
    expect(() => m.pause(21, 'a')).toThrow(ShutDownError);
    expect(() => m.shutdown(21)).toThrow(ShutDownError);
    expect(state(m)).toBe(before);
    expect(m.cancel(22, 'b', 't')).toEqual({ cancelled: false, notQueued: true });
  });

  it('a refused task keeps no payload and no id: the same id queues later', () => {
    const m = busy();
    m.shutdown(20);
    expect(() => m.task(21, 'z', 'id', 'p')).toThrow(ShutDownError);
    const fresh = new Machine();
    expect(() => fresh.task(-1, 'z', 'id', 'p')).toThrow(InvalidInputError);
    expect(fresh.task(0, 'z', 'id', 'p')).toBe('queued');
  });
});

describe('bad configuration', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['zero slots', { maxActive: 0 }],
    ['a zero retry base', { retryBaseMs: 0 }],
    ['a percent over 100', { warnPercent: 101 }],
    ['fractional slots', { maxActive: 1.5 }],
    ['a negative duration', { idleTimeoutMs: -5 }],
    ['NaN', { killGraceMs: NaN }],
    ['a string', { maxTurnTimeMs: '10' }],
    ['an unknown policy', { policy: 'lottery' }],
    ['an unknown setting', { maxActiv: 3 }],
    ['null for a required duration', { idleTimeoutMs: null }],
  ];
  for (const [what, config] of bad) {
    it(`${what} is an InvalidConfigError`, () => {
      expect(() => new Machine(config)).toThrow(InvalidConfigError);
    });
  }

  it('names the setting at fault', () => {
    try {
      new Machine({ maxActive: 0 });
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidConfigError);
      expect((e as InvalidConfigError).setting).toBe('maxActive');
    }
  });
});
