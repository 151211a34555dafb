/**
 * The scheduler's host: feeds inputs to the pure core one at a time and executes its effects in
 * order. Persists come first and are awaited, so a decision is durable before it is acted on and
 * before a submitter hears its reply; then binds and deletes go to the executor. The host makes no
 * scheduling decision: it only keeps the core's timers (a pass when one is wanted, the next backoff
 * or start deadline) and restarts from the store through the core's `recover`.
 */
import {
  nextWakeMs, recover, step, type CancelReply, type JobRecord, type JobSpecInput, type NodeSpec, type ObservedNode, type SchedulerConfig,
  type SchedulerEffect, type SchedulerInput, type SchedulerState, type SubmitReply,
} from './core/index.js';

/** Where job records are made durable (the replicated KV in production; a map in tests). */
export interface JobStore {
  load(): Promise<JobRecord[]>;
  put(job: JobRecord): Promise<void>;
  remove(jobId: string): Promise<void>;
}

/** What runs pods: it executes binds and deletes and reports phases through the host. */
export interface Executor {
  execute(effect: SchedulerEffect): void;
  /** Every pod's current phase, resent to a core that just recovered. */
  observe(): SchedulerInput[];
}

/** A job store in memory (records are copied, as a KV would). */
export class MemoryJobStore implements JobStore {
  readonly records = new Map<string, string>();
  async load(): Promise<JobRecord[]> {
    return [...this.records.values()].map((text) => JSON.parse(text) as JobRecord);
  }
  async put(job: JobRecord): Promise<void> {
    this.records.set(job.id, JSON.stringify(job));
  }
  async remove(jobId: string): Promise<void> {
    this.records.delete(jobId);
  }
}

/** Options of a host. */
export interface SchedulerHostOptions {
  readonly config: SchedulerConfig;
  readonly store: JobStore;
  readonly nodes: readonly ObservedNode[];
  readonly clock: () => number;
}

/** Runs the core over a store and an executor. */
export class SchedulerHost {
  private queue: Promise<void> = Promise.resolve();
  private executor: Executor | undefined;
  private passQueued = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private state: SchedulerState, private readonly options: SchedulerHostOptions) {}

  /** Recovers from the store, then re-issues what recovery asks and resends the executor's pod phases. */
  static async start(options: SchedulerHostOptions, executor: (host: SchedulerHost) => Executor): Promise<SchedulerHost> {
    const records = await options.store.load();
    const recovered = recover(options.config, records, options.nodes);
    const host = new SchedulerHost(recovered.state, options);
    host.executor = executor(host);
    await host.enqueue(async () => {
      await host.run(recovered.effects);
      for (const input of host.executor!.observe()) await host.run(step(host.state, input).effects);
    });
    return host;
  }

  /** The core state, for status views (read it, do not change it). */
  get view(): SchedulerState {
    return this.state;
  }

  submit(key: string, spec: JobSpecInput): Promise<SubmitReply> {
    return this.ask({ type: 'submit', nowMs: this.options.clock(), key, spec }) as Promise<SubmitReply>;
  }

  cancel(jobId: string): Promise<CancelReply> {
    return this.ask({ type: 'cancel', nowMs: this.options.clock(), jobId }) as Promise<CancelReply>;
  }

  nodeUp(node: NodeSpec): void {
    this.tell({ type: 'nodeUp', nowMs: this.options.clock(), node });
  }

  /** An input from the executor or a watcher: queued behind the ones before it. */
  tell(input: SchedulerInput): void {
    void this.ask(input);
  }

  private ask(input: SchedulerInput): Promise<SubmitReply | CancelReply | undefined> {
    return this.enqueue(async () => {
      const result = step(this.state, input);
      await this.run(result.effects);
      return result.reply;
    });
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.then(() => undefined, () => undefined);
    return next;
  }

  private async run(effects: readonly SchedulerEffect[]): Promise<void> {
    for (const effect of effects) {
      if (effect.type === 'persist') await this.options.store.put(effect.job);
      else if (effect.type === 'forget') await this.options.store.remove(effect.jobId);
      else if (effect.type === 'passWanted') this.queuePass();
      else this.executor!.execute(effect);
    }
    this.armWake();
  }

  private queuePass(): void {
    if (this.passQueued || this.stopped) return;
    this.passQueued = true;
    setImmediate(() => {
      this.passQueued = false;
      if (!this.stopped) this.tell({ type: 'tick', nowMs: this.options.clock() });
    });
  }

  private armWake(): void {
    if (this.stopped) return;
    const wakeMs = nextWakeMs(this.state);
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (wakeMs === undefined) return;
    this.wakeTimer = setTimeout(() => this.tell({ type: 'tick', nowMs: this.options.clock() }), Math.max(0, wakeMs - this.options.clock()));
  }

  /** Stops the timers and waits for the queued inputs. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    await this.queue;
  }
}
