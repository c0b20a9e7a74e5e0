// Workload W, as `benches/workload/w.rs` defines it: splitmix64 draws two
// numbers per event (r = a % 100, x = b, the low 32 bits of each), time
// advances 1 ms per event, and per event r < 50 is a message to group
// x % G, r < 65 a task (id (x >> 16) % 8) for group x % G, r < 70 an idle
// of that group's live run if it has one, and the rest the exit of the
// live run at x % live (swap-removed), if any.

/** W's events, drawn before any timing: kinds and numbers. */
export interface Events {
  r: Uint8Array;
  x: Uint32Array;
}

const MASK = (1n << 64n) - 1n;

/** The `n` events of W for `seed`, as the Rust definition draws them. */
export function events(n: number, seed: bigint): Events {
  let state = seed;
  const next = (): bigint => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
    return z ^ (z >> 31n);
  };
  const r = new Uint8Array(n);
  const x = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Number(next() & 0xffffffffn);
    const b = Number(next() & 0xffffffffn);
    r[i] = a % 100;
    x[i] = b;
  }
  return { r, x };
}
