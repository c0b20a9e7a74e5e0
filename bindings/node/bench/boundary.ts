// The boundary's cost per call, in one node process, batches alternating:
// a call that does nothing, the same with a string argument (what a
// string key would cost each way), and a message + exit cycle (a message
// spawns a run, its exit frees the slot: two calls, two outputs decoded).
//
// `npm run bench` (after `npm run build`).
import { Machine } from 'groupq';

const BATCH = 200000;
const ROUNDS = 7;

const m = new Machine<null>({ maxActive: 1 });
let now = 0;
let sink = 0;

const cases: Array<[string, () => void]> = [
  [
    'no-op call',
    () => {
      for (let i = 0; i < BATCH; i++) sink += m.noop();
    },
  ],
  [
    'no-op call with a string',
    () => {
      for (let i = 0; i < BATCH; i++) sink += m.noopString('chat-1234567890');
    },
  ],
  [
    'message + exit cycle',
    () => {
      for (let i = 0; i < BATCH; i++) {
        now += 1;
        m.message(now, 'chat-1234567890');
        const spawn = m.poll();
        if (spawn?.type !== 'spawn') throw new Error('no spawn');
        m.exited(now, spawn.run, 'clean');
        sink += m.drain().length;
      }
    },
  ],
];

const samples = cases.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  cases.forEach(([, run], i) => {
    globalThis.gc?.();
    const t = process.hrtime.bigint();
    run();
    samples[i]?.push(Number(process.hrtime.bigint() - t) / BATCH);
  });
}
console.log(`boundary cost, ${BATCH} calls per batch, ${ROUNDS} alternating rounds (median, min-max ns per call or cycle)`);
cases.forEach(([name], i) => {
  const s = (samples[i] ?? []).slice(1).sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)] ?? 0;
  console.log(`  ${name.padEnd(26)} ${median.toFixed(0).padStart(6)} ns  (${s[0]?.toFixed(0)}-${s.at(-1)?.toFixed(0)})`);
});
if (sink === -1) console.log('');
