/**
 * Workers per task queue: each queue runs at most its concurrency of step attempts at once and holds
 * the rest in FIFO order, up to a depth bound. An aborted attempt leaves the queue (or frees its slot
 * at once if it was running: its late result is dropped by the core), so a hung step cannot starve
 * its queue past its timeout.
 *
 * The queue does not deliver outcomes itself: it hands each settled attempt to its owner's `settled`
 * callback. In an engine without actors the owner reports at once; the worker actor (worker-actor.ts)
 * routes the outcome through its own mailbox first, so a worker that crashes before reporting loses
 * the outcome, and the attempts it held are reported as WORKER_CRASHED (retried per policy).
 */
import type { FailureInfo } from './core/index.js';

/** How one attempt ended, as the run host feeds it to the core. */
export interface StepOutcome {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly failure?: FailureInfo;
}

/** One step attempt waiting for a slot. */
export interface QueuedAttempt {
  readonly workflowId: string;
  readonly stepName: string;
  readonly attempt: number;
  readonly signal: AbortSignal;
  /** Runs the attempt; the slot is freed when it settles or is aborted. */
  readonly run: () => Promise<StepOutcome>;
  /** Delivers the outcome to the run (dropped by the run if the attempt is no longer live). */
  readonly report: (outcome: StepOutcome) => void;
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
  /** Receives each attempt that ran to an outcome; the owner calls `complete` and then reports it (default: both at once). */
  readonly settled?: (attempt: QueuedAttempt, outcome: StepOutcome) => void;
}

/** Somewhere steps can be submitted: the in-process queues, or the worker actors of a node. */
export interface StepQueues {
  /** Queues an attempt on `taskQueue`; a full queue reports TASK_QUEUE_FULL through `attempt.report`. */
  submit(taskQueue: string, attempt: QueuedAttempt): void;
}

/** The worker pools of one engine (or the one queue of a worker actor). */
export class TaskQueues implements StepQueues {
  readonly #options: TaskQueueOptions;
  readonly #queues = new Map<string, Queue>();
  /** Attempts submitted and not yet settled or aborted, in submission order. */
  readonly #held = new Set<QueuedAttempt>();

  constructor(options: TaskQueueOptions) {
    this.#options = options;
  }

  /** Queues an attempt; a queue at its depth bound reports TASK_QUEUE_FULL and queues nothing. */
  submit(name: string, attempt: QueuedAttempt): void {
    const queue = this.#queue(name);
    if (queue.waiting.length >= this.#options.depthMax) {
      attempt.report({ ok: false, failure: { type: 'TASK_QUEUE_FULL', message: `task queue ${name} is full` } });
      return;
    }
    queue.waiting.push(attempt);
    this.#held.add(attempt);
    attempt.signal.addEventListener('abort', () => {
      this.#held.delete(attempt);
      const index = queue.waiting.indexOf(attempt);
      if (index >= 0) queue.waiting.splice(index, 1);
    }, { once: true });
    this.#pump(queue);
  }

  /** Lets go of an attempt whose outcome its owner is about to report; false if it is no longer held. */
  complete(attempt: QueuedAttempt): boolean {
    return this.#held.delete(attempt);
  }

  /** Takes every attempt still held (waiting or running), for a worker that stops: its owner reports them. */
  drain(): QueuedAttempt[] {
    const held = [...this.#held];
    this.#held.clear();
    for (const queue of this.#queues.values()) queue.waiting.length = 0;
    return held;
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
      attempt.run().then((outcome) => {
        release();
        if (!this.#held.has(attempt) || attempt.signal.aborted) return;
        if (this.#options.settled !== undefined) this.#options.settled(attempt, outcome);
        else if (this.complete(attempt)) attempt.report(outcome);
      }, release);
    }
  }
}
