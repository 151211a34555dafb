/**
 * The timer service: one wake time per run (the earliest moment its core has something due: a durable
 * timer, a step timeout, a retry after backoff, the execution deadline) held in a min-heap, and one
 * clock timer for the earliest of them all, so a million parked runs cost one armed timer. When a
 * run's time comes the service calls its `fire` callback once; the run then feeds a `tick` to its core
 * and re-arms with its next wake time.
 *
 * Nothing here is durable: wake times are derived from the histories (`nextWakeMs` of each run's
 * folded state), so a restarted service (or engine) re-arms from the runs it serves.
 */
import { assert, type TimerHandle } from '../../runtime/index.js';

/** The clock the service runs on: the runtime's Clock, or an actor's keyed timer (worker-actor.ts). */
export interface TimerClock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

interface Entry {
  readonly key: string;
  readonly atMs: number;
  /** Matches `#armed.get(key)?.version` while the entry is current; stale entries are skipped. */
  readonly version: number;
}

/** Where a run asks to be woken: the in-process service, or the timer actor of a node. */
export interface WakeTimers {
  /** Wakes `key` at `atMs` through `fire` (replacing its previous wake time); `undefined` disarms it. */
  arm(key: string, atMs: number | undefined, fire: () => void): void;
}

/** Many keyed wake times over one clock timer. */
export class TimerService implements WakeTimers {
  readonly #clock: TimerClock;
  readonly #heap: Entry[] = [];
  readonly #armed = new Map<string, { atMs: number; version: number; fire: () => void }>();
  #version = 0;
  #timer: { atMs: number; handle: TimerHandle } | undefined;
  #closed = false;

  constructor(clock: TimerClock) {
    this.#clock = clock;
  }

  /** Wake times currently armed. */
  get size(): number {
    return this.#armed.size;
  }

  arm(key: string, atMs: number | undefined, fire: () => void): void {
    if (this.#closed) return;
    const current = this.#armed.get(key);
    if (atMs === undefined) {
      this.#armed.delete(key);
      this.#reschedule();
      return;
    }
    if (current !== undefined && current.atMs === atMs) {
      this.#armed.set(key, { ...current, fire });
      return;
    }
    this.#version += 1;
    this.#armed.set(key, { atMs, version: this.#version, fire });
    this.#push({ key, atMs, version: this.#version });
    this.#reschedule();
  }

  /** Clears the clock timer and every wake time. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
    this.#armed.clear();
    this.#heap.length = 0;
  }

  /** Fires every wake time due now, then arms the clock for the next. */
  #fireDue(): void {
    this.#timer = undefined;
    const nowMs = this.#clock.now();
    const due: Array<() => void> = [];
    while (this.#heap.length > 0 && this.#heap[0]!.atMs <= nowMs) {
      const entry = this.#pop();
      const armed = this.#armed.get(entry.key);
      if (armed === undefined || armed.version !== entry.version) continue;
      this.#armed.delete(entry.key);
      due.push(armed.fire);
    }
    this.#reschedule();
    for (const fire of due) fire();
  }

  #reschedule(): void {
    if (this.#closed) return;
    // Drop stale heads so the clock timer is for a live wake time.
    while (this.#heap.length > 0) {
      const head = this.#heap[0]!;
      if (this.#armed.get(head.key)?.version === head.version) break;
      this.#pop();
    }
    const head = this.#heap[0];
    if (this.#timer !== undefined && this.#timer.atMs === head?.atMs) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
    if (head === undefined) return;
    const handle = this.#clock.setTimeout(() => this.#fireDue(), Math.max(0, head.atMs - this.#clock.now()));
    this.#timer = { atMs: head.atMs, handle };
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.atMs <= heap[index]!.atMs) break;
      [heap[parent], heap[index]] = [heap[index]!, heap[parent]!];
      index = parent;
    }
  }

  #pop(): Entry {
    const heap = this.#heap;
    assert(heap.length > 0, 'pop of an empty timer heap');
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && heap[left]!.atMs < heap[smallest]!.atMs) smallest = left;
        if (right < heap.length && heap[right]!.atMs < heap[smallest]!.atMs) smallest = right;
        if (smallest === index) break;
        [heap[smallest], heap[index]] = [heap[index]!, heap[smallest]!];
        index = smallest;
      }
    }
    return top;
  }
}
