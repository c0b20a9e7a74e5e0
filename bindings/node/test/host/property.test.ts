// A property of the drop-in over random host behaviour: whatever the host
// calls, in whatever order, whatever its functions do and whenever time
// moves, no group ever has two live runs, at most the limit are live, no
// task function runs twice, and every task queued runs by the end.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { GroupQueue } from './group-queue.js';

vi.mock('./config.js', () => ({ DATA_DIR: '/data', MAX_CONCURRENT_CONTAINERS: 2 }));
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

const LIMIT = 2;
const GROUPS = ['a', 'b', 'c', 'd'];
const TASKS = ['t1', 't2', 't3'];

type Op =
  | { op: 'message'; g: number }
  | { op: 'task'; g: number; t: number }
  | { op: 'settle'; i: number; how: 'ok' | 'fail' | 'throw' }
  | { op: 'idle'; g: number }
  | { op: 'send'; g: number }
  | { op: 'close'; g: number }
  | { op: 'register'; g: number }
  | { op: 'advance'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('message' as const), g: fc.nat(3) }),
  fc.record({ op: fc.constant('task' as const), g: fc.nat(3), t: fc.nat(2) }),
  fc.record({
    op: fc.constant('settle' as const),
    i: fc.nat(7),
    how: fc.constantFrom('ok' as const, 'fail' as const, 'throw' as const),
  }),
  fc.record({ op: fc.constant('idle' as const), g: fc.nat(3) }),
  fc.record({ op: fc.constant('send' as const), g: fc.nat(3) }),
  fc.record({ op: fc.constant('close' as const), g: fc.nat(3) }),
  fc.record({ op: fc.constant('register' as const), g: fc.nat(3) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30000 }) }),
);

describe('the drop-in under any host behaviour', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps one run per group, the limit, and every task once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const queue = new GroupQueue();
        const live: Array<{ group: string; settle: (how: 'ok' | 'fail' | 'throw') => void }> = [];
        const liveGroups = new Map<string, number>();
        const taskCalls = new Map<object, number>();
        const queuedKeys = new Set<string>();
        const ranKeys = new Set<string>();
        let most = 0;
        const start = (group: string, settle: (how: 'ok' | 'fail' | 'throw') => void): void => {
          const n = (liveGroups.get(group) ?? 0) + 1;
          expect(n, `two runs of ${group} at once`).toBe(1);
          liveGroups.set(group, n);
          live.push({ group, settle });
          most = Math.max(most, live.length);
          expect(live.length, 'runs over the limit').toBeLessThanOrEqual(LIMIT);
        };
        const end = (group: string): void => {
          liveGroups.set(group, (liveGroups.get(group) ?? 1) - 1);
        };
        queue.setProcessMessagesFn(
          (group) =>
            new Promise<boolean>((resolve, reject) => {
              start(group, (how) => {
                end(group);
                if (how === 'throw') reject(new Error('boom'));
                else resolve(how === 'ok');
              });
            }),
        );
        const settleAt = (i: number, how: 'ok' | 'fail' | 'throw'): void => {
          const [run] = live.splice(i % live.length, 1);
          run?.settle(how);
        };
        for (const o of ops) {
          switch (o.op) {
            case 'message':
              queue.enqueueMessageCheck(GROUPS[o.g] ?? 'a');
              break;
            case 'task': {
              const group = GROUPS[o.g] ?? 'a';
              const key = `${group}/${TASKS[o.t] ?? 't1'}`;
              queuedKeys.add(key);
              const fn = (): Promise<void> =>
                new Promise<void>((resolve, reject) => {
                  taskCalls.set(fn, (taskCalls.get(fn) ?? 0) + 1);
                  expect(taskCalls.get(fn), 'a task function ran twice').toBe(1);
                  ranKeys.add(key);
                  start(group, (how) => {
                    end(group);
                    if (how === 'throw') reject(new Error('task boom'));
                    else resolve();
                  });
                });
              queue.enqueueTask(group, TASKS[o.t] ?? 't1', fn);
              break;
            }
            case 'settle':
              if (live.length > 0) settleAt(o.i, o.how);
              break;
            case 'idle':
              queue.notifyIdle(GROUPS[o.g] ?? 'a');
              break;
            case 'send':
              queue.sendMessage(GROUPS[o.g] ?? 'a', 'follow-up');
              break;
            case 'close':
              queue.closeStdin(GROUPS[o.g] ?? 'a');
              break;
            case 'register':
              queue.registerProcess(GROUPS[o.g] ?? 'a', {} as never, 'c', `f-${o.g}`);
              break;
            case 'advance':
              await vi.advanceTimersByTimeAsync(o.ms);
              break;
          }
          await vi.advanceTimersByTimeAsync(0);
        }
        // Let everything finish: every run succeeds from now on.
        for (let round = 0; round < 200 && (live.length > 0 || queue.availableSlots() < LIMIT); round++) {
          while (live.length > 0) settleAt(0, 'ok');
          await vi.advanceTimersByTimeAsync(200000);
        }
        expect(queue.availableSlots()).toBe(LIMIT);
        for (const key of queuedKeys) expect(ranKeys, `task ${key} never ran`).toContain(key);
        expect(most).toBeLessThanOrEqual(LIMIT);
      }),
      { numRuns: 300 },
    );
  });
});
