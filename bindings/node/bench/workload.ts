// Workload W (`w.ts`) at G = 10, 1,000 and 100,000 groups, through the
// package's `Machine` (max_active 5, fair) and through a plain TypeScript
// queue with the original's data structures (`plain.ts`), in one node
// process: passes alternate, the fastest of three is kept.
//
// `npm run bench` (after `npm run build`); `node build/bench/workload.js
// [EVENTS]` (default 200,000 events per pass).
import { Machine } from 'groupq';

import { PlainQueue } from './plain.js';
import { events, type Events } from './w.js';

const n = Number(process.argv[2] ?? 200000);
const SEED = 42n;

function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/** W through the package; returns the spawns. */
function viaPackage(ev: Events, groups: string[], tasks: string[]): number {
  const m = new Machine<null>({ maxActive: 5, policy: 'fair' });
  const live: Array<{ run: number; group: string }> = [];
  let spawns = 0;
  let now = 0;
  const collect = (): void => {
    let o = m.poll();
    while (o !== undefined) {
      if (o.type === 'spawn') {
        spawns++;
        live.push({ run: o.run, group: o.group });
      }
      o = m.poll();
    }
  };
  const g = groups.length;
  for (let i = 0; i < ev.r.length; i++) {
    now += 1;
    const due = m.nextDeadline();
    if (due !== null && due <= now) {
      m.timeout(now);
      collect();
    }
    const r = ev.r[i] ?? 0;
    const x = ev.x[i] ?? 0;
    const group = groups[x % g] ?? '';
    if (r < 50) {
      m.message(now, group);
    } else if (r < 65) {
      m.task(now, group, tasks[(x >>> 16) % 8] ?? '', null);
    } else if (r < 70) {
      const run = live.find((l) => l.group === group);
      if (run) m.idle(now, run.run);
    } else if (live.length > 0) {
      const at = x % live.length;
      const run = live[at] as { run: number };
      live[at] = live[live.length - 1] as { run: number; group: string };
      live.pop();
      m.exited(now, run.run, 'clean');
    }
    collect();
  }
  return spawns;
}

/** W through the plain queue; returns the spawns. */
function viaPlain(ev: Events, groups: string[], tasks: string[]): number {
  const q = new PlainQueue(5);
  const live: string[] = [];
  const g = groups.length;
  for (let i = 0; i < ev.r.length; i++) {
    const r = ev.r[i] ?? 0;
    const x = ev.x[i] ?? 0;
    const group = groups[x % g] ?? '';
    const before = q.started.length;
    if (r < 50) q.message(group);
    else if (r < 65) q.task(group, tasks[(x >>> 16) % 8] ?? '');
    else if (r < 70) {
      if (live.includes(group)) q.idle(group);
    } else if (live.length > 0) {
      const at = x % live.length;
      const ended = live[at] as string;
      live[at] = live[live.length - 1] as string;
      live.pop();
      q.exit(ended);
    }
    for (let k = before; k < q.started.length; k++) live.push(q.started[k] as string);
  }
  return q.started.length;
}

const tasks = names('task-', 8);
console.log(`workload W, ${n} events per pass, max_active 5; fastest of 3 alternating passes`);
console.log('        G  package ns/event  spawns   plain TS ns/event  spawns');
for (const G of [10, 1000, 100000]) {
  const ev = events(n, SEED);
  const groups = names('group-', G);
  viaPackage(ev, groups, tasks);
  viaPlain(ev, groups, tasks);
  let best = [Infinity, Infinity];
  let spawns = [0, 0];
  for (let pass = 0; pass < 3; pass++) {
    globalThis.gc?.();
    let t = process.hrtime.bigint();
    spawns[0] = viaPackage(ev, groups, tasks);
    const a = Number(process.hrtime.bigint() - t) / n;
    globalThis.gc?.();
    t = process.hrtime.bigint();
    spawns[1] = viaPlain(ev, groups, tasks);
    const b = Number(process.hrtime.bigint() - t) / n;
    best = [Math.min(best[0] ?? a, a), Math.min(best[1] ?? b, b)];
  }
  console.log(
    `${String(G).padStart(9)}  ${best[0]?.toFixed(1).padStart(16)}  ${String(spawns[0]).padStart(6)}   ${best[1]
      ?.toFixed(1)
      .padStart(17)}  ${String(spawns[1]).padStart(6)}`,
  );
}
