// A plain TypeScript queue with the original GroupQueue's data
// structures (an array of waiting groups scanned with `includes` and
// `shift`, per-group arrays of pending tasks scanned with `some`), driven
// synchronously: what the package is measured against.

interface State {
  active: boolean;
  idleWaiting: boolean;
  pendingMessages: boolean;
  pendingTasks: Array<{ id: string }>;
  runningTaskId: string | null;
}

export class PlainQueue {
  readonly groups = new Map<string, State>();
  activeCount = 0;
  waitingGroups: string[] = [];
  /** Runs started, with their group: the driver's live runs. */
  readonly started: string[] = [];

  constructor(readonly max: number) {}

  #group(g: string): State {
    let s = this.groups.get(g);
    if (!s) {
      s = { active: false, idleWaiting: false, pendingMessages: false, pendingTasks: [], runningTaskId: null };
      this.groups.set(g, s);
    }
    return s;
  }

  message(g: string): void {
    const s = this.#group(g);
    if (s.active) {
      s.pendingMessages = true;
      return;
    }
    if (this.activeCount >= this.max) {
      s.pendingMessages = true;
      if (!this.waitingGroups.includes(g)) this.waitingGroups.push(g);
      return;
    }
    this.#start(g, s, null);
  }

  task(g: string, id: string): void {
    const s = this.#group(g);
    if (s.runningTaskId === id || s.pendingTasks.some((t) => t.id === id)) return;
    if (s.active) {
      s.pendingTasks.push({ id });
      return;
    }
    if (this.activeCount >= this.max) {
      s.pendingTasks.push({ id });
      if (!this.waitingGroups.includes(g)) this.waitingGroups.push(g);
      return;
    }
    this.#start(g, s, id);
  }

  idle(g: string): void {
    this.#group(g).idleWaiting = true;
  }

  exit(g: string): void {
    const s = this.#group(g);
    s.active = false;
    s.runningTaskId = null;
    this.activeCount--;
    const task = s.pendingTasks.shift();
    if (task) return this.#start(g, s, task.id);
    if (s.pendingMessages) return this.#start(g, s, null);
    while (this.waitingGroups.length > 0 && this.activeCount < this.max) {
      const next = this.waitingGroups.shift() as string;
      const n = this.#group(next);
      const t = n.pendingTasks.shift();
      if (t) this.#start(next, n, t.id);
      else if (n.pendingMessages) this.#start(next, n, null);
    }
  }

  #start(g: string, s: State, task: string | null): void {
    s.active = true;
    s.idleWaiting = false;
    s.runningTaskId = task;
    if (task === null) s.pendingMessages = false;
    this.activeCount++;
    this.started.push(g);
  }
}
