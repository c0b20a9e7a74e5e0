// The numbers the WebAssembly core knows keys, task ids and payloads by:
// strings and values stay on this side, and no string crosses on the hot
// path. Ids are reused once freed, so memory follows what the core holds.

/** Strings by small ids, counted: an id is freed when its count drops to 0. */
export class StringIds {
  readonly #ids = new Map<string, number>();
  #strings: Array<string | undefined> = [undefined];
  #counts: number[] = [0];
  readonly #free: number[] = [];

  /** The id of `s`, counted once more. */
  hold(s: string): number {
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.#free.pop() ?? this.#strings.length;
      this.#ids.set(s, id);
      this.#strings[id] = s;
      this.#counts[id] = 0;
    }
    this.#counts[id] = (this.#counts[id] ?? 0) + 1;
    return id;
  }

  /** The id of `s` if it has one, else `undefined` (nothing changes). */
  peek(s: string): number | undefined {
    return this.#ids.get(s);
  }

  /** The string of an id held. */
  string(id: number): string {
    const s = this.#strings[id];
    if (s === undefined) throw new Error(`groupq: no string for id ${id} (a bug of the package)`);
    return s;
  }

  /** Counts `id` once less; frees it at zero. */
  release(id: number): void {
    const count = (this.#counts[id] ?? 0) - 1;
    if (count > 0) {
      this.#counts[id] = count;
      return;
    }
    const s = this.#strings[id];
    if (s === undefined) return;
    this.#ids.delete(s);
    this.#strings[id] = undefined;
    this.#counts[id] = 0;
    this.#free.push(id);
  }

  /** Frees `id` whatever its count: a key the core no longer holds. */
  forget(id: number): void {
    this.#counts[id] = 1;
    this.release(id);
  }

  /** How many ids are held. */
  get size(): number {
    return this.#ids.size;
  }
}

/** Values by handle: a payload is put in when its task is queued and taken out when it leaves the core. */
export class Handles<P> {
  readonly #values = new Map<number, P>();
  readonly #free: number[] = [];
  #next = 1;

  put(value: P): number {
    const handle = this.#free.pop() ?? this.#next++;
    this.#values.set(handle, value);
    return handle;
  }

  take(handle: number): P {
    if (!this.#values.has(handle)) {
      throw new Error(`groupq: no payload for handle ${handle} (a bug of the package)`);
    }
    const value = this.#values.get(handle) as P;
    this.#values.delete(handle);
    this.#free.push(handle);
    return value;
  }

  get size(): number {
    return this.#values.size;
  }
}
