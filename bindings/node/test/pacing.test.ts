// Debounce and the crash-loop breaker through the package: the settings
// as nested objects, the breaker's commands and status, typed errors for
// settings that make no sense.
import { describe, expect, it } from 'vitest';

import { InvalidConfigError, Machine, type Output } from 'groupq';

function groups<P>(outputs: Array<Output<P>>): string[] {
  return outputs.flatMap((o) => (o.type === 'spawn' ? [o.group] : []));
}

describe('debounce', () => {
  it('starts one run for a burst when it goes quiet, or at the maximum wait', () => {
    const m = new Machine({ debounce: { quietMs: 800, maxWaitMs: 2000 } });
    m.message(0, 'a');
    m.message(500, 'a');
    expect(m.drain()).toEqual([]);
    expect(m.nextDeadline()).toBe(1300);
    expect(m.explain('a')?.debouncedUntil).toBe(1300);
    m.timeout(1300);
    expect(groups(m.drain())).toEqual(['a']);
    for (const t of [2000, 2600, 3200, 3800]) m.message(t, 'b');
    expect(m.nextDeadline()).toBe(4000);
  });

  it('refuses a quiet period of zero or a wait below it with a typed error', () => {
    expect(() => new Machine({ debounce: { quietMs: 0 } })).toThrow(InvalidConfigError);
    expect(() => new Machine({ debounce: { quietMs: 10, maxWaitMs: 5 } })).toThrow(InvalidConfigError);
    expect(() => new Machine({ debounce: { quiet: 10 } as never })).toThrow(InvalidConfigError);
  });
});

describe('breaker', () => {
  it('opens on fast failures of two groups, holds every start back, and one probe closes it', () => {
    const m = new Machine({
      maxActive: 3,
      breaker: { fastFailureMs: 5000, groups: 2, windowMs: 60_000, cooldownMs: 10_000, maxCooldownMs: 30_000 },
    });
    m.message(0, 'a');
    m.message(0, 'b');
    m.drain();
    m.exited(100, 1, 'failed');
    m.exited(200, 2, 'failed');
    expect(m.drain()).toContainEqual({ type: 'breakerOpened', until: 10_200, cooldownMs: 10_000 });
    expect(m.stats().breaker).toEqual({ state: 'open', until: 10_200 });
    expect(m.task(300, 'c', 't1', 'nightly')).toBe('queued');
    expect(groups(m.drain())).toEqual([]);
    m.timeout(10_200);
    expect(groups(m.drain())).toEqual(['c']);
    expect(m.stats().breaker).toEqual({ state: 'probing', probe: 3 });
    m.timeout(15_200);
    const out = m.drain();
    expect(out[0]).toEqual({ type: 'breakerClosed' });
    expect(groups(out)).toEqual(['a', 'b']);
    expect(m.stats().breaker).toEqual({ state: 'closed' });
  });

  it('refuses settings that make no sense with a typed error', () => {
    expect(() => new Machine({ breaker: { groups: 0 } })).toThrow(InvalidConfigError);
    expect(() => new Machine({ breaker: { cooldownMs: 10, maxCooldownMs: 5 } })).toThrow(InvalidConfigError);
    expect(() => new Machine({ breaker: { groups: 1.5 } })).toThrow(InvalidConfigError);
  });
});
