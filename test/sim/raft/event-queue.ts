/**
 * The simulation's agenda: events ordered by simulated time, ties broken by insertion order, so a run
 * is a pure function of its seed.
 */

interface Scheduled<Event> {
  readonly time: number;
  readonly order: number;
  readonly event: Event;
}

/** A binary min-heap of timed events. */
export class EventQueue<Event> {
  #heap: Array<Scheduled<Event>> = [];
  #order = 0;

  get size(): number { return this.#heap.length; }

  push(time: number, event: Event): void {
    const heap = this.#heap;
    heap.push({ time, order: this.#order++, event });
    let position = heap.length - 1;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      if (!before(heap[position]!, heap[parent]!)) break;
      [heap[position], heap[parent]] = [heap[parent]!, heap[position]!];
      position = parent;
    }
  }

  /** The time of the earliest event, or Infinity when empty. */
  peekTime(): number {
    return this.#heap[0]?.time ?? Infinity;
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): { time: number; event: Event } | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let position = 0;
      for (;;) {
        const left = position * 2 + 1;
        const right = left + 1;
        let smallest = position;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === position) break;
        [heap[position], heap[smallest]] = [heap[smallest]!, heap[position]!];
        position = smallest;
      }
    }
    return { time: top.time, event: top.event };
  }
}

function before<Event>(left: Scheduled<Event>, right: Scheduled<Event>): boolean {
  return left.time < right.time || (left.time === right.time && left.order < right.order);
}
