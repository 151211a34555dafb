/**
 * Workers per task queue: each queue runs at most its concurrency of step attempts at once and holds
 * the rest in FIFO order, up to a depth bound. An aborted attempt leaves the queue (or frees its slot
 * at once if it was running: its late result is dropped by the core), so a hung step cannot starve
 * its queue past its timeout.
 */

/** One step attempt waiting for a slot. */
export interface QueuedAttempt {
  readonly signal: AbortSignal;
  /** Runs the attempt; the slot is freed when it settles or is aborted. */
  readonly run: () => Promise<void>;
}

interface Queue {
  readonly concurrency: number;
  running: number;
  readonly waiting: QueuedAttempt[];
}

/** Options of `TaskQueues`. */
export interface TaskQueueOptions {
  /** Concurrency per named queue; others get `defaultConcurrency`. */
  readonly concurrency?: Readonly<Record<string, number>>;
  readonly defaultConcurrency: number;
  readonly depthMax: number;
}

/** The worker pools of one engine. */
export class TaskQueues {
  readonly #options: TaskQueueOptions;
  readonly #queues = new Map<string, Queue>();

  constructor(options: TaskQueueOptions) {
    this.#options = options;
  }

  /** Queues an attempt; false (and nothing queued) when the queue is at its depth bound. */
  submit(name: string, attempt: QueuedAttempt): boolean {
    const queue = this.#queue(name);
    if (queue.waiting.length >= this.#options.depthMax) return false;
    queue.waiting.push(attempt);
    attempt.signal.addEventListener('abort', () => {
      const index = queue.waiting.indexOf(attempt);
      if (index >= 0) queue.waiting.splice(index, 1);
    }, { once: true });
    this.#pump(queue);
    return true;
  }

  /** Attempts running and waiting, per queue (for status and tests). */
  stats(): Record<string, { running: number; waiting: number; concurrency: number }> {
    const result: Record<string, { running: number; waiting: number; concurrency: number }> = {};
    for (const [name, queue] of this.#queues) result[name] = { running: queue.running, waiting: queue.waiting.length, concurrency: queue.concurrency };
    return result;
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = { concurrency: this.#options.concurrency?.[name] ?? this.#options.defaultConcurrency, running: 0, waiting: [] };
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #pump(queue: Queue): void {
    while (queue.running < queue.concurrency && queue.waiting.length > 0) {
      const attempt = queue.waiting.shift()!;
      if (attempt.signal.aborted) continue;
      queue.running += 1;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        queue.running -= 1;
        this.#pump(queue);
      };
      attempt.signal.addEventListener('abort', release, { once: true });
      attempt.run().then(release, release);
    }
  }
}
