/**
 * Time, injected. Actors and the kernel read time and schedule timers only through a `Clock`, so tests
 * drive time with `VirtualClock` and never sleep (DESIGN.md section 4).
 */

/** An opaque timer handle. */
export type TimerHandle = { readonly id: number };

/** Time source and timer scheduler. */
export interface Clock {
  /** Milliseconds on this clock's timeline (monotonic for the real clock). */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Wall-clock time and real timers. `now()` is monotonic (performance.timeOrigin + performance.now()). */
export class RealClock implements Clock {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #nextId = 1;

  now(): number {
    return performance.timeOrigin + performance.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      callback();
    }, Math.max(0, delayMs));
    this.#timers.set(id, timer);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.#timers.get(handle.id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers.delete(handle.id);
    }
  }
}

interface VirtualTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/**
 * Simulated time: timers fire only when a test calls `advance`, in due-time order (ties in creation
 * order). Deterministic, so the same test gives the same trace.
 */
export class VirtualClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  #timers: VirtualTimer[] = [];

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.#nextId++, dueMs: this.#nowMs + Math.max(0, delayMs), callback };
    this.#timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle.id);
  }

  /** Number of timers waiting to fire. */
  pending(): number {
    return this.#timers.length;
  }

  /** Due time of the next timer, if any. */
  nextDueMs(): number | undefined {
    let next: number | undefined;
    for (const timer of this.#timers) if (next === undefined || timer.dueMs < next) next = timer.dueMs;
    return next;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      const due = this.#popDue(targetMs);
      if (due === undefined) break;
      this.#nowMs = due.dueMs;
      due.callback();
    }
    this.#nowMs = targetMs;
  }

  #popDue(targetMs: number): VirtualTimer | undefined {
    let best = -1;
    for (let index = 0; index < this.#timers.length; index += 1) {
      const timer = this.#timers[index]!;
      if (timer.dueMs > targetMs) continue;
      if (best < 0 || timer.dueMs < this.#timers[best]!.dueMs || (timer.dueMs === this.#timers[best]!.dueMs && timer.id < this.#timers[best]!.id)) best = index;
    }
    if (best < 0) return undefined;
    return this.#timers.splice(best, 1)[0];
  }
}
